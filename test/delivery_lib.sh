# delivery_lib.sh — sourced by test/shell/delivery*.sh and bench/delivery.sh after lib.sh and
# bgw_lib.sh: receivers (test/delivery_receiver.py) on 127.0.0.1, started and stopped by pid.
RCV_DIR=${RCV_DIR:-$FSMML_TEST_DIR/receivers}
rm -rf "$RCV_DIR"; mkdir -p "$RCV_DIR"
# start_receiver NAME [--port P] ARGS...: logs to $RCV_DIR/NAME.log; the port is in $RCV_DIR/NAME.port
start_receiver() {
    local name=$1; shift
    rm -f "$RCV_DIR/$name.port"
    "$PY" "$ROOT/test/delivery_receiver.py" --log "$RCV_DIR/$name.log" --port-file "$RCV_DIR/$name.port" "$@" &
    echo $! >"$RCV_DIR/$name.pid"
    for _ in $(seq 100); do [ -s "$RCV_DIR/$name.port" ] && return 0; sleep 0.05; done
    echo "# receiver $name did not start"; return 1
}
stop_receiver() {   # stop_receiver NAME: kills that receiver's process (its own pid only)
    local pid; pid=$(cat "$RCV_DIR/$1.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$RCV_DIR/$1.pid"
}
stop_all_receivers() { local f; for f in "$RCV_DIR"/*.pid; do [ -e "$f" ] && stop_receiver "$(basename "$f" .pid)"; done; return 0; }
port_of() { cat "$RCV_DIR/$1.port"; }
# A port nothing listens on (bound once, then released).
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# allow_urls URL...: sets fsmml.allowed_urls and waits until the worker can have reloaded it
allow_urls() {
    local IFS=,
    psql -X -q -c "ALTER SYSTEM SET fsmml.allowed_urls = '$*'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
}
# rcv_summary NAME [SYMBOL]: "requests distinct_ids duplicates in_order signatures_ok" of a receiver's
# log (in arrival order; in_order: the signals' timestamps never go back; ok: every signature verified)
rcv_summary() {
    "$PY" - "$RCV_DIR/$1.log" "${2:-}" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
if sys.argv[2]:
    rows = [r for r in rows if r.get("body") and r["body"].get("data", {}).get("symbol") == sys.argv[2]]
ids = [r["id"] for r in rows]
seen, first = set(), []
for r in rows:                       # the receiver's de-duplication: first arrival of each id
    if r["id"] not in seen:
        seen.add(r["id"]); first.append(r)
ts = [r["body"]["data"]["timestamp"] for r in first if r.get("body") and "data" in r["body"]]
in_order = all(a <= b for a, b in zip(ts, ts[1:]))
sig = all(r.get("sig_ok") is not False for r in rows)
print(len(rows), len(seen), len(rows) - len(seen), "ordered" if in_order else "unordered",
      "sig_ok" if sig else "sig_bad")
PYEOF
}
# signals SYMBOL N FIRST_MINUTE: N signals of SYMBOL 1m from minute FIRST_MINUTE of 2024-01-01, one statement
signals() {
    q "INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength, size, sl, tp, payload)
       SELECT '$1', '1m', timestamptz '2024-01-01 00:00+00' + ($3 + i) * interval '1 minute',
              (i % 3) - 1, 0.5, 1, 99, 101, jsonb_build_object('i', i)
       FROM generate_series(0, $2 - 1) i" >/dev/null
}
