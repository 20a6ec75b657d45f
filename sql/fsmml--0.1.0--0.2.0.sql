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

/* ---------------------------------------------------------------- h6: scheduler and monitoring (issue 10)
 * Retrains run by background workers (src/bgw/): schedules, the job queue, cancel; live
 * health of champions and feature drift (PSI) against bin edges stored with each version.
 * Tables are owned by fsmml_owner and written only through the functions below. */
CREATE TABLE fsmml.schedules (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    symbol          text NOT NULL,
    timeframe       text NOT NULL CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    agent           text NOT NULL REFERENCES trading.agents (name),
    every           interval CHECK (every >= interval '1 second'),
    at              time,
    params          jsonb NOT NULL DEFAULT '{}',
    retrain_when    text NOT NULL DEFAULT 'always' CHECK (retrain_when IN ('always', 'drift', 'auc')),
    auc_floor       double precision CHECK (auc_floor BETWEEN 0 AND 1),
    run_as          regrole NOT NULL,
    next_run        timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (symbol, id),
    CHECK ((every IS NULL) <> (at IS NULL)),
    CHECK ((retrain_when = 'auc') = (auc_floor IS NOT NULL))
);
CREATE UNIQUE INDEX schedules_id ON fsmml.schedules (id);

CREATE TABLE fsmml.jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    symbol          text NOT NULL,
    timeframe       text NOT NULL,
    agent           text NOT NULL,
    schedule_id     bigint,
    params          jsonb NOT NULL DEFAULT '{}',
    retrain_when    text NOT NULL DEFAULT 'always',
    auc_floor       double precision,
    run_as          regrole NOT NULL,
    trigger         text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'retry')),
    status          text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'skipped', 'failed', 'cancelled')),
    attempt         integer NOT NULL DEFAULT 1,
    retry_of        bigint,
    not_before      timestamptz NOT NULL DEFAULT clock_timestamp(),
    queued_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at      timestamptz,
    finished_at     timestamptz,
    pid             integer,
    version_id      bigint,
    decision        text,
    error           text,
    PRIMARY KEY (symbol, id)
);
CREATE UNIQUE INDEX jobs_id ON fsmml.jobs (id);
CREATE INDEX jobs_open ON fsmml.jobs (not_before) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_finished ON fsmml.jobs (finished_at);
-- One job produces at most one version.
CREATE UNIQUE INDEX jobs_version ON fsmml.jobs (version_id);

/* The training window's distribution of each input feature: interior bin edges (deciles)
 * and the share of training rows per bin (bin i = number of edges <= x). */
CREATE TABLE fsmml.drift_reference (
    symbol          text NOT NULL,
    version_id      bigint NOT NULL,
    feature         text NOT NULL,
    edges           double precision[] NOT NULL,
    expected        double precision[] NOT NULL,
    rows            bigint NOT NULL,
    PRIMARY KEY (symbol, version_id, feature)
);

CREATE FUNCTION fsmml_schedule(agent text, symbol text, timeframe text, every interval DEFAULT NULL,
                               params jsonb DEFAULT '{}', at text DEFAULT NULL,
                               retrain_when text DEFAULT 'always',
                               auc_floor double precision DEFAULT NULL)
RETURNS bigint
    AS 'MODULE_PATHNAME', 'fsmml_schedule'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_unschedule(id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_unschedule'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_retrain_now(agent text, symbol text, timeframe text, params jsonb DEFAULT '{}')
RETURNS bigint
    AS 'MODULE_PATHNAME', 'fsmml_retrain_now'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_cancel_job(id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_cancel_job'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_scheduler_status(OUT database text, OUT launcher_pid integer,
                                       OUT max_workers integer, OUT running integer)
RETURNS record
    AS 'MODULE_PATHNAME', 'fsmml_scheduler_status'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION fsmml.timeframe_interval(timeframe text) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE timeframe WHEN '1m' THEN interval '1 minute' WHEN '5m' THEN interval '5 minutes'
                            WHEN '15m' THEN interval '15 minutes' WHEN '1h' THEN interval '1 hour'
                            WHEN '4h' THEN interval '4 hours' WHEN '1d' THEN interval '1 day' END $$;

/* PSI of each input feature of a version over the last `bars` bars (default
 * fsmml.drift_window) against its training window; the bars are read with the caller's rights. */
CREATE FUNCTION fsmml_drift(version_id bigint, bars integer DEFAULT NULL)
RETURNS TABLE (feature text, psi double precision, major boolean, live_rows bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    WITH v AS (
        SELECT av.id, av.symbol, av.timeframe FROM trading.agentversions av WHERE av.id = $1
    ), win AS (
        SELECT v.*, (SELECT min(t."timestamp") FROM (
                        SELECT h."timestamp" FROM trading.historicaldata h
                        WHERE h.symbol = v.symbol AND h.timeframe = v.timeframe
                        ORDER BY h."timestamp" DESC
                        LIMIT coalesce($2, current_setting('fsmml.drift_window', true)::integer, 1440)) t) AS since
        FROM v
    ), live AS (
        SELECT to_jsonb(f) AS j FROM win, @extschema@.fsmml_features(win.symbol, win.timeframe, win.since) f
    ), binned AS (
        SELECT r.feature, r.expected, width_bucket((l.j ->> r.feature)::float8, r.edges) AS bin
        FROM win JOIN fsmml.drift_reference r ON r.symbol = win.symbol AND r.version_id = win.id
        CROSS JOIN live l WHERE l.j ->> r.feature IS NOT NULL
    ), counts AS (
        SELECT feature, expected, bin, count(*) AS n, sum(count(*)) OVER (PARTITION BY feature) AS total
        FROM binned GROUP BY feature, expected, bin
    ), shares AS (
        -- every bin of the reference, empty ones too; shares floored at 1e-4 (ln 0)
        SELECT r.feature, greatest(r.expected[b + 1], 1e-4) AS e,
               greatest(coalesce(c.n / c.total, 0), 1e-4) AS a, max(c.total) OVER (PARTITION BY r.feature) AS total
        FROM win JOIN fsmml.drift_reference r ON r.symbol = win.symbol AND r.version_id = win.id
        CROSS JOIN LATERAL generate_series(0, cardinality(r.edges)) b
        LEFT JOIN counts c ON c.feature = r.feature AND c.bin = b
    )
    SELECT feature, sum((a - e) * ln(a / e)), sum((a - e) * ln(a / e)) > 0.25, coalesce(max(total), 0)::bigint
    FROM shares GROUP BY feature ORDER BY 2 DESC, 1
$$;

/* Each champion's training-time hold-out figures beside live ones computed from its own
 * predictions in trading.agentpreds whose label is known (the bar H bars later exists). */
CREATE VIEW fsmml.model_health WITH (security_invoker = true) AS
WITH champ AS (
    SELECT av.id, av.symbol, av.timeframe, av.agent, av.version,
           coalesce((av.params ->> 'horizon')::integer, 1) AS h,
           coalesce((av.params ->> 'threshold')::float8, 0) AS thr,
           coalesce((av.params ->> 'fee_bps')::float8, 0) AS fee_bps,
           av.metrics -> 'holdout' AS ho, av.test_to
    FROM trading.agentversions av WHERE av.status = 'champion'
), labelled AS (
    SELECT c.id, p."timestamp", (p.payload ->> 'prob_up')::float8 AS prob,
           (b1.close > b0.close)::integer AS y, (b1.close / b0.close - 1)::float8 AS ret, c.thr, c.fee_bps
    FROM champ c
    JOIN trading.agentpreds p ON p.agent_version_id = c.id AND p.symbol = c.symbol
         AND p.timeframe = c.timeframe AND p.payload ? 'prob_up'
    JOIN trading.historicaldata b0 ON b0.symbol = p.symbol AND b0.timeframe = p.timeframe
         AND b0."timestamp" = p."timestamp"
    JOIN trading.historicaldata b1 ON b1.symbol = p.symbol AND b1.timeframe = p.timeframe
         AND b1."timestamp" = p."timestamp" + c.h * fsmml.timeframe_interval(c.timeframe)
), ranked AS (
    SELECT l.*, rank() OVER (PARTITION BY id ORDER BY prob)
                + (count(*) OVER (PARTITION BY id, prob) - 1) / 2.0 AS r,
           CASE WHEN abs(prob - 0.5) >= thr AND prob <> 0.5 THEN sign(prob - 0.5) ELSE 0 END AS side
    FROM labelled l
), positioned AS (
    SELECT r.*, abs(side - coalesce(lag(side) OVER (PARTITION BY id ORDER BY "timestamp"), 0)) AS change
    FROM ranked r
), live AS (
    SELECT id, count(*) AS n, sum(y) AS npos,
           avg(((prob > 0.5)::integer = y)::integer) AS hit_rate,
           avg((prob - y) ^ 2) AS brier,
           (sum(r) FILTER (WHERE y = 1) - sum(y) * (sum(y) + 1) / 2.0)
               / nullif(sum(y) * (count(*) - sum(y)), 0) AS auc,
           -- the training backtest's rule: fee_bps per unit of position change
           sum(side * ret) - sum(change) * max(fee_bps) / 1e4 AS pnl,
           count(*) FILTER (WHERE change <> 0) AS trades,
           max("timestamp") AS last_labelled
    FROM positioned GROUP BY id
)
SELECT c.symbol, c.timeframe, c.agent, c.id AS version_id, c.version,
       (c.ho ->> 'auc')::float8 AS train_auc, (c.ho ->> 'brier')::float8 AS train_brier,
       (c.ho ->> 'accuracy')::float8 AS train_hit_rate, (c.ho -> 'backtest' ->> 'pnl')::float8 AS train_pnl,
       coalesce(l.n, 0) AS live_rows, l.auc::float8 AS live_auc, l.brier::float8 AS live_brier,
       l.hit_rate::float8 AS live_hit_rate, l.pnl::float8 AS live_pnl, l.trades AS live_trades,
       NULL::float8 AS live_coverage,
       l.last_labelled
FROM champ c LEFT JOIN live l ON l.id = c.id;

SELECT pg_catalog.pg_extension_config_dump('fsmml.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.drift_reference', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.schedules_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.jobs_id_seq', '');

ALTER TABLE fsmml.schedules OWNER TO fsmml_owner;
ALTER TABLE fsmml.jobs OWNER TO fsmml_owner;
ALTER TABLE fsmml.drift_reference OWNER TO fsmml_owner;
GRANT SELECT ON fsmml.schedules, fsmml.jobs, fsmml.drift_reference TO fsmml_reader;
GRANT SELECT ON fsmml.model_health TO fsmml_reader;
REVOKE ALL ON FUNCTION fsmml_schedule(text, text, text, interval, jsonb, text, text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_schedule(text, text, text, interval, jsonb, text, text, double precision) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_unschedule(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_unschedule(bigint) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_retrain_now(text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_retrain_now(text, text, text, jsonb) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_cancel_job(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_cancel_job(bigint) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_drift(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_drift(bigint, integer) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_scheduler_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_scheduler_status() TO fsmml_reader;
/* ---------------------------------------------------------------- end h6 */

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

/* ---- i10: fsmml.model_health with live figures for every agent kind (issue 10) --------------------
 * Replaces h6's view (same columns first, new ones appended).  Each champion's live figures come
 * from its own stored output whose label is known, measured as its training measured them:
 *   direction   hit rate, AUC, Brier on 1[close(t+H) > close(t)]; PnL of the ExecRules decision at
 *               the thresholds its hold-out backtest used (H-bar return / H, fee_bps per unit of
 *               position change: a per-row health figure, not the simulator)
 *   volatility  coverage: share of |close(t+H) - close(t)| at or below the predicted highest
 *               quantile's move (payload sl / sl_mult), beside the hold-out's coverage of that q
 *   execution   its payload side, ensemble its trading.agentsignals side: PnL of holding the side
 *               to the next bar (gross: neither has a fee), hit rate of the bars it traded
 *   state       hit rate: the predicted next_state equals the next bar's state
 *   regime      the trend regime's minus the mean-revert regime's lag-1 autocorrelation of 1-bar
 *               returns over consecutive bars both in it (holdout.autocorr_spread's definition) */
CREATE OR REPLACE VIEW fsmml.model_health WITH (security_invoker = true) AS
WITH champ AS (
    SELECT av.id, av.symbol, av.timeframe, av.agent, av.version, a.kind,
           coalesce(av.params ->> 'horizon', a.default_params ->> 'horizon', '1')::integer AS h,
           coalesce((av.params ->> 'fee_bps')::float8, 0) AS fee_bps,
           coalesce((av.metrics -> 'holdout' -> 'backtest' ->> 'long_threshold')::float8,
                    0.5 + coalesce((av.params ->> 'threshold')::float8, 0)) AS long_t,
           coalesce((av.metrics -> 'holdout' -> 'backtest' ->> 'short_threshold')::float8,
                    0.5 - coalesce((av.params ->> 'threshold')::float8, 0)) AS short_t,
           coalesce(av.params ->> 'sl_mult', a.default_params ->> 'sl_mult', '1')::float8 AS sl_mult,
           fsmml.timeframe_interval(av.timeframe) AS step,
           av.metrics -> 'holdout' AS ho
    FROM trading.agentversions av JOIN trading.agents a ON a.name = av.agent
    WHERE av.status = 'champion'
), labelled AS (
    -- each prediction with the closes its label needs: now, next bar, H bars later, 2 bars later
    -- (each close a primary-key lookup of its own: as joins, a planner with no statistics yet
    -- scanned the series once per prediction)
    SELECT l.* FROM (
        SELECT c.id, c.symbol, c.timeframe, c.kind, c.h, c.fee_bps, c.long_t, c.short_t, c.sl_mult, c.step,
               p."timestamp", p.horizon, p.payload,
               (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = p.symbol AND b.timeframe = p.timeframe
                 AND b."timestamp" = p."timestamp") AS c0,
               (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = p.symbol AND b.timeframe = p.timeframe
                 AND b."timestamp" = p."timestamp" + c.step) AS c1,
               (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = p.symbol AND b.timeframe = p.timeframe
                 AND b."timestamp" = p."timestamp" + c.h * c.step) AS ch,
               (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = p.symbol AND b.timeframe = p.timeframe
                 AND b."timestamp" = p."timestamp" + 2 * c.step) AS c2
        FROM champ c
        JOIN trading.agentpreds p ON p.agent_version_id = c.id AND p.symbol = c.symbol
             AND p.timeframe = c.timeframe AND (c.kind <> 'direction' OR p.horizon = c.h)
        WHERE c.kind IN ('direction', 'volatility', 'execution', 'state', 'regime')) l
    WHERE l.c0 IS NOT NULL
), dir AS (
    SELECT l.id, l."timestamp", (l.payload ->> 'prob_up')::float8 AS prob, (l.ch > l.c0)::integer AS y,
           (l.ch / l.c0 - 1)::float8 AS ret, l.h, l.fee_bps,
           CASE WHEN (l.payload ->> 'prob_up')::float8 >= l.long_t THEN 1
                WHEN (l.payload ->> 'prob_up')::float8 <= l.short_t THEN -1 ELSE 0 END AS side
    FROM labelled l WHERE l.kind = 'direction' AND l.ch IS NOT NULL AND l.payload ? 'prob_up'
), dir_ranked AS (
    SELECT d.*, rank() OVER (PARTITION BY id ORDER BY prob)
                + (count(*) OVER (PARTITION BY id, prob) - 1) / 2.0 AS r,
           abs(side - coalesce(lag(side) OVER (PARTITION BY id ORDER BY "timestamp"), 0)) AS change
    FROM dir d
), traded AS (
    -- execution and ensemble: the side held from a bar to the next
    SELECT l.id, l."timestamp", (l.payload ->> 'side')::integer AS side, (l.c1 / l.c0 - 1)::float8 AS ret1
    FROM labelled l WHERE l.kind = 'execution' AND l.c1 IS NOT NULL AND l.payload ? 'side'
    UNION ALL
    SELECT e.id, e."timestamp", e.side, (e.c1 / e.c0 - 1)::float8
    FROM (SELECT c.id, s."timestamp", s.side,
                 (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = s.symbol AND b.timeframe = s.timeframe
                 AND b."timestamp" = s."timestamp") AS c0,
                 (SELECT b.close FROM trading.historicaldata b WHERE b.symbol = s.symbol AND b.timeframe = s.timeframe
                 AND b."timestamp" = s."timestamp" + c.step) AS c1
          FROM champ c
          JOIN trading.agentsignals s ON s.ensemble_version_id = c.id AND s.symbol = c.symbol
               AND s.timeframe = c.timeframe
          WHERE c.kind = 'ensemble') e
    WHERE e.c0 IS NOT NULL AND e.c1 IS NOT NULL
), traded_changes AS (
    SELECT t.*, abs(side - coalesce(lag(side) OVER (PARTITION BY id ORDER BY "timestamp"), 0)) AS change
    FROM traded t
), pairs AS (
    -- state and regime: a bar's prediction beside the next bar's, of the same version
    SELECT q.* FROM (
        SELECT l.id, l.kind, l."timestamp", l.payload,
               (SELECT n.payload FROM trading.agentpreds n
                WHERE n.agent_version_id = l.id AND n.symbol = l.symbol AND n.timeframe = l.timeframe
                  AND n."timestamp" = l."timestamp" + l.step AND n.horizon = l.horizon) AS next_payload,
               (l.c1 / l.c0 - 1)::float8 AS x, (l.c2 / l.c1 - 1)::float8 AS y
        FROM labelled l
        WHERE l.kind IN ('state', 'regime')) q
    WHERE q.next_payload IS NOT NULL
), live AS (
    SELECT id, count(*) AS n,
           (sum(r) FILTER (WHERE y = 1) - sum(y) * (sum(y) + 1) / 2.0)
               / nullif(sum(y) * (count(*) - sum(y)), 0) AS auc,
           avg((prob - y) ^ 2) AS brier,
           avg(((prob > 0.5)::integer = y)::integer) AS hit_rate,
           sum(side * ret / h) - sum(change) * max(fee_bps) / 1e4 AS pnl,
           count(*) FILTER (WHERE change <> 0) AS trades,
           NULL::float8 AS coverage, NULL::float8 AS autocorr_spread, max("timestamp") AS last_labelled
    FROM dir_ranked GROUP BY id
    UNION ALL
    SELECT id, count(*), NULL, NULL, NULL, NULL, NULL,
           avg((abs(ch - c0) <= (payload ->> 'sl')::float8 / sl_mult)::integer), NULL, max("timestamp")
    FROM labelled WHERE kind = 'volatility' AND ch IS NOT NULL AND payload ? 'sl'
    GROUP BY id
    UNION ALL
    SELECT id, count(*), NULL, NULL,
           avg((sign(ret1) = side)::integer) FILTER (WHERE side <> 0),
           sum(side * ret1), count(*) FILTER (WHERE change <> 0), NULL, NULL, max("timestamp")
    FROM traded_changes GROUP BY id
    UNION ALL
    SELECT id, count(*), NULL, NULL,
           avg((payload ->> 'next_state' = next_payload ->> 'state')::integer), NULL, NULL, NULL, NULL,
           max("timestamp")
    FROM pairs WHERE kind = 'state' AND payload ? 'next_state' AND next_payload ? 'state'
    GROUP BY id
    UNION ALL
    SELECT id, count(*), NULL, NULL, NULL, NULL, NULL, NULL,
           CASE WHEN count(*) FILTER (WHERE regime = 'trend') >= 3
                 AND count(*) FILTER (WHERE regime = 'mean_revert') >= 3
                THEN corr(x, y) FILTER (WHERE regime = 'trend') - corr(x, y) FILTER (WHERE regime = 'mean_revert') END,
           max("timestamp")
    FROM (SELECT pr.*, pr.payload ->> 'regime' AS regime FROM pairs pr
          WHERE pr.kind = 'regime' AND pr.payload ->> 'regime' = pr.next_payload ->> 'regime' AND pr.y IS NOT NULL) g
    GROUP BY id
)
SELECT c.symbol, c.timeframe, c.agent, c.id AS version_id, c.version,
       (c.ho ->> 'auc')::float8 AS train_auc, (c.ho ->> 'brier')::float8 AS train_brier,
       (c.ho ->> 'accuracy')::float8 AS train_hit_rate, (c.ho -> 'backtest' ->> 'pnl')::float8 AS train_pnl,
       coalesce(l.n, 0) AS live_rows, l.auc::float8 AS live_auc, l.brier::float8 AS live_brier,
       l.hit_rate::float8 AS live_hit_rate, l.pnl::float8 AS live_pnl, l.trades AS live_trades,
       l.coverage::float8 AS live_coverage,
       l.last_labelled,
       c.kind,
       (c.ho -> 'quantiles' -> -1 ->> 'q')::float8 AS coverage_q,
       (c.ho -> 'quantiles' -> -1 ->> 'coverage')::float8 AS train_coverage,
       (c.ho ->> 'autocorr_spread')::float8 AS train_autocorr_spread,
       l.autocorr_spread::float8 AS live_autocorr_spread
FROM champ c LEFT JOIN live l ON l.id = c.id;
/* ---- end i10 ---- */
/* ---- i12: fsmml_optimize(..., method => 'random') (issue 12) --------------------------------------
 * The sampler as a named argument, as issue 12 writes it (params.method stays accepted; NULL = the
 * params' choice, default tpe). */
DROP FUNCTION fsmml_optimize(text, text, text, integer, jsonb);
CREATE FUNCTION fsmml_optimize(agent text, symbol text, timeframe text, n_trials integer DEFAULT 100,
                               params jsonb DEFAULT '{}', method text DEFAULT NULL)
RETURNS TABLE (calibration_id bigint, score double precision, thresholds jsonb)
    AS 'MODULE_PATHNAME', 'fsmml_optimize'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
-- Activating a calibration (params.activate) is checked for fsmml_admin inside.
REVOKE ALL ON FUNCTION fsmml_optimize(text, text, text, integer, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_optimize(text, text, text, integer, jsonb, text) TO fsmml_trainer;
/* ---- end i12 ---- */
/* ---- i9: live scoring (issue 9) -----------------------------------------------------------------
 * Row triggers on trading.historicaldata capture the bars of enabled series (their WHEN clause
 * skips every other row at the cost of one function call: src/serve/live_capture.c); a
 * statement trigger scores them in the inserting transaction (src/serve/live_trigger.c); a
 * statement trigger on trading.agentversions makes every backend reload its champions after a
 * change commits, one on fsmml.live_series its live set. */
CREATE TABLE fsmml.live_series (
    symbol      text NOT NULL,
    timeframe   text NOT NULL CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    enabled_at  timestamptz NOT NULL DEFAULT now(),
    enabled_by  text NOT NULL DEFAULT session_user,
    PRIMARY KEY (symbol, timeframe)
);
COMMENT ON TABLE fsmml.live_series IS 'series scored as their bars are inserted (fsmml_enable_scoring)';

CREATE TABLE fsmml.scoring_errors (
    id          bigint GENERATED ALWAYS AS IDENTITY,
    symbol      text NOT NULL,
    timeframe   text NOT NULL,
    "timestamp" timestamptz NOT NULL,       -- first bar of the failed batch
    bars        integer NOT NULL,
    sqlstate    text NOT NULL,
    message     text NOT NULL,
    detail      text,
    hint        text,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    occurred_by text NOT NULL DEFAULT session_user,
    PRIMARY KEY (symbol, id)
);
COMMENT ON TABLE fsmml.scoring_errors IS 'live scoring failures: the bars were kept, their scoring rolled back';

-- Scores the series' bars as they are inserted; builds its features up to the latest bar.
CREATE FUNCTION fsmml_enable_scoring(symbol text, timeframe text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_enable_scoring'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_disable_scoring(symbol text, timeframe text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_disable_scoring'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_live_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'fsmml_live_trigger'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_live_capture() RETURNS trigger
    AS 'MODULE_PATHNAME', 'fsmml_live_capture'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
-- The row triggers' WHEN clause, evaluated for every row written: no SET clause (it would cost a
-- GUC save and restore per row); reads nothing but a per-backend cache of fsmml.live_series.
-- Callable by anyone who may write bars; it tells only whether a series is scored live.
CREATE FUNCTION fsmml_live_wanted(symbol text, timeframe text, bar_ts timestamptz) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_live_wanted'
    LANGUAGE C STABLE STRICT;
CREATE FUNCTION fsmml_live_wanted(symbol text, timeframe text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'fsmml_live_wanted'
    LANGUAGE C STABLE STRICT;
CREATE FUNCTION fsmml_live_series_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'fsmml_live_series_changed'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION fsmml_versions_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'fsmml_versions_changed'
    LANGUAGE C
    SET search_path = pg_catalog, pg_temp;

CREATE TRIGGER fsmml_versions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trading.agentversions
    FOR EACH STATEMENT EXECUTE FUNCTION fsmml_versions_changed();
CREATE TRIGGER fsmml_live_series_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fsmml.live_series
    FOR EACH STATEMENT EXECUTE FUNCTION fsmml_live_series_changed();
-- A table (not a view) only.  Row triggers capture the rows of live series (AFTER row events
-- fire before the statement's AFTER STATEMENT event); the statement triggers score them.  An
-- update captures both versions when either is live: its old and new rows are matched later.
DO $$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'trading.historicaldata'::regclass) IN ('r', 'p') THEN
        CREATE TRIGGER fsmml_live_capture_insert AFTER INSERT ON trading.historicaldata
            FOR EACH ROW
            WHEN (@extschema@.fsmml_live_wanted(NEW.symbol, NEW.timeframe, NEW."timestamp"))
            EXECUTE FUNCTION @extschema@.fsmml_live_capture();
        CREATE TRIGGER fsmml_live_capture_update AFTER UPDATE ON trading.historicaldata
            FOR EACH ROW
            WHEN (@extschema@.fsmml_live_wanted(OLD.symbol, OLD.timeframe)
                  OR @extschema@.fsmml_live_wanted(NEW.symbol, NEW.timeframe))
            EXECUTE FUNCTION @extschema@.fsmml_live_capture();
        CREATE TRIGGER fsmml_live_insert AFTER INSERT ON trading.historicaldata
            FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fsmml_live_trigger();
        CREATE TRIGGER fsmml_live_update AFTER UPDATE ON trading.historicaldata
            FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.fsmml_live_trigger();
        -- The bars table is not the extension's, so neither are its triggers (CREATE TRIGGER
        -- cannot make them members): let them go with their functions, so DROP EXTENSION works
        -- without CASCADE and still keeps the bars.
        UPDATE pg_catalog.pg_depend SET deptype = 'a'
         WHERE classid = 'pg_catalog.pg_trigger'::regclass
           AND objid IN (SELECT oid FROM pg_catalog.pg_trigger
                          WHERE tgrelid = 'trading.historicaldata'::regclass
                            AND tgname IN ('fsmml_live_insert', 'fsmml_live_update',
                                           'fsmml_live_capture_insert', 'fsmml_live_capture_update'))
           AND refclassid = 'pg_catalog.pg_proc'::regclass
           AND refobjid IN ('@extschema@.fsmml_live_trigger()'::regprocedure,
                            '@extschema@.fsmml_live_capture()'::regprocedure,
                            '@extschema@.fsmml_live_wanted(text, text, timestamptz)'::regprocedure,
                            '@extschema@.fsmml_live_wanted(text, text)'::regprocedure)
           AND deptype = 'n';
    END IF;
END
$$;

SELECT pg_catalog.pg_extension_config_dump('fsmml.live_series', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.scoring_errors', '');
ALTER TABLE fsmml.live_series OWNER TO fsmml_owner;
ALTER TABLE fsmml.scoring_errors OWNER TO fsmml_owner;
GRANT SELECT ON fsmml.live_series, fsmml.scoring_errors TO fsmml_reader;
REVOKE ALL ON FUNCTION fsmml_enable_scoring(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_enable_scoring(text, text) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_disable_scoring(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_disable_scoring(text, text) TO fsmml_trainer;
REVOKE ALL ON FUNCTION fsmml_live_trigger() FROM PUBLIC;
REVOKE ALL ON FUNCTION fsmml_live_capture() FROM PUBLIC;
REVOKE ALL ON FUNCTION fsmml_live_series_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION fsmml_versions_changed() FROM PUBLIC;
-- Live scoring rewrites a series' kernel state (4.5 kB) with every bar: keep it inline and
-- uncompressed rather than compressed into a TOAST chunk each time.
ALTER TABLE fsmml.feature_state ALTER COLUMN state SET STORAGE EXTERNAL;
ALTER TABLE fsmml.feature_state SET (toast_tuple_target = 8160);
/* ---- end i9 ---- */
/* ---- i11: signals out of the database (issue 11) ------------------------------------------------
 * A transactional outbox: a statement trigger on trading.agentsignals (every writer: batch
 * fsmml_score, live scoring, a user's INSERT) writes one fsmml.outbox row per matching enabled
 * endpoint in the same transaction and wakes the delivery worker at commit (src/bgw/delivery_*.c).
 * Endpoints are admin-only; their secrets live in fsmml.endpoint_secrets, which only fsmml_admin
 * may read.  URLs must start with a prefix of the superuser-only setting fsmml.allowed_urls. */
CREATE TABLE fsmml.endpoints (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'telegram', 'llm')),
    url             text NOT NULL,
    fallback_urls   text[] NOT NULL DEFAULT '{}',
    symbols         text[],
    timeframes      text[],
    enabled         boolean NOT NULL DEFAULT true,
    timeout_ms      integer NOT NULL DEFAULT 5000 CHECK (timeout_ms BETWEEN 10 AND 600000),
    max_in_flight   integer NOT NULL DEFAULT 1 CHECK (max_in_flight BETWEEN 1 AND 64),
    chat_id         text,
    model           text,
    failing_since   timestamptz,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (kind <> 'telegram' OR chat_id IS NOT NULL),
    CHECK (kind <> 'llm' OR model IS NOT NULL),
    CHECK (kind = 'llm' OR fallback_urls = '{}')
);

CREATE TABLE fsmml.endpoint_secrets (
    endpoint_id     bigint PRIMARY KEY REFERENCES fsmml.endpoints (id) ON DELETE CASCADE,
    secret          text NOT NULL
);

CREATE TABLE fsmml.outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     bigint NOT NULL REFERENCES fsmml.endpoints (id) ON DELETE CASCADE,
    webhook_id      text NOT NULL,
    symbol          text NOT NULL,
    timeframe       text NOT NULL,
    signal_ts       timestamptz NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    first_sent_at   timestamptz,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    last_http_status integer,
    last_error      text
);
-- The worker's claim: the head of each endpoint's queue in signal order.
CREATE INDEX outbox_pending ON fsmml.outbox (endpoint_id, signal_ts, id)
    WHERE status IN ('queued', 'sending');
CREATE INDEX outbox_finished ON fsmml.outbox (delivered_at) WHERE status = 'delivered';

CREATE TABLE fsmml.signal_reviews (
    outbox_id       bigint PRIMARY KEY,
    endpoint_id     bigint NOT NULL,
    symbol          text NOT NULL,
    timeframe       text NOT NULL,
    signal_ts       timestamptz NOT NULL,
    verdict         text NOT NULL,
    model           text,
    answered_by     text NOT NULL,
    latency_ms      double precision NOT NULL,
    reviewed_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signal_reviews_signal ON fsmml.signal_reviews (symbol, timeframe, signal_ts);

-- Refuses a URL outside fsmml.allowed_urls (src/bgw/endpoints.c); the worker checks again at send time.
CREATE FUNCTION fsmml_check_endpoint_url(url text) RETURNS void
    AS 'MODULE_PATHNAME', 'fsmml_check_endpoint_url'
    LANGUAGE C STABLE STRICT;
-- Sets the delivery worker's latch when the current transaction commits.
CREATE FUNCTION fsmml_delivery_wake() RETURNS void
    AS 'MODULE_PATHNAME', 'fsmml_delivery_wake'
    LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION fsmml.endpoints_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.url IS DISTINCT FROM OLD.url
       OR NEW.fallback_urls IS DISTINCT FROM OLD.fallback_urls THEN
        PERFORM @extschema@.fsmml_check_endpoint_url(NEW.url);
        FOREACH u IN ARRAY NEW.fallback_urls LOOP
            PERFORM @extschema@.fsmml_check_endpoint_url(u);
        END LOOP;
    END IF;
    IF NEW.enabled AND TG_OP = 'UPDATE' AND NOT OLD.enabled THEN
        NEW.disabled_reason := NULL;
        NEW.failing_since := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER endpoints_check BEFORE INSERT OR UPDATE ON fsmml.endpoints
    FOR EACH ROW EXECUTE FUNCTION fsmml.endpoints_check();

-- What one endpoint receives for one signal: the exact bytes that are signed and sent.
CREATE FUNCTION fsmml.outbox_body(e fsmml.endpoints, s jsonb, event text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE e.kind
    WHEN 'webhook' THEN jsonb_build_object(
        'type', event, 'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'data', s - 'created_at')::text
    WHEN 'telegram' THEN jsonb_build_object(
        'chat_id', e.chat_id,
        'text', format('%s %s %s at %s: strength %s, size %s, SL %s, TP %s',
                       CASE (s ->> 'side')::int WHEN 1 THEN 'LONG' WHEN -1 THEN 'SHORT' ELSE 'FLAT' END,
                       s ->> 'symbol', s ->> 'timeframe', s ->> 'timestamp',
                       round((s ->> 'strength')::numeric, 3), coalesce(s ->> 'size', '-'),
                       coalesce(s ->> 'sl', '-'), coalesce(s ->> 'tp', '-')))::text
    ELSE jsonb_build_object(
        'model', e.model, 'stream', false,
        'prompt', format('You review trading signals. Signal: %s. Agents'' outputs for this bar: %s. '
                         'Answer with AGREE or DISAGREE, then one short sentence why.',
                         (s - 'created_at')::text,
                         coalesce((SELECT jsonb_object_agg(v.agent, p.payload)
                                   FROM trading.agentpreds p
                                   JOIN trading.agentversions v ON v.id = p.agent_version_id
                                   WHERE p.symbol = s ->> 'symbol' AND p.timeframe = s ->> 'timeframe'
                                     AND p."timestamp" = (s ->> 'timestamp')::timestamptz), '{}')::text))::text
    END
$$;

/* Statement triggers with transition tables: one INSERT ... SELECT per statement, whatever its
 * size.  They run as the writer of the signals: fsmml_owner (fsmml's functions write signals in
 * owner mode) or a superuser; a role granted INSERT on trading.agentsignals needs INSERT on
 * fsmml.outbox too. */
CREATE FUNCTION fsmml.agentsignals_outbox() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM fsmml.endpoints WHERE enabled) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO fsmml.outbox (endpoint_id, webhook_id, symbol, timeframe, signal_ts, body)
        SELECT e.id, format('sig_%s_%s_%s_%s', e.id, s.symbol, s.timeframe,
                            (extract(epoch FROM s."timestamp") * 1000000)::bigint),
               s.symbol, s.timeframe, s."timestamp", fsmml.outbox_body(e, to_jsonb(s), 'signal.created')
        FROM fsmml_new_signals s JOIN fsmml.endpoints e
          ON e.enabled AND (e.symbols IS NULL OR s.symbol = ANY (e.symbols))
             AND (e.timeframes IS NULL OR s.timeframe = ANY (e.timeframes))
        ORDER BY s."timestamp";
    ELSE
        -- a changed signal is a new message: its own webhook-id
        INSERT INTO fsmml.outbox (endpoint_id, webhook_id, symbol, timeframe, signal_ts, body)
        SELECT e.id, format('sig_%s_%s_%s_%s.u%s', e.id, s.symbol, s.timeframe,
                            (extract(epoch FROM s."timestamp") * 1000000)::bigint,
                            (extract(epoch FROM clock_timestamp()) * 1000000)::bigint),
               s.symbol, s.timeframe, s."timestamp", fsmml.outbox_body(e, to_jsonb(s), 'signal.updated')
        FROM fsmml_new_signals s
        JOIN fsmml_old_signals o USING (symbol, timeframe, "timestamp")
        JOIN fsmml.endpoints e
          ON e.enabled AND (e.symbols IS NULL OR s.symbol = ANY (e.symbols))
             AND (e.timeframes IS NULL OR s.timeframe = ANY (e.timeframes))
        WHERE (s.side, s.strength, s.size, s.sl, s.tp, s.payload)
              IS DISTINCT FROM (o.side, o.strength, o.size, o.sl, o.tp, o.payload)
        ORDER BY s."timestamp";
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM @extschema@.fsmml_delivery_wake();
    END IF;
    RETURN NULL;
END
$$;
-- Whether any endpoint is enabled, cached per backend (src/bgw/outbox_gate.c): with
-- none, a signal's statement does not run the trigger at all.  fsmml_endpoints_changed
-- tells every backend when endpoints change (after commit).
CREATE FUNCTION fsmml.outbox_wanted() RETURNS boolean
LANGUAGE C STABLE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'fsmml_outbox_wanted';
CREATE TRIGGER fsmml_endpoints_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fsmml.endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION fsmml_versions_changed();
CREATE TRIGGER agentsignals_outbox_insert AFTER INSERT ON trading.agentsignals
    REFERENCING NEW TABLE AS fsmml_new_signals
    FOR EACH STATEMENT WHEN (fsmml.outbox_wanted()) EXECUTE FUNCTION fsmml.agentsignals_outbox();
CREATE TRIGGER agentsignals_outbox_update AFTER UPDATE ON trading.agentsignals
    REFERENCING OLD TABLE AS fsmml_old_signals NEW TABLE AS fsmml_new_signals
    FOR EACH STATEMENT WHEN (fsmml.outbox_wanted()) EXECUTE FUNCTION fsmml.agentsignals_outbox();

-- Creates an endpoint and its secret; returns its id.  Admins only (they own the tables' rights).
CREATE FUNCTION fsmml_create_endpoint(name text, kind text, url text, secret text DEFAULT NULL,
                                      symbols text[] DEFAULT NULL, timeframes text[] DEFAULT NULL,
                                      timeout_ms integer DEFAULT 5000, max_in_flight integer DEFAULT 1,
                                      chat_id text DEFAULT NULL, model text DEFAULT NULL,
                                      fallback_urls text[] DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    -- the delivery worker serves one database (and runs only under shared_preload_libraries)
    IF current_setting('fsmml.database', true) IS DISTINCT FROM current_database() THEN
        RAISE EXCEPTION 'fsmml''s delivery worker serves database %, not %',
                        coalesce(current_setting('fsmml.database', true), '(none: fsmml is not preloaded)'),
                        current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create endpoints in the database named by fsmml.database, with fsmml in shared_preload_libraries.';
    END IF;
    IF kind = 'telegram' AND secret IS NULL THEN
        RAISE EXCEPTION 'a telegram endpoint needs its bot token as the secret'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass secret => ''123456:ABC...''.';
    END IF;
    INSERT INTO fsmml.endpoints (name, kind, url, symbols, timeframes, timeout_ms, max_in_flight,
                                 chat_id, model, fallback_urls)
    VALUES (name, kind, url, symbols, timeframes, timeout_ms, max_in_flight, chat_id, model,
            coalesce(fallback_urls, '{}'))
    RETURNING id INTO new_id;
    IF secret IS NOT NULL THEN
        INSERT INTO fsmml.endpoint_secrets (endpoint_id, secret) VALUES (new_id, secret);
    END IF;
    RETURN new_id;
END
$$;

-- Per endpoint: queued, in flight, delivered, failed, oldest undelivered.
CREATE VIEW fsmml.delivery_status AS
SELECT e.id AS endpoint_id, e.name, e.kind, e.enabled, e.disabled_reason, e.failing_since,
       count(o.id) FILTER (WHERE o.status = 'queued') AS queued,
       count(o.id) FILTER (WHERE o.status = 'sending') AS in_flight,
       count(o.id) FILTER (WHERE o.status = 'delivered') AS delivered,
       count(o.id) FILTER (WHERE o.status = 'failed') AS failed,
       min(o.created_at) FILTER (WHERE o.status IN ('queued', 'sending')) AS oldest_undelivered,
       (SELECT l.last_error FROM fsmml.outbox l WHERE l.endpoint_id = e.id AND l.last_error IS NOT NULL
          AND l.status <> 'delivered'
        ORDER BY l.last_attempt_at DESC NULLS LAST LIMIT 1) AS last_error
FROM fsmml.endpoints e LEFT JOIN fsmml.outbox o ON o.endpoint_id = e.id
GROUP BY e.id;

SELECT pg_catalog.pg_extension_config_dump('fsmml.endpoints', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.endpoint_secrets', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.signal_reviews', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.endpoints_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('fsmml.outbox_id_seq', '');

ALTER TABLE fsmml.endpoints OWNER TO fsmml_owner;
ALTER TABLE fsmml.endpoint_secrets OWNER TO fsmml_owner;
ALTER TABLE fsmml.outbox OWNER TO fsmml_owner;
ALTER TABLE fsmml.signal_reviews OWNER TO fsmml_owner;
ALTER VIEW fsmml.delivery_status OWNER TO fsmml_owner;
-- Admins manage endpoints and may read secrets; readers and trainers see neither.
GRANT SELECT, INSERT, UPDATE, DELETE ON fsmml.endpoints, fsmml.endpoint_secrets TO fsmml_admin;
GRANT SELECT ON fsmml.outbox, fsmml.delivery_status TO fsmml_admin;
GRANT SELECT ON fsmml.signal_reviews TO fsmml_reader;
REVOKE ALL ON FUNCTION fsmml_create_endpoint(text, text, text, text, text[], text[], integer, integer,
                                             text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_create_endpoint(text, text, text, text, text[], text[], integer, integer,
                                                text, text, text[]) TO fsmml_admin;
REVOKE ALL ON FUNCTION fsmml_delivery_wake() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_delivery_wake() TO fsmml_owner;
/* ---- end i11 ---- */

/* ---- concurrent partition creation ------------------------------------------------------------
 * Two sessions scoring the first bars of a new month both found its partition missing and the later
 * failed with "already exists": the check and the CREATE are now serialised by an advisory lock
 * (kind 7), and a partition another session created meanwhile is not an error. */
CREATE OR REPLACE FUNCTION fsmml_create_pred_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m       timestamptz := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    made    integer := 0;
    part    text;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR to_ts < from_ts THEN
        RAISE EXCEPTION 'invalid partition range [%, %]', from_ts, to_ts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass from_ts <= to_ts.';
    END IF;
    WHILE m <= to_ts LOOP
        part := format('agentpreds_y%sm%s', to_char(m AT TIME ZONE 'UTC', 'YYYY'),
                       to_char(m AT TIME ZONE 'UTC', 'MM'));
        IF to_regclass(format('trading.%I', part)) IS NULL THEN
            PERFORM pg_advisory_xact_lock(1179864327, hashtext(part));
            BEGIN
                EXECUTE format('CREATE TABLE trading.%I PARTITION OF trading.agentpreds '
                               'FOR VALUES FROM (%L) TO (%L)',
                               part, m, (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
                made := made + 1;
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;       -- created by a concurrent session that committed first
            END;
        END IF;
        m := (m AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
    END LOOP;
    RETURN made;
END
$$;
ALTER FUNCTION fsmml_create_pred_partitions(timestamptz, timestamptz) OWNER TO fsmml_owner;
/* ---- end concurrent partition creation ---- */

/* ---- live scoring: version deletes wait on the prediction lock, not on row locks ---- */
CREATE FUNCTION fsmml.lock_version_predictions(version_id bigint) RETURNS void
LANGUAGE C STRICT SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'fsmml_lock_version_predictions';
REVOKE ALL ON FUNCTION fsmml.lock_version_predictions(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml.lock_version_predictions(bigint) TO fsmml_owner;
CREATE OR REPLACE FUNCTION fsmml.agentversions_keep_predicted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM trading.agentpreds) THEN
            RAISE EXCEPTION 'cannot truncate trading.agentversions: trading.agentpreds has predictions'
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Truncate trading.agentpreds first.';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.symbol = OLD.symbol THEN
        RETURN NEW;
    END IF;
    -- wait for the transactions still writing its predictions, then see them
    PERFORM fsmml.lock_version_predictions(OLD.id);
    IF EXISTS (SELECT 1 FROM trading.agentpreds WHERE agent_version_id = OLD.id) THEN
        RAISE EXCEPTION 'agent version % (%@%-% %) has predictions in trading.agentpreds',
                        OLD.id, OLD.agent, OLD.symbol, OLD.timeframe, OLD.version
            USING ERRCODE = 'foreign_key_violation',
                  HINT = format('Delete them first: DELETE FROM trading.agentpreds WHERE agent_version_id = %s.', OLD.id);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
/* ---- end version deletes ---- */

/* ---- i9: who listens on fsmml_signals ----------------------------------------------------------
 * Live scoring NOTIFYs only while some backend listens (src/serve/live_listeners.c); this says how
 * many are counted.  An UNLISTEN of the channel, UNLISTEN * or DISCARD ALL uncounts at commit. */
CREATE FUNCTION fsmml_signal_listeners() RETURNS integer
    AS 'MODULE_PATHNAME', 'fsmml_signal_listeners'
    LANGUAGE C VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION fsmml_signal_listeners() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_signal_listeners() TO fsmml_reader;
/* ---- end i9 listeners ---- */
