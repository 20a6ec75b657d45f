#!/usr/bin/env bash
# agents_errors.sh — the agent set's bad input: each is an ERROR with a SQLSTATE and a hint, and
# nothing is half-written (no version, prediction, signal or state row appears).
. "$(dirname "$0")/../lib.sh"
set -u
S=ERR
"$PY" - <<'PYEOF' | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
import sys
import numpy as np
n, rng = 3000, np.random.default_rng(3)
ret = rng.standard_t(5, n) * 0.004
close = 100 * np.exp(np.cumsum(ret)); open_ = np.concatenate(([100.0], close[:-1]))
wick = np.abs(rng.normal(0, 1, (2, n))) * 0.002 * close
high, low = np.maximum(open_, close) + wick[0], np.minimum(open_, close) - wick[1]
vol = rng.lognormal(3.0, 0.5, n)
ts = np.datetime64("2024-01-01T00:00") + np.arange(n).astype("timedelta64[h]")
sys.stdout.write("symbol,timeframe,ts,open,high,low,close,volume\n")
for i in range(n):
    sys.stdout.write(f"ERR,1h,{ts[i]}:00Z,{open_[i]:.8g},{high[i]:.8g},{low[i]:.8g},{close[i]:.8g},{vol[i]:.8g}\n")
PYEOF

rows() { q "SELECT (SELECT count(*) FROM trading.agentversions) || '/' || (SELECT count(*) FROM trading.agentpreds)
            || '/' || (SELECT count(*) FROM trading.agentsignals) || '/' || (SELECT count(*) FROM trading.state_history)"; }
# refused "name" "SQL" "message regex": an ERROR with a SQLSTATE, the message and a HINT; nothing written
refused() {
    local before out after
    before=$(rows)
    out=$(psql -X -At -v VERBOSITY=verbose -c "$2" 2>&1)
    after=$(rows)
    if grep -qE "^ERROR:  [0-9A-Z]{5}: .*$3" <<<"$out" && grep -q '^HINT:' <<<"$out" && [ "$before" = "$after" ]; then
        ok "$1"
    else
        not_ok "$1"; echo "$out" | sed 's/^/#   /'; echo "#   rows $before -> $after"
    fi
}
train() { echo "SELECT * FROM fsmml_train('$1', '$S', '1h', '$2')"; }

refused "unknown agent" "$(train NoSuchAgent '{}')" 'unknown agent "NoSuchAgent"'
refused "unknown parameter" "$(train RegimeKMeans '{"kk": 3}')" 'unknown RegimeKMeans parameter "kk"'
refused "k < 2" "$(train RegimeKMeans '{"k": 1}')" 'params.k must be an integer from 2'
refused "more clusters than rows" "$(train RegimeKMeans '{"k": 40, "lookback": 60, "features": ["rsi_14"]}')" 'params.k = 40 clusters but only [0-9]+ training rows'
refused "a quantile outside (0, 1)" "$(train VolQuantile '{"quantiles": [0.5, 1.5]}')" 'params.quantiles: 1.5 is outside \(0, 1\)'
refused "quantiles unsorted" "$(train VolQuantile '{"quantiles": [0.9, 0.5]}')" 'params.quantiles must be sorted'
refused "quantiles without the median" "$(train VolQuantile '{"quantiles": [0.1, 0.9]}')" 'params.quantiles must include 0.5'
refused "thresholds long < short" "$(train ExecRules '{"long_threshold": 0.4, "short_threshold": 0.45}')" 'long_threshold 0.4 must be above short_threshold 0.45'
refused "thresholds long = short" "$(train ExecRules '{"long_threshold": 0.5, "short_threshold": 0.5}')" 'must be above short_threshold'
refused "a negative weight" "$(train EnsembleWeighted '{"weights": {"state": -0.5}}')" 'weights must not be negative'
refused "all-zero weights" "$(train EnsembleWeighted '{"weights": {"direction": 0, "state": 0, "execution": 0}}')" 'weights are all zero'
refused "an unknown weight" "$(train EnsembleWeighted '{"weights": {"volume": 1}}')" 'unknown weight "volume"'

# A calibration whose JSON lacks a key: ExecRules, DirectionXGB's backtest and StateFSM refuse it.
q "INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, is_active)
   VALUES ('$S', '1h', 'manual', '{\"long_threshold\": 0.6}', true)" >/dev/null
refused "calibration without short_threshold (ExecRules)" "$(train ExecRules '{}')" 'lacks a number for key "short_threshold"'
refused "calibration without short_threshold (DirectionXGB)" "$(train DirectionXGB '{"folds": 2}')" 'lacks a number for key "short_threshold"'
q "UPDATE trading.calibrations SET thresholds = '{\"effort_p20\": 0.5, \"effort_p80\": 1.5}' WHERE symbol = '$S'" >/dev/null
refused "calibration without result_p20 (StateFSM)" "$(train StateFSM '{}')" 'lacks a number for key "result_p20"'
q "UPDATE trading.calibrations SET is_active = false WHERE symbol = '$S'" >/dev/null

# A champion whose features no longer exist: scoring refuses it and writes nothing.
q "ALTER TABLE trading.features ADD COLUMN desk_x double precision" >/dev/null
q "SELECT fsmml_build_features('$S', '1h')" >/dev/null 2>&1
q "UPDATE trading.features SET desk_x = extract(hour FROM \"timestamp\") WHERE symbol = '$S'" >/dev/null
check "RegimeKMeans trains on a user column" [ "$(q "SELECT status FROM fsmml_train('RegimeKMeans', '$S', '1h', '{\"features\": [\"rsi_14\", \"desk_x\"]}')" 2>/dev/null)" = champion ]
check "ExecRules and EnsembleWeighted train" [ "$(q "SELECT status FROM fsmml_train('ExecRules', '$S', '1h')")$(q "SELECT status FROM fsmml_train('EnsembleWeighted', '$S', '1h')")" = championchampion ]
q "ALTER TABLE trading.features DROP COLUMN desk_x" >/dev/null
refused "a champion whose feature was dropped" "SELECT fsmml_score('$S', '1h', '-infinity', 'infinity')" 'desk_x'
refused "fsmml_state_distribution with days < 1" "SELECT * FROM fsmml_state_distribution('$S', '1h', 0)" 'days must be a positive number'
refused "fsmml_transition_matrix with a bad timeframe" "SELECT * FROM fsmml_transition_matrix('$S', '2h', 30)" 'invalid timeframe "2h"'
finish
