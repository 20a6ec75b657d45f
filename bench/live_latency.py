#!/usr/bin/env python3
"""live_latency.py — single-row INSERT + commit latency into trading.historicaldata.

Streams CSV bars (symbol,timeframe,ts,open,high,low,close,volume on stdin) one INSERT per
transaction (autocommit) and prints the latencies in ms, one per line, to --out.  With
--listen it also LISTENs on fsmml_signals on a second connection and records, per bar, the
time from sending the INSERT to receiving its notification (insert-to-signal)."""
import argparse, select, sys, time, json
import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--dsn", default="")
ap.add_argument("--out", required=True)
ap.add_argument("--scoring", choices=["on", "off"], default="on")
ap.add_argument("--listen", action="store_true")
a = ap.parse_args()

conn = psycopg2.connect(a.dsn)
conn.autocommit = True
cur = conn.cursor()
cur.execute("SET fsmml.score_on_insert = %s", (a.scoring,))
lis = None
if a.listen:
    lis = psycopg2.connect(a.dsn)
    lis.autocommit = True
    lis.cursor().execute("LISTEN fsmml_signals")
rows = [l.strip().split(",") for l in sys.stdin if l.strip() and not l.startswith("symbol")]
lat, sig = [], []
sql = "INSERT INTO trading.historicaldata VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
for r in rows:
    t0 = time.perf_counter()
    cur.execute(sql, r)
    t1 = time.perf_counter()
    lat.append((t1 - t0) * 1000)
    if lis is not None:
        got = None
        while got is None:
            if select.select([lis], [], [], 5) == ([], [], []):
                break
            lis.poll()
            while lis.notifies:
                n = lis.notifies.pop(0)
                got = n
        if got is not None:
            sig.append((time.perf_counter() - t0) * 1000)
with open(a.out, "w") as f:
    f.write("\n".join("%.4f" % x for x in lat) + "\n")
if lis is not None:
    with open(a.out + ".signal", "w") as f:
        f.write("\n".join("%.4f" % x for x in sig) + "\n")
