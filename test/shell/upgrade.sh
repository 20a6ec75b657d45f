#!/usr/bin/env bash
# upgrade.sh — a 0.1.0 database, with data in every table, upgraded by ALTER EXTENSION fsmml
# UPDATE, equals a fresh install of the current version (pg_dump --schema-only of both, with the
# extension's members detached so pg_dump shows them: definitions, owners, grants), keeps every
# row, and then works (features, training, scoring) for a trainer role.
. "$(dirname "$0")/../lib.sh"
set -u
cur=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/fsmml.control")
old=${PGDATABASE}_old new=${PGDATABASE}_new
W=$FSMML_TEST_DIR/upgrade; rm -rf "$W"; mkdir -p "$W"
for d in "$old" "$new" "${old}_x" "${new}_x"; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d"; done
psql -X -q -d postgres -c "CREATE DATABASE $old" -c "CREATE DATABASE $new"

# ---- a 0.1.0 database with a row in every table (written as 0.1.0 would: the superuser)
PGDATABASE=$old q "CREATE EXTENSION fsmml VERSION '0.1.0'" >/dev/null
check "0.1.0 installs from its released script" [ "$(PGDATABASE=$old q "SELECT extversion FROM pg_extension WHERE extname = 'fsmml'")" = 0.1.0 ]
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | head -6001 |
    PGDATABASE=$old psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
PGDATABASE=$old psql -X -q -v ON_ERROR_STOP=1 >"$W/load.log" 2>&1 <<'SQL'
INSERT INTO trading.features SELECT * FROM fsmml_features('BTCUSDT', '1m');
INSERT INTO fsmml.feature_state (symbol, timeframe, last_ts, nbars, state)
    SELECT 'BTCUSDT', '1m', max("timestamp"), count(*), '\x0102' FROM trading.historicaldata;
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, params, metrics, feature_names, ext_version)
    VALUES ('BTCUSDT', '1m', 'DirectionXGB', 'v1.0.0', 'champion', '\x7b7d', 'xgboost-json',
            encode(sha256('\x7b7d'), 'hex'), '{"horizon": 1}', '{"auc": 0.51}', '{ret_1}', '0.1.0');
SELECT fsmml_create_pred_partitions('2024-01-01', '2024-01-31');
INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
    SELECT 1, 'BTCUSDT', '1m', "timestamp", '{"prob_up": 0.5}' FROM trading.historicaldata LIMIT 100;
INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, strength, agent_version_ids)
    VALUES ('BTCUSDT', '1m', '2024-01-02', 1, 0.5, '{1}');
INSERT INTO trading.state_history (symbol, timeframe, "timestamp", state, confidence)
    VALUES ('BTCUSDT', '1m', '2024-01-02', 'compression', 50);
INSERT INTO trading.transitions (symbol, timeframe, "timestamp", from_state, to_state, confidence)
    VALUES ('BTCUSDT', '1m', '2024-01-02', 'compression', 'expansion', 60);
INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, score, is_active)
    VALUES ('BTCUSDT', '1m', 'manual', '{"long_threshold": 0.55}', 1.2, true);
INSERT INTO fsmml.promotions (symbol, timeframe, agent, challenger_id, decision, reason)
    VALUES ('BTCUSDT', '1m', 'DirectionXGB', 1, 'manual', 'first');
INSERT INTO fsmml.settings_override (name, value) VALUES ('promote_max_dd_worsen', 0.2);
SQL
check "data loaded into every 0.1.0 table" [ $? -eq 0 ]

# Every table of the extension and the bars, as one checksum per table.
checksums() {
    PGDATABASE=$1 q "SELECT string_agg(format('%s:%s', c.oid::regclass,
                        (xpath('/table/row/m/text()', query_to_xml(format(
                          'SELECT count(*) || ''/'' || coalesce(md5(string_agg(t::text, ''|'' ORDER BY t::text)), '''') AS m FROM %s t',
                          c.oid::regclass), false, false, '')))[1]), ' ' ORDER BY c.oid::regclass::text)
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname IN ('trading', 'fsmml') AND c.relkind IN ('r', 'p')
                       AND NOT c.relispartition
                       AND c.oid NOT IN ('trading.agents'::regclass, 'fsmml.settings_default'::regclass)"
}
before=$(checksums "$old")
out=$(PGDATABASE=$old psql -X -q -c "SELECT fsmml_build_features('BTCUSDT', '1m')" 2>&1)
check "before the update, the new library refuses to write and says what to run" \
    grep -q "fsmml's library is version $cur but this database has fsmml 0.1.0 installed" <<<"$out"
check "... with the hint ALTER EXTENSION fsmml UPDATE" grep -q "HINT:  Run ALTER EXTENSION fsmml UPDATE" <<<"$out"
PGDATABASE=$old psql -X -q -v ON_ERROR_STOP=1 -c "ALTER EXTENSION fsmml UPDATE" >"$W/update.log" 2>&1
check "ALTER EXTENSION fsmml UPDATE from 0.1.0 succeeds" [ $? -eq 0 ] || cat "$W/update.log"
check "the upgraded database reports $cur" [ "$(PGDATABASE=$old q "SELECT extversion FROM pg_extension WHERE extname = 'fsmml'")" = "$cur" ]
after=$(checksums "$old")
echo "# checksums of $(echo "$before" | wc -w) tables: $before" | cut -c1-400
check "every row of every table survives the upgrade" [ -n "$before" ] && [ "$before" = "$after" ]

# ---- schema of the upgraded database == schema of a fresh install
PGDATABASE=$new q "CREATE EXTENSION fsmml" >/dev/null
PGDATABASE=$new q "SELECT fsmml_create_pred_partitions('2024-01-01', '2024-01-31')" >/dev/null  # same partitions
schema_of() {   # a copy of the database with the extension's members detached, dumped schema-only
    psql -X -q -d postgres -c "CREATE DATABASE ${1}_x TEMPLATE $1"
    PGDATABASE=${1}_x q "SELECT format('ALTER EXTENSION fsmml DROP %s %s;', o.type, o.identity)
                         FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) o
                         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fsmml')" |
        PGDATABASE=${1}_x psql -X -q -v ON_ERROR_STOP=1 >/dev/null
    pg_dump --schema-only -d "${1}_x" | grep -vE '^(--|SET |SELECT pg_catalog.set_config|\\(un)?restrict )' | grep -v '^$' |
        grep -vE "^CREATE EXTENSION|^COMMENT ON EXTENSION"
    psql -X -q -d postgres -c "DROP DATABASE ${1}_x"
}
schema_of "$old" >"$W/upgraded.sql"
schema_of "$new" >"$W/fresh.sql"
echo "# schema dump: $(wc -l <"$W/fresh.sql") lines fresh, $(wc -l <"$W/upgraded.sql") upgraded, $(grep -c '^CREATE FUNCTION' "$W/fresh.sql") functions"
diff -u "$W/fresh.sql" "$W/upgraded.sql" >"$W/schema.diff"
check "upgraded schema equals a fresh install (pg_dump --schema-only diff empty)" [ ! -s "$W/schema.diff" ] ||
    head -60 "$W/schema.diff"
check "the dump really shows the members (tables, functions, owners, grants)" \
    grep -q 'ALTER TABLE trading.features OWNER TO' "$W/fresh.sql"

# The shipped catalogues (agents and their default params, default settings) are the
# extension's own data: an upgrade brings them to what a fresh install ships.
shipped() { PGDATABASE=$1 q "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
                                SELECT * FROM trading.agents) t" ; PGDATABASE=$1 q "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM fsmml.settings_default t"; }
check "the shipped catalogues (trading.agents, fsmml.settings_default) equal a fresh install's" \
    [ "$(shipped "$old")" = "$(shipped "$new")" ]

# ---- the upgraded database works, for a trainer
PGDATABASE=$old psql -X -q -v ON_ERROR_STOP=1 >"$W/work.log" 2>&1 <<'SQL'
DROP ROLE IF EXISTS upgrade_trainer;
CREATE ROLE upgrade_trainer IN ROLE fsmml_trainer;
SET ROLE upgrade_trainer;
SELECT fsmml_build_features('BTCUSDT', '1m');
SELECT version FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m',
    '{"folds": 1, "rounds": 5, "lookback": "all", "auto_promote": false, "xgb": {"nthread": 1}}');
RESET ROLE;
DROP OWNED BY upgrade_trainer;
DROP ROLE upgrade_trainer;
SQL
check "a trainer builds features and trains in the upgraded database" [ $? -eq 0 ] || tail -20 "$W/work.log"
check "the trained version is numbered after the 0.1.0 one (new feature list: v1.1.0)" \
    [ "$(PGDATABASE=$old q "SELECT string_agg(version, ',' ORDER BY id) FROM trading.agentversions")" = "v1.0.0,v1.1.0" ]
for d in "$old" "$new"; do psql -X -q -d postgres -c "DROP DATABASE $d"; done
finish
