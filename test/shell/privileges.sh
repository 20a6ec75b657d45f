#!/usr/bin/env bash
# privileges.sh — no fsmml function runs another role's code with more privilege than its caller.
# An ingest role owns the bars table (as on a real desk) and is a trainer; it plants its code on
# the bars: a trigger, a column default, an index expression and a row-level security policy, all
# calling a function that logs current_user and tries ALTER ROLE ... SUPERUSER.  Every fsmml entry
# point that touches the bars is then called by the ingest role, another trainer and a reader:
# the planted code must run as that caller every time (never as fsmml_owner or a superuser), and
# the escalation must fail.  Plus the static model: owners, SECURITY DEFINER, search_path, grants.
. "$(dirname "$0")/../lib.sh"
set -u
W=$FSMML_TEST_DIR/privileges; rm -rf "$W"; mkdir -p "$W"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# ---- the static model
check "fsmml_owner exists, cannot log in, is no superuser" \
    [ "$(q "SELECT rolsuper::int::text || rolcanlogin::int::text || rolcreaterole::int::text || rolbypassrls::int::text FROM pg_roles WHERE rolname = 'fsmml_owner'")" = 0000 ]
definers=$(q "SELECT string_agg(p.oid::regprocedure::text || ' by ' || pg_get_userbyid(p.proowner), ', ')
              FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
              WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fsmml') AND d.deptype = 'e'
                AND p.prosecdef")
echo "# SECURITY DEFINER functions: $definers"
check "the only SECURITY DEFINER function is owned by fsmml_owner" \
    [ "$definers" = "fsmml_create_pred_partitions(timestamp with time zone,timestamp with time zone) by fsmml_owner" ]
unpinned=$(q "SELECT string_agg(p.proname, ', ' ORDER BY p.proname)
              FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
              WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fsmml') AND d.deptype = 'e'
                AND p.provolatile = 'v' AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
                AND NOT coalesce(p.proconfig::text LIKE '%search_path=pg_catalog, pg_temp%', false)")
echo "# volatile C functions without a pinned search_path: ${unpinned:-none}"
check "every function that writes pins search_path (pure diagnostics aside)" \
    [ "$(echo "$unpinned" | tr -d ' ')" = "fsmml_progress_simulate,fsmml_training_progress,fsmml_xgb_check_params" ]
check "fsmml's tables belong to fsmml_owner" \
    [ "$(q "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('trading', 'fsmml') AND c.relkind IN ('r', 'p') AND c.relname <> 'historicaldata'
              AND pg_get_userbyid(c.relowner) <> 'fsmml_owner'")" = 0 ]
check "fsmml_owner has no privilege on the bars" \
    [ "$(q "SELECT has_table_privilege('fsmml_owner', 'trading.historicaldata', 'SELECT,INSERT,UPDATE,DELETE,TRIGGER,REFERENCES')")" = f ]

# ---- the planted code
sql >"$W/setup.log" 2>&1 <<'SQL'
CREATE ROLE regress_ingest IN ROLE fsmml_trainer;
CREATE ROLE regress_trainer IN ROLE fsmml_trainer;
CREATE ROLE regress_reader IN ROLE fsmml_reader;
ALTER TABLE trading.historicaldata OWNER TO regress_ingest;
-- An autovacuum ANALYZE evaluates the planted index expression as the table's owner at a moment
-- no call of the test explains (seen on the slower assert build): keep it out of the log.
ALTER TABLE trading.historicaldata SET (autovacuum_enabled = false);
GRANT INSERT, UPDATE ON trading.historicaldata TO regress_trainer;   -- resample upserts
GRANT CREATE ON SCHEMA public, trading TO regress_ingest;
CREATE TABLE public.ran_as (what text, who text, super boolean, at timestamptz DEFAULT clock_timestamp(),
                            backend text);
GRANT INSERT ON public.ran_as TO PUBLIC;
CREATE FUNCTION public.planted(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.ran_as (what, who, super, backend)
        VALUES (what, current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                (SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid()));
    BEGIN
        EXECUTE 'ALTER ROLE regress_ingest SUPERUSER';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN true;
END $f$;
ALTER FUNCTION public.planted(text) OWNER TO regress_ingest;
SET ROLE regress_ingest;
CREATE FUNCTION public.planted_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN PERFORM public.planted('trigger'); RETURN NEW; END $f$;
CREATE TRIGGER planted BEFORE INSERT ON trading.historicaldata
    FOR EACH ROW EXECUTE FUNCTION public.planted_trigger();
CREATE FUNCTION public.planted_default() RETURNS text LANGUAGE plpgsql AS $f$
BEGIN PERFORM public.planted('default'); RETURN 'x'; END $f$;
ALTER TABLE trading.historicaldata ADD COLUMN note text DEFAULT public.planted_default();
CREATE FUNCTION public.planted_index(s text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN PERFORM public.planted('index'); RETURN s; END $f$;
CREATE INDEX planted_idx ON trading.historicaldata (public.planted_index(symbol));
CREATE POLICY planted ON trading.historicaldata USING (public.planted('policy'));
CREATE POLICY planted_write ON trading.historicaldata FOR INSERT WITH CHECK (true);
ALTER TABLE trading.historicaldata ENABLE ROW LEVEL SECURITY;
ALTER TABLE trading.historicaldata FORCE ROW LEVEL SECURITY;
RESET ROLE;
SQL
check "the ingest role plants a trigger, a default, an index expression and a policy" [ $? -eq 0 ] || cat "$W/setup.log"

call_as() {   # call_as ROLE WHAT SQL: runs SQL as ROLE, records WHAT in the log first
    sql -c "INSERT INTO public.ran_as (what, who) VALUES ('call:$2', '$1')" \
        -c "SET SESSION AUTHORIZATION $1" -c "$3" >"$W/$2.log" 2>&1
    local rc=$?
    check "$1 calls $2" [ $rc -eq 0 ] || tail -5 "$W/$2.log"
}
# Bars: 3,000 1m bars of a random walk, inserted by the ingest role (its code runs as itself).
call_as regress_ingest insert_bars "INSERT INTO trading.historicaldata (symbol, timeframe, \"timestamp\", open, high, low, close, volume)
    SELECT 'SEC', '1m', timestamptz '2024-01-01' + i * interval '1 minute', p, p * 1.001, p * 0.999, p, 100 + i % 7
    FROM (SELECT i, 100 * exp(0.001 * sum(sin(i * 12.9898) * 43758.5453 - floor(sin(i * 12.9898) * 43758.5453) - 0.5) OVER (ORDER BY i)) AS p
          FROM generate_series(1, 3000) i) s"
call_as regress_ingest resample "SELECT fsmml_resample('SEC', '1m', '5m')"
call_as regress_trainer resample15 "SELECT fsmml_resample('SEC', '1m', '15m')"
call_as regress_trainer build_features "SELECT fsmml_build_features('SEC', '1m')"
call_as regress_trainer features_srf "SELECT count(*) FROM fsmml_features('SEC', '1m')"
call_as regress_trainer train "SELECT version FROM fsmml_train('DirectionXGB', 'SEC', '1m', '{\"folds\": 1, \"rounds\": 3, \"lookback\": \"all\", \"features\": [\"ret_1\", \"rsi_14\", \"ema_dist_20\"], \"xgb\": {\"nthread\": 1}}')"
call_as regress_trainer score "SELECT fsmml_score('SEC', '1m', '-infinity', 'infinity')"
call_as regress_reader predict "SELECT fsmml_predict('DirectionXGB', 'SEC', '1m')"
V="(SELECT id FROM trading.agentversions WHERE symbol = 'SEC' ORDER BY id LIMIT 1)"
call_as regress_trainer backtest "SELECT count(*) FROM fsmml_backtest('SEC', '1m', '-infinity', 'infinity', jsonb_build_object('version_id', $V))"
call_as regress_trainer compare "SELECT count(*) FROM fsmml_compare($V, $V, '-infinity', 'infinity')"
call_as regress_trainer optimize "SELECT count(*) FROM fsmml_optimize('ExecRules', 'SEC', '1m', 12)"
call_as regress_reader report "SELECT length(fsmml_report('SEC', '1m'))"

# Autovacuum's ANALYZE evaluates the planted index expression as the table's owner, at any
# moment: that is PostgreSQL's, not an fsmml call, so those rows are left out here.
q "SELECT what, who, super FROM public.ran_as WHERE backend IS DISTINCT FROM 'autovacuum worker' ORDER BY at" >"$W/ran_as.txt"
echo "# planted code run by autovacuum (as the bars' owner): $(q "SELECT count(*) FROM public.ran_as WHERE backend = 'autovacuum worker'") rows"
echo "# planted code ran: $(grep -v '^call:' "$W/ran_as.txt" | cut -d'|' -f1,2 | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
# Each planted run must be by the role of the call that preceded it.
bad=$(awk -F'|' '/^call:/ {caller = $2; next} $2 != caller {print}' "$W/ran_as.txt")
check "every planted trigger/default/index/policy ran as the calling role" [ -z "$bad" ] || echo "$bad" | head
for what in trigger default index policy; do
    check "the planted $what ran at all (the test sees it)" grep -q "^$what|" "$W/ran_as.txt"
done
check "planted code never ran as a superuser or fsmml_owner" \
    [ "$(q "SELECT count(*) FROM public.ran_as WHERE super OR who IN ('fsmml_owner', current_user)")" = 0 ]
check "the escalation failed: regress_ingest is no superuser" \
    [ "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_ingest'")" = f ]

# ---- direct writes stay closed; fsmml_owner cannot be borrowed
for stmt in "INSERT INTO trading.features (symbol, timeframe, \"timestamp\") VALUES ('X', '1m', now())" \
            "UPDATE trading.agentversions SET status = 'champion'" \
            "DELETE FROM fsmml.feature_state" "SET ROLE fsmml_owner"; do
    out=$(sql -c "SET SESSION AUTHORIZATION regress_trainer" -c "$stmt" 2>&1)
    check "a trainer cannot: ${stmt:0:40}" grep -q "permission denied" <<<"$out" || echo "# $out"
done
out=$(sql -c "SET SESSION AUTHORIZATION regress_trainer" -c "SELECT fsmml_promote(1)" 2>&1)
check "a trainer cannot promote" grep -q "permission denied for function fsmml_promote" <<<"$out"

sql >/dev/null 2>&1 <<'SQL'
ALTER TABLE trading.historicaldata DISABLE ROW LEVEL SECURITY;
DROP POLICY planted ON trading.historicaldata; DROP POLICY planted_write ON trading.historicaldata;
DROP TRIGGER planted ON trading.historicaldata; DROP INDEX planted_idx;
ALTER TABLE trading.historicaldata DROP COLUMN note;
ALTER TABLE trading.historicaldata OWNER TO postgres;
ALTER TABLE trading.historicaldata RESET (autovacuum_enabled);
REVOKE CREATE ON SCHEMA public, trading FROM regress_ingest;
DROP OWNED BY regress_ingest, regress_trainer, regress_reader;
DROP ROLE regress_ingest, regress_trainer, regress_reader;
SQL
finish
