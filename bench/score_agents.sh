#!/usr/bin/env bash
# score_agents.sh — fsmml_score with all six champions over 200,000 1m bars: end-to-end bars/s
# (each bar writes five predictions, one signal, one state row) and CPU per bar excluding the
# table writes (fsmml_score's DEBUG1 total: process CPU of the call minus CPU spent writing).
#
# Uses the cluster and database of the usual libpq variables; a superuser (it loads bars).
# It replaces the bars, versions and predictions of symbol $SYMBOL.
#
#   bench/score_agents.sh            # BARS=230000 SCORE_BARS=200000 SYMBOL=AGENTBENCH KEEP_MODELS=0
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${FSMML_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
SYMBOL=${SYMBOL:-AGENTBENCH}
BARS=${BARS:-230000}
SCORE_BARS=${SCORE_BARS:-200000}
TMP=$(mktemp -d /tmp/score_agents.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS fsmml" >/dev/null
have=$(psql_q -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$SYMBOL' AND timeframe = '1m'")
if [ "$have" -ne "$BARS" ]; then
    echo "# loading $BARS bars of $SYMBOL 1m"
    "$PY" "$SHARED/bench/gen_bars.py" --symbol "$SYMBOL" --tf 1m --bars "$BARS" --seed 11 >"$TMP/bars.csv"
    psql_q -c "DELETE FROM trading.historicaldata WHERE symbol = '$SYMBOL'" \
           -c "\\copy trading.historicaldata (symbol, timeframe, \"timestamp\", open, high, low, close, volume) FROM '$TMP/bars.csv' WITH (FORMAT csv, HEADER)" \
           -c "ANALYZE trading.historicaldata"
fi
psql_q -c "DELETE FROM trading.agentpreds WHERE symbol = '$SYMBOL'" \
       -c "DELETE FROM trading.agentsignals WHERE symbol = '$SYMBOL'" \
       -c "DELETE FROM trading.state_history WHERE symbol = '$SYMBOL'" \
       -c "DELETE FROM trading.transitions WHERE symbol = '$SYMBOL'" \
       -c "VACUUM trading.agentpreds, trading.agentsignals, trading.state_history, trading.transitions"
champions=$(psql_q -At -c "SELECT count(*) FROM trading.agentversions WHERE symbol = '$SYMBOL' AND status = 'champion'")
# KEEP_MODELS=1 scores with the champions already trained (bench/score_agents_ab.sh)
if [ "${KEEP_MODELS:-0}" != 1 ] || [ "$champions" -ne 6 ]; then
psql_q -c "DELETE FROM fsmml.promotions WHERE symbol = '$SYMBOL'" \
       -c "DELETE FROM trading.agentversions WHERE symbol = '$SYMBOL'"

echo "# training the six agents on the 60,000 bars before the scored range"
for a in 'DirectionXGB|{"folds": 2, "lookback": 60000, "rounds": 100}' \
         'RegimeKMeans|{"lookback": 60000}' 'VolQuantile|{"lookback": 60000}' \
         'StateFSM|{"lookback": 60000}' 'ExecRules|{}' 'EnsembleWeighted|{}'; do
    psql_q -At -c "SET client_min_messages = warning" \
           -c "SELECT '# ' || instance || ' ' || version || ' ' || status FROM fsmml_train('${a%%|*}', '$SYMBOL', '1m', '${a#*|}')"
done
fi
from=$(psql_q -At -c "SELECT \"timestamp\" FROM trading.historicaldata WHERE symbol = '$SYMBOL' AND timeframe = '1m'
                      ORDER BY \"timestamp\" DESC OFFSET $((SCORE_BARS - 1)) LIMIT 1")

run() {   # label
    local pid t0 t1 c0 c1 out
    pid=$(psql_q -At -c "SELECT pg_backend_pid()")    # a fresh backend per call below
    out=$(psql -X -v ON_ERROR_STOP=1 -At 2>&1 <<SQL
SELECT pg_backend_pid();
SET client_min_messages = debug2;
\\o /dev/null
SELECT '$from'::timestamptz;
\\o
SELECT extract(epoch FROM clock_timestamp());
SELECT sum(x) FROM (SELECT (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15]::bigint[] a) s, unnest(a) x;
SELECT fsmml_score('$SYMBOL', '1m', '$from', 'infinity');
SELECT sum(x) FROM (SELECT (string_to_array(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ' '))[14:15]::bigint[] a) s, unnest(a) x;
SELECT extract(epoch FROM clock_timestamp());
SQL
)
    echo "$out" | grep -E "^DETAIL|^DEBUG:  fsmml_score" | sed 's/^/# /'
    local nums
    nums=($(echo "$out" | grep -E '^[0-9.]+$'))
    # pid, t0, cpu0 (ticks), rows, cpu1, t1
    local wall cpu_s rows
    wall=$(echo "${nums[5]} - ${nums[1]}" | bc -l)
    cpu_s=$(echo "(${nums[4]} - ${nums[2]}) / $(getconf CLK_TCK)" | bc -l)
    rows=${nums[3]}
    # CPU without the writes: the process CPU of the call minus the CPU spent in the writes
    # (merges, inserts, upserts), both measured by fsmml_score (CLOCK_PROCESS_CPUTIME_ID)
    local nowrite
    nowrite=$(echo "$out" | grep 'process CPU' | sed -E 's/.*process CPU ([0-9]+) ms, of which writing ([0-9]+) ms.*/\1 - \2/' | bc -l)
    printf '%s: %d bars, %s predictions, %.2f s wall, %.0f bars/s end to end, backend CPU %.2f s (%.1f us/bar, %.0f bars per CPU second), CPU without writes %.1f us/bar\n' \
        "$1" "$SCORE_BARS" "$rows" "$wall" "$(echo "$SCORE_BARS / $wall" | bc -l)" "$cpu_s" \
        "$(echo "$cpu_s * 1000000 / $SCORE_BARS" | bc -l)" "$(echo "$SCORE_BARS / $cpu_s" | bc -l)" \
        "$(echo "$nowrite * 1000 / $SCORE_BARS" | bc -l)"
}
run "first write"
run "re-run (idempotent)"
psql_q -At -c "SELECT '# signals ' || count(*) || ', states ' || (SELECT count(*) FROM trading.state_history WHERE symbol = '$SYMBOL')
               || ', transitions ' || (SELECT count(*) FROM trading.transitions WHERE symbol = '$SYMBOL')
               FROM trading.agentsignals WHERE symbol = '$SYMBOL'"
