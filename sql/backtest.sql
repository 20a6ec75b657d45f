-- Backtests: fsmml_backtest over trading.agentsignals and over a version's stored
-- predictions through ExecRules, fsmml_compare; numbers computed by hand in the comments.
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS fsmml;
RESET client_min_messages;

-- Five daily bars, Monday 2024-01-01 to Friday 2024-01-05 (no weekend: 252 periods a year).
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
VALUES ('BT', '1d', '2024-01-01', 100, 101, 99, 100, 10), ('BT', '1d', '2024-01-02', 100, 111, 99, 110, 10),
       ('BT', '1d', '2024-01-03', 110, 111, 98, 104.5, 10), ('BT', '1d', '2024-01-04', 104.5, 106, 103, 105, 10),
       ('BT', '1d', '2024-01-05', 105, 106, 104, 105, 10);

-- No signals: no trades, flat equity, undefined ratios.
SELECT backtest_id > 0 AS stored, metrics->'trades' AS trades, metrics->'total_return' AS ret,
       metrics->'sharpe' AS sharpe, metrics->'max_drawdown' AS dd
FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity');

-- Long on day 1 (acted on at day 2's open, 100), flat on day 3 (out at day 4's open, 104.5), no fees.
-- Equity 1, 1.1, 1.045, 1.045, 1.045; daily returns 0, .1, -.05, 0, 0: mean .01,
-- sd (ddof 1) sqrt(.012/4) = .0547723, Sharpe .01/.0547723 * sqrt(252) = 2.898275;
-- Sortino .01 / sqrt(.0025/5) * sqrt(252) = 7.099296; drawdown 1 - 1.045/1.1 = .05 for 3 bars.
INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, size) VALUES
    ('BT', '1d', '2024-01-01', 1, NULL), ('BT', '1d', '2024-01-03', 0, NULL);
SELECT metrics->'trades' AS trades, round((metrics->>'total_return')::numeric, 6) AS ret,
       round((metrics->>'sharpe')::numeric, 6) AS sharpe, round((metrics->>'sortino')::numeric, 6) AS sortino,
       round((metrics->>'max_drawdown')::numeric, 6) AS dd, metrics->'max_dd_bars' AS dd_bars,
       metrics->'periods_per_year' AS ppy, metrics->>'annualisation' AS annualisation,
       metrics->'win_rate' AS win_rate, metrics->'exposure' AS exposure
FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity', '{"fee_bps": 0}');
SELECT trade_no, side, size, entry_ts, exit_ts, entry_price, exit_price, round(pnl::numeric, 6) AS pnl,
       exit_reason, ambiguous
FROM trading.backtest_trades ORDER BY backtest_id DESC, trade_no LIMIT 1;
SELECT "timestamp", round(equity::numeric, 6) AS equity, round(drawdown::numeric, 6) AS drawdown, position
FROM trading.backtest_equity WHERE backtest_id = (SELECT max(id) FROM trading.backtests) ORDER BY 1;

-- 10 bps fees and 10 bps slippage: in at 100.1, out at 104.3955, qty 1/100.1;
-- equity 1 - .001 + (104.3955 - 100.1)/100.1 - 104.3955/100.1 * .001 = 1.040869, fees .002043
SELECT round((metrics->>'total_return')::numeric, 6) AS ret, round((metrics->>'fees_paid')::numeric, 6) AS fees
FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity', '{"fee_bps": 10, "slippage_bps": 10}');

-- The window: from day 3 on, the flat signal finds nothing open; periods_per_year overrides.
SELECT metrics->'trades' AS trades, metrics->'bars' AS bars, metrics->'periods_per_year' AS ppy,
       metrics->>'annualisation' AS annualisation
FROM fsmml_backtest('BT', '1d', '2024-01-03', 'infinity', '{"periods_per_year": 365}');

-- A long with a stop at 95 and a target at 105 both inside day 2 (high 111, low 94):
-- the stop is taken (pessimistic) and counted as ambiguous; -5 %.
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
VALUES ('AMB', '1d', '2024-01-01', 100, 100, 100, 100, 1), ('AMB', '1d', '2024-01-02', 100, 111, 94, 101, 1),
       ('AMB', '1d', '2024-01-03', 101, 102, 100, 101, 1);
INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, size, sl, tp)
VALUES ('AMB', '1d', '2024-01-01', 1, 1, 95, 105);
SELECT metrics->'ambiguous_exits' AS ambiguous, round((metrics->>'total_return')::numeric, 6) AS ret
FROM fsmml_backtest('AMB', '1d', '-infinity', 'infinity', '{"fee_bps": 0}');
SELECT exit_price, exit_reason, ambiguous FROM trading.backtest_trades
WHERE symbol = 'AMB' ORDER BY backtest_id DESC LIMIT 1;

-- A gap through the stop fills at the open: day 3 opens at 90 under the stop at 95: -10 %.
-- The second, half-size short is stopped at 105 the next day: equity .9 * (1 - .5 * .05) = .8775.
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
VALUES ('GAP', '1d', '2024-01-01', 100, 100, 100, 100, 1), ('GAP', '1d', '2024-01-02', 100, 101, 99, 100, 1),
       ('GAP', '1d', '2024-01-03', 90, 92, 89, 91, 1), ('GAP', '1d', '2024-01-04', 100, 106, 99, 104, 1),
       ('GAP', '1d', '2024-01-05', 104, 104, 104, 104, 1);
INSERT INTO trading.agentsignals (symbol, timeframe, "timestamp", side, size, sl, tp)
VALUES ('GAP', '1d', '2024-01-01', 1, 1, 95, 120), ('GAP', '1d', '2024-01-03', -1, 0.5, 105, 80);
SELECT metrics->'trades' AS trades, round((metrics->>'total_return')::numeric, 6) AS ret,
       metrics->'win_rate' AS win_rate, metrics->'profit_factor' AS pf,
       round((metrics->>'worst_trade')::numeric, 6) AS worst
FROM fsmml_backtest('GAP', '1d', '-infinity', 'infinity', '{"fee_bps": 0}');
SELECT trade_no, side, entry_price, exit_price, exit_reason FROM trading.backtest_trades
WHERE symbol = 'GAP' ORDER BY backtest_id DESC, trade_no LIMIT 2;

-- A version's stored predictions through ExecRules: 40 daily bars, prob_up 0.7 on day 20
-- (long), 0.3 on day 25 (short), 0.5 elsewhere (flat).  The stop is close - 1.5 ATR14 (Wilder,
-- the same ATR as trading.features.atr_14 * close); size .01 / (stop distance / close).
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
SELECT 'VER', '1d', '2024-01-01'::timestamptz + i * interval '1 day',
       100 + i, 100 + i + 2 + (i % 3), 100 + i - 2 - (i % 2), 100 + i + 0.5, 10 + i
FROM generate_series(0, 39) AS i;
SELECT fsmml_build_features('VER', '1d') > 0 AS built;
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, feature_names, ext_version)
VALUES ('VER', '1d', 'DirectionXGB', 'v1.0.0', 'champion', '\x7b7d', 'xgboost-json',
        encode(sha256('\x7b7d'), 'hex'), '{ret_1}', '0.2.0'),
       ('VER', '1d', 'DirectionXGB', 'v1.0.1', 'challenger', '\x7b7e', 'xgboost-json',
        encode(sha256('\x7b7e'), 'hex'), '{ret_1}', '0.2.0');
SELECT fsmml_create_pred_partitions('2024-01-01', '2024-02-15') >= 0 AS partitions;
INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", payload)
SELECT v.id, 'VER', '1d', h."timestamp",
       jsonb_build_object('prob_up', CASE WHEN v.version = 'v1.0.1' THEN 0.5
                                          WHEN h."timestamp" = '2024-01-21' THEN 0.7
                                          WHEN h."timestamp" = '2024-01-26' THEN 0.3 ELSE 0.5 END)
FROM trading.historicaldata h, trading.agentversions v
WHERE h.symbol = 'VER' AND v.symbol = 'VER';
SELECT metrics->'trades' AS trades, metrics->'signals' AS signals
FROM fsmml_backtest('VER', '1d', '2024-01-10', 'infinity',
                    jsonb_build_object('version_id', (SELECT id FROM trading.agentversions
                                                       WHERE symbol = 'VER' AND version = 'v1.0.0'),
                                       'fee_bps', 0));
WITH t AS (SELECT * FROM trading.backtest_trades WHERE symbol = 'VER' ORDER BY trade_no),
     f AS (SELECT "timestamp", atr_14 * h.close AS atr, h.close
           FROM trading.features JOIN trading.historicaldata h USING (symbol, timeframe, "timestamp")
           WHERE symbol = 'VER')
SELECT t.trade_no, t.side, t.entry_ts, t.exit_ts, t.exit_reason,
       round(t.size::numeric, 6) = round((0.01 / (1.5 * f.atr / f.close))::numeric, 6) AS size_from_risk,
       round(t.entry_price::numeric, 4) AS entry_price
FROM t JOIN f ON f."timestamp" = t.entry_ts - interval '1 day';

-- fsmml_compare: both versions over the same bars; the challenger (always 0.5) never trades.
SELECT metric, champion, challenger, difference FROM fsmml_compare(
    (SELECT id FROM trading.agentversions WHERE symbol = 'VER' AND version = 'v1.0.0'),
    (SELECT id FROM trading.agentversions WHERE symbol = 'VER' AND version = 'v1.0.1'),
    '2024-01-10', 'infinity', '{"fee_bps": 0}')
WHERE metric IN ('trades', 'signals', 'total_return');
SELECT source, version_ids = ARRAY(SELECT id FROM trading.agentversions WHERE symbol = 'VER' ORDER BY id) AS both
FROM trading.backtests WHERE source LIKE 'compare:%' ORDER BY id;

-- Errors.
SELECT * FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity', '{"latency_bars": 0}');
SELECT * FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity', '{"fee": 1}');
SELECT * FROM fsmml_backtest('BT', '1d', '2030-01-01', 'infinity');
SELECT * FROM fsmml_backtest('BT', '2d', '-infinity', 'infinity');
SELECT * FROM fsmml_backtest('BT', '1d', NULL, 'infinity');
SELECT * FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity', '{"version_id": 999999}');
DO $$
BEGIN
    PERFORM * FROM fsmml_backtest('BT', '1d', '-infinity', 'infinity',
        jsonb_build_object('version_id', (SELECT min(id) FROM trading.agentversions WHERE symbol = 'VER')));
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, 'version [0-9]+ ', 'version N ');
END
$$;
SELECT * FROM fsmml_compare(0, 0, '-infinity', 'infinity', '{"version_id": 1}');

-- Stored as fsmml_owner, created_by the caller; readers see backtests; the keys lead with symbol.
SELECT DISTINCT created_by FROM trading.backtests;
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, has_table_privilege('fsmml_reader', c.oid, 'SELECT') AS reader
FROM pg_class c WHERE c.oid IN ('trading.backtests'::regclass, 'trading.backtest_equity'::regclass,
                                'trading.backtest_trades'::regclass, 'trading.calibration_trials'::regclass)
ORDER BY 1;
SELECT count(*) FROM trading.backtest_equity e LEFT JOIN trading.backtests b ON b.id = e.backtest_id
WHERE b.symbol IS DISTINCT FROM e.symbol;
