/* fsmml--0.1.0--0.2.0.sql — upgrades a 0.1.0 database to 0.2.0 (ALTER EXTENSION fsmml UPDATE).
 * Every object added or changed in fsmml--0.2.0.sql is added or changed here too; the upgrade test
 * (test/shell/upgrade.sh) checks that the result equals a fresh install and keeps the data. */

\echo Use "ALTER EXTENSION fsmml UPDATE TO '0.2.0'" to load this file. \quit

/* ---------------------------------------------------------------- h2: XGBoost helpers not for PUBLIC
 * fsmml_xgb_check_params runs XGBoost (bounded by the fsmml.xgb_* limits): trainers only.
 * fsmml_xgb_version stays PUBLIC (it reads a version string). */
REVOKE ALL ON FUNCTION fsmml_xgb_check_params(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fsmml_xgb_check_params(jsonb) TO fsmml_trainer;
/* ---------------------------------------------------------------- end h2 */
