#!/usr/bin/env bash
# xgb_memory.sh — XGBoost handles are freed when an ERROR or a cancel unwinds.
#
# Needs PGHOST, PGPORT, PGUSER, PGDATABASE of a running cluster where
# CREATE EXTENSION fsmml has been done, and permission to read the backend's
# /proc/<pid>/status (run as root or as the server's OS user).
#
# In ONE psql session (one backend): calibrate a check_params call that
# takes >= 100 ms, warm up with 20 failing calls, read VmRSS, run 200 calls
# with bad XGBoost parameters (caught in a DO block, one subtransaction
# each) and 200 slow calls cancelled by statement_timeout = 20ms (top-level
# statements), read VmRSS again.  Each leaked booster would hold MBs, so
# growth must stay under 5 MB.  Prints TAP-style ok / not ok lines; exits
# non-zero on any failure.
set -u

LIMIT_KB=${XGB_MEMORY_LIMIT_KB:-5120}
N_BAD=200
N_CANCEL=200
N_WARMUP=20

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

for v in PGHOST PGPORT PGUSER PGDATABASE; do
    if [ -z "${!v:-}" ]; then
        echo "not ok - environment variable $v is not set"
        exit 1
    fi
done
export PGHOST PGPORT PGUSER PGDATABASE

work=$(mktemp -d "${TMPDIR:-/tmp}/xgb_memory.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
export XGBMEM_DIR="$work"

if ! psql -X -At -c "SELECT to_regprocedure('fsmml_xgb_check_params(jsonb)') IS NOT NULL" 2>"$work/pre.err" | grep -qx t; then
    not_ok "fsmml_xgb_check_params(jsonb) is not installed: $(head -c 300 "$work/pre.err")"
    exit 1
fi

# ---- the session script -------------------------------------------------
{
    cat <<'SQL'
\set ON_ERROR_STOP 0
SET client_min_messages = notice;
-- One XGBoost thread: OpenMP teams on a busy machine make timings erratic.
SET fsmml.train_nthread = 1;
-- The calibration below needs rounds slower than the fsmml.xgb_* limits allow (superuser).
SET fsmml.xgb_max_trees_per_round = 64000;
SET fsmml.xgb_max_round_work = 1e15;
SELECT pg_backend_pid() AS pid \gset
\setenv XGBMEM_PID :pid
\echo xgbmem pid=:pid

-- Calibrate: smallest num_parallel_tree (doubling) whose round takes >= 100 ms,
-- five times the 20 ms statement_timeout, in the fastest of three runs (a
-- busy machine must not fool the calibration into too small a value).
DO $$
DECLARE
    n  int := 100;
    t0 timestamptz;
    ms float8;
    best float8;
BEGIN
    LOOP
        best := NULL;
        FOR k IN 1..3 LOOP
            t0 := clock_timestamp();
            PERFORM fsmml_xgb_check_params(jsonb_build_object('num_parallel_tree', n));
            ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
            best := least(coalesce(best, ms), ms);
            EXIT WHEN best < 100;
        END LOOP;
        ms := best;
        EXIT WHEN ms >= 100 OR n >= 64000;
        n := n * 2;
    END LOOP;
    PERFORM set_config('xgbmem.slow_trees', n::text, false);
    RAISE NOTICE 'xgbmem slow num_parallel_tree=% takes % ms', n, round(ms::numeric, 1);
END
$$;

-- Warm-up: failing calls (and two cancelled ones) before the baseline.
SQL
    for _ in $(seq 1 "$N_WARMUP"); do
        echo "SELECT fsmml_xgb_check_params('{\"max_depth\": -1}');"
    done
    cat <<'SQL'
SET statement_timeout = '20ms';
SELECT fsmml_xgb_check_params(jsonb_build_object('num_parallel_tree', current_setting('xgbmem.slow_trees')::int));
SELECT fsmml_xgb_check_params(jsonb_build_object('num_parallel_tree', current_setting('xgbmem.slow_trees')::int));
RESET statement_timeout;

\! awk '/^VmRSS:/ {print $2}' /proc/$XGBMEM_PID/status > "$XGBMEM_DIR/rss_before"

-- Bad parameter values, each caught in its own subtransaction.
DO $$
DECLARE
    bad    jsonb[] := ARRAY['{"max_depth": -1}', '{"eta": "abc"}',
                            '{"objective": "no:such"}', '{"subsample": 7}']::jsonb[];
    n_err  int := 0;
    n_22023 int := 0;
    msg    text;
    st     text;
    first_msg text;
BEGIN
SQL
    echo "    FOR i IN 1..$N_BAD LOOP"
    cat <<'SQL'
        BEGIN
            PERFORM fsmml_xgb_check_params(bad[1 + i % 4]);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, st = RETURNED_SQLSTATE;
            n_err := n_err + 1;
            IF st = '22023' THEN
                n_22023 := n_22023 + 1;
            END IF;
        END;
    END LOOP;
    RAISE NOTICE 'xgbmem bad_errors=% sqlstate_22023=%', n_err, n_22023;
END
$$;

-- Slow calls cancelled by statement_timeout, each a top-level statement.
SET statement_timeout = '20ms';
SQL
    for _ in $(seq 1 "$N_CANCEL"); do
        echo "SELECT fsmml_xgb_check_params(jsonb_build_object('num_parallel_tree', current_setting('xgbmem.slow_trees')::int));"
    done
    cat <<'SQL'
RESET statement_timeout;

\! awk '/^VmRSS:/ {print $2}' /proc/$XGBMEM_PID/status > "$XGBMEM_DIR/rss_after"

-- The error text carries XGBoost's own message.
\set VERBOSITY verbose
SELECT fsmml_xgb_check_params('{"max_depth": -1}');
\set VERBOSITY default

SELECT 'xgbmem same_backend=' || (pg_backend_pid() = :pid);
SELECT 'xgbmem select1=' || 1;
SQL
} >"$work/session.sql"

timeout 900 psql -X -q -At -f "$work/session.sql" >"$work/out" 2>"$work/err"
rc=$?

pid=$(sed -n 's/^xgbmem pid=//p' "$work/out" | head -1)
before=$(cat "$work/rss_before" 2>/dev/null)
after=$(cat "$work/rss_after" 2>/dev/null)
slow=$(sed -n 's/.*NOTICE:  xgbmem slow \(.*\)$/\1/p' "$work/err" | head -1)

if [ "$rc" -ne 0 ]; then
    not_ok "psql session exited with status $rc"
fi
if [ -n "$pid" ]; then
    ok "one session, backend pid $pid (calibrated slow call: ${slow:-unknown})"
else
    not_ok "could not read the backend pid"
fi

if [[ "$before" =~ ^[0-9]+$ && "$after" =~ ^[0-9]+$ ]]; then
    growth=$((after - before))
    if [ "$growth" -lt "$LIMIT_KB" ]; then
        ok "VmRSS before=${before} kB after=${after} kB growth=${growth} kB < ${LIMIT_KB} kB"
    else
        not_ok "VmRSS before=${before} kB after=${after} kB growth=${growth} kB >= ${LIMIT_KB} kB"
    fi
else
    not_ok "could not read VmRSS (before='${before}' after='${after}')"
fi

bad_line=$(grep -o 'xgbmem bad_errors=[0-9]* sqlstate_22023=[0-9]*' "$work/err" | head -1)
n_err=$(echo "$bad_line" | sed -n 's/.*bad_errors=\([0-9]*\).*/\1/p')
n_22023=$(echo "$bad_line" | sed -n 's/.*sqlstate_22023=\([0-9]*\).*/\1/p')
if [ "${n_err:-0}" -eq "$N_BAD" ] && [ "${n_22023:-0}" -eq "$N_BAD" ]; then
    ok "$N_BAD bad-parameter calls raised ERROR 22023 and were caught"
else
    not_ok "bad-parameter calls: ${bad_line:-no summary} (expected $N_BAD errors, all 22023)"
fi

# 2 of them are the warm-up.  A call that beat the timeout on an idle
# moment proves nothing but is no failure: require 95%.
n_cancel=$(( $(grep -c 'canceling statement due to statement timeout' "$work/err") - 2 ))
if [ "$n_cancel" -ge $((N_CANCEL * 95 / 100)) ]; then
    ok "$n_cancel of $N_CANCEL slow calls cancelled by statement_timeout"
else
    not_ok "only $n_cancel of $N_CANCEL slow calls were cancelled by statement_timeout"
fi

xgb_msg='XGBoost training round failed: value -1 for Parameter max_depth should be greater equal to 0'
if grep -q "ERROR:  22023: $xgb_msg" "$work/err"; then
    ok "error text carries XGBoost's message: $xgb_msg"
else
    not_ok "error text lacks XGBoost's message; last errors: $(grep 'ERROR' "$work/err" | tail -2 | tr '\n' ' ')"
fi

if grep -qx 'xgbmem same_backend=true' "$work/out" && grep -qx 'xgbmem select1=1' "$work/out"; then
    ok "backend $pid alive and SELECT 1 works after"
else
    not_ok "backend did not survive: $(tail -3 "$work/err" | tr '\n' ' ')"
fi

if grep -Eq 'server closed the connection|terminated abnormally|connection to server was lost' "$work/err"; then
    not_ok "the server connection was lost"
fi

exit "$fail"
