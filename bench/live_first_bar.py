#!/usr/bin/env python3
"""live_first_bar.py — the first live bar of new backends: connect, then time the first INSERT
(the backend loads the series' champions, plans its statements, reads the series' state).

  bench/live_first_bar.py DBNAME BARS.csv FIRST N     # inserts rows FIRST..FIRST+N-1 of BARS.csv,
                                                       # each from a new connection; prints ms each
The rows must continue a live series (fsmml_enable_scoring) whose champions are trained.
"""
import sys, time, psycopg2

db, csv, first, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rows = [l.strip().split(",") for l in open(csv)]
out = []
for i in range(n):
    c = psycopg2.connect(dbname=db); c.autocommit = True; cur = c.cursor()
    cur.execute("SELECT 1")
    t0 = time.perf_counter()
    cur.execute("INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", rows[first + i])
    out.append((time.perf_counter() - t0) * 1000)
    c.close()
print("first bar of a backend, ms:", " ".join("%.1f" % x for x in out))
