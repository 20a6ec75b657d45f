#!/usr/bin/env bash
# delivery_crash.sh — kill -9 of the postmaster during a burst of 10,000 signals being delivered
# to a receiver on 127.0.0.1.  After the restart every committed signal is delivered and, after
# the receiver's de-duplication on webhook-id, none twice; resends (a send whose "delivered" mark
# the crash lost) carry the same webhook-id.  The signals' commits are durable
# (synchronous_commit on, as deployed; the test cluster runs with it off).
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
. "$ROOT/test/delivery_lib.sh"
set -u
trap stop_all_receivers EXIT
DATA=$FSMML_TEST_DIR/data
PGCTL=$(command -v pg_ctl)
as_owner() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
N=10000
bgw_setup
start_receiver C --quiet
C=$(port_of C)
psql -X -q -c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET fsmml.delivery_retry_delay = '100ms'" \
    -c "ALTER SYSTEM SET fsmml.allowed_urls = 'http://127.0.0.1:$C/'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
eid=$(q "SELECT fsmml_create_endpoint('crash', 'webhook', 'http://127.0.0.1:$C/', 'whsec_$(printf k | base64)', max_in_flight => 16)")
burst() {   # 100 transactions of 100 signals; ON CONFLICT: a rerun fills what a crash cut off
    for b in $(seq 0 99); do
        echo "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength)
              SELECT 'CRASH', '1m', timestamptz '2024-01-01 00:00+00' + i * interval '1 minute', 1, 0.5
              FROM generate_series($((b * 100)), $((b * 100 + 99))) i ON CONFLICT DO NOTHING;"
        [ "${1:-}" = paced ] && echo "SELECT pg_sleep(0.02);"
    done | psql -X -q >/dev/null 2>&1
}
burst paced &
bpid=$!
for _ in $(seq 600); do [ "$(wc -l <"$RCV_DIR/C.log" 2>/dev/null || echo 0)" -ge 1500 ] && break; sleep 0.05; done
pm=$(head -1 "$DATA/postmaster.pid")
children=$(ps -o pid= --ppid "$pm" | tr -d ' ')
before=$(wc -l <"$RCV_DIR/C.log")
echo "# kill -9 of the postmaster ($pm) after $before requests received"
echo "$pm" >>"$FSMML_TEST_DIR/expected-kills"      # scripts/test.sh: this signal is on purpose
kill -9 "$pm"
wait "$bpid" 2>/dev/null
# the orphaned backends and workers notice the postmaster's death and exit
for _ in $(seq 200); do
    alive=0; for p in $children; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.05
done
check "every child of the killed postmaster exited" [ "$alive" = 0 ]
as_owner "'$PGCTL' -D '$DATA' -l '$FSMML_TEST_DIR/server.log' -w -t 60 start" >/dev/null
for _ in $(seq 300); do psql -X -At -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
committed=$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = 'CRASH'")
echo "# $committed signals committed before the crash"
check "the crash hit the burst (some, not all, signals committed)" [ "$committed" -gt 0 -a "$committed" -lt $N ]
check "every committed signal has its outbox row (same transaction)" \
    [ "$(q "SELECT count(*) FROM fsmml.outbox WHERE endpoint_id = $eid")" = "$committed" ]
burst
check "the rest of the burst committed after the restart" \
    [ "$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = 'CRASH'")" = $N ]
wait_for 180 "SELECT count(*) = $N FROM fsmml.outbox WHERE status = 'delivered'"
check "all $N delivered after the restart" [ $? = 0 ]
q "SELECT format('sig_%s_CRASH_1m_%s', $eid, (extract(epoch FROM \"timestamp\") * 1000000)::bigint)
   FROM trading.agentsignals WHERE symbol = 'CRASH'" >"$RCV_DIR/expected.ids"
res=$("$PY" - "$RCV_DIR/C.log" "$RCV_DIR/expected.ids" <<'PYEOF'
import json, sys
got = [json.loads(l)["id"] for l in open(sys.argv[1])]
exp = set(l.strip() for l in open(sys.argv[2]) if l.strip())
print(len(got), len(set(got)), len(exp - set(got)), len(set(got) - exp))
PYEOF
)
read -r raw distinct missing unexpected <<<"$res"
echo "# receiver: $raw requests, $distinct distinct webhook-ids, $((raw - distinct)) resends of an id after the crash"
check "every signal arrived once after de-duplication: $N distinct webhook-ids, none missing, none unknown" [ "$distinct,$missing,$unexpected" = "$N,0,0" ]
check "the delivery worker is running again" \
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'fsmml delivery'")" = 1 ]

psql -X -q -c "ALTER SYSTEM RESET synchronous_commit" -c "ALTER SYSTEM RESET fsmml.delivery_retry_delay" \
    -c "ALTER SYSTEM RESET fsmml.allowed_urls" -c "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
finish
