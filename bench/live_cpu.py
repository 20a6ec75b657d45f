#!/usr/bin/env python3
"""live_cpu.py — backend CPU (user+system, from /proc) and wall time per single-row INSERT
with fsmml.score_on_insert on or off: CSV bars on stdin, one INSERT per transaction.
Prints: n, wall p50/p99 ms, backend CPU ms per insert.  The server must run on this host."""
import argparse, os, sys, time
import psycopg2

ap = argparse.ArgumentParser()
ap.add_argument("--dsn", default="")
ap.add_argument("--scoring", choices=["on", "off"], default="on")
ap.add_argument("--out")
a = ap.parse_args()
c = psycopg2.connect(a.dsn); c.autocommit = True; cur = c.cursor()
cur.execute("SET fsmml.score_on_insert = %s", (a.scoring,))
cur.execute("SELECT pg_backend_pid()"); pid = cur.fetchone()[0]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / tick
rows = [l.strip().split(",") for l in sys.stdin if l.strip() and not l.startswith("symbol")]
sql = "INSERT INTO trading.historicaldata VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
lat = []
c0 = cpu()
for r in rows:
    t0 = time.perf_counter(); cur.execute(sql, r); lat.append((time.perf_counter() - t0) * 1000)
c1 = cpu()
lat.sort()
n = len(lat)
print("%s n %d wall_p50_ms %.3f wall_p99_ms %.3f cpu_ms_per_insert %.3f" % (
    a.scoring, n, lat[n // 2], lat[min(n - 1, int(n * 0.99))], (c1 - c0) / n))
if a.out:
    open(a.out, "w").write("\n".join("%.4f" % x for x in lat) + "\n")
