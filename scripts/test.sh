#!/usr/bin/env bash
# test.sh — every test of fsmml, on a throwaway cluster with shared_preload_libraries = 'fsmml':
# pg_regress and isolation tests (sql/, test/isolation/ + expected/), pgTAP (test/pgtap/ via
# pg_prove), shell tests (test/shell/), then a check that no backend died of a signal.
# The suite runs once per build variant in FSMML_BUILDS (default "release assert": the second is
# compiled with -DUSE_ASSERT_CHECKING).  Ends with "N passed, N failed"; non-zero on any failure.
#   ./scripts/test.sh [all|regress|pgtap|shell]
# FSMML_SHELL_TESTS="name ..." runs only those shell tests (development; CI runs them all).
# The variants run at the same time, each on its own cluster: the first one in this tree, on this
# PostgreSQL, its output live; every other one built in a copy of the tree and installed into a
# copy of PostgreSQL's bin, lib and share directories ($RUN-VARIANT.src, $RUN-VARIANT.pg), its
# cluster in $RUN-VARIANT and its output printed once the first variant is done.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
export FSMML_SHARED=${FSMML_SHARED:-$ROOT/../shared}   # test/lib.sh: the copies of the tree find ../shared here
RUN=${FSMML_TEST_DIR:-/tmp/fsmml-test}
ONLY=${1:-all}
BUILDS=${FSMML_BUILDS:-release assert}
FIRST=${BUILDS%% *}
# Shell tests that time the server against the wall clock (cancel within 1 s, wake-up within
# 100 ms, jobs at once or one at a time): they run alone, the other variant's tests hold off
# meanwhile ($LOCK: every other test takes it shared, these exclusively).  They run last, as one
# block under one exclusive lock: taking it waits for the other variant's current test to end,
# once per block rather than once per solo test.  Tests that measure memory or CPU ticks
# (train_cancel_leak, xgb_memory, bgw_scheduler's idle CPU) or check refusals
# (xgb_limits_params) need no solo.
SOLO=" bgw_timing train_cancel training_progress xgb_limits "
LOCK=$RUN.lock

./scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
. scripts/cluster.sh
trap 'for v in $BUILDS; do [ "$v" = "$FIRST" ] && d=$RUN || d=$RUN-$v; cluster_stop "$d"; done' EXIT

shell_test() {   # shell_test FILE: runs one shell test in a fresh database (the caller holds $LOCK); adds to pass, fail
    local t=$1 name db start rc p f
    name=$(basename "$t" .sh)
    echo "== shell: $name"
    db="fsmml_$name"
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    psql -qX -d "$db" -c "CREATE EXTENSION fsmml" >/dev/null
    start=$(date +%s)
    PGDATABASE=$db timeout 900 bash "$t" >"$RUN/$name.out" 2>&1 9>&-
    rc=$?
    grep -E '^(ok|not ok|#)' "$RUN/$name.out" || true
    p=$(grep -cE '^ok ' "$RUN/$name.out")
    f=$(grep -cE '^not ok' "$RUN/$name.out")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "not ok - $name exited $rc"; tail -20 "$RUN/$name.out"
    fi
    [ "$f" -gt 0 ] && tail -30 "$RUN/$name.out"
    echo "# $name: $(( $(date +%s) - start )) s"
    pass=$((pass + p)); fail=$((fail + f))
}

run_suite() {   # run_suite VARIANT: builds it in ., tests it on a cluster in $RUN; "pass fail" -> $RUN.counts
    local variant=$1 p f pass=0 fail=0
    echo "=== build: $variant"
    exec 9>>"$LOCK"; flock -s 9                # builds, regress and pgTAP: no solo test meanwhile
    if ! ./scripts/build.sh "$variant" 9>&-; then
        echo "not ok - build ($variant) failed"; echo "0 1" >"$RUN.counts"; return
    fi
    [ "$variant" = "$FIRST" ] && touch "$first_built"     # the other variants' builds may start
    cluster_start "$RUN" fsmml 9>&- || { echo "not ok - cluster did not start"; echo "0 1" >"$RUN.counts"; return; }
    export FSMML_TEST_DIR=$RUN FSMML_ROOT=$PWD    # this tree or its copy

    if [ "$ONLY" = all ] || [ "$ONLY" = regress ]; then
        echo "== pg_regress + isolation"
        rm -rf results output_iso regression.diffs regression.out
        make -s installcheck 2>&1 9>&- | tee "$RUN/regress.out" | grep -E '^(test|ok|not ok|     |permutation)' || true
        p=$(grep -cE '^(test .*\.\.\. ok|ok [0-9]+ )' "$RUN/regress.out")
        f=$(grep -cE '(\.\.\. FAILED|^not ok )' "$RUN/regress.out")
        if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi      # pg_regress itself failed
        for d in regression.diffs output_iso/regression.diffs; do [ -f "$d" ] && head -200 "$d"; done
        pass=$((pass + p)); fail=$((fail + f))
    fi

    if [ "$ONLY" = all ] || [ "$ONLY" = pgtap ]; then
        echo "== pgTAP"
        psql -qX -d postgres -c "DROP DATABASE IF EXISTS fsmml_tap" -c "CREATE DATABASE fsmml_tap" >/dev/null
        psql -qX -d fsmml_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION fsmml" >/dev/null
        pg_prove -v -d fsmml_tap test/pgtap/*.sql >"$RUN/pgtap.out" 2>&1 9>&-
        grep -E '^(not ok|.*\.sql \.+|Result|Files)' "$RUN/pgtap.out"
        grep -E '^\s*not ok' -A3 "$RUN/pgtap.out" | head -60
        p=$(grep -cE '^\s*ok [0-9]+' "$RUN/pgtap.out")
        f=$(grep -cE '^\s*not ok [0-9]+' "$RUN/pgtap.out")
        grep -q '^Result: PASS' "$RUN/pgtap.out" || [ "$f" -gt 0 ] || f=1
        pass=$((pass + p)); fail=$((fail + f))
    fi

    exec 9>&-
    if [ "$ONLY" = all ] || [ "$ONLY" = shell ]; then
        local t name tests=() solos=()
        for t in test/shell/*.sh; do
            name=$(basename "$t" .sh)
            if [ -n "${FSMML_SHELL_TESTS:-}" ] && ! [[ " $FSMML_SHELL_TESTS " == *" $name "* ]]; then continue; fi
            # Tests that never touch the server (kernel units, references) gain nothing from an
            # assert-enabled server: they run with the first variant only.
            if [ "$variant" != "$FIRST" ] && ! grep -qE 'psql|(^|[^a-z_])q "' "$t"; then continue; fi
            if [[ "$SOLO" == *" $name "* ]]; then solos+=("$t"); else tests+=("$t"); fi
        done
        exec 9>>"$LOCK"
        for t in "${tests[@]}"; do
            flock -s 9; shell_test "$t"; flock -u 9
        done
        if [ ${#solos[@]} -gt 0 ]; then
            flock -x 9
            for t in "${solos[@]}"; do shell_test "$t"; done
            flock -u 9
        fi
        exec 9>&-
    fi

    # A backend killed by a signal resets every connection of the server: a failure of the
    # suite whatever the tests said.  A test that kills a process on purpose (kill -9 of a
    # worker) appends its pid to $RUN/expected-kills first.
    local crashes
    crashes=$(grep -E 'terminated by (signal|exception)' "$RUN/server.log" |
              grep -vwFf <(cat "$RUN/expected-kills" 2>/dev/null; echo "no-such-pid-0") | grep -c . || true)
    if [ "$crashes" -eq 0 ]; then
        echo "ok - no backend terminated by a signal ($variant)"; pass=$((pass + 1))
    else
        echo "not ok - $crashes backend(s) terminated by a signal ($variant):"
        grep -E -B3 'terminated by signal' "$RUN/server.log" | head -40
        fail=$((fail + 1))
    fi
    cp "$RUN/server.log" "/tmp/fsmml-server-$variant.log" 2>/dev/null || true
    cluster_stop "$RUN"
    echo "$pass $fail" >"$RUN.counts"
}

# The other variants: a copy of the tree (no objects) and of PostgreSQL's directories, the build
# installed there (DESTDIR), and that copy's binaries first in PATH, so its server loads its own
# fsmml.so.  Started once the first variant is built: four compilers at once would only queue.
run_other() {   # run_other VARIANT
    local v=$1 src=$RUN-$1.src pg=$RUN-$1.pg d
    rm -rf "$src" "$pg" "$RUN-$v.counts"; mkdir -p "$src"
    tar -C "$ROOT" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=./results \
        --exclude=./output_iso --exclude=./.build-variant -cf - . | tar -C "$src" -xf -
    for d in "$(pg_config --bindir)" "$(pg_config --pkglibdir)" "$(pg_config --sharedir)"; do
        mkdir -p "$pg$d"; cp -a "$d/." "$pg$d/"
    done
    rm -rf "$pg$(pg_config --pkglibdir)/bitcode/fsmml"*      # the release build's; this one makes none
    cd "$src" || return
    export FSMML_DESTDIR=$pg PATH=$pg$(pg_config --bindir):$PATH
    PGBIN=$pg$PGBIN RUN=$RUN-$v run_suite "$v"
}

first_built=$RUN.first-built
rm -f "$RUN.counts" "$first_built"
others=()
for v in $BUILDS; do
    [ "$v" = "$FIRST" ] && continue
    ( while [ ! -e "$first_built" ]; do sleep 1; done; run_other "$v" ) >"$RUN-$v.log" 2>&1 &
    others+=("$v")
    echo "=== $v: built and tested alongside, output in $RUN-$v.log (printed at the end)"
done
run_suite "$FIRST"
touch "$first_built"          # also when the first build failed
wait
pass=0 fail=0
for v in "$FIRST" "${others[@]}"; do
    [ "$v" = "$FIRST" ] || cat "$RUN-$v.log"
    [ "$v" = "$FIRST" ] && c=$RUN.counts || c=$RUN-$v.counts
    read -r p f <"$c" 2>/dev/null || { p=0 f=1; echo "not ok - variant $v left no counts"; }
    pass=$((pass + p)); fail=$((fail + f))
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
