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
finish
