-- Feature engine: catalogue, on-the-fly features against independent SQL
-- references, incremental builds, bad input, resampling, no look-ahead.
SET timezone = 'UTC';
SET extra_float_digits = 0;

SELECT count(*) AS features, count(DISTINCT "group") AS groups FROM fsmml.feature_catalog;
SELECT "group", count(*) FROM fsmml.feature_catalog GROUP BY 1 ORDER BY 1;
SELECT name, lookback FROM fsmml.feature_catalog
WHERE name IN ('ret_1', 'ema_dist_5', 'ema_dist_50', 'rsi_14', 'atr_14', 'macd_signal', 'bb_pctb_20')
ORDER BY "position";
-- Every catalogue entry is a double precision column of trading.features.
SELECT count(*) AS missing FROM fsmml.feature_catalog c
WHERE NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = 'trading' AND table_name = 'features'
                    AND column_name = c.name AND data_type = 'double precision');

-- 3000 deterministic 1m bars (a wavy walk), starting at midnight UTC.
CREATE TEMP TABLE src AS
SELECT i, '2024-03-01 00:00+00'::timestamptz + (i || ' minutes')::interval AS ts,
       100 + 5 * sin(i / 37.0) + 3 * sin(i / 11.0) + 0.01 * i AS c
FROM generate_series(0, 2999) AS i;
INSERT INTO trading.historicaldata
SELECT 'TEST', '1m', ts,
       coalesce(lag(c) OVER (ORDER BY i), c),
       greatest(coalesce(lag(c) OVER (ORDER BY i), c), c) + 0.05 + 0.02 * abs(sin(i)),
       least(coalesce(lag(c) OVER (ORDER BY i), c), c) - 0.04 - 0.03 * abs(cos(i)),
       c, 10 + 5 * abs(sin(i / 7.0)) + (i % 13)
FROM src;

-- Warm-up rows are NULL; first values appear where the conventions say.
WITH f AS (SELECT row_number() OVER (ORDER BY "timestamp") - 1 AS idx, * FROM fsmml_features('TEST', '1m'))
SELECT min(idx) FILTER (WHERE ret_1 IS NOT NULL) AS ret_1,
       min(idx) FILTER (WHERE ema_dist_5 IS NOT NULL) AS ema5,
       min(idx) FILTER (WHERE ema_dist_50 IS NOT NULL) AS ema50,
       min(idx) FILTER (WHERE rsi_14 IS NOT NULL) AS rsi14,
       min(idx) FILTER (WHERE atr_14 IS NOT NULL) AS atr14,
       min(idx) FILTER (WHERE macd IS NOT NULL) AS macd,
       min(idx) FILTER (WHERE macd_signal IS NOT NULL) AS macd_signal,
       min(idx) FILTER (WHERE bb_pctb_20 IS NOT NULL) AS bb20,
       min(idx) FILTER (WHERE vol_ret_20 IS NOT NULL) AS vol_ret_20,
       min(idx) FILTER (WHERE accel_10 IS NOT NULL) AS accel_10,
       count(*) AS n
FROM f;

-- Independent references computed with SQL window functions.
CREATE TEMP TABLE ref AS
WITH b AS (
    SELECT row_number() OVER w - 1 AS idx, "timestamp" AS ts, open, high, low, close, volume,
           lag(close) OVER w AS c1, lag(close, 5) OVER w AS c5, lag(close, 10) OVER w AS c10
    FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1m'
    WINDOW w AS (ORDER BY "timestamp")),
r AS (
    SELECT *, close / c1 - 1 AS ret_1 FROM b),
w AS (
    SELECT *,
        CASE WHEN idx >= 5 THEN close / c5 - 1 END AS ret_5,
        ln(close / c1) AS logret_1,
        CASE WHEN idx >= 20 THEN stddev_samp(ret_1) OVER (ORDER BY idx ROWS 19 PRECEDING) END AS vol_ret_20,
        CASE WHEN idx >= 19 THEN avg(close) OVER (ORDER BY idx ROWS 19 PRECEDING) END AS sma20,
        CASE WHEN idx >= 19 THEN stddev_pop(close) OVER (ORDER BY idx ROWS 19 PRECEDING) END AS sd20,
        CASE WHEN idx >= 19 THEN avg(volume) OVER (ORDER BY idx ROWS 19 PRECEDING) END AS vma20,
        CASE WHEN idx >= 19 THEN stddev_samp(volume) OVER (ORDER BY idx ROWS 19 PRECEDING) END AS vsd20,
        CASE WHEN idx >= 19 THEN sqrt(avg(ln(high / low) ^ 2) OVER (ORDER BY idx ROWS 19 PRECEDING) / (4 * ln(2))) END AS parkinson_20,
        CASE WHEN idx >= 10 THEN (close - c10) / close END AS mom_10
    FROM r)
SELECT idx, ts, ret_1, ret_5, logret_1, vol_ret_20,
       (close - (sma20 - 2 * sd20)) / (4 * sd20) AS bb_pctb_20,
       4 * sd20 / sma20 AS bb_width_20,
       (high - low) / close AS range_pct,
       (close - open) / (high - low) AS body_ratio,
       (high - greatest(open, close)) / (high - low) AS upper_shadow,
       volume / vma20 AS vol_ratio_20,
       (volume - vma20) / vsd20 AS vol_z_20,
       parkinson_20, mom_10
FROM w;

-- EMA(5), SMA-seeded, and Wilder RSI(14), by recursion over the bars.
CREATE TEMP TABLE bars_idx AS
SELECT row_number() OVER (ORDER BY "timestamp") - 1 AS idx, "timestamp" AS ts, close,
       close - lag(close) OVER (ORDER BY "timestamp") AS d
FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1m';
CREATE TEMP TABLE ema5 AS
WITH RECURSIVE e(idx, ema) AS (
    SELECT 4::bigint, (SELECT avg(close) FROM bars_idx WHERE idx < 5)
    UNION ALL
    SELECT b.idx, (b.close - e.ema) * (2.0 / 6.0) + e.ema FROM e JOIN bars_idx b ON b.idx = e.idx + 1)
SELECT e.idx, b.close / e.ema - 1 AS ema_dist_5 FROM e JOIN bars_idx b USING (idx);
CREATE TEMP TABLE rsi14 AS
WITH RECURSIVE r(idx, g, l) AS (
    SELECT 14::bigint,
           (SELECT avg(greatest(d, 0)) FROM bars_idx WHERE idx BETWEEN 1 AND 14),
           (SELECT avg(greatest(-d, 0)) FROM bars_idx WHERE idx BETWEEN 1 AND 14)
    UNION ALL
    SELECT b.idx, (r.g * 13 + greatest(b.d, 0)) / 14, (r.l * 13 + greatest(-b.d, 0)) / 14
    FROM r JOIN bars_idx b ON b.idx = r.idx + 1)
SELECT idx, 100 * g / (g + l) AS rsi_14 FROM r;

CREATE FUNCTION pg_temp.relerr(a float8, b float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN a IS NULL AND b IS NULL THEN 0
               WHEN a IS NULL OR b IS NULL THEN 'Infinity'::float8
               ELSE abs(a - b) / greatest(abs(b), 1e-12) END $$;

WITH f AS (SELECT row_number() OVER (ORDER BY "timestamp") - 1 AS idx, * FROM fsmml_features('TEST', '1m'))
SELECT max(pg_temp.relerr(f.ret_1, r.ret_1)) < 1e-9 AS ret_1,
       max(pg_temp.relerr(f.ret_5, r.ret_5)) < 1e-9 AS ret_5,
       max(pg_temp.relerr(f.logret_1, r.logret_1)) < 1e-9 AS logret_1,
       max(pg_temp.relerr(f.vol_ret_20, r.vol_ret_20)) < 1e-9 AS vol_ret_20,
       max(pg_temp.relerr(f.bb_pctb_20, r.bb_pctb_20)) < 1e-9 AS bb_pctb_20,
       max(pg_temp.relerr(f.bb_width_20, r.bb_width_20)) < 1e-9 AS bb_width_20,
       max(pg_temp.relerr(f.range_pct, r.range_pct)) < 1e-9 AS range_pct,
       max(pg_temp.relerr(f.body_ratio, r.body_ratio)) < 1e-9 AS body_ratio,
       max(pg_temp.relerr(f.upper_shadow, r.upper_shadow)) < 1e-9 AS upper_shadow,
       max(pg_temp.relerr(f.vol_ratio_20, r.vol_ratio_20)) < 1e-9 AS vol_ratio_20,
       max(pg_temp.relerr(f.vol_z_20, r.vol_z_20)) < 1e-9 AS vol_z_20,
       max(pg_temp.relerr(f.parkinson_20, r.parkinson_20)) < 1e-9 AS parkinson_20,
       max(pg_temp.relerr(f.mom_10, r.mom_10)) < 1e-9 AS mom_10,
       max(pg_temp.relerr(f.ema_dist_5, e.ema_dist_5)) < 1e-9 AS ema_dist_5,
       max(pg_temp.relerr(f.rsi_14, s.rsi_14)) < 1e-9 AS rsi_14
FROM f JOIN ref r USING (idx) LEFT JOIN ema5 e USING (idx) LEFT JOIN rsi14 s USING (idx);

-- Build: rows written, idempotent, incremental equals batch.
SELECT fsmml_build_features('TEST', '1m');
SELECT fsmml_build_features('TEST', '1m');
SELECT nbars, last_ts FROM fsmml.feature_state WHERE symbol = 'TEST';
INSERT INTO trading.historicaldata
SELECT 'TEST', '1m', '2024-03-01 00:00+00'::timestamptz + (i || ' minutes')::interval,
       100.5, 101, 100, 100.7, 12
FROM generate_series(3000, 3099) AS i;
SELECT fsmml_build_features('TEST', '1m');
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM trading.features WHERE symbol = 'TEST'
     EXCEPT SELECT * FROM fsmml_features('TEST', '1m'))
    UNION ALL
    (SELECT * FROM fsmml_features('TEST', '1m')
     EXCEPT SELECT * FROM trading.features WHERE symbol = 'TEST')) d;

-- Users' own columns are kept by rebuilds.
ALTER TABLE trading.features ADD COLUMN my_signal double precision;
UPDATE trading.features SET my_signal = 42 WHERE symbol = 'TEST' AND "timestamp" >= '2024-03-02 23:00+00';
SELECT fsmml_build_features('TEST', '1m', '2024-03-02 22:00+00');
SELECT count(*) FILTER (WHERE my_signal = 42) AS kept, count(*) AS n
FROM trading.features WHERE symbol = 'TEST';
SELECT count(*) AS user_column_null_on_the_fly FROM fsmml_features('TEST', '1m') WHERE my_signal IS NULL;
ALTER TABLE trading.features DROP COLUMN my_signal;

-- A bar inserted into the past is noticed; rows from it on are rewritten.
DELETE FROM trading.historicaldata WHERE symbol = 'TEST' AND "timestamp" = '2024-03-01 12:00+00';
SELECT fsmml_build_features('TEST', '1m');
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM trading.features WHERE symbol = 'TEST'
     EXCEPT SELECT * FROM fsmml_features('TEST', '1m'))
    UNION ALL
    (SELECT * FROM fsmml_features('TEST', '1m')
     EXCEPT SELECT * FROM trading.features WHERE symbol = 'TEST')) d;
INSERT INTO trading.historicaldata VALUES ('TEST', '1m', '2024-03-01 12:00+00', 103, 104, 102, 103.5, 20);
SELECT fsmml_build_features('TEST', '1m');
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM trading.features WHERE symbol = 'TEST'
     EXCEPT SELECT * FROM fsmml_features('TEST', '1m'))
    UNION ALL
    (SELECT * FROM fsmml_features('TEST', '1m')
     EXCEPT SELECT * FROM trading.features WHERE symbol = 'TEST')) d;

-- No look-ahead: truncating the bars changes nothing at or before the cut.
SELECT cut, (SELECT count(*) FROM (
                 SELECT * FROM fsmml_features('TEST', '1m', NULL, cut)
                 EXCEPT SELECT * FROM fsmml_features('TEST', '1m') WHERE "timestamp" <= cut) d) AS differing,
       (SELECT count(*) FROM fsmml_features('TEST', '1m', NULL, cut)) AS rows_checked
FROM (VALUES ('2024-03-01 00:30+00'::timestamptz), ('2024-03-01 04:59+00'), ('2024-03-01 05:00+00'),
             ('2024-03-01 17:23+00'), ('2024-03-02 23:59+00')) AS c(cut)
ORDER BY cut;

-- Multi-timeframe: a 5m/1h value is visible only once its bar has closed.
SELECT "timestamp", m5_ret_1 IS NOT NULL AS m5_visible
FROM fsmml_features('TEST', '1m', '2024-03-01 00:08+00', '2024-03-01 00:10+00');
SELECT fsmml_resample('TEST', '1m', '5m');
SELECT fsmml_resample('TEST', '1m', '1h');
-- m5_ret_1 at the 1m bar closing at 00:10 is the 00:05 5m bar over the 00:00 one.
SELECT max(abs(f.m5_ret_1 - (h.close / lag_close - 1))) < 1e-12 AS m5_ret_1_matches,
       count(*) AS checked
FROM fsmml_features('TEST', '1m') f
JOIN (SELECT "timestamp", close, lag(close) OVER (ORDER BY "timestamp") AS lag_close
      FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '5m') h
  ON f."timestamp" = h."timestamp" + interval '4 minutes'
WHERE lag_close IS NOT NULL;
-- Between closes the snapshot does not move.
SELECT count(DISTINCT h1_ret_1) AS distinct_h1_values_in_one_hour
FROM fsmml_features('TEST', '1m', '2024-03-01 05:00+00', '2024-03-01 05:58+00');
-- The 1h snapshot equals ret_1 of the 1h bars built by fsmml_resample.
SELECT max(abs(f.h1_ret_1 - h.ret)) < 1e-12 AS h1_ret_1_matches, count(*) AS checked
FROM fsmml_features('TEST', '1m') f
JOIN (SELECT "timestamp", close / lag(close) OVER (ORDER BY "timestamp") - 1 AS ret
      FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1h') h
  ON f."timestamp" = h."timestamp" + interval '59 minutes'
WHERE h.ret IS NOT NULL;

-- Resampling: SQL aggregate reference; the incomplete trailing hour is not written.
SELECT count(*) AS hours,
       max("timestamp") AS last_hour,
       (SELECT max("timestamp") FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1m') AS last_minute
FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1h';
SELECT count(*) AS mismatched_5m_bars FROM (
    SELECT date_bin('5 minutes', "timestamp", 'epoch') AS b,
           (array_agg(open ORDER BY "timestamp"))[1] AS o, max(high) AS h, min(low) AS l,
           (array_agg(close ORDER BY "timestamp" DESC))[1] AS c, sum(volume) AS v
    FROM trading.historicaldata WHERE symbol = 'TEST' AND timeframe = '1m' GROUP BY 1) r
JOIN trading.historicaldata h ON h.symbol = 'TEST' AND h.timeframe = '5m' AND h."timestamp" = r.b
WHERE (h.open, h.high, h.low, h.close) IS DISTINCT FROM (r.o, r.h, r.l, r.c)
   OR abs(h.volume - r.v) > 1e-9;
SELECT fsmml_resample('TEST', '1m', '5m', '2024-03-02 12:02+00');
SELECT fsmml_resample('TEST', '5m', '1m');
SELECT fsmml_resample('TEST', '1h', '15m');
SELECT fsmml_resample('TEST', '1m', '7m');

-- Bad input: clear errors naming the bar, or documented handling.
SELECT fsmml_build_features('TEST', '2m');
SELECT fsmml_build_features(NULL, '1m');
SELECT fsmml_build_features('NOSUCH', '1m');
SELECT count(*) FROM fsmml_features('NOSUCH', '1m');
-- Fewer bars than the longest look-back: rows with NULL features, no error.
INSERT INTO trading.historicaldata
SELECT 'SHORT', '1h', '2024-01-01 00:00+00'::timestamptz + (i || ' hours')::interval, 10 + i, 11 + i, 9 + i, 10 + i, 5
FROM generate_series(0, 9) AS i;
SELECT fsmml_build_features('SHORT', '1h');
SELECT count(*) AS rows, count(ema_dist_50) AS ema50_values, count(ret_5) AS ret_5_values,
       count(m5_rsi_14) AS lower_tf_snapshots
FROM trading.features WHERE symbol = 'SHORT';
-- Gaps are allowed and counted.
INSERT INTO trading.historicaldata
SELECT 'GAPPY', '5m', '2024-01-01 00:00+00'::timestamptz + (i * 5 || ' minutes')::interval, 10, 11, 9, 10, 5
FROM generate_series(0, 99) AS i WHERE i NOT IN (10, 11, 50);
SELECT fsmml_build_features('GAPPY', '5m');
-- Invalid prices and volumes.
INSERT INTO trading.historicaldata VALUES ('BAD', '1m', '2024-01-01 00:00+00', 10, 11, 9, 10, 1);
INSERT INTO trading.historicaldata VALUES ('BAD', '1m', '2024-01-01 00:01+00', 10, 11, 9, 'NaN', 1);
SELECT fsmml_build_features('BAD', '1m');
UPDATE trading.historicaldata SET close = 'Infinity' WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT count(*) FROM fsmml_features('BAD', '1m');
UPDATE trading.historicaldata SET close = 0 WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT fsmml_build_features('BAD', '1m');
UPDATE trading.historicaldata SET close = 10, open = -1 WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT fsmml_build_features('BAD', '1m');
UPDATE trading.historicaldata SET open = 10, high = 8 WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT fsmml_build_features('BAD', '1m');
UPDATE trading.historicaldata SET high = 11, volume = -3 WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT fsmml_build_features('BAD', '1m');
UPDATE trading.historicaldata SET volume = 1, "timestamp" = '2024-01-01 00:00:20+00' WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:01+00';
SELECT fsmml_build_features('BAD', '1m');
SELECT fsmml_resample('BAD', '1m', '5m');
-- Duplicate bars (a bars table without its primary key).
UPDATE trading.historicaldata SET "timestamp" = '2024-01-01 00:01+00' WHERE symbol = 'BAD' AND "timestamp" = '2024-01-01 00:00:20+00';
ALTER TABLE trading.historicaldata DROP CONSTRAINT historicaldata_pkey;
INSERT INTO trading.historicaldata VALUES ('BAD', '1m', '2024-01-01 00:01+00', 10, 11, 9, 10, 1);
SELECT fsmml_build_features('BAD', '1m');
DELETE FROM trading.historicaldata WHERE symbol = 'BAD';
ALTER TABLE trading.historicaldata ADD PRIMARY KEY (symbol, timeframe, "timestamp");
-- Nothing was written for the bad series.
SELECT count(*) FROM trading.features WHERE symbol = 'BAD';
