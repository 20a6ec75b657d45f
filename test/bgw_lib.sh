# bgw_lib.sh — sourced by test/shell/bgw_*.sh after lib.sh: the scheduler serves one database,
# fsmml.database ('postgres' in the test cluster, scripts/cluster.sh), so these tests install
# fsmml there afresh and remove it at the end.
SCHED_DB=$(psql -X -At -c "SHOW fsmml.database")
TEST_DB=${PGDATABASE:-}      # the harness's own database for this test (fsmml installed)
export PGDATABASE=$SCHED_DB
# The ten features the scheduler tests train on, and a 30-round training of them (1 thread).
FEAT='"features": ["ret_1", "ret_5", "vol_ret_20", "rsi_14", "atr_14", "range_pct", "bb_width_20", "parkinson_20", "macd", "ema_dist_20"]'
SMALL="{\"folds\": 2, \"rounds\": 30, \"early_stopping_rounds\": 0, \"lookback\": \"all\", \"test_size\": 0.2, $FEAT, \"xgb\": {\"nthread\": 1}}"
bgw_setup() {
    psql -X -q -c "DROP EXTENSION IF EXISTS fsmml CASCADE" -c "DROP SCHEMA IF EXISTS trading CASCADE" \
        -c "CREATE EXTENSION fsmml" 2>&1 | grep -v NOTICE
}
bgw_teardown() {
    psql -X -q -c "DROP EXTENSION IF EXISTS fsmml CASCADE" -c "DROP SCHEMA IF EXISTS trading CASCADE" 2>&1 |
        grep -v NOTICE
}
# A deterministic 1m random walk: gen_walk SYMBOL BARS SEED VOL [SHIFT_BARS SHIFT_VOL [FIRST]]
# log-returns N(0, VOL); the last SHIFT_BARS bars have SHIFT_VOL instead; bars start at minute FIRST.
# GEN_THETA (default 0): MA(1) returns e_t + theta e_{t-1}, a learnable signal (bench/warm_start.sh).
gen_walk() {
    local sym=$1 n=$2 seed=$3 vol=$4 sb=${5:-0} sv=${6:-$4} first=${7:-0}
    psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT setseed($seed / 100.0);
CREATE TEMP TABLE w AS
SELECT i, (CASE WHEN i >= $n - $sb THEN $sv ELSE $vol END)::float8 AS v,
       sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z,
       random() AS u1, random() AS u2, random() AS u3
FROM generate_series(0, $n - 1) i ORDER BY i;
UPDATE w SET z = w.z + ${GEN_THETA:-0} * p.z FROM w p WHERE p.i = w.i - 1 AND ${GEN_THETA:-0} <> 0;
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
SELECT '$sym', '1m', timestamptz '2024-01-01 00:00+00' + ($first + i) * interval '1 minute',
       o, greatest(o, c) * (1 + u1 * v), least(o, c) * (1 - u2 * v), c, 100 + 900 * u3
FROM (SELECT i, v, u1, u2, u3, 100 * exp(coalesce(sum(z * v) OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS o,
             100 * exp(sum(z * v) OVER (ORDER BY i)) AS c FROM w) s;
SQL
}
# Waits until SQL returns 't' (polling every 50 ms), at most SECONDS; false on timeout.
wait_for() {   # wait_for SECONDS SQL
    local deadline=$(( $(date +%s) + $1 ))
    while [ "$(date +%s)" -le "$deadline" ]; do
        [ "$(q "$2")" = t ] && return 0
        sleep 0.05
    done
    return 1
}
