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
