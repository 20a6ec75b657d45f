-- Schema invariants of the data contracts: tables, keys, uniques, checks,
-- partitioning, dump registration and grants.
BEGIN;
SELECT plan(79);

SELECT has_schema('trading');
SELECT has_schema('fsmml');

SELECT has_table('trading', t, 'trading.' || t || ' exists')
FROM unnest(ARRAY['historicaldata', 'features', 'agents', 'agentversions', 'agentpreds',
                  'agentsignals', 'state_history', 'transitions', 'calibrations']) AS t;

-- Every table's key leads with symbol (agents is the one reference table).
SELECT col_is_pk('trading', 'historicaldata', ARRAY['symbol', 'timeframe', 'timestamp'], 'bars key');
SELECT col_is_pk('trading', 'features', ARRAY['symbol', 'timeframe', 'timestamp'], 'features key');
SELECT col_is_pk('trading', 'agentversions', ARRAY['symbol', 'id'], 'versions key leads with symbol');
SELECT col_is_pk('trading', 'state_history', ARRAY['symbol', 'timeframe', 'timestamp'], 'state key');
SELECT col_is_pk('trading', 'transitions', ARRAY['symbol', 'timeframe', 'timestamp'], 'transitions key');
SELECT col_is_pk('trading', 'calibrations', ARRAY['symbol', 'id'], 'calibrations key');
SELECT col_is_pk('trading', 'agents', ARRAY['name'], 'agents key');
SELECT is(
    (SELECT count(*)::int FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
     JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE n.nspname = 'trading' AND c.contype IN ('p', 'u') AND r.relname <> 'agents'
       AND r.relispartition = false
       AND (SELECT attname FROM pg_attribute WHERE attrelid = r.oid AND attnum = c.conkey[1])
           NOT IN ('symbol', 'agent_version_id')),
    0, 'every key of a trading table leads with symbol (preds: the seed''s unique key)');

SELECT col_is_unique('trading', 'agentpreds',
    ARRAY['agent_version_id', 'symbol', 'timeframe', 'timestamp', 'horizon'], 'preds unique key');
SELECT col_is_unique('trading', 'agentsignals', ARRAY['symbol', 'timeframe', 'timestamp'], 'signals unique key');
SELECT col_is_unique('trading', 'agentversions', ARRAY['symbol', 'timeframe', 'agent', 'version'], 'version unique per instance');
SELECT fk_ok('trading', 'agentversions', 'agent', 'trading', 'agents', 'name');

SELECT is_partitioned('trading', 'agentpreds', 'agentpreds is partitioned');
SELECT is((SELECT partstrat::text FROM pg_partitioned_table
           WHERE partrelid = 'trading.agentpreds'::regclass), 'r', 'range partitioning');
SELECT is((SELECT a.attname::text FROM pg_partitioned_table p
           JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
           WHERE p.partrelid = 'trading.agentpreds'::regclass), 'timestamp', 'partitioned on timestamp');

-- Column types of the contracts.
SELECT col_type_is('trading', 'historicaldata', 'timestamp', 'timestamp with time zone', 'historicaldata.timestamp is timestamp with time zone');
SELECT col_type_is('trading', 'agentsignals', 'side', 'smallint', 'agentsignals.side is smallint');
SELECT col_type_is('trading', 'agentversions', 'model', 'bytea', 'agentversions.model is bytea');
SELECT col_type_is('trading', 'agentversions', 'params', 'jsonb', 'agentversions.params is jsonb');
SELECT col_type_is('trading', 'agentversions', 'metrics', 'jsonb', 'agentversions.metrics is jsonb');
SELECT col_type_is('trading', 'agentversions', 'feature_names', 'text[]', 'agentversions.feature_names is text[]');
SELECT col_type_is('trading', 'agentpreds', 'payload', 'jsonb', 'agentpreds.payload is jsonb');
SELECT col_type_is('trading', 'calibrations', 'is_active', 'boolean', 'calibrations.is_active is boolean');
SELECT is((SELECT count(*)::int FROM information_schema.columns
           WHERE table_schema = 'trading' AND table_name = 'features'
             AND data_type = 'double precision'), 58, 'features has 58 double precision columns');

-- Checks reject what the contracts forbid.
SELECT throws_ok($$INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side)
                   VALUES ('X', '1m', now(), 2)$$, '23514', NULL, 'side must be -1, 0 or 1');
SELECT lives_ok($$INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, strength)
                  VALUES ('X', '1m', '2024-01-01', -1, 0.5)$$, 'a valid signal');
SELECT throws_ok($$INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side)
                   VALUES ('X', '1m', '2024-01-01', 1)$$, '23505', NULL, 'one signal per bar');
SELECT throws_ok($$INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side)
                   VALUES ('X', '7m', '2024-01-01', 1)$$, '23514', NULL, 'signal timeframe checked');
SELECT throws_ok($$INSERT INTO trading.historicaldata VALUES ('X', '2h', now(), 1, 1, 1, 1, 1)$$,
                 '23514', NULL, 'bar timeframe checked');

-- Versions: status, version format, one champion per instance.
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model,
                                   model_format, model_sha256, ext_version)
VALUES ('X', '1m', 'DirectionXGB', 'v1.0.0', 'champion', '\x00', 'xgboost-ubj', repeat('a', 64), '0.1.0');
SELECT throws_ok($$INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model,
                     model_format, model_sha256, ext_version)
                   VALUES ('X', '1m', 'DirectionXGB', 'v1.0.1', 'champion', '\x00', 'xgboost-ubj',
                           repeat('b', 64), '0.1.0')$$, '23505', NULL, 'at most one champion per instance');
SELECT lives_ok($$INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model,
                    model_format, model_sha256, ext_version)
                  VALUES ('X', '5m', 'DirectionXGB', 'v1.0.0', 'champion', '\x00', 'xgboost-ubj',
                          repeat('b', 64), '0.1.0')$$, 'another instance has its own champion');
SELECT throws_ok($$INSERT INTO trading.agentversions (symbol, timeframe, agent, version, model,
                     model_format, model_sha256, ext_version)
                   VALUES ('X', '1m', 'DirectionXGB', '1.0', '\x00', 'xgboost-ubj', repeat('c', 64), '0.1.0')$$,
                 '23514', NULL, 'version must be vMAJOR.MINOR.PATCH');
SELECT throws_ok($$INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model,
                     model_format, model_sha256, ext_version)
                   VALUES ('X', '1m', 'DirectionXGB', 'v1.0.2', 'best', '\x00', 'xgboost-ubj',
                           repeat('c', 64), '0.1.0')$$, '23514', NULL, 'status is checked');
SELECT throws_ok($$INSERT INTO trading.agentversions (symbol, timeframe, agent, version, model,
                     model_format, model_sha256, ext_version)
                   VALUES ('X', '1m', 'NoSuchAgent', 'v1.0.0', '\x00', 'xgboost-ubj', repeat('c', 64), '0.1.0')$$,
                 '23503', NULL, 'agent must be in the catalogue');

-- Predictions land in monthly partitions; one per (version, bar, horizon).
SELECT is(fsmml_create_pred_partitions('2024-01-01', '2024-01-31'), 1, 'partition made on demand');
SELECT lives_ok($$INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
                  SELECT id, 'X', '1m', '2024-01-02', '{"prob_up": 0.6}' FROM trading.agentversions
                  WHERE symbol = 'X' AND timeframe = '1m'$$, 'prediction stored');
SELECT throws_ok($$INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
                   SELECT id, 'X', '1m', '2024-01-02', '{"prob_up": 0.7}' FROM trading.agentversions
                   WHERE symbol = 'X' AND timeframe = '1m'$$, '23505', NULL, 'one prediction per bar and horizon');
-- A version with predictions can be neither deleted, moved nor truncated away.
SELECT throws_ok($$DELETE FROM trading.agentversions WHERE symbol = 'X' AND timeframe = '1m'$$,
                 '23503', NULL, 'a version with predictions cannot be deleted');
SELECT throws_ok($$UPDATE trading.agentversions SET symbol = 'Y' WHERE symbol = 'X' AND timeframe = '1m'$$,
                 '23503', NULL, 'a version with predictions cannot change symbol');
SELECT throws_ok($$TRUNCATE trading.agentversions CASCADE$$, '23503', NULL,
                 'versions cannot be truncated under predictions');
SELECT lives_ok($$UPDATE trading.agentversions SET status = 'retired' WHERE symbol = 'X' AND timeframe = '1m'$$,
                'status changes are free');
SELECT lives_ok($$DELETE FROM trading.agentversions WHERE symbol = 'X' AND timeframe = '5m'$$,
                'a version without predictions can be deleted');
SELECT throws_ok($$INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
                   SELECT id, 'X', '1m', '2031-06-02', '{}' FROM trading.agentversions
                   WHERE symbol = 'X' AND timeframe = '1m'$$, '23514', NULL, 'no partition, no silent write');

-- Calibrations: one active per symbol/timeframe/method.
INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, is_active)
VALUES ('X', '1m', 'optuna', '{"effort_p20": 0.3}', true);
SELECT throws_ok($$INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, is_active)
                   VALUES ('X', '1m', 'optuna', '{"effort_p20": 0.4}', true)$$, '23505', NULL,
                 'one active calibration');
SELECT lives_ok($$INSERT INTO trading.calibrations (symbol, timeframe, method, thresholds, is_active)
                  VALUES ('X', '1m', 'brute_force', '{"effort_p20": 0.4}', true)$$,
                'another method has its own active calibration');
SELECT throws_ok($$INSERT INTO trading.transitions (symbol, timeframe, "timestamp", from_state, to_state)
                   VALUES ('X', '1m', now(), 'a', 'a')$$, '23514', NULL, 'a transition changes state');

-- pg_dump keeps the user data tables.
SELECT ok(EXISTS (SELECT 1 FROM pg_extension e, unnest(e.extconfig) c
                  WHERE e.extname = 'fsmml' AND c = t::regclass), t || ' is dumped')
FROM unnest(ARRAY['trading.features', 'trading.agentversions', 'trading.agentsignals',
                  'trading.state_history', 'trading.transitions', 'trading.calibrations',
                  'fsmml.promotions', 'fsmml.feature_state', 'fsmml.settings_override']) AS t;
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = 'trading.historicaldata'::regclass
                      AND d.deptype = 'e'), 'the bars table is not an extension member');

-- Roles and grants.
SELECT has_role(r) FROM unnest(ARRAY['fsmml_reader', 'fsmml_trainer', 'fsmml_admin']) AS r;
SELECT table_privs_are('trading', 'agentsignals', 'fsmml_reader', ARRAY['SELECT']);
SELECT table_privs_are('trading', 'agentpreds', 'fsmml_reader', ARRAY['SELECT']);
SELECT ok(NOT has_column_privilege('fsmml_reader', 'trading.agentversions', 'model', 'SELECT'),
          'readers cannot read model blobs');
SELECT ok(has_column_privilege('fsmml_reader', 'trading.agentversions', 'metrics', 'SELECT'),
          'readers can read version metrics');
SELECT ok(NOT has_table_privilege('fsmml_trainer', 'trading.agentversions', 'INSERT, UPDATE, DELETE'),
          'trainers write versions only through fsmml functions');
SELECT ok(NOT has_table_privilege('fsmml_admin', 'trading.agentsignals', 'INSERT, UPDATE, DELETE'),
          'nobody but the extension writes signals directly');
SELECT ok(NOT has_function_privilege('fsmml_reader', 'fsmml_create_pred_partitions(timestamptz, timestamptz)', 'EXECUTE'),
          'readers cannot create partitions');
SELECT ok(has_function_privilege('fsmml_trainer', 'fsmml_create_pred_partitions(timestamptz, timestamptz)', 'EXECUTE'),
          'trainers can create partitions');
SELECT ok(pg_has_role('fsmml_admin', 'fsmml_trainer', 'MEMBER') AND pg_has_role('fsmml_trainer', 'fsmml_reader', 'MEMBER'),
          'admin > trainer > reader');

SELECT * FROM finish();
ROLLBACK;
