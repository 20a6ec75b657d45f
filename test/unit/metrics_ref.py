#!/usr/bin/env python3
"""metrics_ref.py — reference values for test/unit/metrics_test.c.

Writes whitespace-separated cases to the file named by argv[1] (stdout if
none).  Classification metrics come from sklearn; the backtest is an
independent numpy implementation of the rules in src/kernel/metrics.h.  Floats are
written with repr(), which round-trips exactly through strtod; NaN is "nan".

  class NAME N / y[N] / p[N] / auc brier logloss accuracy pos_rate
  bt NAME N threshold fee_bps H bars_per_year / p[N] / r[N] /
     pnl fees sharpe sortino max_drawdown calmar profit_factor win_rate trades exposure
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


def backtest(p, r, th, fee_bps, h, bpy):
    side = np.where((p > 0.5) & (p >= 0.5 + th), 1,
                    np.where((p < 0.5) & (p <= 0.5 - th), -1, 0))
    prev = np.concatenate([[0], side[:-1]])
    fees = np.abs(side - prev) * fee_bps / 1e4
    gross = np.where(side != 0, side * r / h, 0.0)
    net = gross - fees
    n = len(net)
    pnl = math.fsum(net)
    mean = pnl / n
    sd = math.sqrt(math.fsum((net - mean) ** 2) / (n - 1)) if n > 1 else 0.0
    sharpe = mean / sd * math.sqrt(bpy) if sd > 0 else 0.0
    down = math.sqrt(math.fsum(np.minimum(net, 0.0) ** 2) / n)
    if down > 0:
        sortino = mean / down * math.sqrt(bpy)
    else:
        sortino = 0.0 if mean == 0 else math.nan
    eq = np.concatenate([[0.0], np.cumsum(net)])
    mdd = float(np.max(np.maximum.accumulate(eq) - eq))
    calmar = mean * bpy / mdd if mdd > 0 else 0.0
    gain = math.fsum(net[net > 0])
    loss = math.fsum(net[net < 0])
    pf = gain / -loss if loss < 0 else math.nan
    held = side != 0
    win = float(np.mean(net[held] > 0)) if held.any() else math.nan
    trades = int(np.sum((side != prev) & held))
    return [pnl, math.fsum(fees), sharpe, sortino, mdd, calmar, pf, win, trades,
            float(np.mean(held))]


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

    def emit_bt(name, p, r, th, fee, h, bpy):
        p = np.asarray(p, dtype=float)
        r = np.asarray(r, dtype=float)
        out.write("bt %s %d %s %s %d %s\n" % (name, len(p), fmt(th), fmt(fee), h, fmt(bpy)))
        out.write(" ".join(fmt(v) for v in p) + "\n")
        out.write(" ".join(fmt(v) for v in r) + "\n")
        out.write(" ".join(fmt(v) for v in backtest(p, r, th, fee, h, bpy)) + "\n")

    for i, (n, th, fee, h, bpy) in enumerate([
            (1, 0.0, 10.0, 1, 252.0),
            (2, 0.0, 0.0, 1, 252.0),
            (50, 0.0, 5.0, 1, 8760.0),
            (500, 0.05, 10.0, 4, 8760.0),
            (2000, 0.1, 2.5, 12, 105120.0),
            (5000, 0.0, 0.0, 1, 525600.0),
            (300, 0.5, 10.0, 1, 252.0)]):      # trades only at p = 0 or 1
        p = rng.random(n)
        p[rng.random(n) < 0.1] = 0.5
        p[rng.random(n) < 0.05] = np.round(0.5 + th, 10)
        r = rng.normal(0.0003, 0.01, n)
        emit_bt("rand_%d" % i, p, r, th, fee, h, bpy)
    # sticky signals: few position changes
    p = np.repeat(rng.random(40), 25)
    emit_bt("sticky", p, rng.normal(0, 0.005, 1000), 0.02, 7.0, 3, 2190.0)
    # only winners: no downside, profit factor undefined
    emit_bt("no_loss", [0.9, 0.8, 0.1], [0.01, 0.02, -0.03], 0.0, 0.0, 1, 365.0)
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
