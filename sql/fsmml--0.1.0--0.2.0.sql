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

/* ---- h8: backtests, threshold optimisation (TPE), report (issue 12) ------------------------------
 * fsmml_backtest / fsmml_compare store runs of the bar simulator (src/kernel/simulator.c) in
 * trading.backtests with the equity curve and trades in child tables; fsmml_optimize stores every
 * trial of a calibration in trading.calibration_trials; calibrations gain the agent they are for
 * and the optimisation's details (hold-out, deflated Sharpe, warning).  fsmml_report renders one
 * self-contained HTML page.  All are owned by fsmml_owner and written only through those functions. */
CREATE TABLE trading.backtests (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    symbol          text NOT NULL,
    timeframe       text NOT NULL
        CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    source          text NOT NULL,
    from_ts         timestamptz,
    to_ts           timestamptz,
    params          jsonb NOT NULL DEFAULT '{}',
    metrics         jsonb NOT NULL DEFAULT '{}',
    version_ids     bigint[] NOT NULL DEFAULT '{}',
    calibration_id  bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL,
    PRIMARY KEY (symbol, id)
);
CREATE UNIQUE INDEX backtests_id ON trading.backtests (id);
CREATE INDEX backtests_series ON trading.backtests (symbol, timeframe, created_at);

CREATE TABLE trading.backtest_equity (
    symbol          text NOT NULL,
    backtest_id     bigint NOT NULL,
    "timestamp"     timestamptz NOT NULL,
    equity          double precision NOT NULL,
    drawdown        double precision NOT NULL,
    position        double precision NOT NULL,
    PRIMARY KEY (symbol, backtest_id, "timestamp"),
    FOREIGN KEY (symbol, backtest_id) REFERENCES trading.backtests (symbol, id) ON DELETE CASCADE
);

CREATE TABLE trading.backtest_trades (
    symbol          text NOT NULL,
    backtest_id     bigint NOT NULL,
    trade_no        integer NOT NULL,
    side            smallint NOT NULL CHECK (side IN (-1, 1)),
    size            double precision NOT NULL,
    entry_ts        timestamptz NOT NULL,
    exit_ts         timestamptz NOT NULL,
    entry_price     double precision NOT NULL,
    exit_price      double precision NOT NULL,
    pnl             double precision NOT NULL,
    ret             double precision NOT NULL,
    fees            double precision NOT NULL,
    exit_reason     text NOT NULL,
    ambiguous       boolean NOT NULL,
    PRIMARY KEY (symbol, backtest_id, trade_no),
    FOREIGN KEY (symbol, backtest_id) REFERENCES trading.backtests (symbol, id) ON DELETE CASCADE
);

ALTER TABLE trading.calibrations ADD COLUMN agent text;
ALTER TABLE trading.calibrations ADD COLUMN details jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX calibrations_id ON trading.calibrations (id);
-- One active calibration per symbol/timeframe/method and agent (ExecRules and StateFSM apart).
DROP INDEX trading.calibrations_one_active;
CREATE UNIQUE INDEX calibrations_one_active
    ON trading.calibrations (symbol, timeframe, method, coalesce(agent, '')) WHERE is_active;

CREATE TABLE trading.calibration_trials (
    symbol          text NOT NULL,
    calibration_id  bigint NOT NULL,
    trial_no        integer NOT NULL,
    state           text NOT NULL CHECK (state IN ('complete', 'pruned')),
    params          jsonb NOT NULL,
    score           double precision,
    fold_scores     double precision[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (symbol, calibration_id, trial_no),
    FOREIGN KEY (symbol, calibration_id) REFERENCES trading.calibrations (symbol, id) ON DELETE CASCADE
);

-- Runs trading.agentsignals (or, with params.version_id, a version's stored predictions through
-- ExecRules) through the bar simulator over [from_ts, to_ts]; stores and returns the metrics.
CREATE FUNCTION fsmml_backtest(symbol text, timeframe text, from_ts timestamptz, to_ts timestamptz,
                               params jsonb DEFAULT '{}')
RETURNS TABLE (backtest_id bigint, metrics jsonb)
    AS 'MODULE_PATHNAME', 'fsmml_backtest'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;

-- Both versions' stored predictions through the same simulator and rules, side by side.
CREATE FUNCTION fsmml_compare(champion_version bigint, challenger_version bigint,
                              from_ts timestamptz, to_ts timestamptz, params jsonb DEFAULT '{}')
RETURNS TABLE (metric text, champion double precision, challenger double precision,
               difference double precision)
    AS 'MODULE_PATHNAME', 'fsmml_compare'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;

-- Threshold optimisation (TPE or random search) of ExecRules or StateFSM on the training window,
-- reported on the hold-out, with the deflated Sharpe ratio; stores a calibration and its trials.
CREATE FUNCTION fsmml_optimize(agent text, symbol text, timeframe text, n_trials integer DEFAULT 100,
                               params jsonb DEFAULT '{}')
RETURNS TABLE (calibration_id bigint, score double precision, thresholds jsonb)
    AS 'MODULE_PATHNAME', 'fsmml_optimize'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;

-- One self-contained HTML page (inline SVG) about a series over its last `days` days.
CREATE FUNCTION fsmml_report(symbol text, timeframe text, days integer DEFAULT 30)
RETURNS text
    AS 'MODULE_PATHNAME', 'fsmml_report'
    LANGUAGE C STABLE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;

SELECT pg_catalog.pg_extension_config_dump('trading.backtests', '');
SELECT pg_catalog.pg_extension_config_dump('trading.backtest_equity', '');
SELECT pg_catalog.pg_extension_config_dump('trading.backtest_trades', '');
SELECT pg_catalog.pg_extension_config_dump('trading.calibration_trials', '');
SELECT pg_catalog.pg_extension_config_dump('trading.backtests_id_seq', '');

ALTER TABLE trading.backtests OWNER TO fsmml_owner;
ALTER TABLE trading.backtest_equity OWNER TO fsmml_owner;
ALTER TABLE trading.backtest_trades OWNER TO fsmml_owner;
ALTER TABLE trading.calibration_trials OWNER TO fsmml_owner;
GRANT SELECT ON trading.backtests, trading.backtest_equity, trading.backtest_trades TO fsmml_reader;
GRANT SELECT ON trading.calibration_trials TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_backtest(text, text, timestamptz, timestamptz, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_backtest(text, text, timestamptz, timestamptz, jsonb) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_compare(bigint, bigint, timestamptz, timestamptz, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_compare(bigint, bigint, timestamptz, timestamptz, jsonb) TO fsmml_trainer;
-- Activating a calibration (params.activate) is checked for fsmml_admin inside.
REVOKE ALL ON FUNCTION fsmml_optimize(text, text, text, integer, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_optimize(text, text, text, integer, jsonb) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_report(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_report(text, text, integer) TO fsmml_reader;
/* ---- end h8 ---- */
