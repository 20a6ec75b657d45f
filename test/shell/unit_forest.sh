#!/usr/bin/env bash
# unit_forest.sh — src/kernel/forest.c and forest_ubj.c (live scoring's single-row tree evaluator,
# read from JSON and from UBJSON) against XGBoost 1.7 itself through its C API, without PostgreSQL:
# binary:logistic (two base scores), multi:softprob, reg:squarederror, pruned trees (gamma), exact
# and hist splits, rows with missing values and infinities; the two readers give the same nodes and
# every prediction of 20,000 fresh rows is bit-equal to XGBoosterPredictFromDense.  A gblinear
# model and a tree whose links loop are refused; UBJSON cut short or with bytes changed is refused
# or read within its bounds.
. "$(dirname "$0")/../lib.sh"
set -u
W=$FSMML_TEST_DIR/forest; rm -rf "$W"; mkdir -p "$W"
cd "$ROOT"
cc -O2 -Wall -Wextra -Werror -std=gnu99 -I src/kernel src/kernel/forest.c src/kernel/forest_ubj.c test/unit/forest_test.c \
    -lxgboost -lcjson -lm -o "$W/forest_test" 2>"$W/cc.log"
check "forest.c and its test compile without PostgreSQL" [ $? -eq 0 ] || cat "$W/cc.log"
"$W/forest_test" | grep -E '^(ok|not ok|#)'
check "the forest test ran to its end" [ "${PIPESTATUS[0]}" -eq 0 ]
# the same under AddressSanitizer and UBSan: the damaged UBJSON is read within its bounds
cc -O1 -g -Wall -Wextra -Werror -std=gnu99 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -I src/kernel src/kernel/forest.c src/kernel/forest_ubj.c test/unit/forest_test.c \
    -lxgboost -lcjson -lm -o "$W/forest_test_asan" 2>"$W/cc_asan.log"
check "forest.c and forest_ubj.c compile with AddressSanitizer" [ $? -eq 0 ] || cat "$W/cc_asan.log"
ASAN_OPTIONS=detect_leaks=0 "$W/forest_test_asan" >"$W/asan.out" 2>&1   # a failed check or a report: exit 1
check "under AddressSanitizer and UBSan: every check passes, no invalid access" [ $? -eq 0 ] ||
    tail -20 "$W/asan.out"
finish
