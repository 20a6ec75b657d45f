#!/usr/bin/env bash
# test.sh — every test of fsmml, on a throwaway cluster with shared_preload_libraries = 'fsmml':
# pg_regress (sql/ + expected/), pgTAP (test/pgtap/ via pg_prove), shell tests (test/shell/).
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
RUN=${FSMML_TEST_DIR:-/tmp/fsmml-test}
ONLY=${1:-all}            # all | regress | pgtap | shell

./scripts/deps.sh || exit 1
./scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

. scripts/cluster.sh
trap 'cluster_stop "$RUN"' EXIT
cluster_start "$RUN" fsmml || { echo "cluster did not start"; echo "0 passed, 1 failed"; exit 1; }
export FSMML_TEST_DIR=$RUN FSMML_ROOT=$ROOT
pass=0 fail=0

if [ "$ONLY" = all ] || [ "$ONLY" = regress ]; then
    echo "== pg_regress"
    rm -rf results regression.diffs regression.out
    make -s installcheck 2>&1 | tee "$RUN/regress.out" | grep -E '^(test|ok|not ok|     )' || true
    p=$(grep -cE '^(test .*\.\.\. ok|ok [0-9]+ )' "$RUN/regress.out")
    f=$(grep -cE '(\.\.\. FAILED|^not ok )' "$RUN/regress.out")
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi      # pg_regress itself failed
    [ -f regression.diffs ] && head -200 regression.diffs
    pass=$((pass + p)); fail=$((fail + f))
fi

if [ "$ONLY" = all ] || [ "$ONLY" = pgtap ]; then
    echo "== pgTAP"
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS fsmml_tap" -c "CREATE DATABASE fsmml_tap" >/dev/null
    psql -qX -d fsmml_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION fsmml" >/dev/null
    pg_prove -v -d fsmml_tap test/pgtap/*.sql >"$RUN/pgtap.out" 2>&1
    grep -E '^(not ok|.*\.sql \.+|Result|Files)' "$RUN/pgtap.out"
    grep -E '^\s*not ok' -A3 "$RUN/pgtap.out" | head -60
    p=$(grep -cE '^\s*ok [0-9]+' "$RUN/pgtap.out")
    f=$(grep -cE '^\s*not ok [0-9]+' "$RUN/pgtap.out")
    grep -q '^Result: PASS' "$RUN/pgtap.out" || [ "$f" -gt 0 ] || f=1
    pass=$((pass + p)); fail=$((fail + f))
fi

if [ "$ONLY" = all ] || [ "$ONLY" = shell ]; then
    for t in test/shell/*.sh; do
        name=$(basename "$t" .sh)
        echo "== shell: $name"
        db="fsmml_$name"
        psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
        psql -qX -d "$db" -c "CREATE EXTENSION fsmml" >/dev/null
        start=$(date +%s)
        PGDATABASE=$db timeout 900 bash "$t" >"$RUN/$name.out" 2>&1
        rc=$?
        cat "$RUN/$name.out" | grep -E '^(ok|not ok|#)' || true
        p=$(grep -cE '^ok ' "$RUN/$name.out")
        f=$(grep -cE '^not ok' "$RUN/$name.out")
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1; echo "not ok - $name exited $rc"; tail -20 "$RUN/$name.out"
        fi
        [ "$f" -gt 0 ] && tail -30 "$RUN/$name.out"
        echo "# $name: $(( $(date +%s) - start )) s"
        pass=$((pass + p)); fail=$((fail + f))
    done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
