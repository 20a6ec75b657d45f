#!/usr/bin/env bash
# agents.sh — the whole agent set on regime-switching bars: every agent trains and registers,
# metrics are present and plausible (RegimeKMeans' trend autocorrelation above mean_revert's,
# VolQuantile's 0.9 coverage within 3 points, StateFSM above its majority baseline), inertia no
# worse than scikit-learn's KMeans, pinball loss no worse than statsmodels' QuantReg, payload shapes,
# promotion per kind, fsmml_score's signals (references, the ensemble rule), idempotent re-run.
. "$(dirname "$0")/../lib.sh"
set -u
S=AG
if [ -f "$SHARED/bench/gen_bars.py" ]; then
    load_gen_bars $S --tf 1h --bars 20000 --seed 5
else
    echo "# $SHARED/bench/gen_bars.py not found: the same kind of regime-switching bars made here"
    "$PY" - <<'PYEOF' | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
import sys
import numpy as np
n, rng = 20000, np.random.default_rng(5)
reg = np.empty(n, dtype=int); r = 0
sw, nx = rng.random(n), rng.integers(0, 3, n)
for i in range(n):
    if sw[i] > 0.997: r = nx[i]
    reg[i] = r
phi = np.array([0.15, -0.15, 0.0])[reg]; sig = np.array([0.0008, 0.0006, 0.0012])[reg]
eps = rng.standard_t(5, n) / np.sqrt(5 / 3); ret = np.empty(n); prev = 0.0
for i in range(n):
    prev = phi[i] * prev + sig[i] * eps[i]; ret[i] = prev
close = 42000 * np.exp(np.cumsum(ret)); open_ = np.concatenate(([42000.0], close[:-1]))
wick = np.abs(rng.normal(0, 1, (2, n))) * sig * close * 0.6
high, low = np.maximum(open_, close) + wick[0], np.minimum(open_, close) - wick[1]
vol = rng.lognormal(3.0, 0.5, n) * (1 + 200 * np.abs(ret))
ts = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[h]")
w = sys.stdout.write
w("symbol,timeframe,ts,open,high,low,close,volume\n")
for i in range(n):
    w(f"AG,1h,{ts[i]}:00Z,{open_[i]:.8g},{high[i]:.8g},{low[i]:.8g},{close[i]:.8g},{vol[i]:.8g}\n")
PYEOF
fi

train() { q "SELECT status FROM fsmml_train('$1', '$S', '1h', '${2:-{\}}')" 2>&1 | grep -v '^NOTICE\|^DETAIL\|^HINT'; }
metric() { q "SELECT metrics #>> '{$2}' FROM trading.agentversions WHERE agent = '$1' AND symbol = '$S' ORDER BY id DESC LIMIT 1"; }

check "DirectionXGB trains" [ "$(train DirectionXGB '{"folds": 2}')" = champion ]
check "RegimeKMeans trains" [ "$(train RegimeKMeans)" = champion ]
check "VolQuantile trains" [ "$(train VolQuantile)" = champion ]
check "StateFSM trains" [ "$(train StateFSM)" = champion ]
check "ExecRules trains" [ "$(train ExecRules)" = champion ]
check "EnsembleWeighted trains" [ "$(train EnsembleWeighted)" = champion ]

# DirectionXGB's backtest trades the ExecRules decision (0.55 / 0.45).
check "DirectionXGB's backtest uses thresholds 0.55 / 0.45" \
    [ "$(metric DirectionXGB holdout,backtest,long_threshold)/$(metric DirectionXGB holdout,backtest,short_threshold)" = "0.55/0.45" ]
check "DirectionXGB trades less than whenever prob_up != 0.5 (exposure < 0.9)" \
    [ "$(echo "$(metric DirectionXGB holdout,backtest,exposure) < 0.9" | bc -l)" = 1 ]

# RegimeKMeans: metrics and the regimes' meaning.
for k in inertia silhouette holdout,regimes,trend,share holdout,regimes,chop,fwd_ret_vol holdout,regimes,mean_revert,fwd_ret_mean; do
    check "RegimeKMeans metric $k present" [ -n "$(metric RegimeKMeans $k)" ]
done
ta=$(metric RegimeKMeans holdout,regimes,trend,autocorr); ma=$(metric RegimeKMeans holdout,regimes,mean_revert,autocorr)
check "hold-out autocorrelation: trend ($ta) above mean_revert ($ma)" [ "$(echo "$ta > $ma" | bc -l)" = 1 ]
sil=$(metric RegimeKMeans silhouette)
check "silhouette $sil in (0, 1]" [ "$(echo "$sil > 0 && $sil <= 1" | bc -l)" = 1 ]

# Inertia no worse than scikit-learn's KMeans (same k, restarts) on the same standardised matrix.
q "SELECT array_to_string(feature_names, ','), train_from, train_to, metrics->>'inertia', params->>'k', params->>'n_init'
   FROM trading.agentversions WHERE agent = 'RegimeKMeans' AND symbol = '$S'" >"$FSMML_TEST_DIR/km.txt"
IFS='|' read -r feats tfrom tto inertia k ninit <"$FSMML_TEST_DIR/km.txt"
psql -X -At -F, -c "SELECT $feats FROM fsmml_features('$S', '1h', '-infinity')
                    WHERE \"timestamp\" BETWEEN '$tfrom' AND '$tto'" >"$FSMML_TEST_DIR/km.csv"
verdict=$("$PY" - "$FSMML_TEST_DIR/km.csv" "$inertia" "$k" "$ninit" <<'PYEOF'
import sys
import numpy as np
from sklearn.cluster import KMeans
rows = [l.strip().split(",") for l in open(sys.argv[1]) if l.strip()]
X = np.array([[float(v) for v in r] for r in rows if all(v != "" for v in r)], dtype=np.float32).astype(float)
Z = (X - X.mean(0)) / X.std(0, ddof=1)
km = KMeans(n_clusters=int(sys.argv[3]), n_init=int(sys.argv[4]), random_state=0).fit(Z)
ours = float(sys.argv[2])
print(f"{len(X)} rows: fsmml {ours:.6f} sklearn {km.inertia_:.6f}", "ok" if ours <= km.inertia_ * (1 + 1e-9) else "worse")
PYEOF
)
echo "# inertia: $verdict"
check "RegimeKMeans inertia no worse than scikit-learn's" [ "${verdict##* }" = ok ]

# VolQuantile: coverage and the linear quantile regression.
cov=$(q "SELECT x->>'coverage' FROM trading.agentversions v, jsonb_array_elements(v.metrics->'holdout'->'quantiles') x
         WHERE agent = 'VolQuantile' AND symbol = '$S' AND (x->>'q')::float8 = 0.9")
check "VolQuantile q=0.9 hold-out coverage $cov within 0.87..0.93" [ "$(echo "$cov >= 0.87 && $cov <= 0.93" | bc -l)" = 1 ]
q "SELECT array_to_string(feature_names, ','), train_from, train_to, test_from, test_to, params->>'horizon',
          (SELECT string_agg((x->>'q') || ':' || (x->>'pinball'), ' ') FROM jsonb_array_elements(metrics->'holdout'->'quantiles') x)
   FROM trading.agentversions WHERE agent = 'VolQuantile' AND symbol = '$S'" >"$FSMML_TEST_DIR/vq.txt"
IFS='|' read -r feats tfrom tto hfrom hto H pins <"$FSMML_TEST_DIR/vq.txt"
psql -X -At -F, -c "SELECT 0, abs(lead(h.close, $H) OVER (ORDER BY h.\"timestamp\") / h.close - 1), $feats
                    FROM trading.historicaldata h JOIN fsmml_features('$S', '1h', '-infinity') f USING (\"timestamp\")
                    WHERE h.symbol = '$S' AND h.timeframe = '1h' ORDER BY h.\"timestamp\"" >"$FSMML_TEST_DIR/vq.csv"
psql -X -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND \"timestamp\" < '$hfrom'" >"$FSMML_TEST_DIR/vq_ho.txt"
psql -X -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND \"timestamp\" < '$tfrom'" >"$FSMML_TEST_DIR/vq_skip.txt"
psql -X -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND \"timestamp\" <= '$hto'" >"$FSMML_TEST_DIR/vq_end.txt"
psql -X -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND \"timestamp\" <= '$tto'" >"$FSMML_TEST_DIR/vq_dev.txt"
verdict=$("$PY" - "$FSMML_TEST_DIR" "$pins" <<'PYEOF'
import sys
import warnings
import numpy as np
import statsmodels.api as sm
d = sys.argv[1]
skip, end, dev, ho = (int(open(f"{d}/vq_{n}.txt").read()) for n in ("skip", "end", "dev", "ho"))
rows = [l.rstrip("\n").split(",") for l in open(f"{d}/vq.csv")]
def block(a, b):
    out = [r for r in rows[a:b] if all(v != "" for v in r[1:])]
    y = np.array([float(r[1]) for r in out])
    X = np.array([[float(v) for v in r[2:]] for r in out], dtype=np.float32).astype(float)
    return sm.add_constant(X, has_constant="add"), y
Xtr, ytr = block(skip, dev)
Xho, yho = block(ho, end)
ours_all, lin_all = [], []
for item in sys.argv[2].split():
    q, ours = (float(v) for v in item.split(":"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.QuantReg(ytr, Xtr).fit(q=q, max_iter=5000)
    r = yho - fit.predict(Xho)
    lin = float(np.mean(np.where(r >= 0, q * r, (q - 1) * r)))
    print(f"q={q}: fsmml {ours:.6g} QuantReg {lin:.6g} ({len(ytr)} train, {len(yho)} hold-out rows)",
          "ok" if ours <= lin * (1 + 1e-9) else "worse")
    ours_all.append(ours); lin_all.append(lin)
# the promotion metric: pinball loss averaged over the quantiles
o, l = np.mean(ours_all), np.mean(lin_all)
print(f"mean fsmml {o:.6g} QuantReg {l:.6g}", "ok" if o <= l * (1 + 1e-9) else "worse")
PYEOF
)
echo "$verdict" | sed 's/^/# pinball: /'
check "VolQuantile mean pinball loss no worse than statsmodels QuantReg's" [ "$(echo "$verdict" | tail -1 | awk '{print $NF}')" = ok ]
for qq in $(echo "$pins" | tr ' ' '\n' | cut -d: -f1); do
    check "VolQuantile pinball loss at q=$qq no worse than statsmodels QuantReg's" \
        [ "$(echo "$verdict" | grep "^q=$qq:" | awk '{print $NF}')" = ok ]
done
check "VolQuantile compared at 2 quantiles" [ "$(echo "$verdict" | grep -c '^q=')" = 2 ]

# StateFSM: the classifier beats the majority class.
acc=$(metric StateFSM holdout,accuracy); base=$(metric StateFSM holdout,baseline_accuracy)
check "StateFSM next-state accuracy $acc above the majority baseline $base" [ "$(echo "$acc > $base" | bc -l)" = 1 ]
check "StateFSM per-state F1 present" [ "$(q "SELECT count(*) FROM trading.agentversions v, jsonb_object_keys(v.metrics->'holdout'->'f1')
                                            WHERE agent = 'StateFSM' AND symbol = '$S'")" = 7 ]

# Scoring: five predictions and one signal per bar, payloads of the documented shape.
q "SELECT fsmml_score('$S', '1h', '2025-06-01', 'infinity')" >/dev/null 2>&1
nbars=$(q "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND \"timestamp\" >= '2025-06-01'")
shape() {   # agent, jsonb condition on payload p
    q "SELECT count(*) FILTER (WHERE NOT ($2)) || '/' || count(*) FROM trading.agentpreds ap
       JOIN trading.agentversions v ON v.id = ap.agent_version_id, LATERAL (SELECT ap.payload AS p) x
       WHERE v.agent = '$1' AND ap.symbol = '$S'"
}
check "DirectionXGB payloads {prob_up}" [ "$(shape DirectionXGB "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) = '{prob_up}' AND (p->>'prob_up')::float8 BETWEEN 0 AND 1")" = "0/$nbars" ]
check "RegimeKMeans payloads {regime, gate, cluster}, gate false only in chop" \
    [ "$(shape RegimeKMeans "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) = '{cluster,gate,regime}' AND p->>'regime' IN ('trend','mean_revert','chop') AND (p->>'gate')::bool = (p->>'regime' <> 'chop')")" = "0/$nbars" ]
check "VolQuantile payloads {sigma, sl, tp, sl_atr, tp_atr}, positive" \
    [ "$(shape VolQuantile "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) = '{sigma,sl,sl_atr,tp,tp_atr}' AND (p->>'sigma')::float8 > 0 AND (p->>'sl')::float8 > 0")" = "0/$nbars" ]
check "StateFSM payloads {state, confidence, next_state, metrics{6}}" \
    [ "$(shape StateFSM "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) = '{confidence,metrics,next_state,state}' AND (p->>'confidence')::float8 BETWEEN 0 AND 100 AND (SELECT count(*) FROM jsonb_object_keys(p->'metrics')) = 6")" = "0/$nbars" ]
check "ExecRules payloads {side, size, sl, tp, meta{thresholds, gate, why}}" \
    [ "$(shape ExecRules "(SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) = '{meta,side,size,sl,tp}' AND (p->>'side')::int IN (-1,0,1) AND p->'meta' ?& array['thresholds','gate','why'] AND ((p->>'side')::int = 0 OR (p->>'size')::float8 > 0)")" = "0/$nbars" ]
check "one signal per bar" [ "$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S'")" = "$nbars" ]
check "every signal references existing versions (ensemble and five agents)" [ "$(q "
    SELECT count(*) FROM trading.agentsignals s WHERE symbol = '$S' AND (
      NOT EXISTS (SELECT 1 FROM trading.agentversions v WHERE v.id = s.ensemble_version_id AND v.agent = 'EnsembleWeighted')
      OR cardinality(s.agent_version_ids) <> 5
      OR EXISTS (SELECT 1 FROM unnest(s.agent_version_ids) i WHERE NOT EXISTS (SELECT 1 FROM trading.agentversions v WHERE v.id = i)))")" = 0 ]
# The ensemble rule recomputed from the stored payloads (weights 1, 0.5, 1, gate damping 0.5).
check "every signal's strength and side follow the documented weights" [ "$(q "
    WITH p AS (
      SELECT s.\"timestamp\", s.side, s.strength,
        max((ap.payload->>'prob_up')::float8) AS prob,
        max(CASE ap.payload->>'state' WHEN 'trend_up' THEN 1 WHEN 'trend_down' THEN -1 ELSE 0 END
            * (ap.payload->>'confidence')::float8 / 100) FILTER (WHERE ap.payload ? 'state') AS sv,
        max((ap.payload->>'side')::int) FILTER (WHERE ap.payload ? 'meta') AS ex,
        bool_or(NOT (ap.payload->>'gate')::bool) FILTER (WHERE ap.payload ? 'regime') AS closed
      FROM trading.agentsignals s JOIN trading.agentpreds ap
        ON ap.symbol = s.symbol AND ap.timeframe = s.timeframe AND ap.\"timestamp\" = s.\"timestamp\"
      WHERE s.symbol = '$S' GROUP BY 1, 2, 3),
    e AS (SELECT *, (2 * (prob - 0.5) + 0.5 * coalesce(sv, 0) + ex) / (CASE WHEN sv IS NULL THEN 2 ELSE 2.5 END)
                    * CASE WHEN closed THEN 0.5 ELSE 1 END AS score FROM p)
    SELECT count(*) FILTER (WHERE abs(strength - abs(score)) > 1e-5
                              OR side <> CASE WHEN abs(score) >= 0.1 THEN sign(score) ELSE 0 END) || '/' || count(*) FROM e")" = "0/$nbars" ]
check "state_history has a row per scored bar" [ "$(q "SELECT count(*) FROM trading.state_history WHERE symbol = '$S'")" = "$nbars" ]
check "transitions are exactly the state changes of state_history" [ "$(q "
    WITH h AS (SELECT \"timestamp\", state, lag(state) OVER (ORDER BY \"timestamp\") AS prev FROM trading.state_history WHERE symbol = '$S')
    SELECT (SELECT count(*) FROM h WHERE prev IS NOT NULL AND prev <> state) = (SELECT count(*) FROM trading.transitions WHERE symbol = '$S'
            AND \"timestamp\" > (SELECT min(\"timestamp\") FROM trading.state_history WHERE symbol = '$S'))")" = t ]
check "fsmml_state_distribution shares sum to 1" [ "$(q "SELECT round(sum(share)::numeric, 9) FROM fsmml_state_distribution('$S', '1h', 3650)")" = 1.000000000 ]
check "fsmml_transition_matrix rows sum to 1" [ "$(q "SELECT bool_and(s = 1) FROM (SELECT round(sum(probability)::numeric, 9) s FROM fsmml_transition_matrix('$S', '1h', 3650) GROUP BY from_state) x")" = t ]

# A re-run writes nothing: no row version made by its transaction anywhere.
check "fsmml_score re-run is idempotent (no new row versions)" [ "$(psql -X -At -q -v ON_ERROR_STOP=1 <<SQL | tail -1
BEGIN;
SELECT fsmml_score('$S', '1h', '2025-06-01', 'infinity') > 0;
SELECT (SELECT count(*) FROM trading.agentpreds WHERE xmin = pg_current_xact_id()::xid)
     + (SELECT count(*) FROM trading.agentsignals WHERE xmin = pg_current_xact_id()::xid)
     + (SELECT count(*) FROM trading.state_history WHERE xmin = pg_current_xact_id()::xid)
     + (SELECT count(*) FROM trading.transitions WHERE xmin = pg_current_xact_id()::xid);
COMMIT;
SQL
)" = 0 ]

# Payloads are laid out as jsonb_in would lay them out (keys sorted, numbers as parsed).
check "every agentpreds and agentsignals payload equals its text read back as jsonb" [ "$(q "
    SELECT count(*) FILTER (WHERE payload <> payload::text::jsonb OR payload::text <> payload::text::jsonb::text)
           || '/' || count(*)
    FROM (SELECT payload FROM trading.agentpreds WHERE symbol = '$S'
          UNION ALL SELECT payload FROM trading.agentsignals WHERE symbol = '$S') x")" = "0/$(q "
    SELECT (SELECT count(*) FROM trading.agentpreds WHERE symbol = '$S') + (SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S')")" ]

# Changed rows are rewritten (and only they); rows missing are written again, with the table's
# AFTER ROW INSERT trigger fired for each as INSERT fires it.
snap() { q "SELECT md5(string_agg(s::text, ',' ORDER BY \"timestamp\")) FROM (SELECT \"timestamp\", side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids FROM trading.agentsignals WHERE symbol = '$S') s" ; }
ssnap() { q "SELECT md5(string_agg(s::text, ',' ORDER BY \"timestamp\")) FROM (SELECT \"timestamp\", state, confidence, effort, result, compression, slope, speed, feat_score, agent_version_id FROM trading.state_history WHERE symbol = '$S') s" ; }
tsnap() { q "SELECT md5(string_agg(s::text, ',' ORDER BY \"timestamp\")) FROM (SELECT \"timestamp\", from_state, to_state, confidence, reason, agent_version_id FROM trading.transitions WHERE symbol = '$S') s" ; }
sig0=$(snap); st0=$(ssnap); tr0=$(tsnap)
q "UPDATE trading.agentsignals SET strength = strength / 2 + 0.01, payload = '{}' WHERE symbol = '$S' AND \"timestamp\" IN (SELECT \"timestamp\" FROM trading.agentsignals WHERE symbol = '$S' ORDER BY \"timestamp\" DESC LIMIT 7)" >/dev/null
q "UPDATE trading.state_history SET confidence = 0 WHERE symbol = '$S' AND \"timestamp\" IN (SELECT \"timestamp\" FROM trading.state_history WHERE symbol = '$S' ORDER BY \"timestamp\" DESC LIMIT 5)" >/dev/null
q "DELETE FROM trading.transitions WHERE symbol = '$S' AND \"timestamp\" IN (SELECT \"timestamp\" FROM trading.transitions WHERE symbol = '$S' ORDER BY \"timestamp\" DESC LIMIT 3)" >/dev/null
q "CREATE TABLE sig_seen (n int); CREATE FUNCTION sig_seen() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS \$\$BEGIN INSERT INTO sig_seen VALUES (1); RETURN NULL; END\$\$;
   CREATE TRIGGER sig_seen AFTER INSERT ON trading.agentsignals FOR EACH ROW EXECUTE FUNCTION sig_seen()" >/dev/null
q "DELETE FROM trading.agentsignals WHERE symbol = '$S' AND \"timestamp\" IN (SELECT \"timestamp\" FROM trading.agentsignals WHERE symbol = '$S' ORDER BY \"timestamp\" LIMIT 4)" >/dev/null
written=$(psql -X -At -q -v ON_ERROR_STOP=1 <<SQL | tail -1
BEGIN;
SELECT fsmml_score('$S', '1h', '2025-06-01', 'infinity') > 0;
SELECT (SELECT count(*) FROM trading.agentsignals WHERE xmin = pg_current_xact_id()::xid) || '/'
    || (SELECT count(*) FROM trading.state_history WHERE xmin = pg_current_xact_id()::xid) || '/'
    || (SELECT count(*) FROM trading.transitions WHERE xmin = pg_current_xact_id()::xid);
COMMIT;
SQL
)
check "a re-run rewrites exactly the 4 + 7 signals, 5 states and 3 transitions changed or removed ($written)" [ "$written" = 11/5/3 ]
check "... and they are as computed before" [ "$(snap) $(ssnap) $(tsnap)" = "$sig0 $st0 $tr0" ]
check "... the 4 missing signals inserted, its AFTER INSERT trigger fired for each (the 7 changed are updates)" [ "$(q "SELECT count(*) FROM sig_seen")" = 4 ]
q "DROP TRIGGER sig_seen ON trading.agentsignals; DROP FUNCTION sig_seen(); DROP TABLE sig_seen" >/dev/null

# Promotion per kind.
check "a worse VolQuantile (1 round) stays challenger" [ "$(train VolQuantile '{"rounds": 1}')" = challenger ]
check "its decision names holdout.pinball_mean" [ "$(q "SELECT reason ~ 'holdout.pinball_mean' FROM fsmml.promotions WHERE agent = 'VolQuantile' ORDER BY id DESC LIMIT 1")" = t ]
check "a retrained RegimeKMeans with the same data is not better: kept" [ "$(train RegimeKMeans)" = challenger ]
check "a new ExecRules version is promoted (newest wins)" [ "$(train ExecRules '{"long_threshold": 0.6, "short_threshold": 0.4}')" = champion ]
check "StateFSM's promotion metric is holdout.macro_f1" [ "$(train StateFSM '{"rounds": 1}') $(q "SELECT reason ~ 'holdout.macro_f1' FROM fsmml.promotions WHERE agent = 'StateFSM' ORDER BY id DESC LIMIT 1")" != "" ]

# With no direction champion the side is 0 and the signal says what was missing.
q "UPDATE trading.agentversions SET status = 'retired' WHERE agent = 'DirectionXGB' AND symbol = '$S'" >/dev/null
q "SELECT fsmml_score('$S', '1h', '2026-01-01', 'infinity')" >/dev/null 2>&1
check "no direction champion: every signal flat, missing names DirectionXGB" [ "$(q "
    SELECT count(*) FILTER (WHERE side <> 0 OR NOT payload->'missing' ? 'DirectionXGB') FROM trading.agentsignals
    WHERE symbol = '$S' AND \"timestamp\" >= '2026-01-01'")" = 0 ]
finish
