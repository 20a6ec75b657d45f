#!/usr/bin/env bash
# default_features.sh — fsmml_train with default parameters on desks' data:
#   - EURUSD-like 1h bars at :00 with zero volume train; the volume features
#     (NULL on every row) are left out with a NOTICE naming them;
#   - forex daily bars at 22:00/21:00 UTC (zero volume) and New York daily
#     bars at 05:00/04:00 UTC train with the per-timeframe default look-back
#     (3,650 bars on 1d, recorded in the version's params);
#   - a 3,000-bar 1m series trains; the d1_* and long h4_* snapshots are left
#     out (d1_ret_1 is NULL on 96 % of the window), short ones are kept.
# Data are deterministic SQL series (no ../shared needed).  "Defaults": look-back,
# feature choice, folds and split as shipped; only rounds and threads are lowered.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fsmml-defaults.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# series SYMBOL TF N STAMP_EXPR VOLUME_EXPR [WHERE]: N bars, closes a sum of sines.
series() {
    q "INSERT INTO trading.historicaldata
       SELECT '$1', '$2', $4, c0, greatest(c0, c1) * 1.0006, least(c0, c1) * 0.9994, c1, $5
       FROM (SELECT i, 1.1 * (1 + 0.02 * sin(i / 23.0) + 0.01 * sin(i / 7.0) + 0.004 * sin(i * 1.7)
                                + 0.003 * sin(i * i * 0.37)) AS c1,
                       1.1 * (1 + 0.02 * sin((i - 1) / 23.0) + 0.01 * sin((i - 1) / 7.0)
                                + 0.004 * sin((i - 1) * 1.7) + 0.003 * sin((i - 1) * (i - 1) * 0.37)) AS c0
             FROM generate_series(0, $3 - 1) AS i) s ${6:-}" >/dev/null
}
# train SYMBOL TF: default look-back, feature choice, folds and split; fewer rounds
# and one thread only to keep the test short on a shared machine.
# Version id on stdout, NOTICEs in $WORK/SYMBOL.notice.
QUICK='{"rounds": 30, "xgb": {"nthread": 1}}'
train() {
    psql -X -At -v ON_ERROR_STOP=1 \
        -c "SELECT version_id FROM fsmml_train('DirectionXGB', '$1', '$2', '$QUICK')" 2>"$WORK/$1.notice"
}
features_of() { q "SELECT array_to_string(feature_names, ' ') FROM trading.agentversions WHERE id = $1"; }
has_word() { [[ " $1 " == *" $2 "* ]]; }

# --- EURUSD 1h at :00, zero volume
series EURUSD 1h 3000 "'2024-01-01 00:00+00'::timestamptz + i * interval '1 hour'" 0
vid=$(train EURUSD 1h)
check "1h zero-volume series trains with defaults" test -n "$vid"
[ -n "$vid" ] || cat "$WORK/EURUSD.notice"
notice=$(cat "$WORK/EURUSD.notice")
vol_out=1
for f in vol_z_20 vol_ratio_20 vol_trend_10 pv_corr_10 effort feat_score; do
    [[ $notice == *"$f (100%)"* ]] || { echo "# NOTICE does not name $f (100%)"; vol_out=0; }
done
check "NOTICE names the six volume-dependent features, NULL on 100% of the window" test "$vol_out" -eq 1
feats=$(features_of "${vid:-0}")
kept=1
for f in vol_z_20 vol_ratio_20 vol_trend_10 pv_corr_10 effort feat_score; do
    has_word "$feats" "$f" && kept=0
done
for f in ret_1 rsi_14 atr_14 h4_ret_1 d1_ret_1 d1_rsi_14; do
    has_word "$feats" "$f" || { echo "# $f missing from the model"; kept=0; }
done
check "1h model: volume features left out, price features and h4/d1 snapshots kept ($(wc -w <<<"$feats") features)" test "$kept" -eq 1
check "1h default look-back is 17,520 bars and nearly every row is used" \
    test "$(q "SELECT params->>'lookback' || ' ' || ((metrics->'rows'->>'used')::int > 2400)::text
               FROM trading.agentversions WHERE id = ${vid:-0}")" = "17520 true"

# --- forex daily at 17:00 New York (22:00 / 21:00 UTC), Sunday..Thursday, zero volume
series FXD 1d 2400 "(('2018-01-07'::date + i) + time '17:00') AT TIME ZONE 'America/New_York'" 0 \
    "WHERE extract(dow FROM '2018-01-07'::date + i) BETWEEN 0 AND 4"
check "forex daily stamps at 21:00 and 22:00 UTC" \
    test "$(q "SELECT string_agg(DISTINCT to_char(\"timestamp\" AT TIME ZONE 'UTC', 'HH24:MI'), ',') FROM trading.historicaldata WHERE symbol = 'FXD'")" = "21:00,22:00"
vid=$(train FXD 1d)
check "forex daily zero-volume series trains with defaults" test -n "$vid"
[ -n "$vid" ] || cat "$WORK/FXD.notice"
check "forex daily: look-back 3,650 bars (all $(q "SELECT count(*) FROM trading.historicaldata WHERE symbol = 'FXD'") bars), no volume feature in the model" \
    test "$(q "SELECT params->>'lookback' || ' ' || (metrics->'rows'->>'bars') || ' ' ||
                      (NOT (feature_names && ARRAY['vol_z_20', 'vol_ratio_20', 'effort', 'feat_score']))::text
               FROM trading.agentversions WHERE id = ${vid:-0}")" = "3650 1715 true"

# --- New York daily at local midnight (05:00 / 04:00 UTC), with volume
series NYD 1d 1500 "('2020-01-01'::date + i)::timestamp AT TIME ZONE 'America/New_York'" "1000 + (i * 7919 % 97)"
vid=$(train NYD 1d)
check "New York daily series (DST stamps) trains with defaults" test -n "$vid"
[ -n "$vid" ] || cat "$WORK/NYD.notice"
check "New York daily: look-back 3,650 bars, every feature defined on 1d kept (38)" \
    test "$(q "SELECT params->>'lookback' || ' ' || cardinality(feature_names) FROM trading.agentversions WHERE id = ${vid:-0}")" = "3650 38"

# --- 3,000 1m bars: the long snapshots cannot warm up
series SHORT1M 1m 3000 "'2024-03-01 00:00+00'::timestamptz + i * interval '1 minute'" "10 + (i * 7919 % 97)"
vid=$(train SHORT1M 1m)
check "3,000-bar 1m series trains with defaults" test -n "$vid"
[ -n "$vid" ] || cat "$WORK/SHORT1M.notice"
notice=$(cat "$WORK/SHORT1M.notice")
out=1
for f in "d1_rsi_14 (100%)" "d1_ema20_slope (100%)" "d1_ret_1 (96%)" "d1_atr_14 (100%)" \
         "h4_rsi_14 (100%)" "h4_ema20_slope (100%)" "h4_atr_14 (100%)"; do
    [[ $notice == *"$f"* ]] || { echo "# NOTICE does not name $f"; out=0; }
done
check "NOTICE names d1_* and the long h4 snapshots with their NULL share" test "$out" -eq 1
feats=$(features_of "${vid:-0}")
kept=1
for f in d1_rsi_14 d1_ema20_slope d1_ret_1 d1_atr_14 h4_rsi_14 h4_ema20_slope h4_atr_14; do
    has_word "$feats" "$f" && kept=0
done
for f in h4_ret_1 h1_ema20_slope h1_rsi_14 m15_rsi_14 vol_z_20 feat_score; do
    has_word "$feats" "$f" || { echo "# $f missing from the model"; kept=0; }
done
check "1m model: 51 features, without d1_* and the long h4 snapshots" \
    test "$kept" -eq 1 -a "$(wc -w <<<"$feats")" -eq 51

finish
