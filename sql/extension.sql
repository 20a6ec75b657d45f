-- The extension installs, drops and re-installs; bars survive DROP EXTENSION.
SET timezone = 'UTC';
CREATE EXTENSION fsmml;
SELECT extversion FROM pg_extension WHERE extname = 'fsmml';

-- The trading schema and its bars table are the trading system's, not members.
SELECT count(*) AS trading_members
FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fsmml')
  AND d.deptype = 'e' AND c.relname = 'historicaldata';

-- Seed spelling (unquoted mixed case) resolves to the lower-case tables.
INSERT INTO trading.HistoricalData VALUES
  ('BTCUSDT', '1m', '2024-01-01 00:00+00', 42000, 42010, 41990, 42005, 12.5),
  ('BTCUSDT', '1m', '2024-01-01 00:01+00', 42005, 42020, 42000, 42015, 7.25);
SELECT symbol, timeframe, count(*) FROM trading.HistoricalData GROUP BY 1, 2;
SELECT count(*) FROM trading.AgentSignals;
SELECT count(*) FROM trading.AgentPreds;
SELECT name, kind FROM trading.Agents ORDER BY name;
SELECT count(*) FROM trading.AgentVersions;

-- Invalid timeframes are rejected with a clear message.
SELECT fsmml_timeframe_interval('1h');
SELECT fsmml_timeframe_interval('1d');
SELECT fsmml_timeframe_interval('2m');
SELECT fsmml_timeframe_interval('1H');
INSERT INTO trading.historicaldata VALUES ('BTCUSDT', '3m', '2024-01-01', 1, 1, 1, 1, 1);

-- Monthly partitions of agentpreds are made on demand.
SELECT fsmml_create_pred_partitions('2024-01-15', '2024-03-01');
SELECT fsmml_create_pred_partitions('2024-01-01', '2024-03-31');
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'trading.agentpreds'::regclass ORDER BY 1;
SELECT fsmml_create_pred_partitions('2024-03-01', '2024-01-01');

DROP EXTENSION fsmml;
-- Bars and the schema are still there; everything else is gone.
SELECT count(*) FROM trading.historicaldata;
SELECT to_regclass('trading.agentversions') IS NULL AS registry_dropped,
       to_regnamespace('fsmml') IS NULL AS internals_dropped;

CREATE EXTENSION fsmml;
SELECT count(*) FROM trading.historicaldata;
SELECT count(*) AS agents FROM trading.agents;

-- An existing bars table with numeric prices is used as it is.
DROP EXTENSION fsmml;
DROP SCHEMA trading CASCADE;
CREATE SCHEMA trading;
CREATE TABLE trading.historicaldata (
    symbol text, timeframe text, "timestamp" timestamptz,
    open numeric(18,8), high numeric(18,8), low numeric(18,8), close numeric(18,8),
    volume numeric, PRIMARY KEY (symbol, timeframe, "timestamp"));
CREATE EXTENSION fsmml;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'trading.historicaldata'::regclass AND attname = 'close';
DROP EXTENSION fsmml;
DROP SCHEMA trading CASCADE;
CREATE EXTENSION fsmml;
