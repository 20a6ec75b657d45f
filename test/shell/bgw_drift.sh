#!/usr/bin/env bash
# bgw_drift.sh — monitoring: feature drift (PSI against the bin edges stored with the model) on
# a series whose volatility triples and on an unshifted one; retrain_when => 'drift' retrains
# only the drifted one; fsmml.model_health's live figures from the champion's own predictions
# equal an independent computation; retrain_when => 'auc' follows the live AUC floor.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
bgw_setup
psql -X -q -c "DROP ROLE IF EXISTS bgw_monitor" -c "CREATE ROLE bgw_monitor LOGIN IN ROLE fsmml_trainer"
P="{\"folds\": 2, \"rounds\": 40, \"lookback\": \"all\", \"test_size\": 0.2, $FEAT, \"xgb\": {\"nthread\": 1}}"
SHIFTED="vol_ret_20 atr_14 parkinson_20 range_pct bb_width_20"
gen_walk SHIFT 4000 11 0.001 >/dev/null
gen_walk FLAT 4000 12 0.001 >/dev/null
asrole() { psql -X -At -q -v ON_ERROR_STOP=1 -c "SET ROLE bgw_monitor" -c "$1"; }
v_shift=$(asrole "SELECT version_id FROM fsmml_train('DirectionXGB', 'SHIFT', '1m', '$P')" 2>/dev/null)
v_flat=$(asrole "SELECT version_id FROM fsmml_train('DirectionXGB', 'FLAT', '1m', '$P')" 2>/dev/null)
check "bin edges and training shares are stored with each version (10 features each)" \
    [ "$(q "SELECT count(*) FILTER (WHERE version_id = $v_shift) || ',' || count(*) FILTER (WHERE version_id = $v_flat)
            FROM fsmml.drift_reference WHERE abs((SELECT sum(e) FROM unnest(expected) e) - 1) < 1e-9
            AND cardinality(expected) = cardinality(edges) + 1")" = "10,10" ]
# the training shares are deciles of the training rows
check "training shares are about 10 % per bin" \
    [ "$(q "SELECT bool_and(e BETWEEN 0.09 AND 0.11) FROM fsmml.drift_reference, unnest(expected) e
            WHERE version_id = $v_shift AND feature = 'atr_14'")" = t ]

# 1,500 new bars: SHIFT with 3x the volatility, FLAT unchanged
gen_walk SHIFT 1500 13 0.003 0 0.003 4000 >/dev/null
gen_walk FLAT 1500 14 0.001 0 0.001 4000 >/dev/null
psql -X -c "SELECT 'SHIFT' AS series, * FROM fsmml_drift($v_shift, 1440) UNION ALL
            SELECT 'FLAT', * FROM fsmml_drift($v_flat, 1440)" | sed 's/^/# /'
for f in $SHIFTED; do
    check "volatility x3: PSI($f) > 0.25 (major)" \
        [ "$(asrole "SELECT psi > 0.25 AND major FROM fsmml_drift($v_shift, 1440) WHERE feature = '$f'")" = t ]
done
check "unshifted series: every feature's PSI <= 0.25" \
    [ "$(asrole "SELECT bool_and(NOT major) AND max(psi) <= 0.25 FROM fsmml_drift($v_flat, 1440)")" = t ]
check "fsmml.drift_window is the default window" \
    [ "$(asrole "SET fsmml.drift_window = 1440; SELECT max(live_rows) FROM fsmml_drift($v_flat)")" = 1440 ]
# PSI by hand for one feature: the same number
check "PSI of atr_14 equals a computation by hand" [ "$(q "
    WITH r AS (SELECT edges, expected FROM fsmml.drift_reference WHERE version_id = $v_shift AND feature = 'atr_14'),
    live AS (SELECT atr_14 FROM fsmml_features('SHIFT', '1m') ORDER BY \"timestamp\" DESC LIMIT 1440),
    c AS (SELECT width_bucket(atr_14, r.edges) b, count(*)::float8 / 1440 a FROM live, r GROUP BY 1)
    SELECT abs(sum((greatest(coalesce(c.a, 0), 1e-4) - greatest(r.expected[b + 1], 1e-4))
                 * ln(greatest(coalesce(c.a, 0), 1e-4) / greatest(r.expected[b + 1], 1e-4)))
               - (SELECT psi FROM fsmml_drift($v_shift, 1440) WHERE feature = 'atr_14')) < 1e-9
    FROM r, generate_series(0, cardinality(r.edges)) b LEFT JOIN c USING (b)")" = t ]

# ---- retrain_when => 'drift'
s1=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'SHIFT', '1m', '1 hour', '$P', retrain_when => 'drift')")
s2=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m', '1 hour', '$P', retrain_when => 'drift')")
wait_for 60 "SELECT count(*) = 2 FROM fsmml.jobs WHERE schedule_id IN ($s1, $s2) AND status NOT IN ('queued', 'running')"
psql -X -c "SELECT id, symbol, status, version_id, decision, error FROM fsmml.jobs ORDER BY id" | sed 's/^/# /'
check "drifted series: the drift schedule retrained it" \
    [ "$(q "SELECT status = 'succeeded' AND version_id IS NOT NULL AND decision LIKE '%retrained: major drift: PSI%'
            FROM fsmml.jobs WHERE schedule_id = $s1")" = t ]
check "unshifted series: the drift schedule skipped the retrain and said why" \
    [ "$(q "SELECT status = 'skipped' AND version_id IS NULL AND error LIKE 'no major drift: highest PSI 0.%'
            FROM fsmml.jobs WHERE schedule_id = $s2")" = t ]
check "no version was added for the unshifted series" \
    [ "$(q "SELECT count(*) FROM trading.agentversions WHERE symbol = 'FLAT'")" = 1 ]

# ---- model_health: live figures from the champion's stored predictions
q "SELECT fsmml_score('FLAT', '1m', '2024-01-03 16:00+00', '2024-01-04 23:59+00')" >/dev/null
# The view's row read once; the checks below compare it with their own sums
q "DROP TABLE IF EXISTS public.bgw_drift_health; CREATE TABLE public.bgw_drift_health AS
   SELECT * FROM fsmml.model_health WHERE symbol = 'FLAT'" >/dev/null
psql -X -x -c "SELECT * FROM public.bgw_drift_health" | sed 's/^/# /'
check "model_health: live rows are the labelled predictions" [ "$(q "SELECT live_rows FROM public.bgw_drift_health WHERE symbol = 'FLAT'")" = \
    "$(q "SELECT count(*) FROM trading.agentpreds p JOIN trading.historicaldata h ON h.symbol = p.symbol
          AND h.timeframe = p.timeframe AND h.\"timestamp\" = p.\"timestamp\" + interval '1 minute'
          WHERE p.agent_version_id = $v_flat")" ]
# independent: AUC as the share of (positive, negative) pairs ranked right, ties half
check "model_health: live AUC, Brier and hit rate equal an independent computation" [ "$(q "
    WITH l AS (SELECT (p.payload->>'prob_up')::float8 AS prob, (h1.close > h0.close)::int AS y
               FROM trading.agentpreds p
               JOIN trading.historicaldata h0 ON (h0.symbol, h0.timeframe, h0.\"timestamp\") = (p.symbol, p.timeframe, p.\"timestamp\")
               JOIN trading.historicaldata h1 ON (h1.symbol, h1.timeframe, h1.\"timestamp\") = (p.symbol, p.timeframe, p.\"timestamp\" + interval '1 minute')
               WHERE p.agent_version_id = $v_flat),
    pairs AS (SELECT avg(CASE WHEN a.prob > b.prob THEN 1 WHEN a.prob = b.prob THEN 0.5 ELSE 0 END) AS auc
              FROM l a JOIN l b ON a.y = 1 AND b.y = 0),
    m AS (SELECT avg((prob - y) ^ 2) AS brier, avg(((prob > 0.5)::int = y)::int) AS hit FROM l)
    SELECT abs(h.live_auc - pairs.auc) < 1e-9 AND abs(h.live_brier - m.brier) < 1e-9 AND abs(h.live_hit_rate - m.hit) < 1e-9
           AND h.train_auc IS NOT NULL AND h.live_pnl IS NOT NULL
    FROM public.bgw_drift_health h, pairs, m WHERE h.symbol = 'FLAT'")" = t ]

check "the live PnL follows the training backtest's rule (side beyond threshold, fee per position change)" [ "$(q "
    WITH v AS (SELECT (params->>'threshold')::float8 AS thr, (params->>'fee_bps')::float8 AS fee
               FROM trading.agentversions WHERE id = $v_flat),
    l AS (SELECT p.\"timestamp\", (p.payload->>'prob_up')::float8 AS prob, h1.close / h0.close - 1 AS ret
          FROM trading.agentpreds p
          JOIN trading.historicaldata h0 ON (h0.symbol, h0.timeframe, h0.\"timestamp\") = (p.symbol, p.timeframe, p.\"timestamp\")
          JOIN trading.historicaldata h1 ON (h1.symbol, h1.timeframe, h1.\"timestamp\") = (p.symbol, p.timeframe, p.\"timestamp\" + interval '1 minute')
          WHERE p.agent_version_id = $v_flat),
    s AS (SELECT \"timestamp\", ret, CASE WHEN prob - 0.5 >= v.thr AND prob > 0.5 THEN 1
                                          WHEN 0.5 - prob >= v.thr AND prob < 0.5 THEN -1 ELSE 0 END AS side FROM l, v),
    t AS (SELECT ret, side, abs(side - coalesce(lag(side) OVER (ORDER BY \"timestamp\"), 0)) AS ch FROM s)
    SELECT abs(sum(side * ret) - sum(ch) * (SELECT fee FROM v) / 1e4
               - (SELECT live_pnl FROM public.bgw_drift_health WHERE symbol = 'FLAT')) < 1e-9 FROM t")" = t ]

# ---- retrain_when => 'auc': live AUC below the floor retrains, above it skips
s3=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m', '1 hour', '$P', retrain_when => 'auc', auc_floor => 0.0)")
wait_for 60 "SELECT count(*) = 1 FROM fsmml.jobs WHERE schedule_id = $s3 AND status NOT IN ('queued', 'running')"
check "live AUC above the floor: skipped" \
    [ "$(q "SELECT status || ':' || (error LIKE 'live AUC 0.% >= floor 0.0000') FROM fsmml.jobs WHERE schedule_id = $s3")" = skipped:true ]
s4=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m', '1 hour', '$P', retrain_when => 'auc', auc_floor => 0.99)")
wait_for 60 "SELECT count(*) = 1 FROM fsmml.jobs WHERE schedule_id = $s4 AND status NOT IN ('queued', 'running')"
check "live AUC below the floor: retrained" \
    [ "$(q "SELECT status || ':' || (decision LIKE '%retrained: live AUC 0.% below the floor 0.9900%') FROM fsmml.jobs WHERE schedule_id = $s4")" = succeeded:true ]
out=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m', '1 hour', retrain_when => 'auc')" 2>&1)
check "retrain_when => 'auc' needs auc_floor" grep -q "auc_floor goes with retrain_when => 'auc'" <<<"$out"
out=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m', '1 hour', '{\"bogus\": 1}')" 2>&1)
check "bad params are refused when scheduling, not when the job runs" grep -qi "bogus" <<<"$out"
out=$(asrole "SELECT fsmml_schedule('DirectionXGB', 'FLAT', '1m')" 2>&1)
check "every or at is required" grep -q "give exactly one of every and at" <<<"$out"
if [ -z "$TEST_DB" ] || [ "$TEST_DB" = "$SCHED_DB" ]; then   # run by hand: another database
    TEST_DB=fsmml_bgw_other
    psql -X -q -c "DROP DATABASE IF EXISTS $TEST_DB" -c "CREATE DATABASE $TEST_DB"
    PGDATABASE=$TEST_DB q "CREATE EXTENSION fsmml" >/dev/null
fi
out=$(PGDATABASE=$TEST_DB q "SELECT fsmml_retrain_now('DirectionXGB', 'FLAT', '1m')" 2>&1)
echo "# from database $TEST_DB: $out"
check "scheduling from another database than fsmml.database is an error that names it" \
    grep -q "fsmml's scheduler runs jobs in database \"$SCHED_DB\", not \"$TEST_DB\"" <<<"$out"

for s in $s1 $s2 $s3 $s4; do asrole "SELECT fsmml_unschedule($s)" >/dev/null; done
wait_for 60 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true
q "DROP TABLE public.bgw_drift_health" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE bgw_monitor"
finish
