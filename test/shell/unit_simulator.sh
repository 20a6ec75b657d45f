#!/usr/bin/env bash
# unit_simulator.sh — the bar simulator (src/kernel/simulator.c) and the signals made for it
# (sim_signals.c) on hand-computed cases,
# compiled as strict C99 without PostgreSQL.
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"
bin=$FSMML_TEST_DIR/simulator_test
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/simulator.c src/kernel/sim_signals.c src/kernel/exec_rules.c src/kernel/statefsm.c test/unit/simulator_test.c -lm \
    -o "$bin" 2>"$bin.log"
check "simulator.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
"$bin"
finish
