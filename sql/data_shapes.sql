-- Desks' data shapes: bars off the epoch grid (hourly on :15), daily bars at a
-- local midnight that moves with daylight saving, forex daily stamps at
-- 21:00/22:00 UTC with zero volume; higher-timeframe buckets follow the
-- series' origin; bars too close together and duplicates are errors; a state
-- blob of the 0.1.0 layout is recomputed, not misread.
SET timezone = 'UTC';
SET extra_float_digits = 0;

-- ---------------------------------------------------------------- hourly bars on :15
INSERT INTO trading.historicaldata
SELECT 'OFF', '1h', '2024-01-01 00:15+00'::timestamptz + i * interval '1 hour',
       c0, greatest(c0, c1) * 1.001, least(c0, c1) * 0.999, c1, 100 + (i * 7919 % 97)
FROM (SELECT i, 1.1 + 0.02 * sin(i / 23.0) + 0.01 * sin(i / 7.0) + 0.003 * sin(i * 1.7) AS c1,
             1.1 + 0.02 * sin((i - 1) / 23.0) + 0.01 * sin((i - 1) / 7.0) + 0.003 * sin((i - 1) * 1.7) AS c0
      FROM generate_series(0, 1999) AS i) s;
SELECT fsmml_build_features('OFF', '1h');
SELECT count(*) AS rows, count(ret_1) AS ret_1_values, count(h4_ret_1) AS h4_values,
       count(d1_ret_1) AS d1_values, count(h1_ret_1) AS h1_values_on_1h
FROM trading.features WHERE symbol = 'OFF';
-- Resampled bars follow the series' origin: 4h at 00:15, 04:15, ...; 1d at 00:15.
SELECT fsmml_resample('OFF', '1h', '4h') AS h4_bars, fsmml_resample('OFF', '1h', '1d') AS d1_bars;
SELECT timeframe, to_char("timestamp", 'HH24:MI') AS stamp, count(*)
FROM trading.historicaldata WHERE symbol = 'OFF' AND timeframe IN ('4h', '1d')
GROUP BY 1, 2 ORDER BY 1, 2;
-- The 4h snapshot appears at the 1h bar closing at the bucket's end (stamped
-- bucket + 3h) and equals ret_1 of the resampled 4h bar ...
SELECT max(abs(f.h4_ret_1 - h.ret)) < 1e-12 AS h4_ret_1_matches, count(*) AS checked
FROM trading.features f
JOIN (SELECT "timestamp", close / lag(close) OVER (ORDER BY "timestamp") - 1 AS ret
      FROM trading.historicaldata WHERE symbol = 'OFF' AND timeframe = '4h') h
  ON f.symbol = 'OFF' AND f.timeframe = '1h' AND f."timestamp" = h."timestamp" + interval '3 hours'
WHERE h.ret IS NOT NULL;
-- ... and one bar earlier (bucket not closed) it is still the previous bucket's: no look-ahead.
SELECT count(*) FILTER (WHERE f.h4_ret_1 = g.h4_ret_1) AS still_previous, count(*) AS checked
FROM trading.historicaldata h
JOIN trading.features f ON f.symbol = 'OFF' AND f.timeframe = '1h' AND f."timestamp" = h."timestamp" + interval '2 hours'
JOIN trading.features g ON g.symbol = 'OFF' AND g.timeframe = '1h' AND g."timestamp" = h."timestamp" - interval '1 hour'
WHERE h.symbol = 'OFF' AND h.timeframe = '4h' AND g.h4_ret_1 IS NOT NULL;
SELECT max(abs(f.d1_ret_1 - d.ret)) < 1e-12 AS d1_ret_1_matches, count(*) AS checked
FROM trading.features f
JOIN (SELECT "timestamp", close / lag(close) OVER (ORDER BY "timestamp") - 1 AS ret
      FROM trading.historicaldata WHERE symbol = 'OFF' AND timeframe = '1d') d
  ON f.symbol = 'OFF' AND f.timeframe = '1h' AND f."timestamp" = d."timestamp" + interval '23 hours'
WHERE d.ret IS NOT NULL;
-- Resampling from a point rebuilds whole buckets of the same origin.
SELECT fsmml_resample('OFF', '1h', '4h', '2024-02-01 06:00+00') AS h4_rebuilt;
SELECT count(*) AS off_origin_4h_bars FROM trading.historicaldata
WHERE symbol = 'OFF' AND timeframe = '4h' AND to_char("timestamp", 'MI') <> '15';

-- A state blob of another layout (0.1.0's version 1) is not misread: the
-- series is recomputed from the first bar (the damaged first row is rewritten).
UPDATE trading.features SET ret_5 = 999 WHERE symbol = 'OFF' AND "timestamp" = '2024-01-01 05:15+00';
SELECT get_byte(state, 4) AS layout_version FROM fsmml.feature_state WHERE symbol = 'OFF';
UPDATE fsmml.feature_state SET state = set_byte(state, 4, 1) WHERE symbol = 'OFF';
SELECT fsmml_build_features('OFF', '1h');
SELECT get_byte(state, 4) AS layout_version FROM fsmml.feature_state WHERE symbol = 'OFF';
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM trading.features WHERE symbol = 'OFF'
     EXCEPT SELECT * FROM fsmml_features('OFF', '1h'))
    UNION ALL
    (SELECT * FROM fsmml_features('OFF', '1h')
     EXCEPT SELECT * FROM trading.features WHERE symbol = 'OFF')) d;

-- Incremental == batch on the offset series: 300 more bars on :15, resumed from the saved state.
INSERT INTO trading.historicaldata
SELECT 'OFF', '1h', '2024-01-01 00:15+00'::timestamptz + i * interval '1 hour',
       1.1, 1.102, 1.098 - 0.0001 * (i % 7), 1.1 + 0.0002 * (i % 5), 50 + i % 11
FROM generate_series(2000, 2299) AS i;
SELECT fsmml_build_features('OFF', '1h');
SELECT nbars FROM fsmml.feature_state WHERE symbol = 'OFF';
SELECT count(*) AS differing_rows FROM (
    (SELECT * FROM trading.features WHERE symbol = 'OFF'
     EXCEPT SELECT * FROM fsmml_features('OFF', '1h'))
    UNION ALL
    (SELECT * FROM fsmml_features('OFF', '1h')
     EXCEPT SELECT * FROM trading.features WHERE symbol = 'OFF')) d;

-- ---------------------------------------------------------------- daily bars at New York midnight
-- 05:00 UTC in winter, 04:00 UTC in summer.
INSERT INTO trading.historicaldata
SELECT 'NYD', '1d', ('2022-01-03'::date + i)::timestamp AT TIME ZONE 'America/New_York',
       c0, greatest(c0, c1) * 1.004, least(c0, c1) * 0.996, c1, 1000 + (i * 7919 % 97)
FROM (SELECT i, 400 + 30 * sin(i / 23.0) + 12 * sin(i / 7.0) + 4 * sin(i * 1.7) AS c1,
             400 + 30 * sin((i - 1) / 23.0) + 12 * sin((i - 1) / 7.0) + 4 * sin((i - 1) * 1.7) AS c0
      FROM generate_series(0, 899) AS i) s;
SELECT to_char("timestamp", 'HH24:MI') AS utc_stamp, count(*)
FROM trading.historicaldata WHERE symbol = 'NYD' GROUP BY 1 ORDER BY 1;
-- Accepted whole; a DST shift (23 h or 25 h between bars) is not a gap (no NOTICE).
SELECT fsmml_build_features('NYD', '1d');
SELECT count(*) AS rows, count(ret_1) AS ret_1_values, count(rsi_14) AS rsi_14_values,
       count(ema_dist_50) AS ema50_values, count(d1_ret_1) AS d1_snapshots_on_1d
FROM trading.features WHERE symbol = 'NYD';
SELECT max(abs(f.ret_1 - (b.close / b.c1 - 1))) < 1e-12 AS ret_1_matches, count(*) AS checked
FROM trading.features f
JOIN (SELECT "timestamp", close, lag(close) OVER (ORDER BY "timestamp") AS c1
      FROM trading.historicaldata WHERE symbol = 'NYD') b USING ("timestamp")
WHERE f.symbol = 'NYD' AND b.c1 IS NOT NULL;

-- ---------------------------------------------------------------- forex daily, zero volume
-- The day closes at 17:00 New York (22:00 UTC in winter, 21:00 in summer);
-- Sunday to Thursday stamps; the feed has no volume.
INSERT INTO trading.historicaldata
SELECT 'FXD', '1d', (d + time '17:00') AT TIME ZONE 'America/New_York',
       c0, greatest(c0, c1) * 1.002, least(c0, c1) * 0.998, c1, 0
FROM (SELECT '2022-01-02'::date + i AS d,
             1.1 + 0.03 * sin(i / 23.0) + 0.01 * sin(i / 7.0) + 0.004 * sin(i * 1.7) AS c1,
             1.1 + 0.03 * sin((i - 1) / 23.0) + 0.01 * sin((i - 1) / 7.0) + 0.004 * sin((i - 1) * 1.7) AS c0
      FROM generate_series(0, 1199) AS i) s
WHERE extract(dow FROM d) BETWEEN 0 AND 4;
SELECT to_char("timestamp", 'HH24:MI') AS utc_stamp, count(*)
FROM trading.historicaldata WHERE symbol = 'FXD' GROUP BY 1 ORDER BY 1;
-- Weekends are gaps (Thursday to Sunday), DST shifts are not.
SELECT fsmml_build_features('FXD', '1d');
SELECT count(*) AS rows, count(ret_1) AS ret_1_values, count(rsi_14) AS rsi_14_values,
       count(atr_14) AS atr_14_values, count(vol_z_20) AS vol_z_values,
       count(vol_ratio_20) AS vol_ratio_values, count(effort) AS effort_values,
       count(pv_corr_10) AS pv_corr_values, count(feat_score) AS feat_score_values
FROM trading.features WHERE symbol = 'FXD';

-- ---------------------------------------------------------------- spacing and duplicates
-- Exactly half a step after the previous bar is accepted ...
INSERT INTO trading.historicaldata VALUES
 ('HALF', '1h', '2024-01-01 10:00+00', 10, 11, 9, 10, 1),
 ('HALF', '1h', '2024-01-01 10:30+00', 10, 11, 9, 10.5, 1);
SELECT fsmml_build_features('HALF', '1h');
SELECT "timestamp", ret_1 FROM trading.features WHERE symbol = 'HALF' ORDER BY 1;
-- ... less than half a step is an error naming the bar, and nothing is written.
INSERT INTO trading.historicaldata VALUES
 ('NEAR', '1h', '2024-01-01 10:00+00', 10, 11, 9, 10, 1),
 ('NEAR', '1h', '2024-01-01 10:20+00', 10, 11, 9, 10, 1),
 ('NEAR', '1h', '2024-01-01 11:00+00', 10, 11, 9, 10, 1);
SELECT fsmml_build_features('NEAR', '1h');
SELECT count(*) FROM fsmml_features('NEAR', '1h');
SELECT fsmml_resample('NEAR', '1h', '4h');
-- A feed that stamps one day both at 05:00 and 04:00 UTC: bars an hour apart.
INSERT INTO trading.historicaldata VALUES
 ('TWICE', '1d', '2024-03-08 05:00+00', 10, 11, 9, 10, 1),
 ('TWICE', '1d', '2024-03-11 04:00+00', 10, 11, 9, 10, 1),
 ('TWICE', '1d', '2024-03-11 05:00+00', 10, 11, 9, 10, 1);
SELECT fsmml_build_features('TWICE', '1d');
-- Exact duplicates (a bars table without its primary key).
ALTER TABLE trading.historicaldata DROP CONSTRAINT historicaldata_pkey;
INSERT INTO trading.historicaldata VALUES
 ('DUP', '1d', '2024-03-08 22:00+00', 1.1, 1.2, 1.0, 1.1, 0),
 ('DUP', '1d', '2024-03-10 21:00+00', 1.1, 1.2, 1.0, 1.1, 0),
 ('DUP', '1d', '2024-03-10 21:00+00', 1.1, 1.2, 1.0, 1.1, 0);
SELECT fsmml_build_features('DUP', '1d');
DELETE FROM trading.historicaldata WHERE symbol = 'DUP';
ALTER TABLE trading.historicaldata ADD PRIMARY KEY (symbol, timeframe, "timestamp");
SELECT symbol, count(*) FROM trading.features WHERE symbol IN ('NEAR', 'TWICE', 'DUP') GROUP BY 1;
