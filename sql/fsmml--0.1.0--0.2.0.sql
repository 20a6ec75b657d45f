/* fsmml--0.1.0--0.2.0.sql — upgrades a 0.1.0 database to 0.2.0 (ALTER EXTENSION fsmml UPDATE).
 * Every object added or changed in fsmml--0.2.0.sql is added or changed here too; the upgrade test
 * (test/shell/upgrade.sh) checks that the result equals a fresh install and keeps the data. */

\echo Use "ALTER EXTENSION fsmml UPDATE TO '0.2.0'" to load this file. \quit

/* ---------------------------------------------------------------- privilege model (0.2.0) */
/* See fsmml--0.2.0.sql: SECURITY INVOKER entry points, fsmml's tables owned by fsmml_owner. */
ALTER FUNCTION fsmml_build_features(text, text, timestamptz) SECURITY INVOKER;
ALTER FUNCTION fsmml_resample(text, text, text, timestamptz) SECURITY INVOKER;
ALTER FUNCTION fsmml_train(text, text, text, jsonb) SECURITY INVOKER;
ALTER FUNCTION fsmml_promote(bigint, text) SECURITY INVOKER;
ALTER FUNCTION fsmml_deploy(text, text, text, text) SECURITY INVOKER;
ALTER FUNCTION fsmml_import_model(text, text, text, bytea, text[], jsonb) SECURITY INVOKER;
ALTER FUNCTION fsmml_predict(text, text, text, timestamptz) SECURITY INVOKER;
ALTER FUNCTION fsmml_score(text, text, timestamptz, timestamptz) SECURITY INVOKER;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fsmml_owner') THEN
        CREATE ROLE fsmml_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
            NOREPLICATION NOBYPASSRLS;
    END IF;
    IF (SELECT rolsuper OR rolcanlogin FROM pg_roles WHERE rolname = 'fsmml_owner') THEN
        RAISE EXCEPTION 'role fsmml_owner must be NOLOGIN and not a superuser'
            USING HINT = 'ALTER ROLE fsmml_owner NOLOGIN NOSUPERUSER, then retry.';
    END IF;
END
$$;
GRANT USAGE ON SCHEMA trading, fsmml TO fsmml_owner;
GRANT CREATE ON SCHEMA trading TO fsmml_owner;
ALTER TABLE trading.features OWNER TO fsmml_owner;
ALTER TABLE fsmml.feature_state OWNER TO fsmml_owner;
ALTER TABLE trading.agents OWNER TO fsmml_owner;
ALTER TABLE trading.agentversions OWNER TO fsmml_owner;
ALTER TABLE trading.agentpreds OWNER TO fsmml_owner;
ALTER TABLE trading.agentsignals OWNER TO fsmml_owner;
ALTER TABLE trading.state_history OWNER TO fsmml_owner;
ALTER TABLE trading.transitions OWNER TO fsmml_owner;
ALTER TABLE trading.calibrations OWNER TO fsmml_owner;
ALTER TABLE fsmml.settings_default OWNER TO fsmml_owner;
ALTER TABLE fsmml.settings_override OWNER TO fsmml_owner;
ALTER TABLE fsmml.promotions OWNER TO fsmml_owner;
ALTER VIEW fsmml.settings OWNER TO fsmml_owner;
ALTER FUNCTION fsmml_create_pred_partitions(timestamptz, timestamptz) OWNER TO fsmml_owner;
GRANT SELECT ON trading.historicaldata TO fsmml_reader;
-- Monthly partitions made by 0.1.0 belong to the installing superuser: hand them over too.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'trading.agentpreds'::regclass LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO fsmml_owner', part);
    END LOOP;
END
$$;

/* ---------------------------------------------------------------- h2: XGBoost helpers not for PUBLIC
 * fsmml_xgb_check_params runs XGBoost (bounded by the fsmml.xgb_* limits): trainers only.
 * fsmml_xgb_version stays PUBLIC (it reads a version string). */
REVOKE ALL ON FUNCTION fsmml_xgb_check_params(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_xgb_check_params(jsonb) TO fsmml_trainer;
/* ---------------------------------------------------------------- end h2 */

/* ---- h3: default look-back in bars per timeframe ------------------------------------------------
 * DirectionXGB's default look-back becomes "auto" (a number of bars per timeframe, README
 * "Training"); 180 days left 180 rows on a 1d series.  Only the shipped value is replaced: a
 * default a user changed is kept. */
UPDATE trading.agents
   SET default_params = jsonb_set(default_params, '{lookback}', '"auto"')
 WHERE name = 'DirectionXGB' AND default_params->'lookback' = '"180 days"';
/* ---- end h3 ---- */

/* ---- h7: the whole agent set (issue 8) ----------------------------------------------------------
 * Every agent's default parameters (README, "Agents"); DirectionXGB's backtest trades the ExecRules
 * decision, so its default threshold becomes 0.05 (long >= 0.55, short <= 0.45).  Only shipped
 * values are replaced: a default a user changed is kept. */
UPDATE trading.agents SET default_params = jsonb_set(default_params, '{threshold}', '0.05')
 WHERE name = 'DirectionXGB' AND default_params->'threshold' = '0';
UPDATE trading.agents SET default_params =
  '{"k": 3, "n_init": 10, "max_iter": 300, "seed": 42, "lookback": "auto", "test_size": 0.2,
    "horizon": 10, "silhouette_sample": 2000, "auto_promote": true}',
    description = 'k-means over higher-timeframe snapshots; payload {"regime": "trend|mean_revert|chop", "gate": bool, "cluster": k}'
 WHERE name = 'RegimeKMeans' AND default_params = '{"k": 3}';
UPDATE trading.agents SET default_params =
  '{"quantiles": [0.5, 0.9], "horizon": 10, "lookback": "auto", "test_size": 0.2,
    "normaliser": "atr_14", "linear_rounds": 100, "rounds": 200,
    "sl_mult": 1.0, "tp_mult": 3.0, "auto_promote": true,
    "xgb": {"tree_method": "hist", "max_depth": 2, "eta": 0.02, "subsample": 0.5,
            "colsample_bytree": 0.8, "min_child_weight": 300, "seed": 42}}',
    description = 'XGBoost quantile regression (pinball loss) of the next H bars'' absolute move; payload {"sigma", "sl", "tp", "sl_atr", "tp_atr"}'
 WHERE name = 'VolQuantile' AND default_params = '{"quantiles": [0.1, 0.5, 0.9]}';
UPDATE trading.agents SET default_params =
  '{"long_threshold": 0.55, "short_threshold": 0.45, "sl_atr": 1.5, "tp_atr": 2.0,
    "risk_fraction": 0.01, "max_size": 1.0, "use_gate": true, "auto_promote": true}',
    description = 'Rules: thresholds on prob_up, the regime gate, VolQuantile or ATR stops, risk-based size; payload {"side", "size", "sl", "tp", "meta"}'
 WHERE name = 'ExecRules' AND default_params = '{}';
UPDATE trading.agents SET default_params =
  '{"weights": {"direction": 1.0, "state": 0.5, "execution": 1.0, "regime": 0.5},
    "min_strength": 0.1, "auto_promote": true}',
    description = 'Weighted combination of the agents into trading.agentsignals; payload {"side", "strength", "sl", "tp"}'
 WHERE name = 'EnsembleWeighted' AND default_params = '{}';
UPDATE trading.agents SET default_params =
  '{"lookback": "auto", "test_size": 0.2, "rounds": 40, "early_stopping_rounds": 20,
    "auto_promote": true,
    "xgb": {"objective": "multi:softprob", "tree_method": "hist", "max_depth": 3, "eta": 0.3,
            "subsample": 0.8, "colsample_bytree": 0.8, "seed": 42, "eval_metric": "mlogloss"}}',
    description = 'Effort/result state machine and its next-state classifier; payload {"state", "confidence", "next_state", "metrics"}; writes state_history and transitions'
 WHERE name = 'StateFSM' AND default_params = '{}';
/* ---- end h7 (agents' defaults) ---- */

/* ---- h7: the state machine's read functions (issue 8) -------------------------------------------
 * Over trading.state_history (written by fsmml_score with a StateFSM champion); the window is the
 * last `days` days before the series' latest state.  Read-only, caller's rights: readers may call. */
CREATE FUNCTION fsmml_state_distribution(symbol text, timeframe text, days integer DEFAULT 30)
RETURNS TABLE (state text, bars bigint, share double precision, mean_confidence double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF days IS NULL OR days < 1 THEN
        RAISE EXCEPTION 'days must be a positive number of days, not %', days
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example fsmml_state_distribution(''BTCUSDT'', ''1m'', 30).';
    END IF;
    IF timeframe IS NULL OR timeframe NOT IN ('1m', '5m', '15m', '1h', '4h', '1d') THEN
        RAISE EXCEPTION 'invalid timeframe "%"', timeframe
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Timeframes: 1m 5m 15m 1h 4h 1d.';
    END IF;
    RETURN QUERY
    WITH w AS (
        SELECT h.state, h.confidence FROM trading.state_history h
        WHERE h.symbol = fsmml_state_distribution.symbol AND h.timeframe = fsmml_state_distribution.timeframe
          AND h."timestamp" > (SELECT max(m."timestamp") FROM trading.state_history m
                               WHERE m.symbol = fsmml_state_distribution.symbol
                                 AND m.timeframe = fsmml_state_distribution.timeframe)
                              - make_interval(days => days))
    SELECT w.state, count(*), count(*)::float8 / sum(count(*)) OVER (), avg(w.confidence)
    FROM w GROUP BY w.state ORDER BY count(*) DESC, w.state;
END
$$;

-- P(next bar's state | this bar's state) over consecutive bars of state_history (staying included).
CREATE FUNCTION fsmml_transition_matrix(symbol text, timeframe text, days integer DEFAULT 30)
RETURNS TABLE (from_state text, to_state text, transitions bigint, probability double precision)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF days IS NULL OR days < 1 THEN
        RAISE EXCEPTION 'days must be a positive number of days, not %', days
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example fsmml_transition_matrix(''BTCUSDT'', ''1m'', 30).';
    END IF;
    IF timeframe IS NULL OR timeframe NOT IN ('1m', '5m', '15m', '1h', '4h', '1d') THEN
        RAISE EXCEPTION 'invalid timeframe "%"', timeframe
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Timeframes: 1m 5m 15m 1h 4h 1d.';
    END IF;
    RETURN QUERY
    WITH w AS (
        SELECT h.state, lead(h.state) OVER (ORDER BY h."timestamp") AS next
        FROM trading.state_history h
        WHERE h.symbol = fsmml_transition_matrix.symbol AND h.timeframe = fsmml_transition_matrix.timeframe
          AND h."timestamp" > (SELECT max(m."timestamp") FROM trading.state_history m
                               WHERE m.symbol = fsmml_transition_matrix.symbol
                                 AND m.timeframe = fsmml_transition_matrix.timeframe)
                              - make_interval(days => days))
    SELECT w.state, w.next, count(*), count(*)::float8 / sum(count(*)) OVER (PARTITION BY w.state)
    FROM w WHERE w.next IS NOT NULL GROUP BY w.state, w.next ORDER BY w.state, w.next;
END
$$;
REVOKE ALL ON FUNCTION fsmml_state_distribution(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_state_distribution(text, text, integer) TO fsmml_reader;
REVOKE ALL ON FUNCTION fsmml_transition_matrix(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_transition_matrix(text, text, integer) TO fsmml_reader;
/* ---- end h7 (state functions) ---- */
