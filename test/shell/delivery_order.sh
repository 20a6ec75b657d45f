#!/usr/bin/env bash
# delivery_order.sh — the delivery worker's lanes (src/bgw/delivery_lanes.c): rows claimed ahead
# in batches, one transaction for many deliveries; a failure in the middle of a claimed batch
# holds back every later row until its retry succeeded (the rows behind it are released, no
# attempt counted); signals of one timestamp go out together to a max_in_flight 1 endpoint,
# and the next timestamp only after all of them.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
. "$ROOT/test/delivery_lib.sh"
set -u
trap stop_all_receivers EXIT
bgw_setup
SECRET=whsec_$(printf 'fsmml-order-key' | base64)
psql -X -q -c "ALTER SYSTEM SET fsmml.delivery_retry_delay = '200ms'" -c "SELECT pg_reload_conf()" >/dev/null
wait_delivered() { wait_for "$1" "SELECT count(*) = 0 FROM fsmml.outbox WHERE status IN ('queued', 'sending')"; }
# log_order NAME: "requests distinct ascending": ascending when the signals' timestamps never go
# back over every request in arrival order (failed attempts included)
log_order() {
    "$PY" - "$RCV_DIR/$1.log" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ts = [r["body"]["data"]["timestamp"] for r in rows]
print(len(rows), len({r["id"] for r in rows}), "ascending" if all(a <= b for a, b in zip(ts, ts[1:])) else "descending")
PYEOF
}

# ---- a burst to a strictly ordered endpoint: a pass serves many rows
start_receiver A --secret "$SECRET" --quiet
A=$(port_of A)
# the 101st request fails: the rows claimed behind it must wait for its retry
start_receiver B --secret "$SECRET" --plan "$(printf 'ok,%.0s' $(seq 100))500"
B=$(port_of B)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$B/"
q "SELECT fsmml_create_endpoint('burst', 'webhook', 'http://127.0.0.1:$A/', '$SECRET', symbols => '{BURST}')" >/dev/null
x0=$(q "SELECT pg_current_xact_id()::text::bigint")
signals BURST 2000 0
wait_delivered 120
x1=$(q "SELECT pg_current_xact_id()::text::bigint")
echo "# 2000 deliveries, $((x1 - x0)) transaction ids used meanwhile"
check "2000 delivered to a max_in_flight 1 endpoint, each once" [ "$(rcv_summary A | cut -d' ' -f1,2,3)" = "2000 2000 0" ]
check "... in far fewer worker transactions than rows (claims and results in batches): $((x1 - x0)) < 400" \
    [ $((x1 - x0)) -lt 400 ]
check "... one attempt each" [ "$(q "SELECT count(*) FILTER (WHERE attempts = 1) FROM fsmml.outbox")" = 2000 ]

# ---- a failure in the middle of a claimed batch
q "SELECT fsmml_create_endpoint('midfail', 'webhook', 'http://127.0.0.1:$B/', '$SECRET', symbols => '{MID}')" >/dev/null
signals MID 300 0
wait_delivered 60
read -r n ids order <<<"$(log_order B)"
echo "# receiver B: $n requests, $ids webhook-ids, $order"
check "300 delivered, the failed one retried: 301 requests, 300 webhook-ids" [ "$n,$ids" = 301,300 ]
check "no row overtook the failed one: timestamps ascend over every request, retries included" [ "$order" = ascending ]
check "the retry came right after the failure, same webhook-id" \
    "$PY" -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1])]; sys.exit(not (r[100]["answer"] == "500" and r[101]["id"] == r[100]["id"]))' "$RCV_DIR/B.log"
check "the failed row has 2 attempts; the rows released behind it none counted (1 each)" \
    [ "$(q "SELECT string_agg(attempts || ':' || n, ',' ORDER BY attempts) FROM (SELECT attempts, count(*) n FROM fsmml.outbox o JOIN fsmml.endpoints e ON e.id = o.endpoint_id WHERE e.name = 'midfail' GROUP BY 1) s")" = "1:299,2:1" ]

# ---- one bar's signals together: 3 bars x 8 symbols, every answer 0.5 s late
start_receiver C --secret "$SECRET" --plan "$(printf 'hang:0.5,%.0s' $(seq 24))ok"
C=$(port_of C)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$B/" "http://127.0.0.1:$C/"
q "SELECT fsmml_create_endpoint('bars', 'webhook', 'http://127.0.0.1:$C/', '$SECRET', symbols => '{T0,T1,T2,T3,T4,T5,T6,T7}')" >/dev/null
t0=$(date +%s.%N)
q "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength)
   SELECT 'T' || s, '1m', timestamptz '2024-01-01 00:00+00' + b * interval '1 minute', 1, 0.5
   FROM generate_series(0, 2) b, generate_series(0, 7) s" >/dev/null
wait_delivered 60
secs=$(echo "$(date +%s.%N) - $t0" | bc)
read -r n ids order <<<"$(log_order C)"
echo "# receiver C: $n requests, $ids webhook-ids, $order, ${secs} s (one at a time: 12 s)"
check "24 signals of 3 bars delivered once each" [ "$n,$ids" = 24,24 ]
check "a bar went out only after every signal of the bar before (timestamps ascend)" [ "$order" = ascending ]
check "a bar's 8 signals were in flight together: 24 answers of 0.5 s in under 6 s" \
    [ "$(echo "$secs < 6" | bc)" = 1 ]

# ---- an endpoint disabled while its claimed rows wait: they do not go out
start_receiver D --secret "$SECRET" --quiet --plan "$(printf 'hang:0.2,%.0s' $(seq 40))ok"
D=$(port_of D)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$B/" "http://127.0.0.1:$C/" "http://127.0.0.1:$D/"
q "SELECT fsmml_create_endpoint('slow', 'webhook', 'http://127.0.0.1:$D/', '$SECRET', symbols => '{SLOW}')" >/dev/null
signals SLOW 40 0
sleep 1
q "UPDATE fsmml.endpoints SET enabled = false WHERE name = 'slow'" >/dev/null
sleep 2.5
n1=$(wc -l <"$RCV_DIR/D.log")
sleep 1.5
n2=$(wc -l <"$RCV_DIR/D.log")
echo "# slow endpoint disabled: $n1 requests 2.5 s after, $n2 1.5 s later (of 40)"
check "no claimed row of a disabled endpoint goes out: the requests stopped short of 40" [ "$n1" = "$n2" -a "$n2" -lt 35 ]
check "... its rows are queued again, none left claimed" \
    [ "$(q "SELECT count(*) FILTER (WHERE status = 'sending') || ',' || count(*) FILTER (WHERE status = 'queued') FROM fsmml.outbox o JOIN fsmml.endpoints e ON e.id = o.endpoint_id WHERE e.name = 'slow'")" = "0,$((40 - n2))" ]
q "UPDATE fsmml.endpoints SET enabled = true WHERE name = 'slow'" >/dev/null
signals SLOW 1 40   # re-enabling sets no latch: a new signal wakes the worker
wait_delivered 60
check "re-enabled, all 41 arrive once each, in order" [ "$(rcv_summary D | cut -d' ' -f2,3,4)" = "41 0 ordered" ]

psql -X -q -c "ALTER SYSTEM RESET fsmml.delivery_retry_delay" -c "ALTER SYSTEM RESET fsmml.allowed_urls" \
    -c "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
finish
