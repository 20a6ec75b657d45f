#!/usr/bin/env bash
# delivery.sh — the outbox delivery worker against a local receiver (bench/delivery_receiver.c,
# built here: epoll, keep-alive, parses every request, verifies its signature, logs its
# webhook-id, answers 200 at once; BENCH_RECEIVER=py: test/delivery_receiver.py --fast, asyncio,
# also the fallback without a C compiler).  Figures only; never part of the tests.
#
#   ./scripts/build.sh release && ./bench/delivery.sh      # about 1 minute on 2 cores
#
# 0. the receiver alone: bench/http_hammer.c, one and 16 keep-alive connections (requests/s).
# A throwaway cluster (FSMML_BENCH_DIR, default /tmp/fsmml-bench-delivery, fsmml preloaded).
#   1. deliveries/s: BENCH_N signals (default 20,000) written in one statement, then drained by
#      the one worker; rate = rows / (last delivered_at - first first_sent_at), for
#        ordered-1   one endpoint, max_in_flight 1 (strict order: one request at a time)
#        window-16   one endpoint, max_in_flight 16 (16 in flight, order of sending only)
#        bar-x16     one endpoint, max_in_flight 1, 16 symbols per bar: the signals of one timestamp
#                    have no order among them and go out together
#        ordered-x8  eight endpoints, max_in_flight 1 each (eight strictly ordered streams)
#      and the worker's time on a CPU and waiting for one over the drain (/proc/PID/schedstat):
#      on a loaded machine the second says how much of the rate the machine, not the worker, set;
#      then the receiver's log: every webhook-id arrived, once, with a valid signature.
#   2. commit-to-send: 300 one-row transactions 20 ms apart; p50/p90/p99 of
#        send    outbox.first_sent_at - created_at (the worker's send after the commit)
#        arrive  receiver arrival - the body's timestamp (clock_timestamp() in the trigger, just
#                before the commit): an upper bound of commit-to-send, including HTTP
#   3. idle CPU of the worker over 10 s with nothing to send.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH
DIR=${FSMML_BENCH_DIR:-/tmp/fsmml-bench-delivery}
N=${BENCH_N:-20000}
. scripts/cluster.sh
cluster_start "$DIR" fsmml || exit 1
export FSMML_TEST_DIR=$DIR
. test/lib.sh
. test/bgw_lib.sh
. test/delivery_lib.sh
trap 'stop_all_receivers; cluster_stop "$DIR"' EXIT
bgw_setup
SECRET=whsec_$(printf benchkey | base64)
RCV=${BENCH_RECEIVER:-c}
if [ "$RCV" = c ] && cc -O2 -o "$DIR/delivery_receiver" bench/delivery_receiver.c -lcrypto &&
    cc -O2 -o "$DIR/http_hammer" bench/http_hammer.c; then
    rm -f "$RCV_DIR/F.port"
    "$DIR/delivery_receiver" --log "$RCV_DIR/F.log" --port-file "$RCV_DIR/F.port" --secret "$SECRET" &
    echo $! >"$RCV_DIR/F.pid"
    for _ in $(seq 100); do [ -s "$RCV_DIR/F.port" ] && break; sleep 0.05; done
else
    RCV=py
    start_receiver F --fast
fi
F=$(port_of F)
allow_urls "http://127.0.0.1:$F/"
HZ=$(getconf CLK_TCK)
wpid=$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'fsmml delivery'")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$wpid/stat"; }
# ns on a CPU and ns runnable but waiting for one (a loaded machine): /proc/PID/schedstat
sched() { cat "/proc/$wpid/schedstat"; }
echo "delivery worker pid $wpid; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); receiver: $RCV"
if [ -x "$DIR/http_hammer" ]; then
    echo "== 0. the receiver alone"
    "$DIR/http_hammer" "$F" 20000 1; "$DIR/http_hammer" "$F" 20000 16
fi
# rcv_check N: the receiver's log since the drain began holds N distinct webhook-ids, every signature valid
rcv_check() {
    "$PY" - "$RCV_DIR/F.log" "$1" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ids = {r["id"] for r in rows}
bad = sum(1 for r in rows if r.get("sig", 1) != 1)
ok = len(ids) == int(sys.argv[2]) and bad == 0
print("            receiver: %d requests, %d distinct webhook-ids, %d bad signatures%s" %
      (len(rows), len(ids), bad, "" if ok else "  ** MISMATCH **"))
PYEOF
}

bars16() {  # N signals: 16 symbols per bar (one timestamp each), N / 16 bars
    q "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength, size, sl, tp, payload)
       SELECT 'S' || (i % 16), '1m', timestamptz '2024-01-01 00:00+00' + (i / 16) * interval '1 minute',
              (i % 3) - 1, 0.5, 1, 99, 101, jsonb_build_object('i', i)
       FROM generate_series(0, $N - 1) i" >/dev/null
}
drain() {   # drain NAME [GENERATOR]: N signals, wait for all delivered, print the rate and the worker's CPU
    local name=$1 gen=${2:-} c0 c1 t0 t1 s0 s1
    q "TRUNCATE fsmml.outbox" >/dev/null
    q "DELETE FROM trading.agentsignals" >/dev/null
    : >"$RCV_DIR/F.log"
    c0=$(cpu_ticks); t0=$(date +%s.%N); s0=$(sched)
    if [ -n "$gen" ]; then "$gen"; else signals B "$N" 0; fi
    wait_for 300 "SELECT count(*) = 0 FROM fsmml.outbox WHERE status <> 'delivered'" >/dev/null
    c1=$(cpu_ticks); t1=$(date +%s.%N); s1=$(sched)
    read -r on0 wait0 _ <<<"$s0"; read -r on1 wait1 _ <<<"$s1"
    q "SELECT format('%-11s %6s rows  %7s deliveries/s  worker on a CPU %s %%, waiting for one %s %%, %s deliveries per worker CPU-second',
                     '$name', count(*), round(count(*) / extract(epoch FROM max(delivered_at) - min(first_sent_at))),
                     round(100.0 * ($on1 - $on0) / 1e9 / ($t1 - $t0)), round(100.0 * ($wait1 - $wait0) / 1e9 / ($t1 - $t0)),
                     round(count(*) / (($on1 - $on0) / 1e9)))
       FROM fsmml.outbox WHERE status = 'delivered'"
    sleep 0.3   # the receiver flushes its log when idle
    rcv_check "$(q "SELECT count(*) FROM fsmml.outbox")"
}
echo "== 1. deliveries/s, $N signals"
q "SELECT fsmml_create_endpoint('e0', 'webhook', 'http://127.0.0.1:$F/e0', '$SECRET')" >/dev/null
drain ordered-1
q "UPDATE fsmml.endpoints SET max_in_flight = 16" >/dev/null
drain window-16
q "UPDATE fsmml.endpoints SET max_in_flight = 1" >/dev/null
drain bar-x16 bars16
for i in 1 2 3 4 5 6 7; do
    q "SELECT fsmml_create_endpoint('e$i', 'webhook', 'http://127.0.0.1:$F/e$i', '$SECRET')" >/dev/null
done
N=$((N / 8)) drain ordered-x8

echo "== 2. commit-to-send, 300 one-row transactions 20 ms apart (one endpoint, max_in_flight 1)"
q "DELETE FROM fsmml.endpoints WHERE name <> 'e0'" >/dev/null
q "TRUNCATE fsmml.outbox" >/dev/null
q "DELETE FROM trading.agentsignals" >/dev/null
: >"$RCV_DIR/F.log"
for i in $(seq 300); do
    echo "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength)
          VALUES ('L', '1m', timestamptz '2024-01-01 00:00+00' + $i * interval '1 minute', 1, 0.5);
          SELECT pg_sleep(0.02);"
done | psql -X -q >/dev/null
wait_for 60 "SELECT count(*) = 0 FROM fsmml.outbox WHERE status <> 'delivered'" >/dev/null
q "SELECT format('send    p50 %s ms  p90 %s ms  p99 %s ms', round(p[1]::numeric, 2), round(p[2]::numeric, 2), round(p[3]::numeric, 2))
   FROM (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM first_sent_at - created_at) * 1000) AS p
         FROM fsmml.outbox) s"
"$PY" - "$RCV_DIR/F.log" <<'PYEOF'
import datetime, json, sys
d = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    ts = datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    d.append((r["t"] - ts.timestamp()) * 1000)
d.sort()
q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
print("arrive  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  (%d requests)" % (q(0.5), q(0.9), q(0.99), len(d)))
PYEOF

echo "== 3. idle CPU of the worker, 10 s"
sleep 1
c0=$(cpu_ticks); sleep 10; c1=$(cpu_ticks)
echo "idle: $((c1 - c0)) ticks of 1/$HZ s in 10 s ($(echo "scale=2; 100 * ($c1 - $c0) / $HZ / 10" | bc) % CPU)"
