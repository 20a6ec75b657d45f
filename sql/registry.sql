-- Registry API: importing and exporting XGBoost models, manual promotion,
-- deployment strategies, model cards, the one-champion invariant, the
-- promotion log and who may call what.  Ids depend on earlier tests, so they
-- are captured with \gset and never printed.
SET timezone = 'UTC';

-- Three models trained elsewhere (Python xgboost 1.7, 3 inputs): m has no
-- feature names (3 trees), n carries ret_1, rsi_14, vol_z_20 (1 tree), r is
-- a regression model.
CREATE TEMP TABLE model_src (name text PRIMARY KEY, blob bytea NOT NULL);
INSERT INTO model_src VALUES
 ('m', convert_to('{"learner":{"attributes":{"best_iteration":"2","best_ntree_limit":"3"},"feature_names":[],"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"3","size_leaf_vector":"0"},"tree_info":[0,0,0],"trees":[{"base_weights":[8.9108914E-2,-1.3118279E0,1.2612612E0,-1.7606838E0,-5.205479E-1,-2.857143E-1,1.5869565E0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,1,1,0,0,0,0],"id":0,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[1.6750781E2,1.5598915E1,2.8416672E1,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[-6.3183755E-2,-5.58586E-1,-1.0183022E0,-5.2820516E-1,-1.5616438E-1,-8.5714296E-2,4.7608697E-1],"split_indices":[0,0,1,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[1E2,4.55E1,5.45E1,2.825E1,1.725E1,9.5E0,4.5E1],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}},{"base_weights":[6.275403E-2,-7.7482086E-1,1.1666006E0,-1.3814173E0,1.1492832E-1,-1.0646062E0,1.2609253E0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,1,1,0,0,0,0],"id":1,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[9.015937E1,3.0108109E1,1.0191776E1,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[2.3168951E-1,2.3697911E-1,-1.5654316E0,-4.144252E-1,3.4478497E-2,-3.1938186E-1,3.782776E-1],"split_indices":[0,1,1,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[9.5538925E1,5.449066E1,4.1048264E1,3.2072372E1,2.241829E1,1.2477068E0,3.9800556E1],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}},{"base_weights":[4.564697E-2,-9.828234E-1,6.661133E-1,-1.1012754E0,1.0003198E0,-3.3980733E-1,1.1960571E0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,1,1,0,0,0,0],"id":2,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[5.8019585E1,9.142498E0,3.0613588E1,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[-3.2391852E-1,1.8198743E0,-3.5215393E-1,-3.3038265E-1,3.0009598E-1,-1.01942204E-1,3.5881713E-1],"split_indices":[0,1,1,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[8.889516E1,3.3229958E1,5.56652E1,3.177664E1,1.4533192E0,1.9330847E1,3.6334354E1],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"0","num_class":"0","num_feature":"3","num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}', 'UTF8')),
 ('n', convert_to('{"learner":{"attributes":{"best_iteration":"0","best_ntree_limit":"1"},"feature_names":["ret_1","rsi_14","vol_z_20"],"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},"tree_info":[0],"trees":[{"base_weights":[8.9108914E-2,-1.3118279E0,1.2612612E0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],"loss_changes":[1.6750781E2,0E0,0E0],"parents":[2147483647,0,0],"right_children":[2,-1,-1],"split_conditions":[-6.3183755E-2,-3.935484E-1,3.783784E-1],"split_indices":[0,0,0],"split_type":[0,0,0],"sum_hessian":[1E2,4.55E1,5.45E1],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"3","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"0","num_class":"0","num_feature":"3","num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}', 'UTF8')),
 ('r', convert_to('{"learner":{"attributes":{"best_iteration":"0","best_ntree_limit":"1"},"feature_names":[],"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},"tree_info":[0],"trees":[{"base_weights":[2.244389E-2,-3.3333334E-1,3.196347E-1],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],"loss_changes":[4.2505768E1,0E0,0E0],"parents":[2147483647,0,0],"right_children":[2,-1,-1],"split_conditions":[-6.3183755E-2,-1.0000001E-1,9.589042E-2],"split_indices":[0,0,0],"split_type":[0,0,0],"sum_hessian":[4E2,1.82E2,2.18E2],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"3","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"0","num_class":"0","num_feature":"3","num_target":"1"},"objective":{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}', 'UTF8'));

-- ---------------------------------------------------------------- import
-- The first version of an instance becomes its champion.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob,
                          ARRAY['ret_1', 'rsi_14', 'vol_z_20'], '{"threshold": 0.05}') IS NOT NULL AS imported
FROM model_src WHERE name = 'm';
SELECT version, status, model_format, feature_names, params, metrics,
       train_from IS NULL AS no_window, promote_reason
FROM trading.agentversions WHERE symbol = 'REGTEST' ORDER BY id;
-- Stored as UBJ, not as the JSON given.
SELECT substr(model, 1, 1) = '\x7b'::bytea AS starts_with_brace,
       model <> (SELECT blob FROM model_src WHERE name = 'm') AS resaved
FROM trading.agentversions WHERE symbol = 'REGTEST' AND version = 'v1.0.0';

-- Wrong feature count, unknown / duplicate / NULL names, names that differ
-- from the model's own, a regression model.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'no_such_feature'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'ret_1', 'rsi_14'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', NULL, 'rsi_14'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, '{}')
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['rsi_14', 'ret_1', 'vol_z_20'])
FROM model_src WHERE name = 'n';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'r';
-- A multi-timeframe snapshot is not defined on its own timeframe.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1h', blob, ARRAY['ret_1', 'rsi_14', 'h1_rsi_14'])
FROM model_src WHERE name = 'm';

-- Bad params, agent, timeframe.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'], '[1, 2]')
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'], '{"horizon": 0}')
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'], '{"xgb": 3}')
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('NoSuchAgent', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('RegimeKMeans', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '2m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', NULL, '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'm';

-- Corrupt blobs: a clean ERROR (data_corrupted), and the session goes on.
\set VERBOSITY sqlstate
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', '\xdeadbeef', ARRAY['ret_1', 'rsi_14', 'vol_z_20']);
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', substr(blob, 1, 1500), ARRAY['ret_1', 'rsi_14', 'vol_z_20'])
FROM model_src WHERE name = 'm';
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', '\x', ARRAY['ret_1', 'rsi_14', 'vol_z_20']);
\set VERBOSITY default
SELECT count(*) AS versions_after_errors FROM trading.agentversions WHERE symbol = 'REGTEST';

-- A named model in its own order: same features and objective, a PATCH bump.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', blob, ARRAY['ret_1', 'rsi_14', 'vol_z_20'],
                          '{"horizon": 3, "xgb": {"max_depth": 1}}') IS NOT NULL AS imported
FROM model_src WHERE name = 'n';
-- The stored UBJ imports too (a new instance: its champion).
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '5m', model, feature_names) IS NOT NULL AS imported
FROM trading.agentversions WHERE symbol = 'REGTEST' AND timeframe = '1m' AND version = 'v1.0.0';
SELECT timeframe, version, status, params FROM trading.agentversions
WHERE symbol = 'REGTEST' ORDER BY id;

-- ---------------------------------------------------------------- versions with metrics
-- Four trained-looking versions of DirectionXGB@REGCARD-1h, written directly.
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
    model_sha256, params, metrics, feature_names, train_from, train_to, test_from, test_to, ext_version)
SELECT 'REGCARD', '1h', 'DirectionXGB', v.version, v.status, m.model, 'xgboost-ubj',
       encode(sha256(m.model), 'hex'), v.params::jsonb, v.metrics::jsonb,
       ARRAY['ret_1', 'rsi_14', 'vol_z_20'], v.tf, v.tt, v.hf, v.ht, '0.1.0'
FROM (SELECT model FROM trading.agentversions
      WHERE symbol = 'REGTEST' AND timeframe = '1m' AND version = 'v1.0.0') m,
(VALUES
 ('v1.0.0', 'champion',
  '{"horizon": 1, "lookback": "180 days", "folds": 2, "test_size": 0.2, "embargo": 50,
    "early_stopping_rounds": 20, "rounds": 200, "fee_bps": 5, "threshold": 0.02,
    "auto_promote": true, "synthetic": true, "features": ["ret_1", "rsi_14", "vol_z_20"],
    "xgb": {"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "eval_metric": "auc"}}',
  '{"rows": {"bars": 20000, "dropped_null": 60, "dropped_unlabeled": 1, "used": 19939, "train": 15900, "holdout": 3988},
    "folds": [{"fold": 1, "train_rows": 2500, "rows": 5300, "from": "2024-01-10T00:00:00Z",
               "to": "2024-01-20T00:00:00Z", "auc": 0.55, "brier": 0.248, "logloss": 0.69,
               "accuracy": 0.53, "pos_rate": 0.5, "best_iteration": 12},
              {"fold": 2, "train_rows": 7800, "test_rows": 5300, "test_from": "2024-01-20T00:00:00Z",
               "test_to": "2024-01-30T00:00:00Z", "auc": 0.68, "brier": 0.231, "logloss": 0.651,
               "accuracy": 0.6, "pos_rate": 0.51, "best_iteration": 30},
              {"fold": 3, "train_rows": 13100, "test_rows": 0, "auc": null, "brier": null}],
    "holdout": {"rows": 3988, "from": "2024-02-01T00:00:00Z", "to": "2024-02-28T00:00:00Z",
                "auc": 0.5123, "brier": 0.2499, "logloss": 0.6931, "accuracy": 0.507, "pos_rate": 0.49,
                "backtest": {"pnl": 0.05, "sharpe": 1.2345, "sortino": null, "max_drawdown": 0.25,
                             "calmar": 0.8, "win_rate": 0.52, "trades": 12, "exposure": 0.9, "fees": 0.006}},
    "best_iteration": 15, "rounds": 36, "fit_seconds": 1.5, "score_seconds": 0.01}',
  '2024-01-01 00:00+00'::timestamptz, '2024-01-31 23:00+00'::timestamptz,
  '2024-02-01 00:00+00'::timestamptz, '2024-02-28 00:00+00'::timestamptz),
 ('v1.0.1', 'challenger', '{"horizon": 1}',
  '{"holdout": {"auc": 0.51, "backtest": {"pnl": 0.08}}}', NULL, NULL, NULL, NULL),
 ('v1.0.2', 'challenger', '{"horizon": 2, "threshold": 0.1, "fee_bps": 2}',
  '{"holdout": {"rows": 5000, "auc": 0.53, "brier": 0.247, "logloss": 0.687, "accuracy": 0.52, "pos_rate": 0.5,
                "backtest": {"pnl": 0.08, "sharpe": 2.1, "sortino": 3.05, "max_drawdown": 0.03, "calmar": 4.5,
                             "profit_factor": 1.3, "win_rate": 0.55, "trades": 400, "exposure": 0.5, "fees": 0.02}}}',
  NULL, NULL, NULL, NULL),
 ('v1.0.3', 'challenger', '{}', '{}', NULL, NULL, NULL, NULL)
) AS v(version, status, params, metrics, tf, tt, hf, ht);
SELECT id AS a_id FROM trading.agentversions WHERE symbol = 'REGCARD' AND version = 'v1.0.0' \gset
SELECT id AS b_id FROM trading.agentversions WHERE symbol = 'REGCARD' AND version = 'v1.0.1' \gset
SELECT id AS c_id FROM trading.agentversions WHERE symbol = 'REGCARD' AND version = 'v1.0.2' \gset
SELECT id AS d_id FROM trading.agentversions WHERE symbol = 'REGCARD' AND version = 'v1.0.3' \gset

-- ---------------------------------------------------------------- deploy
-- best_score: v1.0.1 and v1.0.2 tie on PnL, v1.0.2 has the higher AUC.
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h') = :c_id AS best_is_v102;
-- Already champion: a NOTICE, nothing logged.
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'best_score') = :c_id AS still_v102;
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'most_recent') = :d_id AS newest_is_v103;
-- rollback: back to the champion v1.0.3 replaced.
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'rollback') = :c_id AS back_to_v102;
SELECT version, status, promote_reason FROM trading.agentversions WHERE symbol = 'REGCARD' ORDER BY id;
-- Imports have no hold-out score: best_score falls back to the newest.
SELECT fsmml_deploy('DirectionXGB', 'REGTEST', '1m', 'best_score') IS NOT NULL AS deployed;
SELECT version, status FROM trading.agentversions WHERE symbol = 'REGTEST' AND timeframe = '1m' ORDER BY id;
-- Errors: strategy, no versions, agent, nothing to roll back to.
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'newest');
SELECT fsmml_deploy('DirectionXGB', 'REGNONE', '1h');
SELECT fsmml_deploy('NoSuchAgent', 'REGCARD', '1h');
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '7m');
SELECT fsmml_deploy('DirectionXGB', 'REGTEST', '5m', 'rollback');
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', NULL);

-- ---------------------------------------------------------------- promote
SELECT fsmml_promote(:a_id, 'back to the original') = :c_id AS previous_was_v102;
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'rollback') = :c_id AS rolled_back_to_v102;
SELECT fsmml_promote(:b_id) = :c_id AS previous_was_v102;
SELECT fsmml_promote(:b_id);
SELECT fsmml_promote(-1);
SELECT fsmml_promote(NULL);
SELECT version, status, promote_reason FROM trading.agentversions WHERE symbol = 'REGCARD' ORDER BY id;

-- ---------------------------------------------------------------- model card
SELECT fsmml_model_card(:a_id) AS card \gset
SELECT position('# DirectionXGB@REGCARD-1h v1.0.0 (retired)' IN :'card') = 1 AS title,
       position('## Data window' IN :'card') > 0 AS data_window,
       position('## Split' IN :'card') > 0 AS split,
       position('## Hyper-parameters' IN :'card') > 0 AS hyper,
       position('## Metrics per fold' IN :'card') > 0 AS folds,
       position('## Hold-out' IN :'card') > 0 AS holdout,
       position('## Backtest' IN :'card') > 0 AS backtest,
       position('## Feature importance' IN :'card') > 0 AS importance,
       position('## Known risks' IN :'card') > 0 AS risks,
       position('## Where to use it' IN :'card') > 0 AS where_to_use;
-- The whole card but the lines with ids and times.
SELECT line FROM regexp_split_to_table(:'card', E'\n') WITH ORDINALITY AS t(line, n)
WHERE line !~ '^- (version id|created|promoted|status|model):' ORDER BY n;
SELECT position('- model: xgboost-ubj, sha256 ' || model_sha256 IN :'card') > 0 AS sha256_line
FROM trading.agentversions WHERE id = :a_id;
-- Good numbers: nothing flagged; missing sections print n/a.
SELECT line FROM regexp_split_to_table(fsmml_model_card(:c_id), E'\n') WITH ORDINALITY AS t(line, n)
WHERE line ~ '^(\| [0-9]|- (None|threshold|horizon)|n/a)' ORDER BY n;
-- Too good to be true.
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
    model_sha256, metrics, feature_names, ext_version)
SELECT 'REGGOOD', '1m', 'DirectionXGB', 'v1.0.0', 'champion', model, model_format, model_sha256,
       '{"holdout": {"rows": 300, "auc": 0.97, "pos_rate": 0.7,
                     "backtest": {"pnl": -0.01, "sharpe": 12.5, "trades": 0, "profit_factor": 0.8}}}',
       feature_names, ext_version
FROM trading.agentversions WHERE symbol = 'REGTEST' AND timeframe = '1m' AND version = 'v1.0.0';
SELECT line FROM trading.agentversions,
     regexp_split_to_table(fsmml_model_card(id), E'\n') WITH ORDINALITY AS t(line, n)
WHERE symbol = 'REGGOOD' AND n > (SELECT n FROM regexp_split_to_table(fsmml_model_card(id), E'\n')
                                  WITH ORDINALITY AS k(l, n) WHERE l = '## Known risks')
  AND line LIKE '- %' AND n < (SELECT n FROM regexp_split_to_table(fsmml_model_card(id), E'\n')
                               WITH ORDINALITY AS k(l, n) WHERE l = '## Where to use it')
ORDER BY n;
-- No metrics at all, and an imported model.
SELECT line FROM regexp_split_to_table(fsmml_model_card(:d_id), E'\n') WITH ORDINALITY AS t(line, n)
WHERE line ~ '(n/a|^- No)' ORDER BY n;
SELECT line FROM trading.agentversions,
     regexp_split_to_table(fsmml_model_card(id), E'\n') WITH ORDINALITY AS t(line, n)
WHERE symbol = 'REGTEST' AND timeframe = '1m' AND version = 'v1.0.1'
  AND line ~ '^(- (imported|Imported|threshold|horizon|inputs)|\| [0-9] \|)' ORDER BY n;
SELECT fsmml_model_card(-1);
SELECT fsmml_model_card(NULL) IS NULL AS strict;

-- ---------------------------------------------------------------- export
SELECT left(convert_from(fsmml_export_model(:a_id), 'UTF8'), 1) AS first_char,
       position('"learner"' IN convert_from(fsmml_export_model(:a_id), 'UTF8')) > 0 AS has_learner,
       convert_from(fsmml_export_model(:a_id), 'UTF8')::jsonb
           #>> '{learner,gradient_booster,model,gbtree_model_param,num_trees}' AS num_trees,
       convert_from(fsmml_export_model(:a_id), 'UTF8')::jsonb
           #>> '{learner,objective,name}' AS objective;
-- The named model keeps its names.
SELECT convert_from(fsmml_export_model(id), 'UTF8')::jsonb #> '{learner,feature_names}' AS names
FROM trading.agentversions WHERE symbol = 'REGTEST' AND timeframe = '1m' AND version = 'v1.0.1';
-- The export imports again as the same model.
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '15m', fsmml_export_model(:a_id),
                          ARRAY['ret_1', 'rsi_14', 'vol_z_20']) IS NOT NULL AS reimported;
SELECT fsmml_export_model(id) = fsmml_export_model(:a_id) AS same_model
FROM trading.agentversions WHERE symbol = 'REGTEST' AND timeframe = '15m';
-- A version stored as XGBoost JSON is returned as stored; other formats are refused.
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
    model_sha256, feature_names, ext_version)
SELECT 'REGFMT', '1m', 'DirectionXGB', v, s, b, f, encode(sha256(b), 'hex'),
       ARRAY['ret_1', 'rsi_14', 'vol_z_20'], '0.1.0'
FROM (VALUES ('v1.0.0', 'champion', (SELECT blob FROM model_src WHERE name = 'm'), 'xgboost-json'),
             ('v1.0.1', 'challenger', convert_to('{"rules": []}', 'UTF8'), 'fsmml-json')) AS t(v, s, b, f);
SELECT fsmml_export_model(id) = (SELECT blob FROM model_src WHERE name = 'm') AS as_stored
FROM trading.agentversions WHERE symbol = 'REGFMT' AND version = 'v1.0.0';
SELECT fsmml_export_model(id) FROM trading.agentversions WHERE symbol = 'REGFMT' AND version = 'v1.0.1';
SELECT line FROM trading.agentversions, regexp_split_to_table(fsmml_model_card(id), E'\n') AS line
WHERE symbol = 'REGFMT' AND version = 'v1.0.1' AND line ~ 'not an XGBoost';
SELECT fsmml_export_model(-1);

-- ---------------------------------------------------------------- invariants and log
SELECT symbol, timeframe, count(*) AS versions,
       count(*) FILTER (WHERE status = 'champion') AS champions
FROM trading.agentversions WHERE symbol LIKE 'REG%' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT p.symbol, p.timeframe, p.decision, c.version AS challenger, ch.version AS champion, p.reason,
       p.challenger_metrics IS NOT NULL AS has_challenger_metrics,
       p.champion_metrics IS NOT NULL AS has_champion_metrics
FROM fsmml.promotions p
JOIN trading.agentversions c ON c.id = p.challenger_id
LEFT JOIN trading.agentversions ch ON ch.id = p.champion_id
WHERE p.symbol LIKE 'REG%' ORDER BY p.id;

-- ---------------------------------------------------------------- roles
SET ROLE fsmml_reader;
SELECT fsmml_promote(:a_id);
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', '\x00', ARRAY['ret_1']);
SELECT fsmml_model_card(:a_id);
SELECT fsmml_export_model(:a_id);
RESET ROLE;
SET ROLE fsmml_trainer;
SELECT fsmml_promote(:a_id);
SELECT fsmml_deploy('DirectionXGB', 'REGCARD', '1h', 'rollback');
SELECT fsmml_import_model('DirectionXGB', 'REGTEST', '1m', '\x00', ARRAY['ret_1']);
SELECT left(fsmml_model_card(:a_id), 27) AS card,
       length(fsmml_export_model(:a_id)) > 1000 AS exported;
RESET ROLE;
SET ROLE fsmml_admin;
SELECT fsmml_promote(:a_id, 'admin decision') = :b_id AS admin_promoted;
RESET ROLE;
SELECT version, status, promote_reason FROM trading.agentversions
WHERE symbol = 'REGCARD' AND status = 'champion';
