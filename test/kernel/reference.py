#!/usr/bin/python3
"""Independent reference for the fsmml feature kernel (src/kernel/features_kernel.c).

  reference.py BARS_CSV KERNEL_OUTPUT STEP_MINUTES [--catalog CATALOG_CSV]
  reference.py --self-test

Computes all features from the bars CSV (symbol,timeframe,ts,open,high,low,
close,volume) in Python, written from the conventions of the specification
(TA-Lib / R TTR), not from the C code, and compares them with kernel_cli's
output (its CSV, or its --raw bytes when the file name ends in .raw): every
value within 1e-9 relative (1e-12 absolute near 0) and the same NULL pattern.  With --catalog (kernel_cli --catalog), also checks the names,
the order and, on a gap-free series starting at a bucket boundary, that each
catalogue lookback is the index of the feature's first value (multi-timeframe
snapshots: (L + 1) * m - 1 1m bars for a value that needs L + 1 bars of m minutes).
Exits non-zero on any mismatch.  The self-test checks the reference's own
indicators against numbers worked out by hand.
"""
import math
import sys

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

RTOL = 1e-9
ATOL = 1e-12

BASE = ["ret_1", "ret_5", "ret_15", "logret_1", "vol_ret_20",
        "ema_dist_5", "ema_dist_9", "ema_dist_20", "ema_dist_50",
        "ema_x_5_20", "ema_x_9_50", "rsi_7", "rsi_14",
        "macd", "macd_signal", "macd_hist", "roc_10", "mom_10", "accel_10",
        "atr_7", "atr_14", "parkinson_20", "bb_pctb_20", "bb_width_20",
        "range_pct", "vol_z_20", "vol_ratio_20", "vol_trend_10", "pv_corr_10",
        "body_ratio", "upper_shadow", "lower_shadow",
        "effort", "result", "compression", "slope", "speed", "feat_score"]
HTFS = [("m5", 5), ("m15", 15), ("h1", 60), ("h4", 240), ("d1", 1440)]
HTF_FEATS = ["rsi_14", "ema20_slope", "ret_1", "atr_14"]
# Lookback of each HTF feature counted in HTF bars.
HTF_LOOKBACK = {"rsi_14": 14, "ema20_slope": 22, "ret_1": 1, "atr_14": 14}
NAMES = BASE + [f"{t}_{f}" for t, _ in HTFS for f in HTF_FEATS]
# Index of the first value on a gap-free series, from the definitions.
BASE_LOOKBACK = {
    "ret_1": 1, "ret_5": 5, "ret_15": 15, "logret_1": 1, "vol_ret_20": 20,
    "ema_dist_5": 4, "ema_dist_9": 8, "ema_dist_20": 19, "ema_dist_50": 49,
    "ema_x_5_20": 19, "ema_x_9_50": 49, "rsi_7": 7, "rsi_14": 14,
    "macd": 25, "macd_signal": 33, "macd_hist": 33,
    "roc_10": 10, "mom_10": 10, "accel_10": 20, "atr_7": 7, "atr_14": 14,
    "parkinson_20": 19, "bb_pctb_20": 19, "bb_width_20": 19, "range_pct": 0,
    "vol_z_20": 19, "vol_ratio_20": 19, "vol_trend_10": 19, "pv_corr_10": 9,
    "body_ratio": 0, "upper_shadow": 0, "lower_shadow": 0,
    "effort": 19, "result": 14, "compression": 19, "slope": 24, "speed": 19,
    "feat_score": 24,
}
USEC_PER_MIN = 60_000_000


# ---------------------------------------------------------------- indicators

def ema(x, n):
    """EMA(n): k = 2/(n+1), seeded with the SMA of the first n values (at n-1)."""
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    k = 2.0 / (n + 1)
    prev = math.fsum(x[:n]) / n
    out[n - 1] = prev
    for t in range(n, len(x)):
        prev = prev + k * (x[t] - prev)
        out[t] = prev
    return out


def wilder_mean(x, n, first):
    """Wilder smoothing of x[first:], seeded with the mean of its first n values."""
    out = np.full(len(x), np.nan)
    if len(x) - first < n:
        return out
    avg = math.fsum(x[first:first + n]) / n
    out[first + n - 1] = avg
    for t in range(first + n, len(x)):
        avg = (avg * (n - 1) + x[t]) / n
        out[t] = avg
    return out


def rsi(close, n):
    """Wilder RSI(n); 0 when average gain and loss are both 0 (TA-Lib)."""
    close = np.asarray(close, dtype=float)
    d = np.concatenate(([np.nan], np.diff(close)))
    gain = np.where(d > 0, d, 0.0)
    loss = np.where(d < 0, -d, 0.0)
    g = wilder_mean(gain, n, 1)
    lo = wilder_mean(loss, n, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = 100.0 * g / (g + lo)
    r[(g + lo) == 0] = 0.0
    return r


def true_range(high, low, close):
    high, low, close = (np.asarray(a, dtype=float) for a in (high, low, close))
    pc = np.concatenate(([np.nan], close[:-1]))
    return np.maximum.reduce([high - low, np.abs(high - pc), np.abs(low - pc)])


def atr(high, low, close, n):
    """Wilder ATR(n): TRs from the second bar, first ATR = mean of n TRs (index n)."""
    return wilder_mean(true_range(high, low, close), n, 1)


def lag(x, k):
    out = np.full(len(x), np.nan)
    if k < len(x):
        out[k:] = x[:len(x) - k]
    return out


def rolling(x, n, fn):
    """fn over each full window of n values ending at t (NaN before)."""
    x = np.asarray(x, dtype=float)
    out = np.full(len(x), np.nan)
    if len(x) >= n:
        out[n - 1:] = fn(sliding_window_view(x, n))
    return out


def windows(x, n):
    """Row t = the window of n values ending at t (NaN rows before n-1)."""
    x = np.asarray(x, dtype=float)
    out = np.full((len(x), n), np.nan)
    if len(x) >= n:
        out[n - 1:] = sliding_window_view(x, n)
    return out


def flat(x, n):
    """True where the window of n values ending at t is constant (sd == 0)."""
    return rolling(x, n, lambda w: (w.max(axis=1) == w.min(axis=1)).astype(float)) == 1.0


def divide(a, b):
    """a / b, NaN where b == 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))


# ---------------------------------------------------------------- features

def base_features(o, h, lo, c, v):
    f = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = c / lag(c, 1) - 1
        f["ret_1"] = r1
        f["ret_5"] = c / lag(c, 5) - 1
        f["ret_15"] = c / lag(c, 15) - 1
        f["logret_1"] = np.log(c / lag(c, 1))
        vr = np.full(len(c), np.nan)
        vr[1:] = rolling(r1[1:], 20, lambda w: np.std(w, axis=1, ddof=1))
        f["vol_ret_20"] = vr
        e = {n: ema(c, n) for n in (5, 9, 12, 20, 26, 50)}
        for n in (5, 9, 20, 50):
            f[f"ema_dist_{n}"] = c / e[n] - 1
        f["ema_x_5_20"] = e[5] / e[20] - 1
        f["ema_x_9_50"] = e[9] / e[50] - 1
        f["rsi_7"] = rsi(c, 7)
        f["rsi_14"] = rsi(c, 14)
        macd = e[12] - e[26]
        sig = np.full(len(c), np.nan)
        if len(c) > 25:
            sig[25:] = ema(macd[25:], 9)
        f["macd"] = macd / c
        f["macd_signal"] = sig / c
        f["macd_hist"] = (macd - sig) / c
        f["roc_10"] = c / lag(c, 10) - 1
        mom = (c - lag(c, 10)) / c
        f["mom_10"] = mom
        f["accel_10"] = mom - lag(mom, 10)
        a14 = atr(h, lo, c, 14)
        f["atr_7"] = atr(h, lo, c, 7) / c
        f["atr_14"] = a14 / c
        pk = np.log(h / lo) ** 2 / (4 * math.log(2))
        f["parkinson_20"] = np.sqrt(rolling(pk, 20, lambda w: w.mean(axis=1)))
        # Bollinger on windows shifted by their newest close (exact
        # differences), so that close - middle keeps its digits near 42000:
        # %b = (close - lower) / (upper - lower) = (close - middle + 2 sd) / (4 sd).
        cw = windows(c, 20)
        dw = cw[:, -1:] - cw                      # close - x_j, exact
        dmid = dw.mean(axis=1)                    # close - middle
        sd = dw.std(axis=1, ddof=0)
        mid = c - dmid
        pctb = (dmid + 2 * sd) / (4 * sd)
        pctb[flat(c, 20)] = np.nan
        f["bb_pctb_20"] = pctb
        f["bb_width_20"] = np.where(flat(c, 20), 0.0, ((mid + 2 * sd) - (mid - 2 * sd)) / mid)
        f["range_pct"] = (h - lo) / c
        vsma = rolling(v, 20, lambda w: w.mean(axis=1))
        vsd = rolling(v, 20, lambda w: w.std(axis=1, ddof=1))
        vz = (v - vsma) / vsd
        vz[flat(v, 20)] = np.nan
        f["vol_z_20"] = vz
        f["vol_ratio_20"] = divide(v, vsma)
        sma10 = rolling(v, 10, lambda w: w.mean(axis=1))
        f["vol_trend_10"] = divide(sma10, lag(sma10, 10)) - 1

        # Pearson over windows shifted by their newest value (exact differences)
        cwin = windows(c, 10)
        vwin = windows(v, 10)
        dc = cwin - cwin[:, -1:]
        dv = vwin - vwin[:, -1:]
        dc = dc - dc.mean(axis=1, keepdims=True)
        dv = dv - dv.mean(axis=1, keepdims=True)
        pv = (dc * dv).sum(axis=1) / np.sqrt((dc * dc).sum(axis=1) * (dv * dv).sum(axis=1))
        pv[flat(c, 10) | flat(v, 10)] = np.nan
        f["pv_corr_10"] = np.clip(pv, -1.0, 1.0)
        rng = h - lo
        zero = rng == 0
        f["body_ratio"] = np.where(zero, np.nan, (c - o) / rng)
        f["upper_shadow"] = np.where(zero, np.nan, (h - np.maximum(o, c)) / rng)
        f["lower_shadow"] = np.where(zero, np.nan, (np.minimum(o, c) - lo) / rng)
        effort = divide(v, vsma)
        result = divide(np.abs(c - o), a14)
        hi3 = np.maximum(np.maximum(e[5], e[9]), e[20])
        lo3 = np.minimum(np.minimum(e[5], e[9]), e[20])
        slope = divide(e[20] - lag(e[20], 5), a14)
        f["effort"] = effort
        f["result"] = result
        f["compression"] = divide(hi3 - lo3, a14)
        f["slope"] = slope
        f["speed"] = divide(np.abs(e[5] - e[20]), a14)
        f["feat_score"] = divide(100 * np.tanh(slope) * result, result + effort)
    return f


def htf_bars(ts, h, lo, c, step_us, htf_us):
    """Aggregates base bars into buckets that follow the series' origin.

    The origin is the first bar's offset from the epoch grid of the base step
    (0 for a series on the grid): buckets are [origin + k len, origin + (k+1) len),
    like date_bin(len, ts, origin); a bar belongs to the bucket of its open time.
    Returns per HTF bar its high, low, close and the base row at which it
    becomes visible: the bucket's last present bar when that bar closes at or
    after the bucket end, else the first bar of the next bucket (or never).
    """
    origin = int(ts[0]) % step_us                 # Python's % is non-negative here
    bucket = (ts - origin) // htf_us              # floor division
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.concatenate((starts[1:], [len(ts)])) - 1
    hh = np.maximum.reduceat(h, starts)
    ll = np.minimum.reduceat(lo, starts)
    cc = c[ends]
    complete = ts[ends] + step_us >= origin + (bucket[ends] + 1) * htf_us
    visible = np.where(complete, ends, ends + 1)  # len(ts) = never
    return hh, ll, cc, visible


def htf_features(ts, h, lo, c, step_min):
    step_us = step_min * USEC_PER_MIN
    f = {}
    for tag, minutes in HTFS:
        cols = {k: np.full(len(ts), np.nan) for k in HTF_FEATS}
        htf_us = minutes * USEC_PER_MIN
        if htf_us > step_us and len(ts):
            hh, ll, cc, visible = htf_bars(ts, h, lo, c, step_us, htf_us)
            with np.errstate(invalid="ignore", divide="ignore"):
                e20 = ema(cc, 20)
                vals = {
                    "rsi_14": rsi(cc, 14),
                    "ema20_slope": e20 / lag(e20, 3) - 1,
                    "ret_1": cc / lag(cc, 1) - 1,
                    "atr_14": atr(hh, ll, cc, 14) / cc,
                }
            # the newest HTF bar visible at each base row
            idx = np.searchsorted(visible, np.arange(len(ts)), side="right") - 1
            for k in HTF_FEATS:
                cols[k] = np.where(idx >= 0, vals[k][np.maximum(idx, 0)], np.nan)
        for k in HTF_FEATS:
            f[f"{tag}_{k}"] = cols[k]
    return f


def load_bars(path):
    df = pd.read_csv(path, float_precision="round_trip")   # exact, like strtod
    ts = pd.to_datetime(df["ts"].str.rstrip("Z"), format="%Y-%m-%dT%H:%M:%S")
    ts_us = ts.to_numpy().astype("datetime64[us]").astype(np.int64)   # naive = UTC
    return (df["ts"].to_numpy(), ts_us,
            *(df[k].to_numpy(dtype=float) for k in ("open", "high", "low", "close", "volume")))


def compute(path, step_min):
    ts_str, ts, o, h, lo, c, v = load_bars(path)
    f = base_features(o, h, lo, c, v)
    f.update(htf_features(ts, h, lo, c, step_min))
    return ts_str, ts, f


# ---------------------------------------------------------------- comparison

def load_kernel(path, ts_str, ts_us):
    """kernel_cli output: CSV (header, %.17g, NULL empty) or --raw (.raw: per
    row the int64 ts and the doubles).  Returns {name: array} or an error."""
    if path.endswith(".raw"):
        rows = np.fromfile(path, dtype=np.dtype([("ts", "<i8"), ("f", "<f8", (len(NAMES),))]))
        if len(rows) != len(ts_us) or (rows["ts"] != ts_us).any():
            return f"kernel rows ({len(rows)}) differ from the bars ({len(ts_us)})"
        return {name: rows["f"][:, j] for j, name in enumerate(NAMES)}
    k = pd.read_csv(path, dtype={"ts": str}, float_precision="round_trip")
    if list(k.columns) != ["ts"] + NAMES:
        return "kernel columns differ from the reference names"
    if len(k) != len(ts_str) or (k["ts"].to_numpy() != ts_str).any():
        return f"kernel rows ({len(k)}) differ from the bars ({len(ts_str)})"
    return {name: k[name].to_numpy(dtype=float) for name in NAMES}


def compare(ref, ts_str, ts_us, kernel_out, stats):
    k = load_kernel(kernel_out, ts_str, ts_us)
    bad = 0
    if isinstance(k, str):
        print(f"#   {k}")
        return 1
    for name in NAMES:
        a = k[name]
        b = ref[name]
        na, nb = np.isnan(a), np.isnan(b)
        nanbad = np.flatnonzero(na != nb)
        both = ~na & ~nb
        tol = np.maximum(RTOL * np.maximum(np.abs(a), np.abs(b)), ATOL)
        valbad = np.flatnonzero(both & ~(np.abs(a - b) <= tol))
        for r in list(nanbad[:3]) + list(valbad[:3]):
            print(f"#   {name} row {r} ({ts_str[r]}): kernel {a[r]!r} reference {b[r]!r}")
        if len(nanbad) or len(valbad):
            print(f"#   {name}: {len(nanbad)} NULL-pattern and {len(valbad)} value mismatches")
            bad += 1
        else:
            worst = np.max(np.abs(a[both] - b[both]) / tol[both]) if both.any() else 0.0
            if worst > 0.01:
                print(f"#   {name}: worst error {worst:.3g} of the tolerance")
            if worst > stats.get("worst", (0.0, ""))[0]:
                stats["worst"] = (worst, name)
            stats["exact"] = stats.get("exact", 0) + int(np.count_nonzero(both & (a == b)))
    return bad


def check_catalog(ref, ts, step_min, catalog_csv):
    cat = pd.read_csv(catalog_csv, header=None, names=["name", "group", "lookback", "definition"])
    bad = 0
    if list(cat["name"]) != NAMES:
        print("#   catalogue names/order differ from the specification")
        return 1
    gapless = bool(np.all(np.diff(ts) == step_min * USEC_PER_MIN))
    for name, lb in zip(cat["name"], cat["lookback"]):
        if name in BASE_LOOKBACK:
            want_cat = want_first = BASE_LOOKBACK[name]
        else:
            tag, feat = name.split("_", 1)
            m = dict(HTFS)[tag]
            L = HTF_LOOKBACK[feat]
            # HTF bar L must be finished: visible at the last 1m bar of it
            want_cat = want_first = (L + 1) * m - 1
        if lb != want_cat:
            print(f"#   catalogue lookback of {name} is {lb}, expected {want_cat}")
            bad += 1
        if gapless and step_min == 1 and ts[0] % (1440 * USEC_PER_MIN) == 0 and want_first is not None:
            nn = np.flatnonzero(~np.isnan(ref[name]))
            if len(nn) and nn[0] != want_first:
                print(f"#   first value of {name} at {nn[0]}, expected {want_first}")
                bad += 1
            if len(nn) and len(nn) != len(ts) - nn[0]:
                print(f"#   {name} has NULLs after its first value")
                bad += 1
    return bad


# ---------------------------------------------------------------- self-test

def close(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(1.0, abs(b))


def self_test():
    """Indicators of the reference against values worked out by hand."""
    bad = 0

    def ok(cond, what):
        nonlocal bad
        if not cond:
            print(f"#   self-test failed: {what}")
            bad += 1

    # EMA5 of 1..30: seed at index 4 = (1+2+3+4+5)/5 = 3; on a straight line
    # an EMA(n) lags by (n-1)/2, so EMA5[t] = x[t] - 2 = t - 1.
    x = np.arange(1.0, 31.0)
    e5 = ema(x, 5)
    ok(np.isnan(e5[3]) and e5[4] == 3.0, "EMA5 seed")
    ok(close(e5[5], 4.0) and close(e5[29], 28.0), "EMA5 recursion")
    # MACD of a line: EMA12 lags 5.5, EMA26 lags 12.5, so macd = 7 from index 25.
    e12, e26 = ema(x, 12), ema(x, 26)
    ok(np.isnan(e26[24]) and close(e12[25] - e26[25], 7.0), "MACD of a line")
    # RSI14: diffs +1 -1 +2 -2 +1 +1 +1 -1 0 0 +2 -3 +1 +1: gains 10, losses 7,
    # RSI = 100*10/17; next diff +1: gain (10/14*13+1)/14, loss 7/14*13/14,
    # RSI = 100*144/235.
    diffs = [1, -1, 2, -2, 1, 1, 1, -1, 0, 0, 2, -3, 1, 1, 1]
    cl = np.concatenate(([100.0], 100.0 + np.cumsum(diffs)))
    r = rsi(cl, 14)
    ok(np.isnan(r[13]) and close(r[14], 58.82352941176471), "RSI14 first value")
    ok(close(r[15], 61.27659574468085), "RSI14 second value")
    ok(rsi(np.full(20, 5.0), 14)[19] == 0.0, "RSI of a flat series is 0")
    # ATR3: TRs 1.5, 0.6, 1.4 -> 3.5/3; then TR 1.0 -> (7/6*2 + 1)/3 = 10/9.
    hh = np.array([10, 11, 10.6, 10.4, 9.5])
    ll = np.array([9, 9.8, 10, 9, 8.5])
    cc = np.array([9.5, 10.5, 10.2, 9.2, 9.0])
    a3 = atr(hh, ll, cc, 3)
    ok(np.isnan(a3[2]) and close(a3[3], 3.5 / 3) and close(a3[4], 10 / 9), "ATR3")
    # 1..20: population variance (n^2-1)/12 = 33.25, sample variance n(n+1)/12 = 35.
    y = np.arange(1.0, 21.0)
    f = base_features(y, y + 0.5, y - 0.5, y, y)
    sd = math.sqrt(33.25)
    ok(close(f["bb_pctb_20"][19], (20 - (10.5 - 2 * sd)) / (4 * sd)), "Bollinger %b")
    ok(close(f["bb_pctb_20"][19], 0.9118772355239570), "Bollinger %b by hand")
    ok(close(f["bb_width_20"][19], 4 * 5.766281297335398 / 10.5), "Bollinger width")
    ok(close(f["vol_z_20"][19], (20 - 10.5) / 5.916079783099616), "volume z")
    ok(close(f["pv_corr_10"][19], 1.0), "correlation of a line with itself")
    # ret_1 of 1..21 is 1/t; vol_ret_20 at 20 is the sample sd of 1/1..1/20.
    z = np.arange(1.0, 22.0)
    g = base_features(z, z, z, z, z)
    ok(close(g["vol_ret_20"][20], 0.22348633678756886, 1e-12), "vol_ret_20")
    # Parkinson with ln(H/L) = 1 on every bar: sqrt(1 / (4 ln 2)).
    pk = base_features(np.ones(20), np.full(20, math.e), np.ones(20), np.ones(20), np.ones(20))
    ok(close(pk["parkinson_20"][19], 0.6005612043932249), "Parkinson")
    # 5m buckets over 1m bars 00:00..00:09 without 00:04: bucket 0 (00:00-00:03)
    # is incomplete and shows at 00:05 (row 4); bucket 1 shows at 00:09 (row 8).
    ts = np.array([0, 1, 2, 3, 5, 6, 7, 8, 9]) * USEC_PER_MIN
    ones = np.ones(len(ts))
    _, _, _, vis = htf_bars(ts, ones, ones, ones, USEC_PER_MIN, 5 * USEC_PER_MIN)
    ok(list(vis) == [4, 8], "HTF visibility with a missing last bar")
    # 1h bars on :15 from 00:15: 4h buckets 00:15-04:15, 04:15-08:15; the first
    # is complete at the 03:15 bar (row 3), the second at 07:15 (row 7).
    ts = (np.arange(10) * 60 + 15) * USEC_PER_MIN
    ones = np.ones(len(ts))
    hh, _, _, vis = htf_bars(ts, np.arange(10.0), ones, ones, 60 * USEC_PER_MIN, 240 * USEC_PER_MIN)
    ok(list(vis) == [3, 7, 10] and list(hh) == [3.0, 7.0, 9.0], "HTF buckets follow a :15 origin")
    return bad


def main():
    args = sys.argv[1:]
    if args == ["--self-test"]:
        bad = self_test()
        print(("not ok" if bad else "ok") + " - reference self-test (hand-computed values)")
        return 1 if bad else 0
    if len(args) not in (3, 5):
        print(__doc__)
        return 2
    bars_csv, kernel_out, step_min = args[0], args[1], int(args[2])
    ts_str, ts, ref = compute(bars_csv, step_min)
    stats = {}
    bad = compare(ref, ts_str, ts, kernel_out, stats)
    if len(args) == 5 and args[3] == "--catalog":
        bad += check_catalog(ref, ts, step_min, args[4])
    n = sum(int(np.count_nonzero(~np.isnan(ref[k]))) for k in NAMES)
    worst, wname = stats.get("worst", (0.0, "-"))
    print(f"# {len(ts)} bars, {n} non-NULL values compared ({stats.get('exact', 0)} bit-identical), "
          f"worst error {worst:.2g} of the tolerance ({wname}), {bad} features mismatched")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
