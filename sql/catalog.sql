-- fsmml.feature_catalog.lookback is the index of each feature's first value:
-- measured on a gap-free series of 40,000 1m bars starting at midnight UTC
-- (long enough for every d1 snapshot), for all 58 features.
SET timezone = 'UTC';

INSERT INTO trading.historicaldata
SELECT 'CAT', '1m', '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute',
       c0, greatest(c0, c1) + 0.05, least(c0, c1) - 0.05, c1, 10 + (i * 7919 % 97)
FROM (SELECT i, 100 + 3 * sin(i / 2300.0) + 2 * sin(i / 7.0) + 0.5 * sin(i * 1.7) AS c1,
             100 + 3 * sin((i - 1) / 2300.0) + 2 * sin((i - 1) / 7.0) + 0.5 * sin((i - 1) * 1.7) AS c0
      FROM generate_series(0, 39999) AS i) s;

CREATE TEMP TABLE first_value_idx AS
WITH f AS (SELECT row_number() OVER (ORDER BY "timestamp") - 1 AS idx, to_jsonb(f) AS j
           FROM fsmml_features('CAT', '1m') f)
SELECT e.key AS name, min(f.idx) AS first_idx, count(*) AS non_null
FROM f, jsonb_each(f.j) AS e
WHERE e.value <> 'null'::jsonb AND e.key NOT IN ('symbol', 'timeframe', 'timestamp')
GROUP BY 1;

SELECT count(*) AS features,
       count(*) FILTER (WHERE m.first_idx = c.lookback) AS lookback_matches,
       count(*) FILTER (WHERE m.non_null = 40000 - m.first_idx) AS no_null_after_first
FROM fsmml.feature_catalog c LEFT JOIN first_value_idx m USING (name);
-- Mismatches, if any, by name.
SELECT c.name, c.lookback, m.first_idx
FROM fsmml.feature_catalog c LEFT JOIN first_value_idx m USING (name)
WHERE m.first_idx IS DISTINCT FROM c.lookback ORDER BY c."position";
-- The multi-timeframe rows: (L + 1) * m - 1 1m bars for L bars of m minutes.
SELECT name, lookback FROM fsmml.feature_catalog WHERE "group" = 'mtf' ORDER BY "position";
