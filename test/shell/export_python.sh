#!/usr/bin/env bash
# export_python.sh — a model exported with fsmml_export_model loads in Python
# xgboost and predicts what the database predicts.
#
# PGHOST/PGPORT/PGUSER/PGDATABASE point to a database with the extension.
# Bars of a test symbol are generated; the model is trained in the database
# (fsmml_train) when it exists, else trained here in Python on
# fsmml_features rows and imported with fsmml_import_model.  The export is
# written byte for byte to a file, loaded with xgboost.Booster(model_file=)
# and scored on the same feature rows (fetched in the stored feature order).
# The reference is fsmml_predict (the champion's in-database prediction)
# when it exists, else the original model loaded in Python (the one trained
# here, or the stored blob when fsmml_train trained it).
# Prints "ok - ..." / "not ok - ..."; exits non-zero on failure.
set -uo pipefail
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
SYM=EXPORTPY
TF=1m
FEATURES="ret_1 ret_5 logret_1 rsi_14 macd_hist vol_z_20 atr_14 bb_pctb_20 ema_dist_20 body_ratio"
failures=0

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; failures=$((failures + 1)); }
die() { echo "not ok - $1"; [ -s "$TMP/log" ] && sed 's/^/# /' "$TMP/log" | tail -30; exit 1; }
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

"$PY" -c 'import numpy, xgboost' 2>"$TMP/log" || die "export: $PY cannot import numpy and xgboost"
[ "$(q -c "SELECT to_regproc('fsmml_export_model') IS NOT NULL")" = t ] ||
    die "export: fsmml_export_model is not installed"

# 4000 deterministic 1m bars: a wavy walk with a little drift.
q >"$TMP/log" 2>&1 <<SQL || die "export: inserting bars failed"
DELETE FROM trading.historicaldata WHERE symbol = '$SYM';
WITH src AS (
    SELECT i, '2024-05-01 00:00+00'::timestamptz + (i || ' minutes')::interval AS ts,
           100 + 4 * sin(i / 29.0) + 2.5 * sin(i / 7.3) + 1.5 * cos(i / 3.1) + 0.005 * i AS c
    FROM generate_series(0, 3999) AS i)
INSERT INTO trading.historicaldata
SELECT '$SYM', '$TF', ts, coalesce(lag(c) OVER w, c),
       greatest(coalesce(lag(c) OVER w, c), c) + 0.05 + 0.02 * abs(sin(i)),
       least(coalesce(lag(c) OVER w, c), c) - 0.04 - 0.03 * abs(cos(i)),
       c, 10 + 5 * abs(sin(i / 7.0)) + (i % 13)
FROM src WINDOW w AS (ORDER BY i);
SQL

feat_sql_list=$(for f in $FEATURES; do printf "'%s'," "$f"; done | sed 's/,$//')
feat_json_list=$(for f in $FEATURES; do printf '"%s",' "$f"; done | sed 's/,$//')

if [ "$(q -c "SELECT to_regproc('fsmml_train') IS NOT NULL")" = t ]; then
    how="trained with fsmml_train"
    vid=$(q -c "SELECT version_id FROM fsmml_train('DirectionXGB', '$SYM', '$TF',
                '{\"features\": [$feat_json_list], \"folds\": 2, \"rounds\": 40,
                  \"xgb\": {\"max_depth\": 4, \"eta\": 0.3}}')" 2>"$TMP/log") ||
        die "export: fsmml_train failed"
else
    how="trained in Python, imported with fsmml_import_model"
    cols=$(echo $FEATURES | sed 's/ /, /g')
    q -c "\\copy (SELECT $cols, CASE WHEN lead(close) OVER w > close THEN 1 ELSE 0 END AS y
                  FROM fsmml_features('$SYM', '$TF') f
                  JOIN trading.historicaldata h USING (symbol, timeframe, \"timestamp\")
                  WINDOW w AS (ORDER BY \"timestamp\") ORDER BY \"timestamp\")
          TO '$TMP/train.csv' WITH (FORMAT csv, HEADER)" >"$TMP/log" 2>&1 ||
        die "export: reading training rows failed"
    "$PY" - "$TMP/train.csv" "$TMP/orig.json" >"$TMP/log" 2>&1 <<'PY' || die "export: Python training failed"
import sys, numpy as np, xgboost as xgb
d = np.genfromtxt(sys.argv[1], delimiter=",", skip_header=1, filling_values=np.nan)
d = d[:-1]                                   # the last bar has no label
X, y = d[:, :-1], d[:, -1]
b = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1},
              xgb.DMatrix(X, label=y, missing=np.nan), 40)
b.save_model(sys.argv[2])
PY
    vid=$(q <<SQL 2>"$TMP/log"
\set model \`base64 -w0 $TMP/orig.json\`
SELECT fsmml_import_model('DirectionXGB', '$SYM', '$TF', decode(:'model', 'base64'),
                          ARRAY[$feat_sql_list]);
SQL
) || die "export: fsmml_import_model failed"
fi
[ -n "$vid" ] || die "export: no version id"
echo "# model $how (version id $vid)"

# The export, byte for byte.
q -c "SELECT encode(fsmml_export_model($vid), 'base64')" 2>"$TMP/log" | base64 -d >"$TMP/exported.json" ||
    die "export: fsmml_export_model failed"
db_sha=$(q -c "SELECT encode(sha256(fsmml_export_model($vid)), 'hex')")
file_sha=$(sha256sum "$TMP/exported.json" | cut -d' ' -f1)
if [ "$db_sha" = "$file_sha" ] && [ "$(head -c1 "$TMP/exported.json")" = "{" ]; then
    ok "export: the file holds exactly the exported JSON ($(wc -c <"$TMP/exported.json") bytes)"
else
    not_ok "export: file sha256 $file_sha differs from the database's $db_sha"
fi

# Without fsmml_predict the reference is the original model: the one trained
# here in Python, else the stored blob.
if [ -f "$TMP/orig.json" ]; then
    cp "$TMP/orig.json" "$TMP/reference.model"
    refname="the originally imported model in Python"
else
    q -c "SELECT encode(model, 'base64') FROM trading.agentversions WHERE id = $vid" |
        base64 -d >"$TMP/reference.model"
    refname="the stored model blob in Python"
fi

# Feature rows in the version's stored feature order (NULL = missing).
cols=$(q -c "SELECT string_agg(format('%I', f), ', ' ORDER BY n)
             FROM trading.agentversions, unnest(feature_names) WITH ORDINALITY AS u(f, n)
             WHERE id = $vid")
q -c "\\copy (SELECT \"timestamp\", $cols FROM fsmml_features('$SYM', '$TF') ORDER BY \"timestamp\")
      TO '$TMP/rows.csv' WITH (FORMAT csv, HEADER)" >"$TMP/log" 2>&1 || die "export: reading feature rows failed"

if [ "$(q -c "SELECT to_regproc('fsmml_predict') IS NOT NULL")" = t ]; then
    path="fsmml_predict (in-database champion prediction)"
    status=$(q -c "SELECT status FROM trading.agentversions WHERE id = $vid")
    if [ "$status" != champion ]; then
        q -c "SELECT fsmml_promote($vid, 'export_python.sh')" >"$TMP/log" 2>&1 || die "export: promotion failed"
    fi
    # every 7th bar, warm-up included, and the last one
    q -c "\\copy (SELECT \"timestamp\", fsmml_predict('DirectionXGB', '$SYM', '$TF', \"timestamp\")->>'prob_up'
                  FROM (SELECT \"timestamp\", row_number() OVER (ORDER BY \"timestamp\") AS n,
                               count(*) OVER () AS total
                        FROM trading.historicaldata WHERE symbol = '$SYM' AND timeframe = '$TF') b
                  WHERE n % 7 = 1 OR n = total ORDER BY 1)
          TO '$TMP/ref.csv' WITH (FORMAT csv)" >"$TMP/log" 2>&1 || die "export: fsmml_predict failed"
else
    path="$refname (fsmml_predict is not installed)"
    : >"$TMP/ref.csv"
fi
echo "# reference: $path"

"$PY" - "$TMP/exported.json" "$TMP/reference.model" "$TMP/rows.csv" "$TMP/ref.csv" >"$TMP/log" 2>&1 <<'PY'
import csv, sys
import numpy as np, xgboost as xgb

exported, reference, rows_csv, ref_csv = sys.argv[1:5]
with open(rows_csv) as f:
    r = csv.reader(f)
    header = next(r)
    ts, X = [], []
    for row in r:
        ts.append(row[0])
        X.append([float(v) if v != "" else np.nan for v in row[1:]])
X = np.array(X, dtype=np.float64)
b = xgb.Booster(model_file=exported)
if b.num_features() != X.shape[1]:
    sys.exit(f"model has {b.num_features()} features, rows have {X.shape[1]}")
dm = xgb.DMatrix(X, missing=np.nan, feature_names=b.feature_names)
p = b.predict(dm)
ref = []
with open(ref_csv) as f:
    for row in csv.reader(f):
        ref.append((row[0], float(row[1])))
if ref:
    at = {t: i for i, t in enumerate(ts)}
    missing = [t for t, _ in ref if t not in at]
    if missing:
        sys.exit(f"{len(missing)} reference bars not among the feature rows, e.g. {missing[0]}")
    idx = np.array([at[t] for t, _ in ref])
    mine = p[idx].astype(np.float64)
    theirs = np.array([v for _, v in ref])
else:
    with open(reference, "rb") as f:
        raw = bytearray(f.read())
    s = xgb.Booster()
    s.load_model(raw)
    mine = p.astype(np.float64)
    theirs = s.predict(xgb.DMatrix(X, missing=np.nan, feature_names=s.feature_names)).astype(np.float64)
diff = np.abs(mine - theirs)
print(f"rows {len(mine)} max_abs_diff {diff.max():.3g} prob range [{mine.min():.4f}, {mine.max():.4f}] "
      f"nan_rows {int(np.isnan(X).any(axis=1).sum())}")
if not np.all(np.isfinite(mine)) or diff.max() >= 1e-6:
    sys.exit(f"max abs diff {diff.max()} >= 1e-6")
if np.ptp(mine) == 0:
    sys.exit("the model predicts a constant: the comparison proves nothing")
PY
rc=$?
summary=$(grep '^rows ' "$TMP/log" | tail -1)
if [ $rc -eq 0 ]; then
    ok "export: Python xgboost on the exported model matches $path ($summary)"
else
    not_ok "export: Python predictions differ from $path: $(tail -1 "$TMP/log")"
    sed 's/^/# /' "$TMP/log" | tail -20
fi

q -c "DELETE FROM trading.historicaldata WHERE symbol = '$SYM'" >/dev/null 2>&1 || true
[ $failures -eq 0 ]
