#!/usr/bin/env bash
# bgw_crash.sh — crash recovery of fsmml's scheduler with real processes: kill -9 of a job's
# worker mid-training (the postmaster resets every process) and pg_ctl restart -m immediate
# with jobs queued and running.  Afterwards no job is left 'running', lost jobs are failed with
# the reason and retried (bounded, with back-off), and each job chain produces exactly one
# version.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
DATA=$FSMML_TEST_DIR/data
PGCTL=$(command -v pg_ctl)
as_owner() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
bgw_setup
psql -X -q -c "DROP ROLE IF EXISTS bgw_crasher" -c "CREATE ROLE bgw_crasher LOGIN IN ROLE fsmml_trainer" \
    -c "ALTER SYSTEM SET fsmml.job_retry_delay = '1s'" -c "ALTER SYSTEM SET fsmml.max_workers = 1" \
    -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
# The test cluster runs with synchronous_commit = off (speed); a crash may then lose the last
# commits, queued jobs included, as PostgreSQL documents.  Durability is tested as deployed: on.
P="{\"folds\": 2, \"rounds\": 150, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1, \"max_depth\": 8}}"
for s in K1 Q1 Q2 Q3; do gen_walk $s 8000 $((RANDOM % 50)) 0.001 >/dev/null; done
queue() { psql -X -At -q -c "SET ROLE bgw_crasher" -c "SELECT fsmml_retrain_now('DirectionXGB', '$1', '1m', '$P')"; }
server_up() {   # waits until the server accepts queries again
    for _ in $(seq 300); do psql -X -At -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}
worker_training() {   # worker_training JOB -> pid once it is boosting
    wait_for 60 "SELECT coalesce((SELECT p.round >= 2 FROM fsmml.training_progress p JOIN fsmml.jobs j
                                  ON j.pid = p.pid WHERE j.id = $1), false)" &&
        q "SELECT pid FROM fsmml.jobs WHERE id = $1"
}
chain_report() {
    psql -X -c "SELECT id, symbol, status, attempt, retry_of, version_id, not_before - queued_at AS backoff,
                       left(error, 90) AS error FROM fsmml.jobs ORDER BY id" | sed 's/^/# /'
}

# ---- kill -9 of a worker while it trains
j=$(queue K1)
pid=$(worker_training "$j")
echo "# job $j: worker pid ${pid:-?} is boosting; kill -9"
check "the job's worker is training" [ -n "$pid" ]
echo "$pid" >>"$FSMML_TEST_DIR/expected-kills"      # scripts/test.sh: this signal is on purpose
kill -9 "$pid"
sleep 1
server_up
check "the postmaster restarted after the kill" [ $? = 0 ]
wait_for 120 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')"
check "the job and its retry finished (nothing stuck running or queued)" [ $? = 0 ]
chain_report
check "the killed job is marked failed with the reason" \
    grep -q "worker was lost while running.*retried" <<<"$(q "SELECT error FROM fsmml.jobs WHERE id = $j AND status = 'failed'")"
check "it was retried once: attempt 2, retry_of the killed job, succeeded" \
    [ "$(q "SELECT string_agg(attempt || ':' || status, ',') FROM fsmml.jobs WHERE retry_of = $j")" = "2:succeeded" ]
check "the retry waited for its back-off (fsmml.job_retry_delay 1 s)" \
    [ "$(q "SELECT not_before - queued_at >= interval '0.9 seconds' FROM fsmml.jobs WHERE retry_of = $j")" = t ]
check "exactly one version from the killed job's chain" \
    [ "$(q "SELECT count(*) FROM trading.agentversions WHERE symbol = 'K1'"),$(q "SELECT count(version_id) FROM fsmml.jobs WHERE $j IN (id, retry_of)")" = 1,1 ]

# ---- pg_ctl restart -m immediate with one job running and two queued (max_workers 1)
q1=$(queue Q1); q2=$(queue Q2); q3=$(queue Q3)
pid=$(worker_training "$q1")
check "one job running, two queued before the restart" \
    [ "$(q "SELECT string_agg(status, ',' ORDER BY id) FROM fsmml.jobs WHERE id IN ($q1, $q2, $q3)")" = "running,queued,queued" ]
as_owner "'$PGCTL' -D '$DATA' -l '$FSMML_TEST_DIR/server.log' -m immediate -w -t 60 restart" >/dev/null
server_up
check "the server is back after an immediate restart" [ $? = 0 ]
check "right after the restart no job is running in a dead worker" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs j WHERE status = 'running'
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = j.pid)")" = 0 ]
wait_for 180 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')"
check "all jobs finished after the restart (none stuck running)" [ $? = 0 ]
chain_report
check "the running job was failed with the reason and retried" \
    grep -q "worker was lost" <<<"$(q "SELECT error FROM fsmml.jobs WHERE id = $q1")"
check "the queued jobs were not lost: they ran once, unchanged" \
    [ "$(q "SELECT string_agg(status || ':' || attempt, ',' ORDER BY id) FROM fsmml.jobs WHERE id IN ($q2, $q3)")" = "succeeded:1,succeeded:1" ]
check "exactly one version per job chain, and one succeeded job per chain" \
    [ "$(q "SELECT string_agg(n::text, ',') FROM (SELECT count(*) AS n FROM trading.agentversions
             WHERE symbol IN ('Q1', 'Q2', 'Q3') GROUP BY symbol ORDER BY symbol) s")" = "1,1,1" ]
check "every version belongs to exactly one succeeded job" \
    [ "$(q "SELECT count(*) FROM trading.agentversions v WHERE (SELECT count(*) FROM fsmml.jobs j
             WHERE j.version_id = v.id AND j.status = 'succeeded') <> 1")" = 0 ]

# ---- retries are bounded: a job lost at every attempt stops after fsmml.job_max_attempts
psql -X -q -c "ALTER SYSTEM SET fsmml.job_max_attempts = 2" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
j=$(queue K1)
for attempt in 1 2; do
    # the attempt's own row: the retry exists once the launcher has seen the last one lost
    wait_for 30 "SELECT count(*) = $attempt FROM fsmml.jobs WHERE $j IN (id, retry_of)" || true
    cur=$(q "SELECT max(id) FROM fsmml.jobs WHERE $j IN (id, retry_of)")
    pid=$(worker_training "$cur")
    [ -n "$pid" ] && q "SELECT pg_terminate_backend($pid)" >/dev/null
done
wait_for 60 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true
chain_report
check "terminated at every attempt: 2 attempts, both failed" \
    [ "$(q "SELECT string_agg(attempt || ':' || status, ',' ORDER BY id) FROM fsmml.jobs WHERE $j IN (id, retry_of)")" = "1:failed,2:failed" ]
check "the last attempt says it is not retried" \
    grep -q "not retried (2 of 2 attempts)" <<<"$(q "SELECT error FROM fsmml.jobs WHERE retry_of = $j")"
check "the launcher survived it all" [ -n "$(q "SELECT launcher_pid FROM fsmml_scheduler_status()")" ]

psql -X -q -c "ALTER SYSTEM RESET fsmml.job_retry_delay" -c "ALTER SYSTEM RESET fsmml.max_workers" \
    -c "ALTER SYSTEM RESET fsmml.job_max_attempts" -c "ALTER SYSTEM RESET synchronous_commit" \
    -c "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE bgw_crasher"
finish
