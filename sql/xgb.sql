-- The XGBoost wrapper: version, parameter checks, and its error path (a bad
-- parameter is a clean ERROR; the backend goes on).
SELECT fsmml_xgb_version();
SELECT p->'learner'->'objective'->>'name' AS objective,
       p->'learner'->'gradient_booster'->'updater'->'grow_quantile_histmaker'->'train_param'->>'max_depth' AS max_depth
FROM fsmml_xgb_check_params('{"tree_method": "hist", "max_depth": 4, "eta": 0.3}') AS p;
SELECT fsmml_xgb_check_params('{"max_depth": -1}');
SELECT 'still here' AS backend;
SELECT fsmml_xgb_check_params('{"eta": "fast"}');
\set VERBOSITY terse
SELECT fsmml_xgb_check_params('{"objective": "reg:nope"}');
\set VERBOSITY default
SELECT fsmml_xgb_check_params('{"max_depth": {"nested": 1}}');
SELECT fsmml_xgb_check_params('[1, 2, 3]');
-- Unknown keys are XGBoost warnings, not errors.
SELECT fsmml_xgb_check_params('{"no_such_parameter": 1}') IS NOT NULL AS accepted;
-- Many failures in one transaction, then a normal statement.
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        BEGIN
            PERFORM fsmml_xgb_check_params('{"subsample": 7}');
        EXCEPTION WHEN invalid_parameter_value THEN NULL;
        END;
    END LOOP;
END
$$;
SELECT 1 + 1 AS next_statement_works;
