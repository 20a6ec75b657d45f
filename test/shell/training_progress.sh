#!/usr/bin/env bash
# training_progress.sh — fsmml.training_progress and the per-fold NOTICEs, driven
# by fsmml_progress_simulate() (the real progress API with sleeps instead of
# boosting).  Needs a cluster with shared_preload_libraries = 'fsmml' and the
# extension created; uses PGHOST/PGPORT/PGUSER/PGDATABASE.
# Prints "ok - <check>" / "not ok - <check>"; exits non-zero on any failure.
set -uo pipefail
TMP=$(mktemp -d)
TAG="ProgTest$$"
BG=()
failed=0

cleanup() {
    # our simulations only: by instance name, then the psql clients we started
    psql -XAtq -c "SELECT pg_terminate_backend(pid) FROM fsmml.training_progress
                   WHERE instance LIKE '${TAG}%'" >/dev/null 2>&1
    local p
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; [ $# -gt 1 ] && echo "# $2"; failed=1; }
check() {                       # check NAME CONDITION-STRING [DETAIL]
    if [ "$2" = t ]; then ok "$1"; else notok "$1" "${3:-got '$2'}"; fi
}
q() { psql -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

# Starts a simulation in the background; its output goes to $TMP/<name>.out.
# The session then idles in pg_sleep, so a cancelled training's backend stays
# alive and its row can only go by the training's own cleanup, not by exit.
start_sim() {                   # start_sim NAME FOLDS ROUNDS ROUND_MS
    psql -X -c "SELECT fsmml_progress_simulate('${TAG}-$1', $2, $3, $4)" \
        -c "SELECT pg_sleep(1.5)" >"$TMP/$1.out" 2>&1 &
    BG+=($!)
}

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# Prints the pid of the row for instance NAME once it appears (tries for up to SECS).
wait_row() {                    # wait_row NAME SECS
    local pid end=$(($(now_ms) + $2 * 1000))
    while :; do
        pid=$(q "SELECT pid FROM fsmml.training_progress WHERE instance = '${TAG}-$1'")
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        [ "$(now_ms)" -ge $end ] && return 1
        sleep 0.02
    done
}

# Succeeds once no row for instance NAME is left, if that is within 1 s of START_MS.
wait_gone() {                   # wait_gone NAME START_MS
    local n
    while :; do
        n=$(q "SELECT count(*) FROM fsmml.training_progress WHERE instance = '${TAG}-$1'")
        [ "$(now_ms)" -le $(($2 + 1000)) ] || return 1
        [ "$n" = 0 ] && return 0
        sleep 0.02
    done
}

# ---------------------------------------------------------------- the view's shape
cols=$(q "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
          FROM pg_attribute WHERE attrelid = 'fsmml.training_progress'::regclass AND attnum > 0")
want="pid integer, instance text, phase text, fold integer, folds integer, round integer, total_rounds integer, started_at timestamp with time zone, elapsed interval, eta interval, metric_name text, metric double precision"
check "view columns" "$([ "$cols" = "$want" ] && echo t || echo f)" "got: $cols"

# ---------------------------------------------------------------- two running trainings
# 3 folds x 60 rounds x 50 ms = 9 s each unless stopped; both are stopped below.
start_sim cancel 3 60 50
start_sim term 3 60 50

pid_c=$(wait_row cancel 5) && ok "row appears for a running training" ||
    notok "row appears for a running training" "no row after 5 s: $(cat "$TMP/cancel.out")"
pid_t=$(wait_row term 5) || true

if [ -n "$pid_c" ] && [ -n "$pid_t" ]; then
    check "concurrent trainings have one row each" \
        "$(q "SELECT count(DISTINCT pid) = 2 AND $pid_c <> $pid_t FROM fsmml.training_progress
              WHERE instance IN ('${TAG}-cancel', '${TAG}-term')")"
else
    notok "concurrent trainings have one row each" "cancel pid '$pid_c', term pid '$pid_t'"
fi

if [ -n "$pid_c" ]; then
    check "pid is the backend running the training" \
        "$(q "SELECT count(*) = 1 FROM pg_stat_activity
              WHERE pid = $pid_c AND query LIKE '%fsmml_progress_simulate%'")"

    # let a few rounds pass so the rate, hence the ETA, is known
    for ((i = 0; i < 40; i++)); do
        [ "$(q "SELECT coalesce(round >= 3 OR fold > 1, false) FROM fsmml.training_progress
                WHERE pid = $pid_c")" = t ] && break
        sleep 0.05
    done
    row1=$(q "SELECT fold, round FROM fsmml.training_progress WHERE pid = $pid_c")
    check "phase, fold in range, folds, total_rounds" \
        "$(q "SELECT phase = 'fold' AND fold BETWEEN 1 AND folds AND folds = 3
                     AND total_rounds = 60 AND round BETWEEN 0 AND total_rounds
              FROM fsmml.training_progress WHERE pid = $pid_c")" "row: $row1"
    check "elapsed > 0 and started_at in the past" \
        "$(q "SELECT elapsed > interval '0' AND started_at <= now()
              FROM fsmml.training_progress WHERE pid = $pid_c")"
    check "eta known after some rounds and plausible" \
        "$(q "SELECT eta IS NOT NULL AND eta > interval '0' AND eta < interval '1 minute'
              FROM fsmml.training_progress WHERE pid = $pid_c")" \
        "$(q "SELECT round, elapsed, eta FROM fsmml.training_progress WHERE pid = $pid_c")"
    check "latest metric reported" \
        "$(q "SELECT metric_name = 'auc' AND metric BETWEEN 0.5 AND 0.6
              FROM fsmml.training_progress WHERE pid = $pid_c")"
    sleep 0.3
    row2=$(q "SELECT fold, round FROM fsmml.training_progress WHERE pid = $pid_c")
    # (fold, round) grows: round restarts at each fold
    f1=${row1%|*} r1=${row1#*|} f2=${row2%|*} r2=${row2#*|}
    check "round advances between polls" \
        "$([ -n "$row2" ] && [ $((f2 * 1000 + r2)) -gt $((f1 * 1000 + r1)) ] && echo t || echo f)" \
        "fold|round $row1 then $row2"

    t0=$(now_ms)
    q "SELECT pg_cancel_backend($pid_c)" >/dev/null
    wait_gone cancel "$t0" && ok "row gone within 1 s of a cancel" ||
        notok "row gone within 1 s of a cancel" "$(q "SELECT * FROM fsmml.training_progress WHERE pid = $pid_c")"
    check "cancelled backend still alive (row went by its ERROR cleanup)" \
        "$(q "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $pid_c")"
    wait "${BG[0]}" 2>/dev/null
    check "cancelled training ended with the cancel error" \
        "$(grep -q 'canceling statement due to user request' "$TMP/cancel.out" && echo t || echo f)" \
        "$(cat "$TMP/cancel.out")"
    check "other training's row survives the cancel" \
        "$(q "SELECT count(*) = 1 FROM fsmml.training_progress WHERE instance = '${TAG}-term'")"
fi

if [ -n "$pid_t" ]; then
    t0=$(now_ms)
    q "SELECT pg_terminate_backend($pid_t)" >/dev/null
    wait_gone term "$t0" && ok "row gone within 1 s of a backend exit" ||
        notok "row gone within 1 s of a backend exit" "$(q "SELECT * FROM fsmml.training_progress WHERE pid = $pid_t")"
fi

# ---------------------------------------------------------------- to completion
psql -X -v ON_ERROR_STOP=1 -c "SELECT fsmml_progress_simulate('${TAG}-done', 4, 5, 10)" \
    >"$TMP/done.out" 2>&1
rc=$?
check "simulated training completes" "$([ $rc -eq 0 ] && echo t || echo f)" "$(cat "$TMP/done.out")"
notices=$(grep -cE "^NOTICE:  ${TAG}-done: fold [1-4]/4 done, auc 0\.[0-9]{4}, [0-9]+\.[0-9] s$" "$TMP/done.out")
distinct=$(grep -oE "^NOTICE:  ${TAG}-done: fold [1-4]/4" "$TMP/done.out" | sort -u | wc -l)
check "one NOTICE per fold" "$([ "$notices" = 4 ] && [ "$distinct" = 4 ] && echo t || echo f)" \
    "$(grep NOTICE "$TMP/done.out")"
check "no row after completion" \
    "$(q "SELECT count(*) = 0 FROM fsmml.training_progress WHERE instance = '${TAG}-done'")"

# ---------------------------------------------------------------- same backend after an ERROR
# The failed training's cleanup must not touch the next training in the same session.
psql -X -c "SET statement_timeout = '300ms'" \
        -c "SELECT fsmml_progress_simulate('${TAG}-timeout', 2, 100, 10)" \
        -c "RESET statement_timeout" \
        -c "SELECT 'after error: ' || count(*) FROM fsmml.training_progress WHERE instance = '${TAG}-timeout'" \
        -c "SELECT fsmml_progress_simulate('${TAG}-again', 2, 20, 10)" \
        -c "SELECT count(*) FROM fsmml.training_progress WHERE instance LIKE '${TAG}%'" \
        -At >"$TMP/again.out" 2>&1
check "a training after an ERROR in the same session reports normally" \
    "$(grep -q 'canceling statement due to statement timeout' "$TMP/again.out" &&
       grep -qx 'after error: 0' "$TMP/again.out" &&
       [ "$(grep -c "^NOTICE:  ${TAG}-again: fold [12]/2 done" "$TMP/again.out")" = 2 ] &&
       [ "$(tail -1 "$TMP/again.out")" = 0 ] && echo t || echo f)" "$(tr '\n' ' ' <"$TMP/again.out")"

check "no slot left behind" \
    "$(q "SELECT count(*) = 0 FROM fsmml.training_progress WHERE instance LIKE '${TAG}%'")"

exit $failed
