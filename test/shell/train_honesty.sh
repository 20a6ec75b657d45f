#!/usr/bin/env bash
# Honesty: on a pure random walk no model may show an edge out of sample; on
# the planted signal the same pipeline must find one.  Any leak (look-ahead,
# shuffled split, label in the features) breaks the first check.
. "$(dirname "$0")/../lib.sh"
set -u
if [ ! -f "$SHARED/bench/gen_bars.py" ]; then
    echo "# skip: $SHARED/bench/gen_bars.py not found"; exit 0
fi
load_gen_bars RW --bars 220000 --seed 21 --phi 0
load_gen_bars SIG --bars 220000 --seed 21

P='{"folds": 3, "rounds": 120, "early_stopping_rounds": 20, "lookback": "all", "xgb": {"max_depth": 4, "nthread": 2}}'
rw=$(q "SELECT metrics FROM fsmml_train('DirectionXGB', 'RW', '1m', '$P')")
sig=$(q "SELECT metrics FROM fsmml_train('DirectionXGB', 'SIG', '1m', '$P')")
get() { echo "$1" | "$PY" -c "import json,sys; m=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'m': m}))" "$2"; }

auc_rw=$(get "$rw" "m['holdout']['auc']")
auc_sig=$(get "$sig" "m['holdout']['auc']")
echo "# random walk: hold-out AUC $auc_rw, rows $(get "$rw" "m['holdout']['rows']"), folds $(get "$rw" "[round(f['auc'], 4) for f in m['folds']]")"
echo "# random walk backtest: $(get "$rw" "m['holdout']['backtest']")"
echo "# planted signal: hold-out AUC $auc_sig, folds $(get "$sig" "[round(f['auc'], 4) for f in m['folds']]")"

check "random walk: hold-out AUC within 0.5 +- 0.02" \
    "$PY" -c "import sys; sys.exit(0 if abs($auc_rw - 0.5) <= 0.02 else 1)"
check "random walk: every walk-forward fold AUC within 0.5 +- 0.03" \
    "$PY" -c "import sys; sys.exit(0 if all(abs(a - 0.5) <= 0.03 for a in $(get "$rw" "[f['auc'] for f in m['folds']]")) else 1)"
# No edge: scored over its hold-out, the champion's side sign(p - 0.5) earns
# nothing beyond noise gross of fees (|t| < 3), and net of fees it loses.
q "SELECT fsmml_score('RW', '1m', test_from, test_to) FROM trading.agentversions WHERE symbol = 'RW'" >/dev/null
t=$(q "WITH p AS (SELECT \"timestamp\", (payload->>'prob_up')::float8 AS pu FROM trading.agentpreds WHERE symbol = 'RW'),
            r AS (SELECT \"timestamp\", lead(close) OVER (ORDER BY \"timestamp\") / close - 1 AS fr
                  FROM trading.historicaldata WHERE symbol = 'RW' AND timeframe = '1m')
       SELECT round((avg(sign(pu - 0.5) * fr) / stddev_samp(sign(pu - 0.5) * fr) * sqrt(count(*)))::numeric, 3)
       FROM p JOIN r USING (\"timestamp\") WHERE fr IS NOT NULL")
echo "# random walk: gross t-statistic of the hold-out strategy $t, net pnl $(get "$rw" "m['holdout']['backtest']['pnl']")"
check "random walk: backtest shows no edge (gross |t| < 3, net pnl < 0)" \
    "$PY" -c "import sys; sys.exit(0 if abs($t) < 3 and $(get "$rw" "m['holdout']['backtest']['pnl']") < 0 else 1)"
check "planted signal: hold-out AUC clearly above 0.5 (> 0.53)" \
    "$PY" -c "import sys; sys.exit(0 if $auc_sig > 0.53 else 1)"
finish
