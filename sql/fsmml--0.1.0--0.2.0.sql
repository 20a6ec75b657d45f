/* fsmml--0.1.0--0.2.0.sql — upgrades a 0.1.0 database to 0.2.0 (ALTER EXTENSION fsmml UPDATE).
 * Every object added or changed in fsmml--0.2.0.sql is added or changed here too; the upgrade test
 * (test/shell/upgrade.sh) checks that the result equals a fresh install and keeps the data. */

\echo Use "ALTER EXTENSION fsmml UPDATE TO '0.2.0'" to load this file. \quit

/* ---- h3: default look-back in bars per timeframe ------------------------------------------------
 * DirectionXGB's default look-back becomes "auto" (a number of bars per timeframe, README
 * "Training"); 180 days left 180 rows on a 1d series.  Only the shipped value is replaced: a
 * default a user changed is kept. */
UPDATE trading.agents
   SET default_params = jsonb_set(default_params, '{lookback}', '"auto"')
 WHERE name = 'DirectionXGB' AND default_params->'lookback' = '"180 days"';
/* ---- end h3 ---- */
