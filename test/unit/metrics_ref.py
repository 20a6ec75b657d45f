#!/usr/bin/env python3
"""metrics_ref.py — reference values for test/unit/metrics_test.c.

Writes whitespace-separated cases to the file named by argv[1] (stdout if
none).  Classification metrics come from sklearn (the hold-out backtest is
the bar simulator's, tested by unit_simulator.sh).  Floats are
written with repr(), which round-trips exactly through strtod; NaN is "nan".

  class NAME N / y[N] / p[N] / auc brier logloss accuracy pos_rate
"""
import math
import sys
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-15
warnings.simplefilter("ignore")


def fmt(x):
    return repr(float(x))


def class_expect(y, p):
    n = len(y)
    try:
        auc = roc_auc_score(y, p)
    except ValueError:              # one class only
        auc = math.nan
    if len(np.unique(y)) < 2:
        auc = math.nan
    try:
        brier = brier_score_loss(y, p, pos_label=1)
    except ValueError:              # older/newer sklearn refuse a single class
        brier = float(np.mean((p - y) ** 2))
    # pre-clip: sklearn 1.2 clips at eps="auto" (2.2e-16), fsmml at 1e-15
    pc = np.clip(p, EPS, 1 - EPS)
    ll = log_loss(y, pc, labels=[0, 1])
    acc = accuracy_score(y, (p > 0.5).astype(int))
    return [auc, brier, ll, acc, float(np.mean(y))] if n else [math.nan] * 5


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    rng = np.random.default_rng(20240601)

    def emit_class(name, y, p):
        y = np.asarray(y, dtype=int)
        p = np.asarray(p, dtype=float)
        out.write("class %s %d\n" % (name, len(y)))
        out.write(" ".join(str(v) for v in y) + "\n")
        out.write(" ".join(fmt(v) for v in p) + "\n")
        out.write(" ".join(fmt(v) for v in class_expect(y, p)) + "\n")

    emit_class("n1", [1], [0.3])
    emit_class("n2", [0, 1], [0.3, 0.7])
    emit_class("n2_tie", [0, 1], [0.5, 0.5])
    emit_class("one_class_0", [0] * 7, rng.random(7))
    emit_class("one_class_1", [1] * 5, rng.random(5))
    emit_class("extremes", [0, 1, 0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0, 0.5, 0.5])
    emit_class("all_tied", [0, 1, 1, 0, 1], [0.4] * 5)
    for i, n in enumerate([3, 5, 10, 37, 100, 1000, 5000]):
        y = (rng.random(n) < 0.45).astype(int)
        noisy = np.clip(0.5 + (y - 0.5) * 0.3 + rng.normal(0, 0.25, n), 0, 1)
        emit_class("rand_%d" % n, y, noisy)
        emit_class("ties_%d" % n, y, np.round(noisy, 1))
        emit_class("coarse_%d" % n, y, rng.choice([0.1, 0.5, 0.9], n))
    y = (rng.random(2000) < 0.05).astype(int)
    emit_class("imbalanced", y, rng.beta(2, 5, 2000))

    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
