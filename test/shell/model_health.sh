#!/usr/bin/env bash
# model_health.sh — fsmml.model_health's live figures for every agent kind.  The six agents train
# on the first 6,000 1h bars; 1,000 newer bars arrive and are scored (fsmml_score); then each
# champion's live figures, from its own stored output whose label is known, are recomputed from
# the raw rows by test/model_health_check.py (direction: hit rate, AUC, Brier, PnL, trades;
# VolQuantile: coverage of the highest quantile beside the hold-out's; ExecRules and the ensemble:
# PnL, hit rate, trades of their sides; StateFSM: next-state hit rate; RegimeKMeans: the
# autocorrelation spread) and must be sensible (VolQuantile's live coverage near its q).
. "$(dirname "$0")/../lib.sh"
set -u
S=MH
CSV=$(mktemp)
trap 'rm -f "$CSV"' EXIT
if [ -f "$SHARED/bench/gen_bars.py" ]; then
    "$PY" "$SHARED/bench/gen_bars.py" --symbol $S --tf 1h --bars 7000 --seed 5 >"$CSV"
else
    echo "# $SHARED/bench/gen_bars.py not found: regime-switching AR(1) bars made here"
    "$PY" - >"$CSV" <<'PYEOF'
import numpy as np
n, rng = 7000, np.random.default_rng(5)
reg = np.cumsum(rng.random(n) > 0.997) % 3
phi = np.array([0.15, -0.15, 0.0])[reg]; sig = np.array([0.0008, 0.0006, 0.0012])[reg]
eps = rng.standard_normal(n); ret = np.zeros(n)
for i in range(1, n):
    ret[i] = phi[i] * ret[i - 1] + sig[i] * eps[i]
close = 30000 * np.exp(np.cumsum(ret)); open_ = np.concatenate(([30000.0], close[:-1]))
wick = np.abs(rng.normal(0, 1, (2, n))) * sig * close * 0.6
ts = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[h]")
print("symbol,timeframe,ts,open,high,low,close,volume")
for i in range(n):
    print(f"MH,1h,{ts[i]}:00Z,{open_[i]:.8g},{max(open_[i], close[i]) + wick[0, i]:.8g},"
          f"{min(open_[i], close[i]) - wick[1, i]:.8g},{close[i]:.8g},{rng.lognormal(3, 0.5):.8g}")
PYEOF
fi
load() { psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"; }
head -6001 "$CSV" | load
train() { q "SELECT status FROM fsmml_train('$1', '$S', '1h', '${2:-{\}}')" 2>&1 | grep -v '^NOTICE\|^DETAIL\|^HINT'; }
X='"xgb": {"nthread": 1}'
check "DirectionXGB trains" [ "$(train DirectionXGB "{\"folds\": 2, \"horizon\": 3, $X}")" = champion ]
check "RegimeKMeans trains" [ "$(train RegimeKMeans)" = champion ]
check "VolQuantile trains" [ "$(train VolQuantile)" = champion ]
check "StateFSM trains" [ "$(train StateFSM)" = champion ]
check "ExecRules trains" [ "$(train ExecRules)" = champion ]
check "EnsembleWeighted trains" [ "$(train EnsembleWeighted)" = champion ]
check "before any scoring: one row per champion, no live figures" \
    [ "$(q "SELECT count(*) || ':' || sum(live_rows) || ':' || count(live_auc) || count(live_coverage) FROM fsmml.model_health
            WHERE symbol = '$S'")" = 6:0:00 ]

# the live period: newer bars, scored as they come (the last ones without a label yet)
first=$(tail -n +6002 "$CSV" | head -1 | cut -d, -f3)
{ head -1 "$CSV"; tail -n +6002 "$CSV"; } | load
q "SELECT fsmml_score('$S', '1h', '$first', 'infinity')" >/dev/null 2>&1
# The view read before the tables have statistics for these rows (planned on an empty table's
# defaults its closes were once joined by scanning the series per prediction: 10-60 s), then
# after ANALYZE: the same rows either way.
t0=$(date +%s%N)
q "CREATE TABLE public.mh_unanalysed AS SELECT * FROM fsmml.model_health" >/dev/null
echo "# fsmml.model_health read before ANALYZE: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
q "ANALYZE trading.historicaldata, trading.agentpreds, trading.agentsignals" >/dev/null
check "fsmml.model_health gives the same rows before and after ANALYZE" \
    [ "$(q "SELECT count(*) FROM ((SELECT * FROM public.mh_unanalysed EXCEPT ALL SELECT * FROM fsmml.model_health)
                                 UNION ALL (SELECT * FROM fsmml.model_health EXCEPT ALL SELECT * FROM public.mh_unanalysed)) d")" = 0 ]
q "DROP TABLE public.mh_unanalysed" >/dev/null
psql -X -c "SELECT kind, version_id, live_rows, round(train_auc::numeric, 4) tr_auc, round(live_auc::numeric, 4) auc,
                   round(live_brier::numeric, 4) brier, round(train_hit_rate::numeric, 3) tr_hit,
                   round(live_hit_rate::numeric, 3) hit, round(train_pnl::numeric, 4) tr_pnl, round(live_pnl::numeric, 4) pnl,
                   live_trades trades, coverage_q q, round(train_coverage::numeric, 3) tr_cov, round(live_coverage::numeric, 3) cov,
                   round(train_autocorr_spread::numeric, 3) tr_ac, round(live_autocorr_spread::numeric, 3) ac, last_labelled
            FROM fsmml.model_health WHERE symbol = '$S' ORDER BY kind" | sed 's/^/# /'

out=$("$PY" "$ROOT/test/model_health_check.py" $S 1h 2>&1)
echo "$out" | grep -E '^(ok|not ok|#)'
failures=$((failures + $(grep -c '^not ok' <<<"$out")))

health() { q "SELECT $2 FROM fsmml.model_health WHERE symbol = '$S' AND kind = '$1'"; }
check "every kind has live rows from the new bars" \
    [ "$(q "SELECT count(*) FROM fsmml.model_health WHERE symbol = '$S' AND live_rows > 0")" = 6 ]
check "direction: AUC, Brier and hit rate in range; PnL and trades present" \
    [ "$(health direction "live_auc BETWEEN 0 AND 1 AND live_brier BETWEEN 0 AND 1 AND live_hit_rate BETWEEN 0 AND 1
                            AND live_pnl IS NOT NULL AND live_trades > 0")" = t ]
check "direction: only labelled predictions count (the last 3 bars' labels are unknown)" \
    [ "$(q "SELECT h.live_rows = count(*) - 3 AND h.last_labelled = max(p.\"timestamp\") - interval '3 hours'
            FROM fsmml.model_health h JOIN trading.agentpreds p ON p.agent_version_id = h.version_id
            WHERE h.symbol = '$S' AND h.kind = 'direction' GROUP BY h.live_rows, h.last_labelled")" = t ]
check "direction: the live PnL uses the hold-out backtest's thresholds (0.55 / 0.45): fewer trades than rows" \
    [ "$(health direction "live_trades < live_rows")" = t ]
cov=$(health volatility live_coverage); tcov=$(health volatility train_coverage)
check "volatility: live coverage of q = 0.9 ($cov) within 0.08 of 0.9 and of the hold-out's ($tcov)" \
    [ "$(health volatility "abs(live_coverage - coverage_q) < 0.08 AND abs(live_coverage - train_coverage) < 0.08 AND coverage_q = 0.9")" = t ]
check "volatility: labels over its horizon (10 bars): the last 10 predictions not yet counted" \
    [ "$(q "SELECT h.live_rows = count(*) - 10 FROM fsmml.model_health h JOIN trading.agentpreds p ON p.agent_version_id = h.version_id
            WHERE h.symbol = '$S' AND h.kind = 'volatility' GROUP BY h.live_rows")" = t ]
check "execution and ensemble: PnL, hit rate and trades of their signals" \
    [ "$(q "SELECT count(*) FROM fsmml.model_health WHERE symbol = '$S' AND kind IN ('execution', 'ensemble')
            AND live_pnl IS NOT NULL AND live_hit_rate BETWEEN 0 AND 1 AND live_trades >= 0")" = 2 ]
check "state: next-state hit rate in range, beside its hold-out accuracy" \
    [ "$(health state "live_hit_rate BETWEEN 0 AND 1 AND train_hit_rate BETWEEN 0 AND 1")" = t ]
check "regime: live autocorrelation spread beside the hold-out's" \
    [ "$(health regime "live_autocorr_spread BETWEEN -2 AND 2 AND train_autocorr_spread IS NOT NULL")" = t ]
check "only champions: a challenger gets no row" \
    [ "$(q "SELECT count(*) FROM fsmml.model_health h JOIN trading.agentversions v ON v.id = h.version_id
            WHERE v.status <> 'champion'")" = 0 ]
finish
