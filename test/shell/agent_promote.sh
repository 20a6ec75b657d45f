#!/usr/bin/env bash
# agent_promote.sh — every non-direction agent's promotion re-scores the champion on the
# challenger's hold-out rows and compares there: the decision records both re-scored numbers and
# the challenger's hold-out window; re-scoring reproduces the challenger's own training metric;
# a champion whose own hold-out was another window is judged on the challenger's, not on what it
# recorded; an identical retrain ties (same rows, same code) and is kept.
. "$(dirname "$0")/../lib.sh"
set -u
S=APR
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | sed 's/^BTCUSDT,/APR,/' |
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
RF='"features": ["rsi_14", "ema_dist_20", "ret_1", "atr_14"]'
VF='"features": ["ret_1", "rsi_14", "atr_14", "vol_ret_20", "range_pct"], "rounds": 30, "linear_rounds": 30'
SF='"rounds": 10'
train() { q "SELECT version_id FROM fsmml_train('$1', '$S', '1m', '$2')" 2>/dev/null; }
dec() { q "SELECT $2 FROM fsmml.promotions WHERE challenger_id = $1 AND decision IN ('promoted', 'kept')"; }

for a in RegimeKMeans VolQuantile StateFSM; do
    case $a in RegimeKMeans) F=$RF; m=autocorr_spread;; VolQuantile) F=$VF; m=pinball_mean;; StateFSM) F=$SF; m=macro_f1;; esac
    # the champion: its hold-out is the last 20 % of 8,000 bars; the challenger's the last 30 % of 20,000
    v1=$(train $a "{$F, \"lookback\": 8000, \"test_size\": 0.2}")
    v2=$(train $a "{$F, \"lookback\": 20000, \"test_size\": 0.3}")
    r=$(dec "$v2" "reason")
    echo "# $a: $r"
    check "$a: a decision for the challenger" [ -n "$r" ]
    check "$a: both versions re-scored on the challenger's hold-out window" [ "$(q "
        SELECT p.champion_metrics #>> '{rescored,metric}' = 'holdout.$m'
           AND p.champion_metrics #>> '{rescored,evaluated_on}' =
               to_char(v.test_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' .. ' ||
               to_char(v.test_to AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
           AND p.reason LIKE '%re-scored on the challenger''s hold-out%'
        FROM fsmml.promotions p JOIN trading.agentversions v ON v.id = p.challenger_id
        WHERE p.challenger_id = $v2 AND p.champion_id = $v1")" = t ]
    rec=$(q "SELECT metrics #>> '{holdout,$m}' FROM trading.agentversions WHERE id = $v1")
    resc=$(dec "$v2" "champion_metrics #>> '{rescored,champion}'")
    ch=$(dec "$v2" "champion_metrics #>> '{rescored,challenger}'")
    chrec=$(q "SELECT metrics #>> '{holdout,$m}' FROM trading.agentversions WHERE id = $v2")
    echo "# $a $m: champion recorded $rec on its own hold-out, re-scored $resc; challenger recorded $chrec, re-scored $ch"
    check "$a: the champion is judged on the challenger's rows, not by its own recorded hold-out" \
        "$PY" -c "import sys; sys.exit(0 if abs($resc - $rec) > 1e-9 else 1)"
    check "$a: the decision follows the re-scored numbers" [ "$(q "
        SELECT (p.decision = 'promoted') = (CASE WHEN '$a' = 'VolQuantile' THEN $ch < $resc ELSE $ch > $resc END)
        FROM fsmml.promotions p WHERE p.challenger_id = $v2 AND p.decision IN ('promoted', 'kept')")" = t ]
    # the re-scoring path (blob -> predict -> metric) gives what training measured on the same rows
    # (VolQuantile to float rounding: its payload's quantiles are float4)
    check "$a: re-scoring the challenger reproduces its training metric" \
        "$PY" -c "import math, sys; sys.exit(0 if math.isclose($ch, $chrec, rel_tol=1e-6, abs_tol=1e-12) else 1)"
done
# an identical retrain of the current champion: the same model on the same rows ties, and is kept
c=$(q "SELECT id FROM trading.agentversions WHERE symbol = '$S' AND agent = 'RegimeKMeans' AND status = 'champion'")
cp=$(q "SELECT params::text FROM trading.agentversions WHERE id = $c")
v3=$(train RegimeKMeans "$(echo "$cp" | "$PY" -c "import json,sys; p=json.load(sys.stdin); print(json.dumps({k: p[k] for k in ('features', 'lookback', 'test_size', 'k', 'seed')}))")")
check "RegimeKMeans: an identical retrain ties with the champion on the same rows and is kept" [ "$(q "
    SELECT decision = 'kept' AND champion_metrics #>> '{rescored,champion}' = champion_metrics #>> '{rescored,challenger}'
    FROM fsmml.promotions WHERE challenger_id = $v3")" = t ]
finish
