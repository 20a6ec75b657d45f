#!/usr/bin/env bash
# optimize.sh — fsmml_optimize on a pure random walk (gen_bars.py --phi 0): 100 TPE trials find
# a good-looking in-sample Sharpe, the deflated Sharpe says it is noise, the calibration is stored
# with a warning and not activated even when asked; a fixed seed repeats the same trials; random
# search runs the same budget; ExecRules over a version's stored predictions (noise: not
# significant; a look-ahead oracle: significant, activated for an admin, refused for a trainer);
# progress in fsmml.training_progress, and a cancel stops a long optimisation.
. "$(dirname "$0")/../lib.sh"
set -u
if [ -f "$SHARED/bench/gen_bars.py" ]; then
    load_gen_bars RW --tf 1h --bars 8000 --seed 5 --phi 0
else
    echo "# $SHARED/bench/gen_bars.py not found: own random walk"
    "$PY" - <<'PYEOF' | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
import numpy as np
# A random walk whose high and low come from the same path as its closes (16 steps a bar):
# wicks drawn apart from the path would be a free edge for any take-profit.
n, k = 8000, 16
rng = np.random.default_rng(5)
steps = rng.standard_t(5, (n, k)) * 0.006 / np.sqrt(k * 5 / 3)
path = 100 * np.exp(np.cumsum(steps.ravel())).reshape(n, k)
close = path[:, -1]
open_ = np.concatenate(([100.0], close[:-1]))
high = np.maximum(path.max(axis=1), open_)
low = np.minimum(path.min(axis=1), open_)
vol = rng.lognormal(3.0, 0.5, n)
ts = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[h]")
print("symbol,timeframe,ts,open,high,low,close,volume")
for i in range(n):
    print(f"RW,1h,{ts[i]}:00Z,{open_[i]:.8g},{high[i]:.8g},{low[i]:.8g},{close[i]:.8g},{vol[i]:.8g}")
PYEOF
fi
check "random walk loaded" [ "$(q "SELECT count(*) FROM trading.historicaldata WHERE symbol = 'RW'")" = 8000 ]
W=$FSMML_TEST_DIR/optimize; mkdir -p "$W"

# ---- StateFSM on the random walk, no fees (so the search has something to overfit)
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT calibration_id FROM fsmml_optimize('StateFSM', 'RW', '1h', 100,
    '{\"fee_bps\": 0, \"activate\": true}')" >"$W/fsm.out" 2>"$W/fsm.err"
check "StateFSM optimisation ran" [ $? -eq 0 ]
cal=$(head -1 "$W/fsm.out")
check "a WARNING says the calibration is not significant" grep -q "WARNING:  calibration $cal of StateFSM@RW-1h optimize is not significant" "$W/fsm.err"
d() { q "SELECT $1 FROM trading.calibrations WHERE id = $cal"; }
echo "# StateFSM on a random walk: train Sharpe $(d "details->>'train_sharpe'"), hold-out $(d "details->>'holdout_sharpe'"), deflated $(d "details->>'deflated_sharpe'"), expected max $(d "details->>'expected_max_sharpe'"), pruned $(d "details->>'pruned'")"
check "100 trials stored, complete + pruned = 100" \
    [ "$(q "SELECT count(*) || '/' || count(*) FILTER (WHERE state = 'complete') + count(*) FILTER (WHERE state = 'pruned') FROM trading.calibration_trials WHERE calibration_id = $cal")" = 100/100 ]
check "the median pruner pruned some trials" [ "$(d "(details->>'pruned')::int > 0")" = t ]
check "the best in-sample Sharpe looks good (> 1)" [ "$(d "(details->>'train_sharpe')::float8 > 1")" = t ]
check "the deflated Sharpe says it is noise (< 0.95), significant false" \
    [ "$(d "(details->>'deflated_sharpe')::float8 < 0.95 AND NOT (details->>'significant')::boolean")" = t ]
check "stored with a warning, not activated although params.activate" \
    [ "$(d "details ? 'warning' AND NOT is_active AND method = 'tpe' AND agent = 'StateFSM'")" = t ]
check "the hold-out Sharpe is reported and lower than the in-sample one" \
    [ "$(d "(details->>'holdout_sharpe')::float8 < (details->>'train_sharpe')::float8")" = t ]
check "the hold-out run is a stored backtest linked to the calibration" \
    [ "$(q "SELECT count(*) FROM trading.backtests b JOIN trading.calibrations c ON c.id = b.calibration_id
            WHERE c.id = $cal AND b.id = (c.details->>'holdout_backtest_id')::bigint AND b.source = 'calibration'
            AND b.from_ts = (c.details->>'holdout_from')::timestamptz")" = 1 ]
check "thresholds are the best complete trial's, within the seed's ranges" \
    [ "$(q "SELECT (c.thresholds = t.params AND c.score = t.score
                    AND (c.thresholds->>'effort_p20')::float8 BETWEEN 0.1 AND 0.5
                    AND (c.thresholds->>'effort_p80')::float8 BETWEEN 0.8 AND 2.0
                    AND (c.thresholds->>'result_p80')::float8 BETWEEN 0.5 AND 1.5
                    AND (c.thresholds->>'layer_sep')::float8 BETWEEN 0.5 AND 3.0
                    AND (c.thresholds->>'bias_slope')::float8 BETWEEN 0.1 AND 0.5)
            FROM trading.calibrations c JOIN trading.calibration_trials t ON t.calibration_id = c.id
            WHERE c.id = $cal ORDER BY t.score DESC NULLS LAST LIMIT 1")" = t ]

# ---- a fixed seed gives the same trials; another seed others; random search the same budget
c2=$(q "SELECT calibration_id FROM fsmml_optimize('StateFSM', 'RW', '1h', 100, '{\"fee_bps\": 0}')" 2>/dev/null)
c3=$(q "SELECT calibration_id FROM fsmml_optimize('StateFSM', 'RW', '1h', 100, '{\"fee_bps\": 0, \"seed\": 7}')" 2>/dev/null)
c4=$(q "SELECT calibration_id FROM fsmml_optimize('StateFSM', 'RW', '1h', 100, '{\"fee_bps\": 0, \"method\": \"random\"}')" 2>/dev/null)
same() { q "SELECT count(*) FROM trading.calibration_trials a JOIN trading.calibration_trials b USING (trial_no)
            WHERE a.calibration_id = $1 AND b.calibration_id = $2 AND a.params = b.params AND a.state = b.state"; }
check "the same seed gives the same 100 trials" [ "$(same "$cal" "$c2")" = 100 ]
check "another seed gives other trials" [ "$(same "$cal" "$c3")" -lt 5 ]
check "random search: method random, 100 trials, no pruning" \
    [ "$(q "SELECT c.method || count(*) || count(*) FILTER (WHERE t.state = 'pruned') FROM trading.calibrations c
            JOIN trading.calibration_trials t ON t.calibration_id = c.id WHERE c.id = $c4 GROUP BY c.method")" = random1000 ]
# method => 'random' as a named argument (issue 12's form): the same random search, trial for trial
c5=$(q "SELECT calibration_id FROM fsmml_optimize('StateFSM', 'RW', '1h', 100, '{\"fee_bps\": 0}', method => 'random')" 2>/dev/null)
check "method => 'random' runs the same random search as params.method" \
    [ "$(q "SELECT method FROM trading.calibrations WHERE id = $c5"):$(same "$c4" "$c5")" = random:100 ]
out=$(q "SELECT * FROM fsmml_optimize('StateFSM', 'RW', '1h', 10, method => 'grid')" 2>&1)
check "an unknown method is refused" grep -q 'method must be "tpe" or "random", not "grid"' <<<"$out"
echo "# StateFSM best training Sharpe: tpe $(q "SELECT round(score::numeric, 2) FROM trading.calibrations WHERE id = $cal"), random $(q "SELECT round(score::numeric, 2) FROM trading.calibrations WHERE id = $c4")"

# ---- ExecRules over a direction version's stored predictions
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, feature_names, ext_version)
VALUES ('RW', '1h', 'DirectionXGB', 'v1.0.0', 'champion', '\x7b7d', 'xgboost-json',
        encode(sha256('\x7b7d'), 'hex'), '{ret_1}', '0.2.0'),
       ('RW', '1h', 'DirectionXGB', 'v1.0.1', 'challenger', '\x7b7e', 'xgboost-json',
        encode(sha256('\x7b7e'), 'hex'), '{ret_1}', '0.2.0');
SELECT fsmml_create_pred_partitions(min("timestamp"), max("timestamp")) FROM trading.historicaldata;
-- the champion: noise; the challenger: an oracle that sees the next bar's close (look-ahead)
INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
SELECT v.id, 'RW', '1h', h."timestamp",
       jsonb_build_object('prob_up', CASE WHEN v.version = 'v1.0.0'
                                          THEN 0.3 + 0.4 * ((hashtext(h."timestamp"::text) & 65535) / 65535.0)
                                          WHEN lead(h.close) OVER w > h.close THEN 0.8 ELSE 0.2 END)
FROM trading.historicaldata h CROSS JOIN trading.agentversions v
WHERE h.symbol = 'RW' AND v.symbol = 'RW'
WINDOW w AS (PARTITION BY v.id ORDER BY h."timestamp");
SQL
ce=$(q "SELECT calibration_id FROM fsmml_optimize('ExecRules', 'RW', '1h', 60, '{\"fee_bps\": 0}')" 2>"$W/exec.err")
check "ExecRules on the noise champion: not significant, warned" \
    [ "$(q "SELECT agent = 'ExecRules' AND NOT is_active AND details ? 'warning' AND details->>'version_id' = (SELECT id::text FROM trading.agentversions WHERE version = 'v1.0.0') FROM trading.calibrations WHERE id = $ce")" = t ]
check "ExecRules thresholds on their grid and ranges" \
    [ "$(q "SELECT count(*) FROM trading.calibration_trials WHERE calibration_id = $ce
            AND round((params->>'long_threshold')::numeric * 100) = (params->>'long_threshold')::numeric * 100
            AND (params->>'long_threshold')::float8 BETWEEN 0.51 AND 0.8
            AND (params->>'short_threshold')::float8 BETWEEN 0.2 AND 0.49
            AND jsonb_typeof(params->'use_gate') = 'boolean'")" = 60 ]
oracle=$(q "SELECT id FROM trading.agentversions WHERE version = 'v1.0.1'")
co=$(q "SELECT calibration_id FROM fsmml_optimize('ExecRules', 'RW', '1h', 30, '{\"version_id\": $oracle, \"activate\": true}')")
echo "# ExecRules on a look-ahead oracle: train Sharpe $(q "SELECT details->>'train_sharpe' FROM trading.calibrations WHERE id = $co"), deflated $(q "SELECT details->>'deflated_sharpe' FROM trading.calibrations WHERE id = $co")"
check "a real edge (look-ahead oracle) is significant and activated for a superuser" \
    [ "$(q "SELECT is_active AND (details->>'significant')::boolean AND NOT details ? 'warning' FROM trading.calibrations WHERE id = $co")" = t ]
q "CREATE ROLE opt_trainer LOGIN IN ROLE fsmml_trainer" >/dev/null
q "GRANT SELECT ON trading.historicaldata TO opt_trainer" >/dev/null
out=$(psql -X -At -U opt_trainer -c "SELECT calibration_id FROM fsmml_optimize('ExecRules', 'RW', '1h', 12, '{\"version_id\": $oracle, \"activate\": true}')" 2>&1)
check "a trainer may not activate" grep -q "activating a calibration needs the privileges of fsmml_admin" <<<"$out"
out=$(psql -X -At -U opt_trainer -c "SELECT count(*) FROM fsmml_optimize('ExecRules', 'RW', '1h', 12, '{\"version_id\": $oracle}')" 2>&1)
check "a trainer may optimise (owner mode writes the calibration)" [ "$out" = 1 ]
check "a trainer cannot write calibrations directly" \
    bash -c "! psql -X -q -U opt_trainer -c \"DELETE FROM trading.calibration_trials\" 2>/dev/null"

# ---- errors
out=$(q "SELECT * FROM fsmml_optimize('DirectionXGB', 'RW', '1h', 10)" 2>&1)
check "another agent is refused with a hint" grep -q 'fsmml_optimize calibrates ExecRules or StateFSM' <<<"$out"
out=$(q "SELECT * FROM fsmml_optimize('StateFSM', 'RW', '1h', 10, '{\"objective\": \"pnl\"}')" 2>&1)
check "an unknown objective is refused" grep -q 'params.objective must be one of' <<<"$out"
out=$(q "SELECT * FROM fsmml_optimize('ExecRules', 'NONE', '1h', 10)" 2>&1)
check "no bars: an error" grep -q 'NONE 1h has no bars' <<<"$out"

# ---- progress shows in fsmml.training_progress; a cancel stops the optimisation
psql -X -q -c "SELECT * FROM fsmml_optimize('StateFSM', 'RW', '1h', 5000, '{\"prune\": false}')" >"$W/long.out" 2>&1 &
bg=$!
seen=
for _ in $(seq 1 100); do
    seen=$(q "SELECT round FROM fsmml.training_progress WHERE instance = 'StateFSM@RW-1h optimize' AND round > 0" 2>/dev/null)
    [ -n "$seen" ] && break
    sleep 0.1
done
check "progress of the optimisation shows in fsmml.training_progress (trial $seen)" [ -n "$seen" ]
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%fsmml_optimize(''StateFSM'', ''RW'', ''1h'', 5000%' AND pid <> pg_backend_pid()" >/dev/null
wait $bg
check "a cancel stops it" grep -q "canceling statement due to user request" "$W/long.out"
check "nothing of the cancelled optimisation is left" \
    [ "$(q "SELECT count(*) FROM trading.calibration_trials WHERE trial_no > 100")" = 0 ]
finish
