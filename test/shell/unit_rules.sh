#!/usr/bin/env bash
# unit_rules.sh — the state machine (src/kernel/statefsm.c) and ExecRules (exec_rules.c) on hand cases,
# compiled as strict C99 without PostgreSQL.
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"
bin=$FSMML_TEST_DIR/statefsm_test
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/statefsm.c test/unit/statefsm_test.c -lm \
    -o "$bin" 2>"$bin.log"
check "statefsm.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
"$bin"
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/exec_rules.c test/unit/exec_rules_test.c -lm \
    -o "$bin.exec" 2>"$bin.log"
check "exec_rules.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
"$bin.exec"
finish
