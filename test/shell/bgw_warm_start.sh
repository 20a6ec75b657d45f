#!/usr/bin/env bash
# bgw_warm_start.sh — params.warm_start in a scheduled retrain: refused with a clear message while
# the champion's training window reaches into the new hold-out; once newer bars push the hold-out
# past it, boosting continues from the champion's trees (its rounds + the new ones), the
# version is judged by the promotion rules, its drift reference is stored, and it records the
# metrics a full retrain records (walk-forward folds of the rolling window, fit from scratch).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
bgw_setup
psql -X -q -c "DROP ROLE IF EXISTS bgw_warm" -c "CREATE ROLE bgw_warm LOGIN IN ROLE fsmml_trainer"
BASE="\"lookback\": 3000, \"test_size\": 0.2, $FEAT, \"xgb\": {\"nthread\": 1}"
asrole() { psql -X -At -q -v ON_ERROR_STOP=1 -c "SET ROLE bgw_warm" -c "$1"; }
run_job() {   # run_job PARAMS -> job id, once finished
    local j
    j=$(asrole "SELECT fsmml_retrain_now('DirectionXGB', 'W', '1m', '$1')")
    wait_for 120 "SELECT status NOT IN ('queued', 'running') FROM fsmml.jobs WHERE id = $j" >/dev/null
    echo "$j"
}
gen_walk W 3000 31 0.001 >/dev/null
champ=$(asrole "SELECT version_id FROM fsmml_train('DirectionXGB', 'W', '1m', '{\"folds\": 2, \"rounds\": 40, \"early_stopping_rounds\": 0, $BASE}')" 2>/dev/null)
check "a champion to start from" [ -n "$champ" ]

# a hold-out of the last 40 % starts inside the champion's training rows (its hold-out was 20 %)
j=$(run_job "{\"warm_start\": true, \"rounds\": 20, \"lookback\": 3000, \"test_size\": 0.4, $FEAT}")
err=$(q "SELECT status || ': ' || coalesce(error, '') FROM fsmml.jobs WHERE id = $j")
echo "# hold-out inside the champion's window: $err"
check "warm_start refused while the champion's window reaches into the new hold-out" \
    grep -q "^failed: warm_start refused: champion $champ was trained on bars up to .* which reach into the new hold-out" <<<"$err"
check "the refusal says what to do" grep -q "retrain from scratch (params.warm_start false)" <<<"$err"
check "no version from a refused warm start" [ "$(q "SELECT count(*) FROM trading.agentversions")" = 1 ]

gen_walk W 1000 32 0.001 0 0.001 3000 >/dev/null     # 1,000 newer bars: the hold-out moves past the champion's window
j=$(run_job "{\"warm_start\": true, \"rounds\": 20, \"folds\": 3, $BASE}")
psql -X -c "SELECT id, status, version_id, decision, error FROM fsmml.jobs WHERE id = $j" | sed 's/^/# /'
v=$(q "SELECT version_id FROM fsmml.jobs WHERE id = $j AND status = 'succeeded'")
check "warm start allowed once the hold-out begins after the champion's window" [ -n "$v" ]
check "the new version continues the champion's 40 rounds with 20 more" \
    [ "$(q "SELECT (metrics->'warm_start'->>'from_version_id') || ':' || (metrics->'warm_start'->>'base_rounds') || '+'
             || (metrics->'warm_start'->>'added_rounds') || '=' || (metrics->>'rounds') FROM trading.agentversions WHERE id = ${v:-0}")" = "$champ:40+20=60" ]
check "its hold-out starts after the champion's training window" \
    [ "$(q "SELECT n.test_from > c.train_to FROM trading.agentversions n, trading.agentversions c WHERE n.id = ${v:-0} AND c.id = $champ")" = t ]
check "the model holds 60 rounds of trees (XGBoost's own count)" \
    [ "$(q "SELECT count(*) FROM json_array_elements((convert_from(fsmml_export_model(${v:-0}), 'UTF8')::json)
             -> 'learner' -> 'gradient_booster' -> 'model' -> 'trees')")" = 60 ]
check "the promotion rules judged it against the champion on its hold-out" \
    grep -qE "^(promoted|kept): pnl " <<<"$(q "SELECT decision FROM fsmml.jobs WHERE id = $j")"
check "its drift reference is stored" [ "$(q "SELECT count(*) FROM fsmml.drift_reference WHERE version_id = ${v:-0}")" = 10 ]
# the same metrics a full retrain records: a full retrain of the same window with the same params
jf=$(run_job "{\"rounds\": 20, \"folds\": 3, $BASE}")
f=$(q "SELECT version_id FROM fsmml.jobs WHERE id = $jf AND status = 'succeeded'")
psql -X -At -c "SELECT format('# %s version %s: folds %s, hold-out auc %s, fit %s s', CASE WHEN metrics ? 'warm_start'
                    THEN 'warm start' ELSE 'full retrain' END, id, (SELECT string_agg(round((x->>'auc')::numeric, 4)::text, ' ')
                    FROM jsonb_array_elements(metrics->'folds') x), round((metrics->'holdout'->>'auc')::numeric, 4),
                    round((metrics->>'fit_seconds')::numeric, 2)) FROM trading.agentversions WHERE id IN (${v:-0}, ${f:-0}) ORDER BY id"
check "a full retrain of the same window for comparison" [ -n "$f" ]
check "the warm-start version records the metrics a full retrain records (same keys, warm_start besides)" \
    [ "$(q "SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(w.metrics) k WHERE k <> 'warm_start')
                 = (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(f.metrics) k)
             AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(w.metrics->'holdout'->'backtest') k)
                 = (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(f.metrics->'holdout'->'backtest') k)
             AND w.metrics->'rows' = f.metrics->'rows'
             FROM trading.agentversions w, trading.agentversions f WHERE w.id = ${v:-0} AND f.id = ${f:-0}")" = t ]
check "its two walk-forward folds on the rolling window equal the full retrain's (fit from scratch: no leak)" \
    [ "$(q "SELECT jsonb_array_length(w.metrics->'folds') = 2 AND w.metrics->'folds' = f.metrics->'folds'
             FROM trading.agentversions w, trading.agentversions f WHERE w.id = ${v:-0} AND f.id = ${f:-0}")" = t ]
check "the folds are scored on blocks before the hold-out, each with an AUC" \
    [ "$(q "SELECT bool_and((x->>'to')::timestamptz < w.test_from AND (x->>'auc')::float8 BETWEEN 0 AND 1)
             FROM trading.agentversions w, jsonb_array_elements(w.metrics->'folds') x WHERE w.id = ${v:-0}")" = t ]
check "same hold-out as the full retrain, scored by the warm-started model" \
    [ "$(q "SELECT w.test_from = f.test_from AND w.test_to = f.test_to AND w.metrics->'holdout'->>'rows' = f.metrics->'holdout'->>'rows'
             AND (w.metrics->'holdout'->>'auc')::float8 BETWEEN 0 AND 1 AND w.metrics->'holdout' <> f.metrics->'holdout'
             FROM trading.agentversions w, trading.agentversions f WHERE w.id = ${v:-0} AND f.id = ${f:-0}")" = t ]
out=$(asrole "SELECT fsmml_retrain_now('DirectionXGB', 'W', '1m', '{\"warm_start\": \"yes\"}')" 2>&1)
check "warm_start must be a boolean" grep -q "params.warm_start must be a boolean" <<<"$out"
bgw_teardown
psql -X -q -c "DROP ROLE bgw_warm"
finish
