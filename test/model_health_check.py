"""model_health_check.py — test/shell/model_health.sh's independent reference: recomputes every
champion's live figures from the raw rows (bars, trading.agentpreds, trading.agentsignals) in
Python and compares them with fsmml.model_health.  Prints "ok|not ok <kind> <figure> view=..
ref=.." per figure, and a "# kind figure value" line for each."""
import json
import math
import subprocess
import sys
from datetime import timedelta


def rows(sql):
    out = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def auc(prob, y):
    # Mann-Whitney with mid-ranks for ties
    order = sorted(range(len(prob)), key=lambda i: prob[i])
    ranks = [0.0] * len(prob)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and prob[order[j + 1]] == prob[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    npos = sum(y)
    nneg = len(y) - npos
    if npos == 0 or nneg == 0:
        return None
    return (sum(r for r, t in zip(ranks, y) if t) - npos * (npos + 1) / 2) / (npos * nneg)


def corr(xs, ys):
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    vx = sum((x - mx) ** 2 for x in xs)
    vy = sum((y - my) ** 2 for y in ys)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None


symbol, tf = sys.argv[1], sys.argv[2]
step = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440}[tf]
step = timedelta(minutes=step)
close = {}
for ts, c in rows(f"SELECT extract(epoch FROM \"timestamp\")::bigint, close FROM trading.historicaldata "
                  f"WHERE symbol = '{symbol}' AND timeframe = '{tf}'"):
    close[int(ts)] = float(c)
S = int(step.total_seconds())

champs = {}
for vid, kind, params, metrics, defaults in rows(
        "SELECT v.id, a.kind, v.params, v.metrics, a.default_params FROM trading.agentversions v "
        f"JOIN trading.agents a ON a.name = v.agent WHERE v.status = 'champion' AND v.symbol = '{symbol}'"):
    champs[int(vid)] = (kind, json.loads(params), json.loads(metrics), json.loads(defaults))

view = {}
cols = ["live_rows", "live_auc", "live_brier", "live_hit_rate", "live_pnl", "live_trades", "live_coverage",
        "train_coverage", "coverage_q", "live_autocorr_spread", "train_autocorr_spread", "train_auc",
        "train_hit_rate", "train_pnl", "kind"]
for r in rows(f"SELECT version_id, {', '.join(cols)} FROM fsmml.model_health WHERE symbol = '{symbol}'"):
    view[int(r[0])] = dict(zip(cols, r[1:]))

failures = 0


def compare(kind, name, got, want, tol=1e-9):
    global failures
    got = None if got in ("", None) else float(got)
    good = (got is None and want is None) or (
        got is not None and want is not None and abs(got - want) <= tol * max(1.0, abs(want)))
    print(f"# {kind} {name}: view {got} reference {want}")
    print(f"{'ok' if good else 'not ok'} - {kind}: live {name} equals the reference computed from the raw rows")
    if not good:
        failures += 1


preds = {}
for vid, ts, h, payload in rows(
        "SELECT agent_version_id, extract(epoch FROM \"timestamp\")::bigint, horizon, payload FROM trading.agentpreds "
        f"WHERE symbol = '{symbol}' AND timeframe = '{tf}' ORDER BY 1, 2"):
    preds.setdefault(int(vid), []).append((int(ts), int(h), json.loads(payload)))

for vid, (kind, params, metrics, defaults) in champs.items():
    v = view.get(vid)
    if v is None:
        print(f"not ok - {kind}: champion {vid} has no model_health row")
        failures += 1
        continue
    h = int(params.get("horizon", defaults.get("horizon", 1)))
    mine = preds.get(vid, [])
    if kind == "direction":
        bt = metrics["holdout"]["backtest"]
        lt, st, fee = bt["long_threshold"], bt["short_threshold"], params.get("fee_bps", 0)
        rs = [(t, p["prob_up"]) for t, hh, p in mine if hh == h and t + h * S in close]
        prob = [p for _, p in rs]
        y = [int(close[t + h * S] > close[t]) for t, _ in rs]
        ret = [close[t + h * S] / close[t] - 1 for t, _ in rs]
        side = [1 if p >= lt else -1 if p <= st else 0 for p in prob]
        change = [abs(s - (side[i - 1] if i else 0)) for i, s in enumerate(side)]
        compare(kind, "rows", v["live_rows"], len(rs))
        compare(kind, "AUC", v["live_auc"], auc(prob, y))
        compare(kind, "Brier", v["live_brier"], sum((p - t) ** 2 for p, t in zip(prob, y)) / len(y))
        compare(kind, "hit rate", v["live_hit_rate"], sum(int((p > 0.5) == t) for p, t in zip(prob, y)) / len(y))
        compare(kind, "PnL", v["live_pnl"],
                sum(s * r / h for s, r in zip(side, ret)) - sum(change) * fee / 1e4)
        compare(kind, "trades", v["live_trades"], sum(1 for c in change if c))
    elif kind == "volatility":
        slm = float(params.get("sl_mult", defaults.get("sl_mult", 1)))
        rs = [(t, p) for t, _, p in mine if t + h * S in close and "sl" in p]
        cov = sum(int(abs(close[t + h * S] - close[t]) <= p["sl"] / slm) for t, p in rs) / len(rs)
        q = metrics["holdout"]["quantiles"][-1]
        compare(kind, "rows", v["live_rows"], len(rs))
        compare(kind, "coverage", v["live_coverage"], cov)
        compare(kind, "training coverage", v["train_coverage"], q["coverage"])
        compare(kind, "coverage q", v["coverage_q"], q["q"])
    elif kind in ("execution", "ensemble"):
        if kind == "execution":
            rs = [(t, p["side"]) for t, _, p in mine if t + S in close and "side" in p]
        else:
            rs = [(int(t), int(s)) for t, s in rows(
                "SELECT extract(epoch FROM \"timestamp\")::bigint, side FROM trading.agentsignals "
                f"WHERE ensemble_version_id = {vid} ORDER BY 1")]
            rs = [(t, s) for t, s in rs if t + S in close]
        ret = [close[t + S] / close[t] - 1 for t, _ in rs]
        side = [s for _, s in rs]
        change = [abs(s - (side[i - 1] if i else 0)) for i, s in enumerate(side)]
        traded = [(s, r) for s, r in zip(side, ret) if s]
        compare(kind, "rows", v["live_rows"], len(rs))
        compare(kind, "PnL", v["live_pnl"], sum(s * r for s, r in zip(side, ret)))
        compare(kind, "hit rate", v["live_hit_rate"],
                sum(int((r > 0) - (r < 0) == s) for s, r in traded) / len(traded) if traded else None)
        compare(kind, "trades", v["live_trades"], sum(1 for c in change if c))
    elif kind == "state":
        by = {t: p for t, _, p in mine}
        pairs = [(p["next_state"], by[t + S]["state"]) for t, _, p in mine
                 if t + S in by and "next_state" in p and "state" in by[t + S]]
        compare(kind, "rows", v["live_rows"], len(pairs))
        compare(kind, "hit rate", v["live_hit_rate"], sum(int(a == b) for a, b in pairs) / len(pairs))
    elif kind == "regime":
        by = {t: p for t, _, p in mine}
        xy = {}
        for t, _, p in mine:
            n = by.get(t + S)
            if n and t + 2 * S in close and t + S in close and n["regime"] == p["regime"]:
                xy.setdefault(p["regime"], []).append(
                    (close[t + S] / close[t] - 1, close[t + 2 * S] / close[t + S] - 1))
        tr, mr = xy.get("trend", []), xy.get("mean_revert", [])
        want = None
        if len(tr) >= 3 and len(mr) >= 3:
            want = corr(*zip(*tr)) - corr(*zip(*mr))
        compare(kind, "autocorrelation spread", v["live_autocorr_spread"], want)
        compare(kind, "training autocorrelation spread", v["train_autocorr_spread"],
                metrics["holdout"]["autocorr_spread"])
sys.exit(1 if failures else 0)
