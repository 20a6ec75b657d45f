#!/usr/bin/env bash
# score_bench.sh — batch scoring speed: fsmml_score over 200,000 1m bars.
#
# Uses the cluster and database of the usual libpq variables (PGHOST, PGPORT,
# PGUSER, PGDATABASE); the user must be a superuser (it loads bars and, without
# fsmml_train, registers a model directly).  Run it on a benchmark database:
# it replaces the bars of symbol $SYMBOL and the predictions of its champion.
#
#   bench/score_bench.sh            # BARS=230000 SCORE_BARS=200000 SYMBOL=SCOREBENCH
#
# Prints, each as "score_rows_per_sec N":
#   - the first write of the 200,000 predictions,
#   - the idempotent rewrite of the same range (every row already there),
# VARIANTS picks the runs: installed (the schema as installed, the default),
# slim (UNIQUE (agent_version_id, timestamp, horizon) instead of the
# contract's five-column key, inside a rolled-back transaction).
# Each call's phases (bars, features, prediction, write) are printed as a
# "# detail" line from fsmml_score's DEBUG1 message.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${FSMML_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
SYMBOL=${SYMBOL:-SCOREBENCH}
TF=1m
BARS=${BARS:-230000}
SCORE_BARS=${SCORE_BARS:-200000}
VARIANTS=${VARIANTS:-installed}
TRAIN=${TRAIN:-auto}          # auto: fsmml_train when installed; python: always python xgboost
TMP=$(mktemp -d /tmp/score_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS fsmml" >/dev/null

# ---- bars -------------------------------------------------------------------
have=$(psql_q -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$SYMBOL' AND timeframe = '$TF'")
if [ "$have" -ne "$BARS" ]; then
    echo "# loading $BARS bars of $SYMBOL $TF"
    "$PY" "$SHARED/bench/gen_bars.py" --symbol "$SYMBOL" --tf "$TF" --bars "$BARS" > "$TMP/bars.csv"
    psql_q -c "DELETE FROM trading.historicaldata WHERE symbol = '$SYMBOL' AND timeframe = '$TF'" \
           -c "\\copy trading.historicaldata (symbol, timeframe, \"timestamp\", open, high, low, close, volume) FROM '$TMP/bars.csv' WITH (FORMAT csv, HEADER)" \
           -c "ANALYZE trading.historicaldata"
fi

# ---- champion ---------------------------------------------------------------
champ=$(psql_q -At -c "SELECT id FROM trading.agentversions WHERE symbol = '$SYMBOL' AND timeframe = '$TF' AND agent = 'DirectionXGB' AND status = 'champion'")
if [ -z "$champ" ]; then
    if [ "$TRAIN" != python ] && [ "$(psql_q -At -c "SELECT to_regproc('fsmml_train') IS NOT NULL")" = t ]; then
        echo "# training a champion with fsmml_train"
        psql_q -c "SELECT fsmml_train('DirectionXGB', '$SYMBOL', '$TF', '{\"folds\":1,\"early_stopping_rounds\":0,\"rounds\":50,\"lookback\":\"all\"}')" >/dev/null
    else
        echo "# training with python xgboost on fsmml_features (fsmml_train not installed, or TRAIN=python); registering directly"
        psql_q -c "\\copy (SELECT f.*, h.close AS bar_close FROM fsmml_features('$SYMBOL', '$TF') f JOIN trading.historicaldata h USING (symbol, timeframe, \"timestamp\") ORDER BY \"timestamp\") TO '$TMP/features.csv' WITH (FORMAT csv, HEADER)"
        "$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np, pandas as pd, xgboost as xgb
tmp = sys.argv[1]
df = pd.read_csv(f"{tmp}/features.csv")
feats = [c for c in df.columns if c not in ("symbol", "timeframe", "timestamp", "bar_close")]
close = df["bar_close"].to_numpy()
y = (close[1:] > close[:-1]).astype(np.float32)
X = df[feats].to_numpy(dtype=np.float32)[:-1]
d = xgb.DMatrix(X, label=y, missing=np.nan, feature_names=feats)
b = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6,
               "eta": 0.1, "subsample": 0.8, "colsample_bytree": 0.8, "seed": 42,
               "nthread": 0}, d, num_boost_round=50)
b.save_model(f"{tmp}/model.json")
with open(f"{tmp}/model.json", "rb") as f:
    open(f"{tmp}/model.hex", "w").write(f.read().hex())
open(f"{tmp}/features.txt", "w").write("{" + ",".join(feats) + "}")
PYEOF
        psql_q -v sym="$SYMBOL" -v tf="$TF" <<SQL
\\set model \`cat $TMP/model.hex\`
\\set feats \`cat $TMP/features.txt\`
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
    model_sha256, params, feature_names, ext_version, promoted_at, promote_reason)
SELECT :'sym', :'tf', 'DirectionXGB', 'v1.0.0', 'champion', m, 'xgboost-json',
       encode(sha256(m), 'hex'), '{"horizon": 1}', :'feats'::text[], '0.1.0', now(), 'score_bench'
FROM decode(:'model', 'hex') AS m;
SQL
    fi
    champ=$(psql_q -At -c "SELECT id FROM trading.agentversions WHERE symbol = '$SYMBOL' AND timeframe = '$TF' AND agent = 'DirectionXGB' AND status = 'champion'")
fi
[ -n "$champ" ] || { echo "no champion for DirectionXGB@$SYMBOL-$TF" >&2; exit 1; }
nfeat=$(psql_q -At -c "SELECT cardinality(feature_names) FROM trading.agentversions WHERE id = $champ")
echo "# champion id $champ, $nfeat features"

# ---- scoring ----------------------------------------------------------------
IFS='|' read -r from_ts to_ts < <(psql_q -At -F '|' -c "
    SELECT quote_literal(min(ts)), quote_literal(max(ts)) FROM (
        SELECT \"timestamp\" AS ts FROM trading.historicaldata
        WHERE symbol = '$SYMBOL' AND timeframe = '$TF'
        ORDER BY \"timestamp\" DESC LIMIT $SCORE_BARS) s")

clear_preds() {
    psql_q -c "DELETE FROM trading.agentpreds WHERE symbol = '$SYMBOL' AND timeframe = '$TF'" \
           -c "VACUUM (ANALYZE) trading.agentpreds" -c "CHECKPOINT" >/dev/null
}

# One timed call: prints the call's rows, time and CPU, then "<metric> N" (rows per second).
timed_score='
SET client_min_messages = debug1;
SELECT extract(epoch FROM clock_timestamp()) AS t0, pg_temp.cpu_ticks() AS c0 \gset
SELECT fsmml_score(:'"'"'sym'"'"', :'"'"'tf'"'"', :from_ts::timestamptz, :to_ts::timestamptz) AS n \gset
SELECT round(:n / (extract(epoch FROM clock_timestamp()) - :t0)) AS rps,
       round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3) AS secs,
       round((pg_temp.cpu_ticks() - :c0) / 100.0, 2) AS cpu \gset
RESET client_min_messages;
\echo # :label: :n rows in :secs s, backend CPU :cpu s (all threads)
\echo :metric :rps
'

run_pair() {   # $1 = metric name, $2 = schema variant: fk (as installed), slim
    local metric=$1 mode=$2
    {
        # CPU time of the backend, all threads (utime + stime, in ticks of 10 ms)
        echo "CREATE FUNCTION pg_temp.cpu_ticks() RETURNS bigint LANGUAGE sql AS"
        echo "\$\$ SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint"
        echo "   FROM pg_read_file('/proc/self/stat') AS s \$\$;"
        if [ "$mode" != fk ]; then
            echo "BEGIN;"
        fi
        if [ "$mode" = slim ]; then
            echo "ALTER TABLE trading.agentpreds DROP CONSTRAINT agentpreds_agent_version_id_symbol_timeframe_timestamp_hori_key;"
            echo "ALTER TABLE trading.agentpreds ADD UNIQUE (agent_version_id, \"timestamp\", horizon);"
        fi
        echo "\\set label 'first write'"
        echo "$timed_score"
        echo "\\set label 'idempotent rewrite'"
        echo "$timed_score"
        if [ "$mode" != fk ]; then echo "ROLLBACK;"; fi
    } | psql_q -v sym="$SYMBOL" -v tf="$TF" -v from_ts="$from_ts" -v to_ts="$to_ts" -v metric="$metric" 2>&1 |
        awk '/^(psql:[^ ]* )?DEBUG: / { if ($0 ~ /fsmml_score /) { sub(/^.*DEBUG: +/, "#   "); print }; next }
             /^DETAIL: / { if ($0 ~ /^DETAIL: +bars /) { sub(/^DETAIL: +/, "#   "); print }; next }
             { print }'
}

echo "# scoring $SCORE_BARS bars: $from_ts .. $to_ts (fsmml.nthread ${PGOPTIONS:-default}); load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
for v in $VARIANTS; do
    clear_preds
    case $v in
        installed|fk) run_pair score_rows_per_sec fk ;;
        slim) echo "# without the foreign key and with UNIQUE (agent_version_id, timestamp, horizon) (rolled back)"
              run_pair score_rows_per_sec_no_fk_slim_key slim ;;
        *)    echo "unknown variant $v" >&2; exit 2 ;;
    esac
done
psql_q -c "VACUUM trading.agentpreds" >/dev/null
