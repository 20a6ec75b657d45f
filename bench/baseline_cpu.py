#!/usr/bin/python3
"""Runs ../shared/bench/baseline_python.py unchanged, adding CPU time per phase.

  baseline_cpu.py SHARED_BENCH_DIR train --dsn ... (the baseline's own arguments)

Prints the baseline's own lines (`phase seconds`, `total`, `metrics`) and, after
each phase, `cpu <phase> <client_s> <backend_s>`: CPU seconds of this Python
process (all its threads: pandas, xgboost) and of the PostgreSQL backend
serving its connection (read from /proc/self/stat by the backend; needs a
superuser).  On a machine shared with other work, CPU seconds are much less
noisy than wall-clock seconds; bench/run.sh prints them next to fsmml's.
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import baseline_python as b  # noqa: E402
import psycopg2  # noqa: E402

CONNS = []
_connect = psycopg2.connect


def connect(*args, **kw):
    c = _connect(*args, **kw)
    CONNS.append(c)
    return c


def backend_cpu():
    """CPU seconds used so far by the backend of the baseline's connection."""
    if not CONNS or CONNS[0].closed:
        return 0.0
    try:
        with CONNS[0].cursor() as cur:
            cur.execute("SELECT pg_read_file('/proc/self/stat')")
            f = cur.fetchone()[0].rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / 100.0  # utime + stime, in USER_HZ ticks
    except Exception:
        return float("nan")


class CpuTimer(b.Timer):
    def __init__(self):
        super().__init__()
        self.cpu, self.be = time.process_time(), None

    def lap(self, name):
        super().lap(name)  # prints `name seconds` and restarts the wall clock
        # The backend's counter is read after the wall clock: its query is not timed.
        cpu, be = time.process_time(), backend_cpu()
        be0 = self.be if self.be is not None else 0.0
        print(f"cpu {name} {cpu - self.cpu:.3f} {be - be0:.3f}", flush=True)
        self.cpu, self.be = cpu, be
        self.t = time.perf_counter()


psycopg2.connect = connect
b.Timer = CpuTimer
sys.argv = [sys.argv[0]] + sys.argv[2:]
b.main()
