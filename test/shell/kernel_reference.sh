#!/usr/bin/env bash
# kernel_reference.sh — the feature kernel outside the server:
#   - kernel_cli builds (and the kernel compiles with the extension's warnings);
#   - every feature matches an independent Python reference (1e-9 relative)
#     on a 1m series, a 5m series and a 1m series with 2% of the bars missing;
#   - incremental == batch: resuming from a memcpy'd state at bar k gives
#     byte-identical output;
#   - no look-ahead: the first N rows do not change when later bars exist;
#   - bad bars are rejected with the right status and leave the state intact.
# Prints "ok - name" / "not ok - name" per check; exits non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$(dirname "$0")/../../../shared" 2>/dev/null && pwd) || SHARED=$ROOT/../shared
GEN=$SHARED/bench/gen_bars.py
REF=$ROOT/test/kernel/reference.py
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fsmml-kernel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT" || exit 1

fail=0
ok()    { echo "ok - $1"; }
notok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }

# A python3 with numpy and pandas (Debian's; a pyenv shim may lack them).
PY=
for p in ${PYTHON:-} /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, pandas' 2>/dev/null; then
        PY=$p; break
    fi
done
if [ -z "$PY" ]; then notok "python3 with numpy and pandas found"; exit 1; fi

CLI=$WORK/kernel_cli
check "kernel_cli builds" \
    cc -O2 -Wall -Werror -I src/kernel src/kernel/features_kernel.c test/kernel/kernel_cli.c -lm -o "$CLI"
[ -x "$CLI" ] || exit 1
check "features_kernel.c compiles as strict C99 with the extension's warnings" \
    cc -std=c99 -pedantic -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
       -Wno-sign-compare -Wmissing-prototypes -Wdeclaration-after-statement -Werror=vla \
       -Werror -O2 -I src/kernel -c src/kernel/features_kernel.c -o "$WORK/features_kernel.o"

# --- bars (generated in parallel: two cores).  Without ../shared (a bare
# clone), the bundled sample stands in: its first 20,000 bars, those
# aggregated to 5m, and those with 2% of the bars dropped.
if [ -f "$GEN" ]; then
    "$PY" "$GEN" --bars 20000 --seed 11 >"$WORK/b1.csv" &
    "$PY" "$GEN" --bars 20000 --seed 11 --tf 5m >"$WORK/b5.csv" &
    "$PY" "$GEN" --bars 20000 --seed 11 --gaps 0.02 >"$WORK/bg.csv" &
    wait
else
    echo "# $GEN not found: using data/btcusdt_1m_sample.csv.gz"
    "$PY" - "$ROOT/data/btcusdt_1m_sample.csv.gz" "$WORK" <<'PYEOF'
import sys
import numpy as np
import pandas as pd
src, out = sys.argv[1], sys.argv[2]
b1 = pd.read_csv(src, nrows=100000)
b1.iloc[:20000].to_csv(f"{out}/b1.csv", index=False, float_format="%.8g")
t = b1.set_index(pd.to_datetime(b1.ts))
b5 = t.resample("5min").agg({"symbol": "first", "timeframe": "first", "ts": "first", "open": "first",
                             "high": "max", "low": "min", "close": "last", "volume": "sum"}).iloc[:20000]
b5["timeframe"] = "5m"
b5.to_csv(f"{out}/b5.csv", index=False, float_format="%.8g")
keep = np.random.default_rng(11).random(20000) > 0.02
b1.iloc[:20000][keep].to_csv(f"{out}/bg.csv", index=False, float_format="%.8g")
PYEOF
fi
check "bars: 1m, 5m and gapped series" test -s "$WORK/b1.csv" -a -s "$WORK/b5.csv" -a -s "$WORK/bg.csv"

# --- bad bars, state checks, catalogue
"$CLI" --check-bad >"$WORK/bad.out" 2>&1
rc=$?
grep -E '^(ok|not ok) ' "$WORK/bad.out" | sed 's/^\(ok\|not ok\) - /\1 - check-bad: /'
bad_fail=$(grep -c '^not ok' "$WORK/bad.out")
fail=$((fail + bad_fail))
[ $rc -eq 0 ] || [ "$bad_fail" -gt 0 ] || notok "kernel_cli --check-bad exited $rc"

# --- reference comparison
check "reference self-test (hand-computed values)" "$PY" "$REF" --self-test >/dev/null
"$CLI" --catalog >"$WORK/catalog.csv"
# The 1m series goes through the CSV output (header, %.17g, NULL as empty);
# the others through --raw, which the reference reads much faster.
SERIES="b1:1:1m:csv b5:5:5m:raw bg:1:1m-gaps:raw"
for s in $SERIES; do
    IFS=: read -r f step label fmt <<<"$s"
    (
        opt=()
        [ "$fmt" = raw ] && opt=(--raw)
        "$CLI" "$step" "${opt[@]}" <"$WORK/$f.csv" >"$WORK/$f.full.$fmt" 2>"$WORK/$f.err" || exit 3
        extra=()
        [ "$f" = b1 ] && extra=(--catalog "$WORK/catalog.csv")
        "$PY" "$REF" "$WORK/$f.csv" "$WORK/$f.full.$fmt" "$step" "${extra[@]}" >"$WORK/$f.ref" 2>&1
    ) &
    echo $! >"$WORK/$f.pid"
done
for s in $SERIES; do
    IFS=: read -r f step label fmt <<<"$s"
    wait "$(cat "$WORK/$f.pid")"
    rc=$?
    [ -f "$WORK/$f.ref" ] && grep '^#' "$WORK/$f.ref" | sed "s/^#/# $label:/" | head -40
    if [ $rc -eq 0 ]; then ok "reference matches the kernel ($label, $fmt output)"
    elif [ $rc -eq 3 ]; then notok "kernel_cli runs on the $label bars: $(cat "$WORK/$f.err")"
    else notok "reference matches the kernel ($label, $fmt output)"; grep -v '^#' "$WORK/$f.ref" | tail -5 | sed 's/^/#   /'
    fi
done
grep -q 'gaps [1-9]' "$WORK/bg.err" && ok "gapped series counts gaps ($(tail -1 "$WORK/bg.err"))" ||
    notok "gapped series counts gaps ($(tail -1 "$WORK/bg.err"))"

# --- incremental == batch (byte for byte).  --raw writes the doubles' bytes:
# an exact comparison, and much faster than printing 1.2M values with %.17g.
ROW=$(( (1 + $(grep -c . "$WORK/catalog.csv")) * 8 ))       # bytes per row
"$CLI" 1 --raw <"$WORK/b1.csv" >"$WORK/b1.full.raw" 2>/dev/null     # b5, bg: made above
for s in "b1 1 1" "b1 1 49" "b1 1 1439" "b1 1 1440" "b1 1 12345" "b1 1 19999" \
         "bg 1 1" "bg 1 1439" "bg 1 7777" "b5 5 288" "b5 5 4321"; do
    set -- $s
    "$CLI" "$2" --raw --resume-at "$3" <"$WORK/$1.csv" >"$WORK/resume.raw" 2>/dev/null
    check "incremental == batch: $1 resumed from a copied state at bar $3" \
        cmp -s "$WORK/resume.raw" "$WORK/$1.full.raw"
done
"$CLI" 1 --resume-at 1440 <"$WORK/b1.csv" >"$WORK/resume.csv" 2>/dev/null
check "incremental == batch: b1 CSV output resumed at bar 1440" \
    cmp -s "$WORK/resume.csv" "$WORK/b1.full.csv"

# --- no look-ahead: the first N rows do not depend on later bars
cuts=$(awk 'BEGIN { srand(20240101); for (i = 0; i < 25; i++) printf "%d ", 1 + int(rand() * 19998) }')
nla=0
for n in $cuts; do
    "$CLI" 1 --raw --truncate "$n" <"$WORK/b1.csv" >"$WORK/trunc.raw" 2>/dev/null
    if ! head -c $((n * ROW)) "$WORK/b1.full.raw" | cmp -s - "$WORK/trunc.raw"; then
        echo "# look-ahead: the first $n rows change when later bars exist"
        nla=$((nla + 1))
    fi
done
for n in 1 1440 2880; do
    "$CLI" 1 --raw --truncate "$n" <"$WORK/bg.csv" >"$WORK/trunc.raw" 2>/dev/null
    head -c $((n * ROW)) "$WORK/bg.full.raw" | cmp -s - "$WORK/trunc.raw" || nla=$((nla + 1))
done
check "no look-ahead: 25 random cut points (and 3 on the gapped series)" test "$nla" -eq 0

[ "$fail" -eq 0 ]
