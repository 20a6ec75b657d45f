#!/usr/bin/env python3
"""live_latency.py — single-row INSERT + commit latency into trading.historicaldata.

Streams CSV bars (symbol,timeframe,ts,open,high,low,close,volume on stdin) one INSERT per
transaction (autocommit) and prints the latencies in ms, one per line, to --out.  With
--listen it also LISTENs on fsmml_signals on a second connection and records, per bar, the
time from sending the INSERT to receiving its notification (insert-to-signal).  --table and
--channel point it elsewhere (bench/live_floor.sql's tables).  The listener
is a process of its own, as the order manager is: it stamps each notification when it
arrives, whether or not the INSERT's own answer came back first (time.perf_counter is the
system's monotonic clock, the same in both processes).  The next bar is sent once its signal
arrived.  --out.cpu gets the backend's CPU time per INSERT after the second (/proc/PID/schedstat:
the server on this host)."""
import argparse, datetime, multiprocessing, select, sys, time, json
import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--dsn", default="")
ap.add_argument("--out", required=True)
ap.add_argument("--scoring", choices=["on", "off"], default="on")
ap.add_argument("--listen", action="store_true")
ap.add_argument("--table", default="trading.historicaldata")
ap.add_argument("--channel", default="fsmml_signals")
a = ap.parse_args()

conn = psycopg2.connect(a.dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SET fsmml.score_on_insert = %s", (a.scoring,))
cur.execute("SELECT pg_backend_pid()")
pid = cur.fetchone()[0]
def cpu():                    # the backend's time on a CPU, ms (the server runs on this host):
    # schedstat counts nanoseconds; /proc/PID/stat's 10 ms ticks miss a backend that mostly waits
    return int(open("/proc/%d/schedstat" % pid).read().split()[0]) / 1e6
def listen(dsn, channel, out, ready):
    lis = psycopg2.connect(dsn)
    lis.autocommit = True
    lis.cursor().execute("LISTEN " + channel)
    ready.set()
    while True:
        select.select([lis], [], [])
        lis.poll()
        now = time.perf_counter()
        while lis.notifies:
            out.send((json.loads(lis.notifies.pop(0).payload)["timestamp"], now))

lis = None
arrived = {}                  # bar timestamp (as in its notification) -> perf_counter at arrival
if a.listen:
    lis, child = multiprocessing.Pipe(duplex=False)
    ready = multiprocessing.Event()
    multiprocessing.Process(target=listen, args=(a.dsn, a.channel, child, ready), daemon=True).start()
    ready.wait(30)
rows = [l.strip().split(",") for l in sys.stdin if l.strip() and not l.startswith("symbol")]
lat, sig = [], []
sql = "INSERT INTO " + a.table + " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
def iso_utc(ts):              # the bar's timestamp as its notification spells it
    d = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
c0 = None
for r in rows:
    key = iso_utc(r[2])
    t0 = time.perf_counter()
    cur.execute(sql, r)
    t1 = time.perf_counter()
    lat.append((t1 - t0) * 1000)
    if len(lat) == 2:         # after two bars: a new backend loads its models on the first and
        c0 = cpu()            # compiles their forests on the second, not per bar
    if lis is not None:
        while key not in arrived and lis.poll(5):
            k, at = lis.recv()
            arrived[k] = at
        if key in arrived:
            sig.append((arrived[key] - t0) * 1000)
c1 = cpu()
with open(a.out, "w") as f:
    f.write("\n".join("%.4f" % x for x in lat) + "\n")
with open(a.out + ".cpu", "w") as f:    # backend CPU ms per INSERT after the second
    f.write("%.3f\n" % ((c1 - (c0 or c1)) / max(1, len(lat) - 2)))
if lis is not None:
    with open(a.out + ".signal", "w") as f:
        f.write("\n".join("%.4f" % x for x in sig) + "\n")
