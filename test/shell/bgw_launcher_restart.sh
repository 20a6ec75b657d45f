#!/usr/bin/env bash
# bgw_launcher_restart.sh — a restarted launcher counts the workers its predecessor left running
# toward fsmml.max_workers.  Four instances are queued with max_workers 2; while two train, the
# launcher alone is ended: by SIGTERM (pg_terminate_backend: its workers live on and the
# postmaster restarts it after bgw_restart_time, 5 s) and by kill -9 (the postmaster resets
# every process; the lost jobs are failed and retried).  Never more than two jobs run at once,
# sampled every 50 ms and from the job rows, and all four finish.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
bgw_setup
psql -X -q -c "DROP ROLE IF EXISTS bgw_restarter" -c "CREATE ROLE bgw_restarter LOGIN IN ROLE fsmml_trainer" \
    -c "ALTER SYSTEM SET fsmml.max_workers = 2" -c "ALTER SYSTEM SET fsmml.job_retry_delay = '1s'" \
    -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
# trainings of 10 s or more each (one thread), also on an idle machine (1500 rounds took 6 s):
# they outlive the 5 s until the launcher is back and the 1 s after it
P="{\"folds\": 1, \"rounds\": 2500, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1, \"max_depth\": 8}}"
# and of 2-4 s: the jobs that need not outlive a restart (the kill -9 lands within a few
# tens of ms of seeing two jobs running; the sampler polls every 50 ms)
PS="{\"folds\": 1, \"rounds\": 500, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1, \"max_depth\": 8}}"
for s in L1 L2 L3 L4; do
    gen_walk $s 8000 $((RANDOM % 50)) 0.001 >/dev/null
    q "SELECT fsmml_build_features('$s', '1m')" >/dev/null
done
server_up() { for _ in $(seq 300); do psql -X -At -c "SELECT 1" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
launcher() { q "SELECT coalesce(launcher_pid, 0) FROM fsmml_scheduler_status()" 2>/dev/null; }
queue4() {   # queue4 PARAMS-L1-L2 PARAMS-L3-L4: four jobs in id order (the launcher claims by id), ids
    psql -X -At -c "SET ROLE bgw_restarter" -c "SELECT string_agg(fsmml_retrain_now('DirectionXGB', s, '1m', p)::text, ',' ORDER BY n)
                                               FROM (VALUES (1, 'L1', '$1'::jsonb), (2, 'L2', '$1'), (3, 'L3', '$2'), (4, 'L4', '$2')) v(n, s, p)" | tail -1
}
sampler() {   # sampler IDS FILE: highest count of running jobs, sampled every 50 ms in one backend
    psql -X -q -c "DO \$\$ DECLARE m int := 0; BEGIN FOR i IN 1..4800 LOOP
        m := greatest(m, (SELECT count(*) FROM fsmml.jobs WHERE status = 'running'));
        EXIT WHEN (SELECT count(*) = 0 FROM fsmml.jobs WHERE id IN ($1) AND status IN ('queued', 'running'))
              AND NOT EXISTS (SELECT 1 FROM fsmml.jobs WHERE retry_of IN ($1) AND status IN ('queued', 'running'));
        PERFORM pg_sleep(0.05); END LOOP; RAISE NOTICE 'max running %', m; END \$\$" >"$2" 2>&1
}
overlap() {   # highest number of jobs whose running intervals (claim to finish) overlap
    q "SELECT max((SELECT count(*) FROM fsmml.jobs b WHERE b.started_at <= a.started_at
                   AND coalesce(b.finished_at, clock_timestamp()) > a.started_at))
       FROM fsmml.jobs a WHERE a.started_at IS NOT NULL AND (a.id IN ($1) OR a.retry_of IN ($1))"
}
report() { psql -X -c "SELECT id, symbol, status, attempt, retry_of, pid, started_at::time(2), finished_at::time(2), left(error, 60) AS error
                       FROM fsmml.jobs WHERE id IN ($1) OR retry_of IN ($1) ORDER BY id" | sed 's/^/# /'; }

# ---- SIGTERM: the predecessor's two workers keep training while a new launcher starts
ids=$(queue4 "$P" "$PS")
wait_for 30 "SELECT count(*) = 2 FROM fsmml.jobs WHERE id IN ($ids) AND status = 'running'"
check "max_workers 2: two of the four jobs run" [ $? = 0 ]
l0=$(launcher)
# a NOTICE loop in one backend: its own connection survives the launcher's end
sampler "$ids" "$FSMML_TEST_DIR/sampler-term" &
spid=$!
q "SELECT pg_terminate_backend($l0)" >/dev/null
wait_for 30 "SELECT coalesce(launcher_pid, 0) NOT IN (0, $l0) FROM fsmml_scheduler_status()"
check "the launcher was terminated and the postmaster started a new one" [ $? = 0 ]
l1=$(launcher)
running_at_restart=$(q "SELECT count(*) FROM fsmml.jobs WHERE id IN ($ids) AND status = 'running'")
echo "# launcher $l0 terminated, new launcher $l1; jobs of the old launcher's workers still running: $running_at_restart"
check "the old launcher's workers were still training when the new launcher took over" [ "$running_at_restart" = 2 ]
sleep 1
check "the new launcher started no job beside the two it inherited" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs WHERE id IN ($ids) AND status = 'running'")" = 2 ]
wait_for 240 "SELECT count(*) = 4 FROM fsmml.jobs WHERE id IN ($ids) AND status = 'succeeded'"
check "all four jobs succeeded (the new launcher started the other two as slots freed)" [ $? = 0 ]
wait "$spid"
report "$ids"
m=$(grep -o 'max running [0-9]*' "$FSMML_TEST_DIR/sampler-term" | awk '{print $3}')
o=$(overlap "$ids")
echo "# most jobs running at once: sampled $m, from the job rows $o"
check "never more than max_workers (2) jobs running at once, sampled every 50 ms" [ "${m:-99}" -le 2 ]
check "never more than 2 running intervals overlap (job rows)" [ "${o:-99}" -le 2 ]
check "the last two jobs started only after an inherited worker finished" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs a WHERE a.id IN ($ids) AND a.started_at > (SELECT min(finished_at) FROM fsmml.jobs b
             WHERE b.id IN ($ids))")" = 2 ]

# ---- kill -9 of the launcher: the postmaster resets every process, the jobs are retried
ids=$(queue4 "$PS" "$PS")
wait_for 30 "SELECT count(*) = 2 FROM fsmml.jobs WHERE id IN ($ids) AND status = 'running'"
check "again two of four jobs run" [ $? = 0 ]
l0=$(launcher)
echo "$l0" >>"$FSMML_TEST_DIR/expected-kills"      # scripts/test.sh: this signal is on purpose
kill -9 "$l0"
sleep 1
server_up
check "the server is back after the launcher's kill -9" [ $? = 0 ]
sampler "$ids" "$FSMML_TEST_DIR/sampler-kill" &
spid=$!
wait_for 300 "SELECT count(*) = 0 FROM fsmml.jobs WHERE (id IN ($ids) OR retry_of IN ($ids)) AND status IN ('queued', 'running')"
check "every job and retry finished (none stuck running or queued)" [ $? = 0 ]
wait "$spid"
report "$ids"
m=$(grep -o 'max running [0-9]*' "$FSMML_TEST_DIR/sampler-kill" | awk '{print $3}')
echo "# after kill -9 of launcher $l0: most jobs running at once, sampled $m"
check "after the reset, never more than 2 jobs running at once (sampled)" [ "${m:-99}" -le 2 ]
check "the kill -9 lost the two running jobs: failed as lost, each retried once" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs a JOIN fsmml.jobs r ON r.retry_of = a.id
             WHERE a.id IN ($ids) AND a.status = 'failed' AND a.error LIKE 'the worker was lost%'")" = 2 ]
check "each instance got exactly one version from this round (lost jobs retried once)" \
    [ "$(q "SELECT count(*) FILTER (WHERE status = 'succeeded') || '/' || count(DISTINCT symbol) FROM fsmml.jobs
             WHERE id IN ($ids) OR retry_of IN ($ids)")" = 4/4 ]

q "ALTER SYSTEM RESET fsmml.max_workers" >/dev/null; q "ALTER SYSTEM RESET fsmml.job_retry_delay" >/dev/null
q "ALTER SYSTEM RESET synchronous_commit" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE bgw_restarter"
finish
