#!/usr/bin/env bash
# unit_ensemble.sh — EnsembleWeighted's combination (src/kernel/ensemble.c) on hand-computed cases,
# compiled as strict C99 without PostgreSQL.
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"
bin=$FSMML_TEST_DIR/ensemble_test
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/ensemble.c test/unit/ensemble_test.c -lm \
    -o "$bin" 2>"$bin.log"
check "ensemble.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
out=$("$bin"); rc=$?
echo "$out"
check "every hand-computed ensemble case holds" [ $rc -eq 0 ]
check "ten cases ran" [ "$(grep -c "^ok - " <<<"$out")" -eq 10 ]
finish
