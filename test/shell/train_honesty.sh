#!/usr/bin/env bash
# Honesty: on a pure random walk no model may show an edge out of sample; on
# the planted signal the same pipeline must find one.  Any leak (look-ahead,
# shuffled split, label in the features) breaks the first check.
. "$(dirname "$0")/../lib.sh"
set -u
if [ -f "$SHARED/bench/gen_bars.py" ]; then
    load_gen_bars RW --bars 220000 --seed 21 --phi 0
    load_gen_bars SIG --bars 220000 --seed 21
else
    # A bare clone: an i.i.d. fat-tailed random walk made here, and the
    # bundled sample (gen_bars' planted signal) for the learnable series.
    echo "# $SHARED/bench/gen_bars.py not found: own random walk, bundled sample"
    "$PY" - <<'PYEOF' | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
import sys
import numpy as np
n = 220000
rng = np.random.default_rng(21)
ret = rng.standard_t(5, n) * 0.0008 / np.sqrt(5 / 3)
close = 42000 * np.exp(np.cumsum(ret))
open_ = np.concatenate(([42000.0], close[:-1]))
wick = np.abs(rng.normal(0, 1, (2, n))) * 0.0005 * close
high, low = np.maximum(open_, close) + wick[0], np.minimum(open_, close) - wick[1]
vol = rng.lognormal(3.0, 0.5, n)
ts = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[m]")
w = sys.stdout.write
w("symbol,timeframe,ts,open,high,low,close,volume\n")
for i in range(n):
    w(f"RW,1m,{ts[i]}:00Z,{open_[i]:.8g},{high[i]:.8g},{low[i]:.8g},{close[i]:.8g},{vol[i]:.8g}\n")
PYEOF
    gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | sed 's/^BTCUSDT,/SIG,/' |
        psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
fi

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
# nothing beyond noise gross of fees (|t| < 3); the hold-out backtest trades the
# ExecRules decision (0.55 / 0.45), and net of fees it either loses or, when a
# random-walk model never clears the thresholds, does not trade at all.
q "SELECT fsmml_score('RW', '1m', test_from, test_to) FROM trading.agentversions WHERE symbol = 'RW'" >/dev/null
t=$(q "WITH p AS (SELECT \"timestamp\", (payload->>'prob_up')::float8 AS pu FROM trading.agentpreds WHERE symbol = 'RW'),
            r AS (SELECT \"timestamp\", lead(close) OVER (ORDER BY \"timestamp\") / close - 1 AS fr
                  FROM trading.historicaldata WHERE symbol = 'RW' AND timeframe = '1m')
       SELECT round((avg(sign(pu - 0.5) * fr) / stddev_samp(sign(pu - 0.5) * fr) * sqrt(count(*)))::numeric, 3)
       FROM p JOIN r USING (\"timestamp\") WHERE fr IS NOT NULL")
echo "# random walk: gross t-statistic of the hold-out strategy $t, net pnl $(get "$rw" "m['holdout']['backtest']['pnl']")"
rw_pnl=$(get "$rw" "m['holdout']['backtest']['pnl']"); rw_trades=$(get "$rw" "m['holdout']['backtest']['trades']")
check "random walk: backtest shows no edge (gross |t| < 3; net pnl < 0, or no trade at all)" \
    "$PY" -c "import sys; sys.exit(0 if abs($t) < 3 and ($rw_pnl < 0 or ($rw_trades == 0 and $rw_pnl == 0)) else 1)"
check "planted signal: hold-out AUC clearly above 0.5 (> 0.53)" \
    "$PY" -c "import sys; sys.exit(0 if $auc_sig > 0.53 else 1)"
finish
