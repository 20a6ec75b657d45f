#!/usr/bin/env bash
# lock_waits.sh — fsmml's advisory locks as other applications see them: the two-int4 keys
# README documents (classid 1179864320 + kind, objid hashtext(name), objsubid 2) in pg_locks, a
# wait shown as wait_event 'advisory', and waits that a statement_timeout or pg_cancel_backend
# ends at once.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
TMP=$(mktemp -d)
BG=()
cleanup() {   # the holder's backend sleeps on after its psql is gone: end it by name
    q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fsmml_lockw_holder'" >/dev/null 2>&1
    local p
    for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

q "INSERT INTO trading.historicaldata
   SELECT 'LOCKW', '1m', '2024-01-01 00:00+00'::timestamptz + (i || ' minutes')::interval,
          100 + sin(i / 9.0), 101 + sin(i / 9.0), 99 + sin(i / 9.0), 100 + sin(i / 9.0), 10
   FROM generate_series(0, 299) AS i" >/dev/null

# Another application holds the series-build lock of LOCKW-1m with the documented keys.
PGAPPNAME=fsmml_lockw_holder psql -X -q -c "BEGIN" -c "SELECT pg_advisory_xact_lock(1179864321, hashtext('LOCKW-1m'))" \
     -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
BG+=($!)
for _ in $(seq 100); do
    [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1179864321 AND granted")" = 1 ] && break
    sleep 0.05
done

t0=$(date +%s%N)
out=$(psql -X -c "SET statement_timeout = '500ms'" -c "SELECT fsmml_build_features('LOCKW', '1m')" 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a build waiting for the series lock ends at statement_timeout" \
    grep -q 'canceling statement due to statement timeout' <<<"$out"
check "... within 5 s (took $ms ms)" [ "$ms" -lt 5000 ]

psql -X -c "SELECT fsmml_build_features('LOCKW', '1m')" >"$TMP/wait.out" 2>&1 &
BG+=($!)
pid=
for _ in $(seq 100); do
    pid=$(q "SELECT pid FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE '%fsmml_build_features(''LOCKW''%'")
    [ -n "$pid" ] && break
    sleep 0.05
done
check "a waiting build shows wait_event 'advisory'" [ -n "$pid" ]
keys=$(q "SELECT classid || ' ' || (objid::bigint = (hashtext('LOCKW-1m')::bigint & 4294967295)) || ' ' || objsubid
          FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = ${pid:-0}")
check "its lock in pg_locks: classid 1179864321, objid hashtext('LOCKW-1m'), objsubid 2 (got '$keys')" \
    [ "$keys" = "1179864321 true 2" ]
q "SELECT pg_cancel_backend(${pid:-0})" >/dev/null
for _ in $(seq 100); do grep -q 'canceling statement due to user request' "$TMP/wait.out" && break; sleep 0.05; done
check "pg_cancel_backend ends the wait" grep -q 'canceling statement due to user request' "$TMP/wait.out"
check "nothing was written while the lock was held elsewhere" \
    [ "$(q "SELECT count(*) FROM trading.features WHERE symbol = 'LOCKW'")" = 0 ]
finish
