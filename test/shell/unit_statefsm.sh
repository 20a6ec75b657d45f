#!/usr/bin/env bash
# unit_statefsm.sh — the state machine's rules (src/kernel/statefsm.c) on hand-made cases,
# compiled as strict C99 without PostgreSQL.
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"
bin=$FSMML_TEST_DIR/statefsm_test
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/statefsm.c test/unit/statefsm_test.c -lm \
    -o "$bin" 2>"$bin.log"
check "statefsm.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
"$bin"
finish
