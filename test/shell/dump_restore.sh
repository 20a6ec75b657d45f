#!/usr/bin/env bash
# pg_dump keeps the user data of the extension's tables (pg_extension_config_dump)
# and the bars table, and a restore into a fresh database works with them.
. "$(dirname "$0")/../lib.sh"
set -u
src=$PGDATABASE
dst=${src}_restored
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | head -20001 |
    psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
q "SELECT fsmml_build_features('BTCUSDT', '1m')" >/dev/null
q "SELECT version_id FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '{\"folds\": 2, \"rounds\": 10, \"xgb\": {\"nthread\": 1}}')" >/dev/null
q "SELECT fsmml_score('BTCUSDT', '1m', '2024-01-10', '2024-01-12')" >/dev/null
q "INSERT INTO fsmml.settings_override (name, value) VALUES ('promote_max_dd_worsen', 0.2)" >/dev/null
snapshot() {
    PGDATABASE=$1 q "SELECT (SELECT count(*) FROM trading.historicaldata), (SELECT count(*) FROM trading.features),
                            (SELECT string_agg(version || ':' || status || ':' || model_sha256, ',') FROM trading.agentversions),
                            (SELECT count(*) FROM trading.agentpreds), (SELECT count(*) FROM fsmml.promotions),
                            (SELECT count(*) FROM fsmml.feature_state),
                            (SELECT value FROM fsmml.settings WHERE name = 'promote_max_dd_worsen')"
}
before=$(snapshot "$src")
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $dst"
pg_dump -Fc -d "$src" -f "$FSMML_TEST_DIR/dump.fc"
# CREATE EXTENSION runs first in a restore and makes schema trading and the
# bars table (they are deliberately not extension members, so DROP EXTENSION
# never drops bars); the dump's own CREATE statements for them then report
# "already exists", and everything else, data included, restores.
pg_restore -d "$dst" "$FSMML_TEST_DIR/dump.fc" 2>"$FSMML_TEST_DIR/restore.err"
errors=$(grep -c "^pg_restore: error:" "$FSMML_TEST_DIR/restore.err")
unexpected=$(grep "^pg_restore: error:" "$FSMML_TEST_DIR/restore.err" | grep -vE 'already exists|multiple primary keys for table "historicaldata"' || true)
echo "# pg_restore reported $errors error(s), all for objects CREATE EXTENSION made first: $(grep -o '"[a-z_]*" already exists' "$FSMML_TEST_DIR/restore.err" | tr '\n' ' ')"
check "pg_restore reports nothing but the known 'already exists' ones" [ -z "$unexpected" ]
after=$(snapshot "$dst")
echo "# before: $before"
echo "# after:  $after"
check "bars, features, versions, predictions, promotions, state and settings survive" [ "$before" = "$after" ]
check "the restored champion still predicts" \
    [ -n "$(PGDATABASE=$dst q "SELECT fsmml_predict('DirectionXGB', 'BTCUSDT', '1m')->>'prob_up'")" ]
check "identity sequences continue after the restored ids" \
    [ "$(PGDATABASE=$dst q "SELECT version_id > 1 FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '{\"folds\": 2, \"rounds\": 5, \"xgb\": {\"nthread\": 1}}')")" = t ]
psql -X -q -d postgres -c "DROP DATABASE $dst"
finish
