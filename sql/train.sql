-- fsmml_train: registration, version numbering, reproducibility, promotion
-- log, and clear errors for bad input.
SET timezone = 'UTC';
SET client_min_messages = warning;   -- per-fold progress NOTICEs carry timings

-- 6000 deterministic 5m bars.
INSERT INTO trading.historicaldata
SELECT 'TRN', '5m', '2024-01-01 00:00+00'::timestamptz + (i * 5 || ' minutes')::interval,
       c0, greatest(c0, c1) * 1.0004, least(c0, c1) * 0.9996, c1, 10 + (i * 7919 % 97)
FROM (SELECT i, 100 + 3 * sin(i / 23.0) + 2 * sin(i / 7.0) + 0.5 * sin(i * 1.7) AS c1,
             100 + 3 * sin((i - 1) / 23.0) + 2 * sin((i - 1) / 7.0) + 0.5 * sin((i - 1) * 1.7) AS c0
      FROM generate_series(0, 5999) AS i) s;

\set p '{"folds": 3, "rounds": 30, "early_stopping_rounds": 5, "lookback": "all", "xgb": {"nthread": 1, "max_depth": 3}}'

-- The first version is v1.0.0 and becomes champion.
SELECT version_id > 0 AS has_id, instance, version, status,
       jsonb_array_length(metrics->'folds') AS folds,
       (metrics->'holdout'->>'auc')::float8 BETWEEN 0 AND 1 AS holdout_auc_in_range,
       metrics->'holdout'->'backtest' ?& ARRAY['pnl', 'sharpe', 'sortino', 'max_drawdown', 'calmar',
                                               'profit_factor', 'win_rate', 'trades'] AS backtest_keys,
       metrics ?& ARRAY['fit_seconds', 'score_seconds', 'rows', 'best_iteration'] AS metric_keys,
       (metrics->'rows'->>'used')::int + (metrics->'rows'->>'dropped_null')::int
         + (metrics->'rows'->>'dropped_unlabeled')::int AS rows_accounted
FROM fsmml_train('DirectionXGB', 'TRN', '5m', :'p');

-- Same data and params: a PATCH bump, and the very same model bytes.
SELECT version, status FROM fsmml_train('DirectionXGB', 'TRN', '5m', :'p');
SELECT count(DISTINCT model_sha256) AS distinct_models, count(*) AS versions
FROM trading.agentversions WHERE symbol = 'TRN';
-- The second was judged against the champion on the same hold-out and logged.
SELECT decision, champion_id IS NOT NULL AS against_champion,
       challenger_metrics ? 'holdout' AS has_challenger_numbers,
       champion_metrics ? 'backtest' AS has_champion_numbers
FROM fsmml.promotions WHERE symbol = 'TRN' ORDER BY id;

-- Another feature list is a new spec: MINOR bump.
SELECT version FROM fsmml_train('DirectionXGB', 'TRN', '5m',
    '{"folds": 2, "rounds": 10, "lookback": "all", "auto_promote": false,
      "features": ["ret_1", "rsi_14", "ema_dist_20", "h1_ret_1"], "xgb": {"nthread": 1}}');
SELECT version, status, feature_names, params->'features' = to_jsonb(feature_names) AS params_record_features,
       params->'xgb'->>'max_depth' AS depth, params->>'horizon' AS horizon, model_format,
       model_sha256 = encode(sha256(model), 'hex') AS sha_matches, ext_version,
       train_from < train_to AND train_to < test_from AND test_from < test_to AS windows_ordered
FROM trading.agentversions WHERE symbol = 'TRN' ORDER BY id DESC LIMIT 1;
-- Exactly one champion.
SELECT count(*) FILTER (WHERE status = 'champion') AS champions FROM trading.agentversions WHERE symbol = 'TRN';
-- Resolved params: defaults filled in, XGBoost's merged key by key.
SELECT params->'xgb'->>'objective' AS objective, params->'xgb'->>'max_depth' AS depth,
       params->>'folds' AS folds, params->>'embargo' AS embargo, params->>'fee_bps' AS fee_bps
FROM trading.agentversions WHERE symbol = 'TRN' ORDER BY id LIMIT 1;
-- Usable as a scalar call too.
SELECT (fsmml_train('DirectionXGB', 'TRN', '5m', '{"folds": 1, "rounds": 5, "lookback": 3000, "auto_promote": false, "xgb": {"nthread": 1}}')).version;

-- Bad input: each a clear error with a hint.
SELECT * FROM fsmml_train('NoSuchAgent', 'TRN', '5m');
SELECT * FROM fsmml_train('RegimeKMeans', 'TRN', '5m', '{"k": 1}');
SELECT * FROM fsmml_train('DirectionXGB', 'NOPE', '5m');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '2m');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '[1, 2]');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"horizon": "one"}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"horizon": 1.5}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"folds": 0}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"test_size": 2}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"lookback": "forever"}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"auto_promote": "yes"}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"horizn": 3}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"features": "ret_1"}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"features": ["ret_1", "no_such_feature"]}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"features": ["m5_rsi_14"]}');
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"xgb": {"max_depth": -1}, "rounds": 2}');
\set VERBOSITY terse
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"xgb": {"objective": "reg:nope"}, "rounds": 2}');
\set VERBOSITY default
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"lookback": 300}');
-- All-NULL features: a user column nobody filled.
ALTER TABLE trading.features ADD COLUMN never_filled double precision;
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"features": ["never_filled"]}');
ALTER TABLE trading.features DROP COLUMN never_filled;
-- The backend is fine after all that, and no failed training left a version.
SELECT count(*) AS versions FROM trading.agentversions WHERE symbol = 'TRN';

-- Roles: readers and trainers cannot do what is not theirs.
CREATE ROLE fsmml_test_reader IN ROLE fsmml_reader;
CREATE ROLE fsmml_test_trainer IN ROLE fsmml_trainer;
SET ROLE fsmml_test_reader;
SELECT * FROM fsmml_train('DirectionXGB', 'TRN', '5m');
SELECT fsmml_build_features('TRN', '5m');
SELECT count(*) >= 0 AS reader_reads_versions FROM trading.agentversions WHERE symbol = 'TRN';
SELECT model FROM trading.agentversions LIMIT 1;
RESET ROLE;
SET ROLE fsmml_test_trainer;
SELECT version FROM fsmml_train('DirectionXGB', 'TRN', '5m', '{"folds": 1, "rounds": 3, "lookback": 3000, "auto_promote": false, "xgb": {"nthread": 1}}');
SELECT fsmml_promote(max(id)) FROM trading.agentversions WHERE symbol = 'TRN';
UPDATE trading.agentversions SET status = 'champion' WHERE symbol = 'TRN';
RESET ROLE;
DROP ROLE fsmml_test_reader;
DROP ROLE fsmml_test_trainer;
