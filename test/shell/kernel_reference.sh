#!/usr/bin/env bash
# kernel_reference.sh — the feature kernel outside the server:
#   - kernel_cli builds (and the kernel compiles with the extension's warnings);
#   - every feature matches an independent Python reference (1e-9 relative)
#     on a 1m series, a 5m series and a 1m series with 2% of the bars missing;
#   - incremental == batch: resuming from a memcpy'd state at bar k gives
#     byte-identical output;
#   - no look-ahead: the first N rows do not change when later bars exist;
#   - bad bars are rejected with the right status and leave the state intact;
#   - desks' data shapes match the reference too: hourly bars on :15 (HTF
#     buckets follow the series' origin), daily bars at local midnight in New
#     York (05:00/04:00 UTC with daylight saving), forex daily bars at
#     22:00/21:00 UTC and 4h forex bars shifting with DST, both zero volume.
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
    cc -O2 -Wall -Werror -I src/kernel src/kernel/features_kernel.c src/kernel/features_check.c \
       src/kernel/features_catalog.c test/kernel/kernel_cli.c -lm -o "$CLI"
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

# Desks' shapes (deterministic random walks; no ../shared needed).
"$PY" - "$WORK" <<'PYEOF'
import datetime as dt
import sys
import numpy as np
out = sys.argv[1]
UTC = dt.timezone.utc

def nth_sunday(y, m, n):
    d = dt.date(y, m, 1)
    d += dt.timedelta(days=(6 - d.weekday()) % 7)
    return d + dt.timedelta(weeks=n - 1)

def us_dst(d):      # daylight saving in New York on date d (from the 2nd Sunday of March to the 1st of November)
    return nth_sunday(d.year, 3, 2) < d <= nth_sunday(d.year, 11, 1)

def write(name, stamps, zero_volume, seed):
    rng = np.random.default_rng(seed)
    n = len(stamps)
    c = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    o = np.concatenate(([1.1], c[:-1]))
    hi = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.001, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.001, n)))
    v = np.zeros(n) if zero_volume else rng.integers(1, 1000, n).astype(float)
    with open(f"{out}/{name}.csv", "w") as f:
        f.write("symbol,timeframe,ts,open,high,low,close,volume\n")
        for t, a, b, e, g, w in zip(stamps, o, hi, lo, c, v):
            f.write(f"X,tf,{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{a:.10g},{b:.10g},{e:.10g},{g:.10g},{w:.10g}\n")

t0 = dt.datetime(2023, 1, 2, 0, 15, tzinfo=UTC)
write("o1h", [t0 + dt.timedelta(hours=i) for i in range(6000)], False, 1)
days = [dt.date(2022, 1, 3) + dt.timedelta(days=i) for i in range(800)]
write("nyd", [dt.datetime(d.year, d.month, d.day, 4 if us_dst(d) else 5, tzinfo=UTC) for d in days], False, 2)
# forex: the day closes at 17:00 New York; Sunday..Thursday stamps, zero volume
fx = [d for d in days if d.weekday() in (6, 0, 1, 2, 3)]
write("fxd", [dt.datetime(d.year, d.month, d.day, 21 if us_dst(d) else 22, tzinfo=UTC) for d in fx], True, 3)
fx4 = [dt.datetime(d.year, d.month, d.day, 21 if us_dst(d) else 22, tzinfo=UTC) + dt.timedelta(hours=4 * k)
       for d in fx[:300] for k in range(6)]
write("fx4", fx4, True, 4)
PYEOF
check "bars: hourly on :15, New York daily with DST, forex daily and 4h (zero volume)" \
    test -s "$WORK/o1h.csv" -a -s "$WORK/nyd.csv" -a -s "$WORK/fxd.csv" -a -s "$WORK/fx4.csv"

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
SERIES="b1:1:1m:csv b5:5:5m:raw bg:1:1m-gaps:raw o1h:60:1h-on-15:raw nyd:1440:1d-NY-DST:raw fxd:1440:1d-forex-zero-volume:raw fx4:240:4h-forex-DST:raw"
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
         "bg 1 1" "bg 1 1439" "bg 1 7777" "b5 5 288" "b5 5 4321" \
         "o1h 60 1" "o1h 60 99" "o1h 60 3001" "nyd 1440 70" "nyd 1440 433" "fxd 1440 123" \
         "fx4 240 1" "fx4 240 777"; do
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
for s in "o1h 60 4" "o1h 60 27" "o1h 60 2222" "fx4 240 5" "fx4 240 6" "fx4 240 1111"; do
    set -- $s
    "$CLI" "$2" --raw --truncate "$3" <"$WORK/$1.csv" >"$WORK/trunc.raw" 2>/dev/null
    head -c $(($3 * ROW)) "$WORK/$1.full.raw" | cmp -s - "$WORK/trunc.raw" || { echo "# look-ahead: $1 cut at $3"; nla=$((nla + 1)); }
done
check "no look-ahead: 25 random cut points (and 3 on the gapped series, 6 on offset/DST series)" test "$nla" -eq 0
# The shapes are accepted whole and their gaps counted as gaps only where bars are missing.
grep -q '^bars 6000 gaps 0$' "$WORK/o1h.err" && grep -q '^bars 800 gaps 0$' "$WORK/nyd.err" &&
    grep -q '^bars 572 gaps 114$' "$WORK/fxd.err" && ok "offset and DST series accepted; DST shifts are not gaps, weekends are" ||
    notok "offset and DST series accepted; DST shifts are not gaps, weekends are ($(tail -qn1 "$WORK"/o1h.err "$WORK"/nyd.err "$WORK"/fxd.err | tr '\n' ' '))"

[ "$fail" -eq 0 ]
