-- live_floor.sql — the writes issue 9 asks of a scored bar, and nothing else: no features
-- computed, no model run. A row trigger on floor_bench.historicaldata writes, for each bar, the
-- rows live scoring writes (a feature row, five predictions, a state row, a signal) copied from
-- the newest ones live scoring wrote for :'sym', and NOTIFYs fsmml_floor with a payload of the
-- same shape as fsmml_signals'. Its insert-to-signal is what any in-database scorer that commits
-- its signal with its bar pays on this cluster before computing anything.
-- Tables are plain copies (LIKE ... INCLUDING ALL; agentpreds not partitioned): if anything, the
-- floor is cheaper than the real tables.
--   psql -v sym=LIVEON -f bench/live_floor.sql
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS floor_bench CASCADE;
CREATE SCHEMA floor_bench;
CREATE TABLE floor_bench.historicaldata (LIKE trading.historicaldata INCLUDING ALL);
CREATE TABLE floor_bench.bare (LIKE trading.historicaldata INCLUDING ALL);   -- no trigger
CREATE TABLE floor_bench.features (LIKE trading.features INCLUDING ALL);
CREATE TABLE floor_bench.agentpreds (LIKE trading.agentpreds INCLUDING ALL);
CREATE TABLE floor_bench.state_history (LIKE trading.state_history INCLUDING ALL);
CREATE TABLE floor_bench.agentsignals (LIKE trading.agentsignals INCLUDING ALL);

-- the newest rows live scoring wrote, as templates
CREATE TABLE floor_bench.features_tpl AS
    SELECT * FROM trading.features WHERE symbol = :'sym' ORDER BY "timestamp" DESC LIMIT 1;
CREATE TABLE floor_bench.preds_tpl AS
    SELECT p.agent_version_id, p.horizon, p.payload FROM trading.agentpreds p
    WHERE p.symbol = :'sym' AND p."timestamp" = (SELECT max("timestamp") FROM trading.agentpreds WHERE symbol = :'sym');
CREATE TABLE floor_bench.state_tpl AS
    SELECT * FROM trading.state_history WHERE symbol = :'sym' ORDER BY "timestamp" DESC LIMIT 1;
CREATE TABLE floor_bench.signal_tpl AS
    SELECT * FROM trading.agentsignals WHERE symbol = :'sym' ORDER BY "timestamp" DESC LIMIT 1;
-- without templates the floor would write only the bar and its feature row
DO $$
BEGIN
    IF (SELECT count(*) FROM floor_bench.preds_tpl) = 0 OR NOT EXISTS (SELECT 1 FROM floor_bench.state_tpl)
       OR NOT EXISTS (SELECT 1 FROM floor_bench.signal_tpl) OR NOT EXISTS (SELECT 1 FROM floor_bench.features_tpl) THEN
        RAISE EXCEPTION 'no live-scored bar to copy: predictions %, state %, signal %, features %',
            (SELECT count(*) FROM floor_bench.preds_tpl), (SELECT count(*) FROM floor_bench.state_tpl),
            (SELECT count(*) FROM floor_bench.signal_tpl), (SELECT count(*) FROM floor_bench.features_tpl)
            USING HINT = 'Insert a bar of the series with live scoring on first (bench/live_insert.sh does).';
    END IF;
END
$$;

-- one statement per bar, as live scoring's (data-modifying CTEs), then the notification
SELECT format($create$
CREATE FUNCTION floor_bench.score() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    s floor_bench.signal_tpl;
BEGIN
    WITH f AS (INSERT INTO floor_bench.features
               SELECT NEW.symbol, NEW.timeframe, NEW."timestamp", %s FROM floor_bench.features_tpl t),
         p AS (INSERT INTO floor_bench.agentpreds (agent_version_id, symbol, timeframe, "timestamp", horizon, payload)
               SELECT agent_version_id, NEW.symbol, NEW.timeframe, NEW."timestamp", horizon, payload
               FROM floor_bench.preds_tpl),
         h AS (INSERT INTO floor_bench.state_history (symbol, timeframe, "timestamp", state, confidence, effort,
                   result, compression, slope, speed, feat_score, agent_version_id)
               SELECT NEW.symbol, NEW.timeframe, NEW."timestamp", state, confidence, effort, result,
                   compression, slope, speed, feat_score, agent_version_id FROM floor_bench.state_tpl)
    INSERT INTO floor_bench.agentsignals (symbol, timeframe, "timestamp", side, strength, size, sl, tp, payload,
        ensemble_version_id, agent_version_ids)
    SELECT NEW.symbol, NEW.timeframe, NEW."timestamp", side, strength, size, sl, tp, payload,
        ensemble_version_id, agent_version_ids FROM floor_bench.signal_tpl
    RETURNING * INTO s;
    PERFORM pg_notify('fsmml_floor', json_build_object('symbol', NEW.symbol, 'timeframe', NEW.timeframe,
        'timestamp', to_char(NEW."timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'side', s.side, 'strength', s.strength, 'size', s.size, 'sl', s.sl, 'tp', s.tp,
        'ensemble_version_id', s.ensemble_version_id, 'agent_version_ids', s.agent_version_ids,
        'stale', false)::text);
    RETURN NULL;
END
$fn$
$create$, (SELECT string_agg(format('t.%I', attname), ', ' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = 'trading.features'::regclass AND attnum > 3 AND NOT attisdropped)) \gexec
CREATE TRIGGER floor_score AFTER INSERT ON floor_bench.historicaldata
    FOR EACH ROW EXECUTE FUNCTION floor_bench.score();
