#!/usr/bin/env python3
"""bench.py — fsmml's TPE (src/kernel/tpe.c) against Optuna 3.1's TPESampler, side by side in one run.

Shifted quadratic (3-d), Branin, Hartmann-6; SEEDS seeds (default 20), 100 trials each; the
median over seeds of the best value after 50 and 100 trials for fsmml TPE, Optuna TPE (defaults),
random search (Optuna's RandomSampler and fsmml's); and the sampler's own CPU time per trial
(Optuna: study.optimize minus the objective's time; fsmml: the time inside fs_tpe_suggest), as
thread CPU time so that other work on a shared machine does not count.
"Within 5 %" compares the two TPEs' median regrets (best - known minimum) relative to the
random search's median regret at the same budget: |fsmml - optuna| <= 0.05 x random.
    python3 bench/tpe/bench.py [SEEDS [FUNCTION...]]
A 90 % bootstrap interval of the difference of the two TPEs' medians is printed beside each row.
"""
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import random

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
N = 100
ONLY = sys.argv[2:]

A6 = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P6 = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
AL6 = [1.0, 1.2, 3.0, 3.2]


def quadratic(x):
    return (x[0] - 1.3) ** 2 + (x[1] + 2.1) ** 2 + (x[2] - 0.7) ** 2


def branin(x):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x[1] - b * x[0] ** 2 + c * x[0] - 6) ** 2 + 10 * (1 - t) * math.cos(x[0]) + 10


def hartmann6(x):
    return -sum(AL6[i] * math.exp(-sum(A6[i][j] * (x[j] - P6[i][j] * 1e-4) ** 2 for j in range(6)))
                for i in range(4))


FNS = {"quadratic": (quadratic, [(-5, 5)] * 3, 0.0),
       "branin": (branin, [(-5, 10), (0, 15)], 0.397887),
       "hartmann6": (hartmann6, [(0, 1)] * 6, -3.32237)}


def run_optuna(name, sampler_cls, seed):
    f, bounds, _ = FNS[name]
    spent = [0.0]
    best = []

    def objective(trial):
        x = [trial.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)]
        t0 = time.thread_time()
        v = f(x)
        spent[0] += time.thread_time() - t0
        best.append(v if not best else min(best[-1], v))
        return v

    study = optuna.create_study(sampler=sampler_cls(seed=seed))
    t0 = time.thread_time()
    study.optimize(objective, n_trials=N)
    total = time.thread_time() - t0
    return best[49], best[99], (total - spent[0]) / N * 1e6


def boot_diff(a, b, reps=2000):
    """90 % bootstrap interval of median(a) - median(b)."""
    rng = random.Random(1)
    d = sorted(statistics.median(rng.choices(a, k=len(a))) - statistics.median(rng.choices(b, k=len(b)))
               for _ in range(reps))
    return d[int(0.05 * reps)], d[int(0.95 * reps)]


def main():
    exe = os.path.join(tempfile.mkdtemp(), "tpe_bench")
    subprocess.check_call(["cc", "-std=c99", "-O2", "-I", os.path.join(ROOT, "src/kernel"),
                           os.path.join(ROOT, "src/kernel/tpe.c"), os.path.join(HERE, "tpe_bench.c"),
                           "-lm", "-o", exe])
    res = {}  # (method, fn) -> list of (b50, b100, us)
    for line in subprocess.check_output([exe, str(SEEDS), str(N)], text=True).splitlines():
        m, fn, s, b50, b100, us = line.split()
        res.setdefault((m, fn), []).append((float(b50), float(b100), float(us)))
    for fn in [f for f in FNS if not ONLY or f in ONLY]:
        for s in range(SEEDS):
            res.setdefault(("optuna-tpe", fn), []).append(run_optuna(fn, optuna.samplers.TPESampler, s))
            res.setdefault(("optuna-random", fn), []).append(run_optuna(fn, optuna.samplers.RandomSampler, s))

    print(f"Median over {SEEDS} seeds of the best value found (known minimum in brackets); "
          f"sampler time per trial over {N} trials.")
    print()
    print("| function | trials | fsmml TPE | Optuna TPE | Optuna random | fsmml random | |fsmml-optuna| / random regret | 90 % interval of fsmml-optuna | verdict |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    ok = True
    for fn, (_, _, fmin) in FNS.items():
        if ONLY and fn not in ONLY:
            continue
        for k, n in ((0, 50), (1, 100)):
            med = {m: statistics.median(r[k] for r in res[(m, fn)])
                   for m in ("fsmml-tpe", "optuna-tpe", "optuna-random", "fsmml-random")}
            rnd = statistics.median([med["optuna-random"] - fmin, med["fsmml-random"] - fmin])
            rel = abs(med["fsmml-tpe"] - med["optuna-tpe"]) / rnd if rnd > 0 else 0.0
            good = rel <= 0.05 and med["fsmml-tpe"] < min(med["optuna-random"], med["fsmml-random"])
            ok &= good
            lo, hi = boot_diff([r[k] for r in res[("fsmml-tpe", fn)]], [r[k] for r in res[("optuna-tpe", fn)]])
            print(f"| {fn} ({fmin:g}) | {n} | {med['fsmml-tpe']:.5g} | {med['optuna-tpe']:.5g} | "
                  f"{med['optuna-random']:.5g} | {med['fsmml-random']:.5g} | {100 * rel:.1f} % | "
                  f"[{lo:+.3g}, {hi:+.3g}] | "
                  f"{'ok' if good else 'NOT within 5 % / not better than random'} |")
    print()
    print("| function | fsmml TPE sampler µs/trial | Optuna TPE overhead µs/trial | ratio |")
    print("|---|---:|---:|---:|")
    for fn in [f for f in FNS if not ONLY or f in ONLY]:
        c = statistics.median(r[2] for r in res[("fsmml-tpe", fn)])
        o = statistics.median(r[2] for r in res[("optuna-tpe", fn)])
        ok &= o / c >= 50
        print(f"| {fn} | {c:.1f} | {o:.0f} | {o / c:.0f}x |")
    print()
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
