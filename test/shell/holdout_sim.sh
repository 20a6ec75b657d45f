#!/usr/bin/env bash
# holdout_sim.sh — one simulator for training, promotion and fsmml_backtest: a DirectionXGB
# version's stored hold-out backtest equals fsmml_backtest over its hold-out of its scored
# predictions (every metric); the promotion rule's champion and challenger numbers equal
# fsmml_compare's over the challenger's hold-out (the champion re-scored on the same bars).
. "$(dirname "$0")/../lib.sh"
set -u
S=HS
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | sed 's/^BTCUSDT,/HS,/' |
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"

# thresholds 0.51 / 0.49 and a 2 bps fee, so that the hold-out trades
P='"folds": 2, "rounds": 30, "early_stopping_rounds": 0, "lookback": 20000, "threshold": 0.01, "fee_bps": 2,
   "features": ["ret_1", "rsi_14", "ema_dist_20", "atr_14"]'
BT='"fee_bps": 2, "long_threshold": 0.51, "short_threshold": 0.49'
v1=$(q "SELECT version_id FROM fsmml_train('DirectionXGB', '$S', '1m', '{$P, \"xgb\": {\"max_depth\": 2, \"nthread\": 2}}')")
q "SELECT fsmml_score('$S', '1m', test_from, test_to) FROM trading.agentversions WHERE id = $v1" >/dev/null

# compares every numeric key of the fsmml_backtest result with the version's hold-out backtest
same_metrics() {   # same_metrics HOLDOUT_JSON BACKTEST_JSON -> prints the keys that differ
    "$PY" - "$1" "$2" <<'PYEOF'
import json, math, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = [k for k, v in b.items() if isinstance(v, (int, float)) or v is None
       if k not in a or not ((v is None and a[k] is None) or
                             (v is not None and a[k] is not None and math.isclose(a[k], v, rel_tol=1e-9, abs_tol=1e-12)))]
if len(b) < 25:
    bad.append("too few metrics: %d" % len(b))
print(" ".join(bad) if bad else "equal")
PYEOF
}
ho=$(q "SELECT metrics #> '{holdout,backtest}' FROM trading.agentversions WHERE id = $v1")
bt=$(q "SELECT b.metrics FROM trading.agentversions v,
        fsmml_backtest('$S', '1m', v.test_from, v.test_to, '{\"version_id\": $v1, $BT}') b WHERE v.id = $v1")
echo "# hold-out backtest of v1: $ho"
check "the hold-out backtest trades (a test that compares something)" \
    "$PY" -c "import json,sys; m=json.loads(sys.argv[1]); sys.exit(0 if m['trades'] >= 20 and m['bars'] > 3000 else 1)" "$ho"
out=$(same_metrics "$ho" "$bt")
check "stored hold-out metrics = fsmml_backtest of the scored predictions over test_from..test_to ($out)" [ "$out" = equal ]
check "the hold-out backtest records its bars and ExecRules parameters" [ "$(q "
    SELECT metrics #>> '{holdout,backtest,from}' = to_char(test_from AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
       AND (metrics #>> '{holdout,backtest,long_threshold}')::float8 = 0.51
       AND (metrics #>> '{holdout,backtest,sl_atr}')::float8 = 1.5
       AND abs((metrics #>> '{holdout,backtest,pnl}')::float8 - (metrics #>> '{holdout,backtest,total_return}')::float8) < 1e-9
    FROM trading.agentversions WHERE id = $v1")" = t ]
# a different fee changes the backtest: the equality above is not a coincidence of defaults
bt0=$(q "SELECT b.metrics FROM trading.agentversions v,
         fsmml_backtest('$S', '1m', v.test_from, v.test_to, '{\"version_id\": $v1, \"fee_bps\": 20, \"long_threshold\": 0.51, \"short_threshold\": 0.49}') b WHERE v.id = $v1")
check "another fee gives other metrics" [ "$(same_metrics "$ho" "$bt0")" != equal ]

# ---- promotion: a second version judged against v1 on its own hold-out (the same bars here)
v2=$(q "SELECT version_id FROM fsmml_train('DirectionXGB', '$S', '1m', '{$P, \"xgb\": {\"max_depth\": 5, \"nthread\": 2}}')")
dec=$(q "SELECT decision FROM fsmml.promotions WHERE challenger_id = $v2")
echo "# promotion of v2: $dec; $(q "SELECT reason FROM fsmml.promotions WHERE challenger_id = $v2")"
check "the promotion decided (promoted or kept)" [ -n "$dec" ]
check "the champion was evaluated on the challenger's hold-out bars" [ "$(q "
    SELECT p.champion_metrics #>> '{backtest,from}' = v.metrics #>> '{holdout,backtest,from}'
       AND p.champion_metrics #>> '{backtest,to}' = v.metrics #>> '{holdout,backtest,to}'
       AND p.champion_id = $v1
    FROM fsmml.promotions p JOIN trading.agentversions v ON v.id = p.challenger_id WHERE p.challenger_id = $v2")" = t ]
# store v2's predictions too (a kept challenger is scored once promoted by hand)
[ "$dec" = promoted ] || q "SELECT fsmml_promote($v2, 'holdout_sim test')" >/dev/null
q "SELECT fsmml_score('$S', '1m', test_from, test_to) FROM trading.agentversions WHERE id = $v2" >/dev/null
cmp=$(q "SELECT string_agg(c.metric || '=' || coalesce(c.champion::text, 'null') || '/' || coalesce(c.challenger::text, 'null'), ' ' ORDER BY c.metric)
         FROM trading.agentversions v, fsmml_compare($v1, $v2, v.test_from, v.test_to, '{$BT}') c
         WHERE v.id = $v2 AND c.metric IN ('total_return', 'max_drawdown', 'calmar', 'trades', 'sharpe')")
rule=$(q "SELECT string_agg(k || '=' || coalesce(p.champion_metrics #>> array['backtest', k], 'null') || '/'
                            || coalesce(p.challenger_metrics #>> array['holdout', 'backtest', k], 'null'), ' ' ORDER BY k)
          FROM fsmml.promotions p, unnest(array['total_return', 'max_drawdown', 'calmar', 'trades', 'sharpe']) k
          WHERE p.challenger_id = $v2 AND p.decision IN ('promoted', 'kept')")
echo "# fsmml_compare: $cmp"
echo "# promotion:     $rule"
check "the promotion's champion and challenger numbers = fsmml_compare's over the challenger's hold-out" \
    "$PY" - "$cmp" "$rule" <<'PYEOF'
import math, sys
def parse(s):
    return {k: tuple(None if x == 'null' else float(x) for x in v.split('/'))
            for k, v in (t.split('=') for t in s.split())}
a, b = parse(sys.argv[1]), parse(sys.argv[2])
ok = set(a) == set(b) == {'total_return', 'max_drawdown', 'calmar', 'trades', 'sharpe'} and all(
    (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12))
    for k in a for x, y in zip(a[k], b[k]))
sys.exit(0 if ok else 1)
PYEOF
check "champion and challenger differ (two models, not one run twice)" [ "$(q "
    SELECT p.champion_metrics #>> '{backtest,total_return}' <> p.challenger_metrics #>> '{holdout,backtest,total_return}'
    FROM fsmml.promotions p WHERE p.challenger_id = $v2 AND p.decision IN ('promoted', 'kept')")" = t ]
finish
