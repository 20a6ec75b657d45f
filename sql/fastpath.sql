-- Fast paths (writes that skip the executor) are exact: for every table shape
-- a user may give trading.features and trading.agentpreds, what
-- fsmml_build_features and fsmml_score write equals what a plain INSERT of the
-- same rows gives (data, or the error), and shapes the direct writes cannot
-- honour fall back to INSERT.  The DEBUG1 lines say which path wrote.
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS fsmml;
CREATE EXTENSION IF NOT EXISTS amcheck;
RESET client_min_messages;
\set VERBOSITY terse

-- 300 1m bars for each series FP1..FP14 (one per shape, each built once) and
-- 600 for FPS, across the January/February 2031 month boundary.
INSERT INTO trading.historicaldata
SELECT sym, '1m', ts, c - 0.03 * sin(i), c + 0.1 + 0.02 * abs(sin(i)), c - 0.1 - 0.03 * abs(cos(i)),
       c, 10 + 5 * abs(sin(i / 7.0)) + (i % 13)
FROM (SELECT 'FP' || k AS sym, 300 AS n FROM generate_series(1, 14) AS k
      UNION ALL SELECT 'FPS', 600) s,
     LATERAL (SELECT i, '2031-01-31 20:00+00'::timestamptz + i * interval '1 minute' AS ts,
                     100 + 5 * sin(i / 37.0) + 3 * sin(i / 11.0) + 0.01 * i AS c
              FROM generate_series(0, s.n - 1) AS i) b;

-- The error a statement raises ('no error' when none): SQLSTATE, message | detail.
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text; d text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN s || ': ' || m || ' | ' || coalesce(d, '');
END $$;

-- The INSERT fsmml_build_features stands for: fsmml's columns of series sym.
CREATE FUNCTION pg_temp.feature_insert(target text, sym text) RETURNS text LANGUAGE sql AS $$
SELECT format('INSERT INTO %s (symbol, timeframe, "timestamp", %s) '
              'SELECT symbol, timeframe, "timestamp", %s FROM fsmml_features(%L, ''1m'')',
              target, c, c, sym)
FROM (SELECT string_agg(quote_ident(name), ', ' ORDER BY "position") AS c
      FROM fsmml.feature_catalog) f
$$;

-- Series sym as fsmml wrote it vs a plain INSERT of the same rows into a copy
-- of trading.features with the same shape (defaults, generated columns,
-- constraints, indexes): rows, and rows that differ either way.
CREATE FUNCTION pg_temp.check_features(sym text, OUT nrows bigint, OUT ndiff bigint)
LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS fp_ref;
    CREATE TEMP TABLE fp_ref (LIKE trading.features INCLUDING ALL);
    EXECUTE pg_temp.feature_insert('fp_ref', sym);
    SELECT count(*) INTO nrows FROM trading.features f WHERE f.symbol = sym;
    EXECUTE format('SELECT count(*) FROM ((SELECT * FROM trading.features WHERE symbol = %L '
                   'EXCEPT ALL SELECT * FROM fp_ref) UNION ALL (SELECT * FROM fp_ref '
                   'EXCEPT ALL SELECT * FROM trading.features WHERE symbol = %L)) d', sym, sym)
        INTO ndiff;
END $$;

/* ================================================================ trading.features */

-- The operator's crash: a NOT NULL DEFAULT column, then a series never built.
ALTER TABLE trading.features ADD COLUMN desk_flag int NOT NULL DEFAULT 7;
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP1', '1m');
RESET client_min_messages;
SELECT desk_flag, count(*) FROM trading.features WHERE symbol = 'FP1' GROUP BY 1;
SELECT * FROM pg_temp.check_features('FP1');
ALTER TABLE trading.features DROP COLUMN desk_flag;

-- A nullable column with a default (was NULL on every row the fast path wrote).
ALTER TABLE trading.features ADD COLUMN desk_note int DEFAULT 3;
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP2', '1m');
RESET client_min_messages;
SELECT desk_note, count(*) FROM trading.features WHERE symbol = 'FP2' GROUP BY 1;
SELECT * FROM pg_temp.check_features('FP2');
ALTER TABLE trading.features DROP COLUMN desk_note;

-- A stored generated column (and a volatile default: rows go in one at a time).
ALTER TABLE trading.features
    ADD COLUMN ret_1_bp double precision GENERATED ALWAYS AS (ret_1 * 10000) STORED,
    ADD COLUMN noise double precision DEFAULT 0 * random();
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP3', '1m');
RESET client_min_messages;
SELECT count(*) AS rows, count(ret_1_bp) AS generated, count(ret_1) AS ret_1,
       bool_and(ret_1_bp = ret_1 * 10000) AS right, bool_and(noise = 0) AS defaulted
FROM trading.features WHERE symbol = 'FP3';
SELECT * FROM pg_temp.check_features('FP3');
ALTER TABLE trading.features DROP COLUMN ret_1_bp, DROP COLUMN noise;

-- A CHECK constraint every row passes.
ALTER TABLE trading.features ADD CONSTRAINT fp_rsi_range CHECK (rsi_14 BETWEEN 0 AND 100);
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP4', '1m');
RESET client_min_messages;
SELECT * FROM pg_temp.check_features('FP4');
ALTER TABLE trading.features DROP CONSTRAINT fp_rsi_range;

-- A CHECK constraint a row fails (the second crash): INSERT's error, word for
-- word (the failing row included), and nothing written.
ALTER TABLE trading.features ADD CONSTRAINT fp_rsi_low CHECK (rsi_14 < 60) NOT VALID;
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FP5')) AS insert_error \gset
SELECT split_part(:'insert_error', ' | ', 1) AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FP5', '1m')$$) = :'insert_error' AS same_error;
SELECT count(*) FROM trading.features WHERE symbol = 'FP5';
ALTER TABLE trading.features DROP CONSTRAINT fp_rsi_low;

-- A NOT NULL column without a default: INSERT's not-null error, word for word.
ALTER TABLE trading.features ADD COLUMN desk_must int NOT NULL DEFAULT 0;
ALTER TABLE trading.features ALTER COLUMN desk_must DROP DEFAULT;
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FP5')) AS insert_error \gset
SELECT split_part(:'insert_error', ' | ', 1) AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FP5', '1m')$$) = :'insert_error' AS same_error;
ALTER TABLE trading.features DROP COLUMN desk_must;

-- Privileges are checked as INSERT checks them, for fsmml_owner: the role fsmml's
-- writes run as (README, "Roles and privileges").
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP6', '1m');
RESET client_min_messages;
SELECT * FROM pg_temp.check_features('FP6');
REVOKE INSERT ON trading.features FROM fsmml_owner;
GRANT SELECT ON fsmml.feature_catalog TO fsmml_owner;   -- pg_temp.feature_insert reads it
SET ROLE fsmml_owner;
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FP7')) AS insert_error \gset
RESET ROLE;
SELECT :'insert_error' AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FP7', '1m')$$) = :'insert_error' AS same_error;
SELECT count(*) AS fp7_rows FROM trading.features WHERE symbol = 'FP7';
GRANT INSERT ON trading.features TO fsmml_owner;
REVOKE SELECT ON fsmml.feature_catalog FROM fsmml_owner;

-- An expression index and a partial unique index: every row has its entries
-- (amcheck's heapallindexed), the same rows as INSERT.
CREATE INDEX fp_ret_bp ON trading.features ((ret_1 * 10000));
CREATE UNIQUE INDEX fp_partial ON trading.features (symbol, timeframe, "timestamp", rsi_14)
    WHERE rsi_14 > 50;
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP8', '1m');
RESET client_min_messages;
SELECT * FROM pg_temp.check_features('FP8');
SELECT bt_index_check('trading.fp_ret_bp', true), bt_index_check('trading.fp_partial', true);
SET enable_seqscan = off;
SELECT count(*) AS by_partial_index FROM trading.features WHERE symbol = 'FP8' AND rsi_14 > 50;
RESET enable_seqscan;
SELECT count(*) AS by_heap FROM trading.features WHERE symbol = 'FP8' AND rsi_14 > 50;
DROP INDEX trading.fp_ret_bp, trading.fp_partial;

-- A partial unique index and an exclusion constraint that a row violates:
-- INSERT's error word for word.
CREATE UNIQUE INDEX fp_hourly ON trading.features (symbol, date_trunc('hour', "timestamp" AT TIME ZONE 'UTC'))
    WHERE symbol = 'FP9';
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FP9')) AS insert_error \gset
SELECT :'insert_error' AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FP9', '1m')$$) = :'insert_error' AS same_error;
DROP INDEX trading.fp_hourly;
ALTER TABLE trading.features ADD CONSTRAINT fp_excl
    EXCLUDE USING btree (symbol WITH =, (date_trunc('hour', "timestamp" AT TIME ZONE 'UTC')) WITH =)
    WHERE (symbol = 'FP10');
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FP10')) AS insert_error \gset
SELECT :'insert_error' AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FP10', '1m')$$) = :'insert_error' AS same_error;
ALTER TABLE trading.features DROP CONSTRAINT fp_excl;

-- Shapes only the executor honours fall back to INSERT: a BEFORE ROW trigger
-- (it may change the row), row-level security.  A deferrable unique
-- constraint (an internal AFTER ROW trigger that rechecks the key at commit)
-- is written directly, its trigger queued as INSERT queues it.
CREATE FUNCTION pg_temp.fp_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.tag := 'trigger'; RETURN NEW; END $$;
ALTER TABLE trading.features ADD COLUMN tag text;
CREATE TRIGGER fp_tag BEFORE INSERT ON trading.features FOR EACH ROW EXECUTE FUNCTION pg_temp.fp_tag();
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP11', '1m');
RESET client_min_messages;
SELECT tag, count(*) FROM trading.features WHERE symbol = 'FP11' GROUP BY 1;
DROP TRIGGER fp_tag ON trading.features;
ALTER TABLE trading.features DROP COLUMN tag;
ALTER TABLE trading.features ADD CONSTRAINT fp_deferred UNIQUE (symbol, timeframe, "timestamp", ret_1)
    DEFERRABLE INITIALLY DEFERRED;
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP12', '1m');
RESET client_min_messages;
SELECT * FROM pg_temp.check_features('FP12');
ALTER TABLE trading.features DROP CONSTRAINT fp_deferred;
ALTER TABLE trading.features ENABLE ROW LEVEL SECURITY;
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP13', '1m');
RESET client_min_messages;
ALTER TABLE trading.features DISABLE ROW LEVEL SECURITY;
SELECT * FROM pg_temp.check_features('FP13');

-- And the plain shape writes directly.
SET client_min_messages = debug1;
SELECT fsmml_build_features('FP14', '1m');
RESET client_min_messages;
SELECT * FROM pg_temp.check_features('FP14');

/* ================================================================ trading.agentpreds */

-- A champion for FPS (the model of score.sql) and its partitions, made first.
CREATE TEMP TABLE tiny AS SELECT convert_to('{"learner":{"attributes":{"best_iteration":"2","best_ntree_limit":"3"},"feature_names":["ret_1","rsi_14","ema_dist_5"],"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"3","size_leaf_vector":"0"},"tree_info":[0,0,0],"trees":[{"base_weights":[-9.9502485E-3,-8.787346E-2,1.1578947E0,4.3222003E-2,-1.125E0,1.2941177E0,-0E0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[0,1,0,0,0,0,0],"id":0,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[1.3820335E1,1.9389301E1,1.4984522E0,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[7.1259066E-3,5.183913E-3,1.0243423E-2,1.2966601E-2,-3.375E-1,3.8823533E-1,-0E0],"split_indices":[0,2,2,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[1.4975E2,1.4125E2,8.5E0,1.2625E2,1.5E1,7.5E0,1E0],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}},{"base_weights":[-6.649485E-3,-9.885421E-1,6.8629004E-2,3.2469818E-1,-1.3258196E0,1.162916E0,-6.9187574E-2],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[0,0,1,0,0,0,0],"id":1,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[1.1158837E1,5.1917677E0,2.1239265E1,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[-6.9385394E-3,-9.144475E-3,-4.997816E-3,9.740946E-2,-3.977459E-1,3.488748E-1,-2.0756273E-2],"split_indices":[0,2,2,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[1.4904987E2,9.74959E0,1.3930028E2,1.999916E0,7.7496743E0,1.4749401E1,1.2455087E2],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}},{"base_weights":[-4.3522543E-3,-1.4319222E-1,3.9559022E-1,4.6216533E-2,-4.8620456E-1,6.960831E-1,-1.3676247E-1],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[0,0,1,0,0,0,0],"id":2,"left_children":[1,3,5,-1,-1,-1,-1],"loss_changes":[8.345433E0,7.2691846E0,6.2910933E0,0E0,0E0,0E0,0E0],"parents":[2147483647,0,0,1,1,2,2],"right_children":[2,4,6,-1,-1,-1,-1],"split_conditions":[6.5850586E1,1.607321E-3,5.783586E-3,1.38649605E-2,-1.4586137E-1,2.0882495E-1,-4.102874E-2],"split_indices":[1,0,2,0,0,0,0],"split_type":[0,0,0,0,0,0,0],"sum_hessian":[1.4827223E2,1.1054019E2,3.773204E1,7.177298E1,3.8767216E1,2.3921627E1,1.3810411E1],"tree_param":{"num_deleted":"0","num_feature":"3","num_nodes":"7","size_leaf_vector":"0"}}]},"name":"gbtree"},"learner_model_param":{"base_score":"5E-1","boost_from_average":"0","num_class":"0","num_feature":"3","num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]}', 'UTF8') AS m;
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, params, feature_names, ext_version)
SELECT 'FPS', '1m', 'DirectionXGB', 'v1.0.0', 'champion', m, 'xgboost-json',
       encode(sha256(m), 'hex'), '{"horizon": 1}', '{ret_1,rsi_14,ema_dist_5}', '0.1.0'
FROM tiny;
SELECT fsmml_create_pred_partitions('2031-01-01', '2031-03-01') >= 0 AS partitions;

-- The rows fsmml_score writes into the plain shape, directly.
SET client_min_messages = debug1;
SELECT fsmml_score('FPS', '1m', '-infinity', 'infinity');
RESET client_min_messages;
CREATE TEMP TABLE fp_base AS
SELECT agent_version_id, symbol, timeframe, "timestamp", horizon, payload
FROM trading.agentpreds WHERE symbol = 'FPS';
SELECT count(*), count(DISTINCT tableoid) AS partitions FROM trading.agentpreds WHERE symbol = 'FPS';

-- The same rows through INSERT into a copy of agentpreds' shape (run in the
-- transaction of the fsmml_score call, so now() is the same) vs what
-- fsmml_score wrote.
CREATE FUNCTION pg_temp.check_preds(OUT nrows bigint, OUT ndiff bigint) LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS fp_pref;
    CREATE TEMP TABLE fp_pref (LIKE trading.agentpreds INCLUDING ALL);
    INSERT INTO fp_pref (agent_version_id, symbol, timeframe, "timestamp", horizon, payload)
    SELECT * FROM fp_base ORDER BY "timestamp";
    SELECT count(*) INTO nrows FROM trading.agentpreds WHERE symbol = 'FPS';
    EXECUTE 'SELECT count(*) FROM ((SELECT * FROM trading.agentpreds WHERE symbol = ''FPS'' '
            'EXCEPT ALL SELECT * FROM fp_pref) UNION ALL (SELECT * FROM fp_pref '
            'EXCEPT ALL SELECT * FROM trading.agentpreds WHERE symbol = ''FPS'')) d' INTO ndiff;
END $$;
-- The INSERT fsmml_score stands for.
CREATE FUNCTION pg_temp.pred_insert() RETURNS text LANGUAGE sql AS $$
SELECT 'INSERT INTO trading.agentpreds (agent_version_id, symbol, timeframe, "timestamp", horizon, payload) '
       'SELECT * FROM fp_base ORDER BY "timestamp"'
$$;
-- Scores FPS afresh (its DEBUG1 line says how) and compares, in one transaction.
CREATE FUNCTION pg_temp.rescore(OUT nrows bigint, OUT ndiff bigint) LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM trading.agentpreds WHERE symbol = 'FPS';
    PERFORM set_config('client_min_messages', 'debug1', false);
    PERFORM fsmml_score('FPS', '1m', '-infinity', 'infinity');
    PERFORM set_config('client_min_messages', 'warning', false);
    SELECT * INTO nrows, ndiff FROM pg_temp.check_preds();
    PERFORM set_config('client_min_messages', 'notice', false);
END $$;
SELECT * FROM pg_temp.rescore();

-- A NOT NULL DEFAULT column, a nullable DEFAULT column, a stored generated
-- column: direct writes, the same rows as INSERT.
ALTER TABLE trading.agentpreds ADD COLUMN desk_flag int NOT NULL DEFAULT 7;
ALTER TABLE trading.agentpreds ADD COLUMN desk_note int DEFAULT 3;
ALTER TABLE trading.agentpreds ADD COLUMN prob double precision
    GENERATED ALWAYS AS ((payload ->> 'prob_up')::double precision) STORED;
SELECT * FROM pg_temp.rescore();
SELECT desk_flag, desk_note, count(*), count(prob) AS generated,
       bool_and(prob = (payload ->> 'prob_up')::float8) AS right
FROM trading.agentpreds WHERE symbol = 'FPS' GROUP BY 1, 2;
ALTER TABLE trading.agentpreds DROP COLUMN desk_flag, DROP COLUMN desk_note, DROP COLUMN prob;

-- CHECK constraints: one every row passes, one a row fails (the crash):
-- INSERT's error word for word (partition and failing row included).
ALTER TABLE trading.agentpreds ADD CONSTRAINT fp_prob_range
    CHECK ((payload ->> 'prob_up')::float8 BETWEEN 0 AND 1);
SELECT * FROM pg_temp.rescore();
ALTER TABLE trading.agentpreds DROP CONSTRAINT fp_prob_range;
DELETE FROM trading.agentpreds WHERE symbol = 'FPS';
ALTER TABLE trading.agentpreds ADD CONSTRAINT fp_prob_low
    CHECK (symbol <> 'FPS' OR (payload ->> 'prob_up')::float8 < 0.6);
SELECT split_part(e, ' | ', 1) AS insert_error, e = f AS same_error
FROM (SELECT pg_temp.err(pg_temp.pred_insert()) AS e,
             pg_temp.err($$SELECT fsmml_score('FPS', '1m', '-infinity', 'infinity')$$) AS f) s;
ALTER TABLE trading.agentpreds DROP CONSTRAINT fp_prob_low;

-- A NOT NULL column without a default: INSERT's not-null error, word for word.
ALTER TABLE trading.agentpreds ADD COLUMN desk_must int NOT NULL DEFAULT 0;
ALTER TABLE trading.agentpreds ALTER COLUMN desk_must DROP DEFAULT;
SELECT split_part(e, ' | ', 1) AS insert_error, e = f AS same_error
FROM (SELECT pg_temp.err(pg_temp.pred_insert()) AS e,
             pg_temp.err($$SELECT fsmml_score('FPS', '1m', '-infinity', 'infinity')$$) AS f) s;
ALTER TABLE trading.agentpreds DROP COLUMN desk_must;

-- Privileges, for fsmml_owner.
SELECT * FROM pg_temp.rescore();
REVOKE INSERT ON trading.agentpreds FROM fsmml_owner;
DELETE FROM trading.agentpreds WHERE symbol = 'FPS';
SET ROLE fsmml_owner;
SELECT pg_temp.err(pg_temp.pred_insert()) AS insert_error \gset
RESET ROLE;
SELECT :'insert_error' AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_score('FPS', '1m', '-infinity', 'infinity')$$) = :'insert_error' AS same_error;
SELECT count(*) AS fps_rows FROM trading.agentpreds WHERE symbol = 'FPS';
GRANT INSERT ON trading.agentpreds TO fsmml_owner;

-- An expression index and a partial unique index on agentpreds (every
-- partition's index has every row), then a partial unique index of one
-- partition that a row violates.
CREATE INDEX fp_pred_prob ON trading.agentpreds (((payload ->> 'prob_up')::float8));
CREATE UNIQUE INDEX fp_pred_partial ON trading.agentpreds (agent_version_id, "timestamp")
    WHERE horizon = 1;
SELECT * FROM pg_temp.rescore();
SELECT count(*) AS checked FROM pg_inherits i, LATERAL bt_index_check(i.inhrelid::regclass, true)
WHERE i.inhparent IN ('trading.fp_pred_prob'::regclass, 'trading.fp_pred_partial'::regclass)
  AND i.inhrelid::regclass::text LIKE 'trading.agentpreds_y2031m0%';
DROP INDEX trading.fp_pred_prob, trading.fp_pred_partial;
DELETE FROM trading.agentpreds WHERE symbol = 'FPS';
CREATE UNIQUE INDEX fp_pred_dup ON trading.agentpreds_y2031m02 (symbol, (payload ->> 'prob_up'))
    WHERE symbol = 'FPS';
SELECT split_part(e, ' | ', 1) AS insert_error, e = f AS same_error
FROM (SELECT pg_temp.err(pg_temp.pred_insert()) AS e,
             pg_temp.err($$SELECT fsmml_score('FPS', '1m', '-infinity', 'infinity')$$) AS f) s;
DROP INDEX trading.fp_pred_dup;

-- A trigger on a partition: INSERT, not direct writes; the same rows.
CREATE FUNCTION pg_temp.fp_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER fp_noop BEFORE INSERT ON trading.agentpreds_y2031m01
    FOR EACH ROW EXECUTE FUNCTION pg_temp.fp_noop();
SELECT * FROM pg_temp.rescore();
DROP TRIGGER fp_noop ON trading.agentpreds_y2031m01;
DELETE FROM trading.agentpreds WHERE symbol = 'FPS';
DELETE FROM trading.features WHERE symbol LIKE 'FP%';

/* ================================================================ trading.agentsignals */

-- fsmml_score's signals go straight into agentsignals' heap and indexes with
-- INSERT triggers on it (fsmml's outbox triggers and the ones below): BEFORE
-- and AFTER STATEMENT, AFTER ROW and transition tables fire as a plain INSERT
-- of the same rows fires them.  The upsert (the executor's path) would also
-- fire the UPDATE statement triggers: the log says which path wrote.  A
-- BEFORE ROW INSERT trigger (it may change a row) falls back to the upsert.
INSERT INTO trading.historicaldata
SELECT 'FPA', '1m', '2031-03-01 00:00+00'::timestamptz + i * interval '1 minute',
       c - 0.03 * sin(i), c + 0.1 + 0.02 * abs(sin(i)), c - 0.1 - 0.03 * abs(cos(i)), c,
       10 + 5 * abs(sin(i / 7.0)) + (i % 13)
FROM generate_series(0, 399) AS i,
     LATERAL (SELECT 100 + 5 * sin(i / 37.0) + 3 * sin(i / 11.0) + 0.01 * i AS c) p;
INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format,
                                   model_sha256, params, feature_names, ext_version)
SELECT 'FPA', '1m', 'DirectionXGB', 'v1.0.0', 'champion', m, 'xgboost-json',
       encode(sha256(m), 'hex'), '{"horizon": 1}', '{ret_1,rsi_14,ema_dist_5}', '0.1.0'
FROM tiny;
SET client_min_messages = warning;
SELECT status FROM fsmml_train('ExecRules', 'FPA', '1m', '{}');
SELECT status FROM fsmml_train('EnsembleWeighted', 'FPA', '1m', '{}');
RESET client_min_messages;
CREATE TABLE public.fp_sig_log (event text, n bigint, last_ts timestamptz);
GRANT INSERT ON public.fp_sig_log TO PUBLIC;
CREATE FUNCTION public.fp_sig_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_WHEN = 'AFTER' AND TG_OP = 'INSERT' THEN
        INSERT INTO public.fp_sig_log SELECT 'after statement insert', count(*), max("timestamp") FROM fp_new;
    ELSE
        INSERT INTO public.fp_sig_log VALUES (lower(TG_WHEN || ' statement ' || TG_OP), NULL, NULL);
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION public.fp_sig_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.fp_sig_log VALUES ('after row insert', NEW.side, NEW."timestamp");
    RETURN NULL;
END $$;
CREATE TRIGGER fp_sig_bs BEFORE INSERT OR UPDATE ON trading.agentsignals
    FOR EACH STATEMENT EXECUTE FUNCTION public.fp_sig_stmt();
CREATE TRIGGER fp_sig_as AFTER INSERT ON trading.agentsignals REFERENCING NEW TABLE AS fp_new
    FOR EACH STATEMENT EXECUTE FUNCTION public.fp_sig_stmt();
CREATE TRIGGER fp_sig_ar AFTER INSERT ON trading.agentsignals
    FOR EACH ROW WHEN (NEW.side <> 0) EXECUTE FUNCTION public.fp_sig_row();
CREATE TRIGGER fp_sig_au AFTER UPDATE ON trading.agentsignals
    FOR EACH STATEMENT EXECUTE FUNCTION public.fp_sig_stmt();

-- The trigger log of a write, summed up.
CREATE FUNCTION pg_temp.sig_log() RETURNS TABLE (event text, calls bigint, n numeric, last_ts timestamptz)
LANGUAGE sql AS $$
SELECT event, count(*), sum(n), max(last_ts) FROM public.fp_sig_log GROUP BY 1 ORDER BY 1
$$;
-- fsmml_score, then a plain INSERT of the rows it wrote: both logs and whether they match.
CREATE FUNCTION pg_temp.sig_check(OUT event text, OUT calls bigint, OUT n numeric,
                                  OUT last_ts timestamptz, OUT same_as_insert boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM trading.agentsignals WHERE symbol = 'FPA';
    DELETE FROM public.fp_sig_log;
    PERFORM set_config('client_min_messages', 'warning', true);
    PERFORM fsmml_score('FPA', '1m', '-infinity', 'infinity');
    CREATE TEMP TABLE fp_sig_score AS SELECT * FROM pg_temp.sig_log();
    CREATE TEMP TABLE fp_sig_rows AS SELECT * FROM trading.agentsignals WHERE symbol = 'FPA';
    DELETE FROM trading.agentsignals WHERE symbol = 'FPA';
    DELETE FROM public.fp_sig_log;
    INSERT INTO trading.agentsignals SELECT * FROM fp_sig_rows ORDER BY "timestamp";
    RETURN QUERY SELECT s.*, NOT EXISTS (SELECT * FROM fp_sig_score EXCEPT SELECT * FROM pg_temp.sig_log())
                            AND NOT EXISTS (SELECT * FROM pg_temp.sig_log() EXCEPT SELECT * FROM fp_sig_score)
                 FROM fp_sig_score s;
    DROP TABLE fp_sig_score, fp_sig_rows;
END $$;
SELECT * FROM pg_temp.sig_check();

-- A BEFORE ROW trigger: the upsert writes (UPDATE statement triggers fire too).
CREATE FUNCTION public.fp_sig_before_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RETURN NEW; END $$;
CREATE TRIGGER fp_sig_br BEFORE INSERT ON trading.agentsignals
    FOR EACH ROW EXECUTE FUNCTION public.fp_sig_before_row();
SELECT * FROM pg_temp.sig_check();
DROP TRIGGER fp_sig_br ON trading.agentsignals;

-- Re-run: nothing written, no trigger fired.
DELETE FROM public.fp_sig_log;
SELECT fsmml_score('FPA', '1m', '-infinity', 'infinity') > 0 AS scored;
SELECT * FROM pg_temp.sig_log();
DROP TRIGGER fp_sig_bs ON trading.agentsignals;
DROP TRIGGER fp_sig_as ON trading.agentsignals;
DROP TRIGGER fp_sig_ar ON trading.agentsignals;
DROP TRIGGER fp_sig_au ON trading.agentsignals;
DROP FUNCTION public.fp_sig_stmt(), public.fp_sig_row(), public.fp_sig_before_row();
DROP TABLE public.fp_sig_log;

-- A deferrable unique constraint (written directly, its recheck queued) that
-- rows violate, checked at once: INSERT's error, word for word; nothing kept.
ALTER TABLE trading.features ADD COLUMN desk_k int;     -- NULL on the rows already there
ALTER TABLE trading.features ALTER COLUMN desk_k SET DEFAULT 1;
ALTER TABLE trading.features ADD CONSTRAINT fp_defer UNIQUE (symbol, desk_k)
    DEFERRABLE INITIALLY DEFERRED;
BEGIN;
SET CONSTRAINTS trading.fp_defer IMMEDIATE;
SELECT pg_temp.err(pg_temp.feature_insert('trading.features', 'FPA')) AS insert_error \gset
SELECT split_part(:'insert_error', ' | ', 1) AS insert_error;
SELECT pg_temp.err($$SELECT fsmml_build_features('FPA', '1m')$$) = :'insert_error' AS same_error;
COMMIT;
SELECT count(*) AS fpa_rows FROM trading.features WHERE symbol = 'FPA';
ALTER TABLE trading.features DROP CONSTRAINT fp_defer, DROP COLUMN desk_k;
DELETE FROM trading.agentpreds WHERE symbol = 'FPA';
DELETE FROM trading.agentsignals WHERE symbol = 'FPA';
DELETE FROM fsmml.promotions WHERE symbol = 'FPA';
DELETE FROM trading.agentversions WHERE symbol = 'FPA';
DELETE FROM trading.historicaldata WHERE symbol = 'FPA';
