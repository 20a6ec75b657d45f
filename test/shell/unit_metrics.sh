#!/usr/bin/env bash
# unit_metrics.sh — unit tests of src/kernel/metrics.c and src/kernel/walkforward.c outside
# the server: reference cases from test/unit/metrics_ref.py (sklearn/numpy),
# then test/unit/metrics_test.c.  Prints "ok - unit metrics" or "not ok ...".
# The driver's own TAP lines are shown as "# " comments, so a runner that
# counts "^ok" lines counts this script once.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() {
    echo "not ok - unit metrics: $1"
    [ -s "$TMP/log" ] && sed 's/^/# /' "$TMP/log" | grep -v '^# ok ' | tail -60
    exit 1
}

# sklearn comes from Debian's python3-sklearn: a pyenv/venv python3 first in
# PATH may not see it, so take the first interpreter that imports both.
PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, sklearn' 2>/dev/null; then
        PY=$p; break
    fi
done
[ -n "$PY" ] || fail "no python3 with numpy and sklearn (apt-get install python3-sklearn)"

cd "$ROOT"
# the extension's own warning flags, so a slip fails here before the build
cc -std=c99 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
   -Wno-sign-compare -Wdeclaration-after-statement -Wmissing-prototypes -Werror=vla -Werror \
   -I src/kernel src/kernel/metrics.c src/kernel/walkforward.c >"$TMP/log" 2>&1 || fail "src does not compile cleanly"
cc -O2 -Wall -Werror -I src/kernel src/kernel/metrics.c src/kernel/walkforward.c test/unit/metrics_test.c -lm \
   -o "$TMP/metrics_test" >"$TMP/log" 2>&1 || fail "test driver does not compile"
"$PY" test/unit/metrics_ref.py "$TMP/cases.txt" >"$TMP/log" 2>&1 || fail "metrics_ref.py failed"
"$TMP/metrics_test" "$TMP/cases.txt" >"$TMP/log" 2>&1
rc=$?
summary=$(tail -1 "$TMP/log")
[ $rc -eq 0 ] || fail "$summary"
grep -qE '^[0-9]+ passed, 0 failed$' <<<"$summary" || fail "no summary line"
echo "# $summary"
echo "ok - unit metrics"
