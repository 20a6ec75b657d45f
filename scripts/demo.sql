-- What fsmml does with the bundled bars (run by scripts/demo.sh).
\pset footer off
\timing off
SET timezone = 'UTC';

\echo '== The bars: trading.historicaldata'
SELECT symbol, timeframe, count(*) AS bars, min("timestamp") AS first, max("timestamp") AS last
FROM trading.historicaldata GROUP BY 1, 2;

\echo '== Higher timeframes resampled from 1m (complete buckets only)'
SELECT fsmml_resample('BTCUSDT', '1m', '1h') AS hourly_bars_written;
SELECT "timestamp", round(open::numeric, 2) AS open, round(high::numeric, 2) AS high,
       round(low::numeric, 2) AS low, round(close::numeric, 2) AS close, round(volume::numeric, 1) AS volume
FROM trading.historicaldata WHERE symbol = 'BTCUSDT' AND timeframe = '1h'
ORDER BY "timestamp" DESC LIMIT 3;

\echo '== Features: the catalogue (58 features in 8 groups)'
SELECT "group", count(*) AS features, string_agg(name, ' ' ORDER BY "position") AS names
FROM fsmml.feature_catalog GROUP BY 1 ORDER BY min("position");

\echo '== Build features into trading.features (timed), then again: nothing new to do'
\timing on
SELECT fsmml_build_features('BTCUSDT', '1m') AS rows_written;
SELECT fsmml_build_features('BTCUSDT', '1m') AS rows_written_again;
\timing off

\echo '== The latest bars'' features (a few of them)'
SELECT "timestamp", round(ret_1::numeric, 6) AS ret_1, round(rsi_14::numeric, 2) AS rsi_14,
       round(atr_14::numeric, 6) AS atr_14, round(bb_pctb_20::numeric, 3) AS bb_pctb,
       round(effort::numeric, 3) AS effort, round(result::numeric, 3) AS result,
       round(feat_score::numeric, 2) AS feat_score, round(h1_rsi_14::numeric, 2) AS h1_rsi_14
FROM trading.features WHERE symbol = 'BTCUSDT' AND timeframe = '1m'
ORDER BY "timestamp" DESC LIMIT 5;

\echo '== Train DirectionXGB on BTCUSDT 1m: purged walk-forward (3 fits), hold-out backtest, registered as a version'
SELECT version_id, instance, version, status,
       round((metrics->'holdout'->>'auc')::numeric, 4) AS holdout_auc,
       round((metrics->'holdout'->>'accuracy')::numeric, 4) AS holdout_accuracy,
       metrics->'rows'->>'used' AS rows_used,
       round((metrics->>'fit_seconds')::numeric, 1) AS fit_seconds
FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '{"folds": 3, "rounds": 100}');

\echo '== Walk-forward folds and the hold-out'
SELECT f->>'fold' AS fold, f->>'rows' AS test_rows, f->>'from' AS test_from,
       round((f->>'auc')::numeric, 4) AS auc, round((f->>'brier')::numeric, 4) AS brier
FROM trading.agentversions v, jsonb_array_elements(v.metrics->'folds') f
WHERE v.symbol = 'BTCUSDT' ORDER BY v.id DESC, (f->>'fold')::int LIMIT 2;
SELECT round((b->>'pnl')::numeric, 4) AS pnl, round((b->>'sharpe')::numeric, 2) AS sharpe,
       round((b->>'max_drawdown')::numeric, 4) AS max_drawdown, b->>'trades' AS trades,
       round((b->>'fees')::numeric, 4) AS fees
FROM (SELECT metrics->'holdout'->'backtest' AS b FROM trading.agentversions
      WHERE symbol = 'BTCUSDT' ORDER BY id DESC LIMIT 1) s;

\echo '== A retrain with the same spec is a challenger (PATCH bump), judged against the champion on the same hold-out'
SELECT version, status FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '{"folds": 3, "rounds": 100}');
SELECT decision, reason FROM fsmml.promotions WHERE symbol = 'BTCUSDT' ORDER BY id;

\echo '== The model card of the champion (first lines)'
SELECT line FROM regexp_split_to_table(
    (SELECT fsmml_model_card(id) FROM trading.agentversions
     WHERE symbol = 'BTCUSDT' AND status = 'champion'), E'\n') WITH ORDINALITY AS t(line, n)
WHERE n <= 24;

\echo '== The rest of the agent set on the last 30,000 bars: regimes (k-means), volatility quantiles, the state machine, execution rules, the ensemble'
SELECT instance, version, status,
       CASE split_part(instance, '@', 1)
         WHEN 'RegimeKMeans' THEN format('silhouette %s, hold-out shares trend %s / mean_revert %s / chop %s',
              round((metrics->>'silhouette')::numeric, 3),
              round((metrics#>>'{holdout,regimes,trend,share}')::numeric, 3),
              round((metrics#>>'{holdout,regimes,mean_revert,share}')::numeric, 3),
              round((metrics#>>'{holdout,regimes,chop,share}')::numeric, 3))
         WHEN 'VolQuantile' THEN 'hold-out coverage q0.9 '
              || round((metrics#>>'{holdout,quantiles,1,coverage}')::numeric, 3)
              || ', pinball mean ' || round((metrics#>>'{holdout,pinball_mean}')::numeric, 6)
         WHEN 'StateFSM' THEN 'next-state accuracy ' || round((metrics#>>'{holdout,accuracy}')::numeric, 3)
              || ' vs majority ' || round((metrics#>>'{holdout,baseline_accuracy}')::numeric, 3)
         ELSE metrics::text END AS metrics
FROM (SELECT * FROM fsmml_train('RegimeKMeans', 'BTCUSDT', '1m', '{"lookback": 30000}')
      UNION ALL SELECT * FROM fsmml_train('VolQuantile', 'BTCUSDT', '1m', '{"lookback": 30000}')
      UNION ALL SELECT * FROM fsmml_train('StateFSM', 'BTCUSDT', '1m', '{"lookback": 30000}')
      UNION ALL SELECT * FROM fsmml_train('ExecRules', 'BTCUSDT', '1m')
      UNION ALL SELECT * FROM fsmml_train('EnsembleWeighted', 'BTCUSDT', '1m')) t;

\echo '== Score a day: every champion writes trading.agentpreds, the ensemble trading.agentsignals, the state machine state_history and transitions'
SELECT fsmml_predict('DirectionXGB', 'BTCUSDT', '1m') AS latest_prediction;
\timing on
SELECT fsmml_score('BTCUSDT', '1m', '2024-03-09 10:00+00', '2024-03-10 10:00+00') AS predictions_written;
SELECT fsmml_score('BTCUSDT', '1m', '2024-03-09 10:00+00', '2024-03-10 10:00+00') AS predictions_again;
\timing off
SELECT v.agent, count(*) AS predictions, min(p.payload::text) AS a_payload
FROM trading.agentpreds p JOIN trading.agentversions v ON v.id = p.agent_version_id
WHERE p."timestamp" >= '2024-03-09 10:00+00' GROUP BY 1 ORDER BY 1;

\echo '== The AgentSignals of the last bars (side, strength, size, stops; the versions they come from)'
SELECT "timestamp", side, round(strength::numeric, 3) AS strength, round(size::numeric, 3) AS size,
       round(sl::numeric, 2) AS sl, round(tp::numeric, 2) AS tp, ensemble_version_id, agent_version_ids
FROM trading.agentsignals WHERE symbol = 'BTCUSDT' ORDER BY "timestamp" DESC LIMIT 8;
SELECT side, count(*) AS signals, round(avg(strength)::numeric, 3) AS mean_strength
FROM trading.agentsignals WHERE symbol = 'BTCUSDT' GROUP BY 1 ORDER BY 1;

\echo '== The state machine over that day: states, and the most frequent changes'
SELECT * FROM fsmml_state_distribution('BTCUSDT', '1m', 1);
SELECT from_state, to_state, transitions, round(probability::numeric, 3) AS probability
FROM fsmml_transition_matrix('BTCUSDT', '1m', 1) WHERE from_state <> to_state
ORDER BY transitions DESC LIMIT 6;
SELECT "timestamp", from_state, to_state, round(confidence::numeric, 1) AS confidence, reason
FROM trading.transitions WHERE symbol = 'BTCUSDT' ORDER BY "timestamp" DESC LIMIT 4;


\echo '== Backtest: the champion''s stored predictions through ExecRules and the bar simulator'
SELECT backtest_id, jsonb_pretty(metrics - 'annualisation') AS metrics
FROM fsmml_backtest('BTCUSDT', '1m', '2024-03-09 10:00+00', '2024-03-10 10:00+00',
                    jsonb_build_object('version_id', (SELECT id FROM trading.agentversions
                                                       WHERE symbol = 'BTCUSDT' AND agent = 'DirectionXGB' AND status = 'champion')));

\echo '== Live scoring: a bar inserted is scored in its own transaction (features, every champion, the signal); NOTIFY at commit'
SELECT fsmml_enable_scoring('BTCUSDT', '1m') AS live;
LISTEN fsmml_signals;
\timing on
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
SELECT symbol, timeframe, "timestamp" + interval '1 minute', close, close * 1.0006, close * 0.9995, close * 1.0004, volume
FROM trading.historicaldata WHERE symbol = 'BTCUSDT' AND timeframe = '1m' ORDER BY "timestamp" DESC LIMIT 1;
\timing off
SELECT s."timestamp", s.side, round(s.strength::numeric, 3) AS strength, s.ensemble_version_id,
       (SELECT count(*) FROM trading.agentpreds p WHERE p.symbol = s.symbol AND p.timeframe = s.timeframe
                                                    AND p."timestamp" = s."timestamp") AS predictions
FROM trading.agentsignals s WHERE s.symbol = 'BTCUSDT' ORDER BY s."timestamp" DESC LIMIT 1;
SELECT count(*) AS scoring_errors FROM fsmml.scoring_errors;
UNLISTEN fsmml_signals;

\echo '== Threshold optimisation (TPE, 60 trials) of the state machine, with the deflated Sharpe ratio'
SELECT calibration_id, round(score::numeric, 3) AS train_score, thresholds
FROM fsmml_optimize('StateFSM', 'BTCUSDT', '1m', 60);
SELECT id, method, agent, is_active, details->>'deflated_sharpe' AS deflated_sharpe,
       details->>'holdout_sharpe' AS holdout_sharpe, details->>'warning' AS warning
FROM trading.calibrations ORDER BY id DESC LIMIT 1;
