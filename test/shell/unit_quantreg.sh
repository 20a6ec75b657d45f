#!/usr/bin/env bash
# unit_quantreg.sh — src/kernel/quantreg.c (VolQuantile's linear stage) against statsmodels'
# QuantReg (Debian python3-statsmodels) on the same rows: pinball loss on the fitted rows no worse
# (1e-6 relative) and coefficients within 1e-3 of statsmodels' at q = 0.1, 0.5, 0.9, on
# heteroscedastic data, heavy tails, and with collinear columns (ATR in two units, two identical
# columns: statsmodels uses pinv there, and only the fitted values are identified, compared
# instead); a fit with no reweighting is the constant quantile.
. "$(dirname "$0")/../lib.sh"
set -u
W=$FSMML_TEST_DIR/quantreg; rm -rf "$W"; mkdir -p "$W"
cd "$ROOT"
cc -O2 -Wall -Wextra -Werror -std=c99 -I src/kernel src/kernel/quantreg.c test/unit/quantreg_cli.c -lm \
    -o "$W/quantreg_cli" 2>"$W/cc.log"
check "quantreg.c and its CLI compile as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$W/cc.log"

"$PY" - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(3)
n = 3000
x = rng.normal(0, 1, (n, 3)).astype(np.float32).astype(float)
het = 1 + 2 * x[:, 0] ** 2 + rng.standard_normal(n) * (0.5 + np.abs(x[:, 1]))
heavy = 0.3 + x @ np.array([1.0, -0.5, 0.2]) + rng.standard_t(2, n)
# ATR-like scales side by side and a duplicated column
atr = np.abs(rng.normal(0.003, 0.001, n))
twins = np.column_stack([atr, atr * 100, rng.normal(1, 0.2, n), rng.normal(1, 0.2, n)])
twins[:, 3] = twins[:, 2]
tw = 0.5 + 40 * twins[:, 0] + 0.3 * twins[:, 2] + np.abs(rng.standard_normal(n))
for name, y, X in (("het", het, x), ("heavy", heavy, x), ("twins", tw, twins.astype(np.float32).astype(float))):
    np.savetxt(f"{w}/{name}.csv", np.column_stack([y.astype(np.float32).astype(float), X]), delimiter=",", fmt="%.9g")
PY

for set in het heavy twins; do
    for qq in 0.1 0.5 0.9; do
        "$W/quantreg_cli" $qq 1000 <"$W/$set.csv" >"$W/out.txt"
        verdict=$("$PY" - "$W/$set.csv" "$W/out.txt" $qq $set <<'PY'
import sys, warnings, numpy as np, statsmodels.api as sm
d = np.loadtxt(sys.argv[1], delimiter=","); y, X = d[:, 0], sm.add_constant(d[:, 1:], has_constant="add")
out = [float(v) for v in open(sys.argv[2])]
q = float(sys.argv[3]); b = np.array(out[1:-1]); ours = out[-1]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit = sm.QuantReg(y, X).fit(q=q, max_iter=5000)
r = y - fit.predict(X); theirs = float(np.mean(np.where(r >= 0, q * r, (q - 1) * r)))
sb = np.array(fit.params)
if sys.argv[4] == "twins":      # collinear columns: only the fitted values are identified
    b, sb = X @ b, X @ sb
coef_ok = np.all(np.abs(b - sb) <= 1e-3 * np.maximum(1, np.abs(sb)))
print(f"{int(out[0])} iterations, pinball {ours:.9g} vs {theirs:.9g}, max diff {np.max(np.abs(b - sb)):.2e}",
      "ok" if ours <= theirs * (1 + 1e-6) else "worse", "ok" if coef_ok else "differ")
PY
)
        echo "# $set q=$qq: $verdict"
        check "$set q=$qq: pinball loss no worse than statsmodels QuantReg's" [ "$(echo "$verdict" | awk '{print $(NF-1)}')" = ok ]
        check "$set q=$qq: coefficients (fitted values for twins) as statsmodels' (1e-3)" [ "$(echo "$verdict" | awk '{print $NF}')" = ok ]
    done
done

# No reweighting: the constant fit, the empirical quantile of y, with zero slopes.
"$W/quantreg_cli" 0.5 0 <"$W/het.csv" >"$W/out0.txt"
check "max_iter 0: -1 iterations, zero slopes, intercept = the empirical median" "$PY" -c "
import numpy as np
o = [float(v) for v in open('$W/out0.txt')]
y = np.sort(np.loadtxt('$W/het.csv', delimiter=',')[:, 0].astype(np.float32))
import sys; sys.exit(0 if o[0] == -1 and o[2:5] == [0, 0, 0] and o[1] == float(y[int(np.floor(0.5 * len(y)))]) else 1)"
finish
