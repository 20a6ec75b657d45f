#!/usr/bin/env bash
# delivery.sh — signals out of the database with real processes: the delivery worker sends
# fsmml.outbox rows to receivers on 127.0.0.1 (test/delivery_receiver.py), which verify the
# Standard Webhooks signature and log every request.  Exactly once per webhook-id and in order;
# a rolled-back signal sends nothing; receiver down then up; 500, 429 (Retry-After and Telegram's
# retry_after) and a hang past the timeout retried with back-off; the URL allow-list at create
# and at send time; secrets hidden from readers; a redirect to another host not followed; the
# llm kind answered by its fallback; an endpoint failing too long is disabled.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
. "$ROOT/test/delivery_lib.sh"
set -u
trap stop_all_receivers EXIT
bgw_setup
SECRET=whsec_$(printf 'fsmml-test-signing-key-0123456789' | base64)
psql -X -q -c "ALTER SYSTEM SET fsmml.delivery_retry_delay = '200ms'" -c "ALTER SYSTEM SET fsmml.delivery_max_attempts = 8" \
    -c "SELECT pg_reload_conf()" >/dev/null
wait_delivered() {   # wait_delivered SECONDS: nothing queued or sending
    wait_for "$1" "SELECT count(*) = 0 FROM fsmml.outbox WHERE status IN ('queued', 'sending')"
}
start_receiver A --secret "$SECRET"
A=$(port_of A)
allow_urls "http://127.0.0.1:$A/"

# ---- the allow-list when an endpoint is created
out=$(psql -X -c "SELECT fsmml_create_endpoint('evil', 'webhook', 'http://10.1.2.3/hook')" 2>&1)
check "a URL outside fsmml.allowed_urls is refused at creation" grep -q 'is not allowed by fsmml.allowed_urls' <<<"$out"
check "... with a hint naming the setting" grep -q 'HINT:.*fsmml.allowed_urls' <<<"$out"
out=$(psql -X -c "SELECT fsmml_create_endpoint('evil', 'webhook', 'http://127.0.0.1:$A@10.1.2.3/')" 2>&1)
check "user-info smuggling another host past an allowed prefix is refused" grep -q 'user information' <<<"$out"
out=$(psql -X -c "SELECT fsmml_create_endpoint('evil', 'webhook', 'http://127.0.0.1:${A}9/')" 2>&1)
check "a prefix matches at a boundary only (port ${A}9 is not port $A)" grep -q 'not allowed' <<<"$out"
out=$(psql -X -c "SET fsmml.allowed_urls = 'file:///'" -c "SELECT fsmml_create_endpoint('evil', 'webhook', 'file:///etc/passwd')" 2>&1)
check "a non-http scheme is refused even when listed" grep -q 'is not http or https' <<<"$out"
allow_urls "http://127.0.0.1:$A/"
check "no endpoint was created by the refused calls" [ "$(q "SELECT count(*) FROM fsmml.endpoints")" = 0 ]
out=$(PGDATABASE=$TEST_DB psql -X -c "SELECT fsmml_create_endpoint('elsewhere', 'webhook', 'http://127.0.0.1:$A/')" 2>&1)
check "an endpoint outside fsmml.database (no worker serves it) is refused" \
    grep -q "delivery worker serves database $SCHED_DB, not $TEST_DB" <<<"$out"

# ---- exactly once, in order, signed
q "SELECT fsmml_create_endpoint('orders', 'webhook', 'http://127.0.0.1:$A/hook', '$SECRET', symbols => '{BTCUSDT}')" >/dev/null
signals BTCUSDT 100 0
signals BTCUSDT 100 100
psql -X -q -c "BEGIN" -c "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength)
               VALUES ('BTCUSDT', '1m', '2025-01-01', 1, 0.9)" -c "ROLLBACK"
check "the outbox holds one row per committed signal (the rolled-back one has none)" \
    [ "$(q "SELECT count(*) FROM fsmml.outbox")" = 200 ]
q "UPDATE trading.agentsignals SET strength = 0.75 WHERE symbol = 'BTCUSDT' AND \"timestamp\" = '2024-01-01 03:19:00+00'" >/dev/null
q "UPDATE trading.agentsignals SET strength = strength WHERE symbol = 'BTCUSDT'" >/dev/null
check "a changed signal adds one message, an unchanged update none" [ "$(q "SELECT count(*) FROM fsmml.outbox")" = 201 ]
wait_delivered 30
check "all 201 delivered" [ "$(q "SELECT count(*) FROM fsmml.outbox WHERE status = 'delivered'")" = 201 ]
sum=$(rcv_summary A)
echo "# receiver A: $sum"
check "every message arrived exactly once per webhook-id, in signal order, signature verified" \
    [ "$sum" = "201 201 0 ordered sig_ok" ]
check "the rolled-back signal never arrived" [ "$(grep -c '2025-01-01' "$RCV_DIR/A.log")" = 0 ]
check "the update arrived as signal.updated with its own webhook-id" \
    [ "$(grep -c '"type": "signal.updated"' "$RCV_DIR/A.log"),$(grep '"signal.updated"' "$RCV_DIR/A.log" | grep -c '"strength": 0.75')" = 1,1 ]
check "webhook-id is stable per signal and endpoint" \
    grep -q "\"id\": \"sig_$(q "SELECT id FROM fsmml.endpoints WHERE name = 'orders'")_BTCUSDT_1m_$(q "SELECT (extract(epoch FROM timestamptz '2024-01-01 00:00+00') * 1000000)::bigint")\"" "$RCV_DIR/A.log"
check "delivery_status: 201 delivered, nothing queued or failed" \
    [ "$(q "SELECT queued || ',' || in_flight || ',' || delivered || ',' || failed FROM fsmml.delivery_status WHERE name = 'orders'")" = "0,0,201,0" ]

# ---- receiver down, then up again on the same port
stop_receiver A
signals BTCUSDT 50 1000
sleep 2
check "while the receiver is down the signals stay queued, with the connection error" \
    [ "$(q "SELECT queued + in_flight = 50 AND last_error LIKE '%onnect%' FROM fsmml.delivery_status WHERE name = 'orders'")" = t ]
check "only the head of the queue was tried (order kept while failing)" \
    [ "$(q "SELECT count(*) FROM fsmml.outbox WHERE attempts > 0 AND status IN ('queued', 'sending')")" = 1 ]
start_receiver A --port "$A" --secret "$SECRET"
wait_delivered 60
sum=$(rcv_summary A)
echo "# receiver A after the outage: $sum"
check "after the outage all 251 arrived once each, in order" [ "$sum" = "251 251 0 ordered sig_ok" ]

# ---- 500, 429 with Retry-After, a hang past the timeout: retried with back-off, same webhook-id
start_receiver R --secret "$SECRET" --plan "500,500,429:1,hang:3,ok"
R=$(port_of R)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$R/"
q "SELECT fsmml_create_endpoint('flaky', 'webhook', 'http://127.0.0.1:$R/', '$SECRET', symbols => '{RETRY}', timeout_ms => 500)" >/dev/null
signals RETRY 1 0
wait_delivered 60
check "delivered on the 5th attempt" [ "$(q "SELECT status || ':' || attempts FROM fsmml.outbox o JOIN fsmml.endpoints e ON e.id = o.endpoint_id WHERE e.name = 'flaky'")" = delivered:5 ]
gaps=$("$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
print(len(r), len({x["id"] for x in r}), " ".join("%.2f" % (b["t"] - a["t"]) for a, b in zip(r, r[1:])))' "$RCV_DIR/R.log")
echo "# flaky receiver: requests, distinct ids, gaps (s): $gaps"
read -r n ids g1 g2 g3 g4 <<<"$gaps"
check "5 requests, all with the same webhook-id" [ "$n,$ids" = 5,1 ]
check "the back-off grows: 2nd gap longer than the 1st (200 ms doubled, jittered)" \
    "$PY" -c "import sys; sys.exit(not ($g2 > $g1 and $g1 >= 0.1))"
check "Retry-After: 1 was honoured (>= 1 s before the next attempt)" "$PY" -c "import sys; sys.exit(not $g3 >= 0.95)"
check "the hung request timed out after 500 ms and was retried (long before the 3 s hang ended)" \
    "$PY" -c "import sys; sys.exit(not (0.5 <= $g4 < 2.9))"

# ---- telegram: sendMessage with the bot token from the secret, 429 retry_after in the JSON
start_receiver T --telegram --plan "429:1,ok"
T=$(port_of T)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$R/" "http://127.0.0.1:$T/"
q "SELECT fsmml_create_endpoint('chat', 'telegram', 'http://127.0.0.1:$T/', '123456:TESTTOKEN', symbols => '{TG}', chat_id => '-10042')" >/dev/null
signals TG 1 0
wait_delivered 30
check "telegram: POST /bot<token>/sendMessage with chat_id and text" \
    "$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
ok = len(r) == 2 and all(x["path"] == "/bot123456:TESTTOKEN/sendMessage" and x["body"]["chat_id"] == "-10042"
                         and "TG 1m" in x["body"]["text"] for x in r)
sys.exit(not (ok and r[1]["t"] - r[0]["t"] >= 0.95))' "$RCV_DIR/T.log"

# ---- secrets: not readable by readers or trainers; admins may
psql -X -q -c "DROP ROLE IF EXISTS dl_reader" -c "DROP ROLE IF EXISTS dl_trainer" -c "DROP ROLE IF EXISTS dl_admin" \
    -c "CREATE ROLE dl_reader IN ROLE fsmml_reader" -c "CREATE ROLE dl_trainer IN ROLE fsmml_trainer" \
    -c "CREATE ROLE dl_admin IN ROLE fsmml_admin" >/dev/null
for r in dl_reader dl_trainer; do
    check "$r cannot read fsmml.endpoint_secrets" \
        grep -q 'permission denied for table endpoint_secrets' <<<"$(psql -X -c "SET ROLE $r" -c "SELECT secret FROM fsmml.endpoint_secrets" 2>&1)"
    check "$r cannot read fsmml.endpoints nor the outbox" \
        [ "$(psql -X -c "SET ROLE $r" -c "SELECT 1 FROM fsmml.endpoints" -c "SELECT 1 FROM fsmml.outbox" 2>&1 | grep -c 'permission denied')" = 2 ]
done
check "fsmml_admin reads the secrets" \
    [ "$(psql -X -At -c "SET ROLE dl_admin" -c "SELECT secret FROM fsmml.endpoint_secrets e JOIN fsmml.endpoints n ON n.id = e.endpoint_id WHERE n.name = 'chat'" 2>&1 | tail -1)" = 123456:TESTTOKEN ]
check "no secret appears in the outbox or in delivery_status" \
    [ "$(q "SELECT count(*) FROM fsmml.outbox WHERE body LIKE '%TESTTOKEN%' OR coalesce(last_error, '') LIKE '%TESTTOKEN%'")" = 0 ]

# ---- a redirect to another host is not followed
start_receiver O --host 127.0.0.2
O=$(port_of O)
start_receiver D --redirect "http://127.0.0.2:$O/stolen"
D=$(port_of D)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$R/" "http://127.0.0.1:$T/" "http://127.0.0.1:$D/" "http://127.0.0.2:$O/"
q "SELECT fsmml_create_endpoint('redirecting', 'webhook', 'http://127.0.0.1:$D/', '$SECRET', symbols => '{RD}')" >/dev/null
signals RD 1 0
wait_delivered 30
check "the redirect was not followed: the other host received nothing" [ ! -s "$RCV_DIR/O.log" ]
check "the row failed at once with the reason (no retries of a redirect)" \
    [ "$(q "SELECT status || ':' || attempts || ':' || last_http_status || ':' || (last_error LIKE '%redirects are not followed%')
            FROM fsmml.outbox o JOIN fsmml.endpoints e ON e.id = o.endpoint_id WHERE e.name = 'redirecting'")" = failed:1:302:true ]

# ---- the allow-list again at send time
allow_urls "http://127.0.0.1:$R/"
signals BTCUSDT 1 5000
wait_delivered 30
check "a URL removed from fsmml.allowed_urls is not called any more" \
    [ "$(q "SELECT status || ':' || (last_error LIKE '%not allowed by fsmml.allowed_urls%') FROM fsmml.outbox
             WHERE signal_ts = timestamptz '2024-01-01 00:00+00' + interval '5000 minutes'")" = failed:true ]
check "... and nothing reached it" [ "$(rcv_summary A | cut -d' ' -f1)" = 251 ]

# ---- llm: the first server is down, the fallback answers; the signal is not held back
start_receiver L --ollama tinyllama:test
L=$(port_of L)
DEAD=$(free_port)
allow_urls "http://127.0.0.1:$A/" "http://127.0.0.1:$L/" "http://127.0.0.1:$DEAD/"
q "SELECT fsmml_create_endpoint('review', 'llm', 'http://127.0.0.1:$DEAD/api/generate', symbols => '{BTCUSDT}',
        model => 'tinyllama:test', timeout_ms => 2000, fallback_urls => '{http://127.0.0.1:$L/api/generate}')" >/dev/null
signals BTCUSDT 3 6000
wait_delivered 30
check "three reviews stored, answered by the fallback" \
    [ "$(q "SELECT count(*) || ':' || bool_and(answered_by = 'http://127.0.0.1:$L/api/generate') || ':' || bool_and(model = 'tinyllama:test')
             || ':' || bool_and(verdict LIKE 'AGREE%') || ':' || bool_and(latency_ms > 0) FROM fsmml.signal_reviews")" = 3:true:true:true:true ]
check "the prompt carries the signal" \
    "$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (len(r) == 3 and all(x["body"]["model"] == "tinyllama:test" and x["body"]["stream"] is False
                                   and "BTCUSDT" in x["body"]["prompt"] for x in r)))' "$RCV_DIR/L.log"
check "the webhook got those signals too (the review annotates, never blocks)" [ "$(rcv_summary A | cut -d' ' -f2)" = 254 ]
check "readers may read reviews" [ "$(psql -X -At -c "SET ROLE dl_reader" -c "SELECT count(*) FROM fsmml.signal_reviews" | tail -1)" = 3 ]

# ---- an endpoint failing for longer than fsmml.endpoint_disable_after is disabled, and says so
psql -X -q -c "ALTER SYSTEM SET fsmml.endpoint_disable_after = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
q "UPDATE fsmml.endpoints SET url = 'http://127.0.0.1:$DEAD/api/generate', fallback_urls = '{}' WHERE name = 'review'" >/dev/null
signals BTCUSDT 1 7000
wait_for 30 "SELECT NOT enabled FROM fsmml.endpoints WHERE name = 'review'"
check "the dead endpoint was disabled" [ $? = 0 ]
check "... with the reason in disabled_reason and delivery_status" \
    grep -q 'longer than fsmml.endpoint_disable_after (1 s); last error: .*onnect' <<<"$(q "SELECT disabled_reason FROM fsmml.delivery_status WHERE name = 'review'")"
check "the healthy webhook endpoint stayed enabled and got the signal" \
    [ "$(q "SELECT enabled FROM fsmml.endpoints WHERE name = 'orders'"),$(rcv_summary A | cut -d' ' -f2)" = t,255 ]

# ---- delivered rows older than fsmml.delivery_retention are pruned (housekeeping also runs at a reload)
q "UPDATE fsmml.outbox SET delivered_at = clock_timestamp() - interval '2 hours'
   WHERE id IN (SELECT id FROM fsmml.outbox WHERE status = 'delivered' ORDER BY id LIMIT 10)" >/dev/null
old_n=$(q "SELECT count(*) FROM fsmml.outbox WHERE status = 'delivered' AND delivered_at < clock_timestamp() - interval '1 hour'")
young_n=$(q "SELECT count(*) FROM fsmml.outbox WHERE status = 'delivered' AND delivered_at > clock_timestamp() - interval '1 hour'")
other_ids=$(q "SELECT coalesce(string_agg(id::text, ','), '0') FROM fsmml.outbox WHERE status <> 'delivered'")
other_n=$(q "SELECT count(*) FROM fsmml.outbox WHERE id IN ($other_ids)")
psql -X -q -c "ALTER SYSTEM SET fsmml.delivery_retention = '1h'" -c "SELECT pg_reload_conf()" >/dev/null
wait_for 20 "SELECT count(*) = 0 FROM fsmml.outbox WHERE status = 'delivered' AND delivered_at < clock_timestamp() - interval '1 hour'"
check "delivered rows older than fsmml.delivery_retention are pruned ($old_n of them)" [ $? = 0 -a "$old_n" = 10 ]
check "younger delivered rows ($young_n) and undelivered ones ($other_n) are kept" \
    [ "$(q "SELECT count(*) >= $young_n FROM fsmml.outbox WHERE status = 'delivered' AND delivered_at > clock_timestamp() - interval '1 hour'"),$(q "SELECT count(*) FROM fsmml.outbox WHERE id IN ($other_ids)")" = "t,$other_n" -a "$young_n" -gt 0 ]

psql -X -q -c "ALTER SYSTEM RESET fsmml.delivery_retention" -c "ALTER SYSTEM RESET fsmml.delivery_retry_delay" -c "ALTER SYSTEM RESET fsmml.delivery_max_attempts" \
    -c "ALTER SYSTEM RESET fsmml.endpoint_disable_after" -c "ALTER SYSTEM RESET fsmml.allowed_urls" \
    -c "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE dl_reader" -c "DROP ROLE dl_trainer" -c "DROP ROLE dl_admin"
finish
