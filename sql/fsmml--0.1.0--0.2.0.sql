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
