#!/usr/bin/env bash
# bgw_scheduler.sh — fsmml's scheduler with real processes: schedules give jobs and versions
# (promotion decided and logged), jobs run as the role that queued them, a reader cannot
# schedule, a role without fsmml_trainer (or LOGIN) gets a clear error, launcher idle CPU
# from /proc (CPU ticks, not wall time), history pruning.  The wall-clock checks (wake-up
# latency, cancel within 1 s, max_workers 1 vs 4) are in bgw_timing.sh, a solo test.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
bgw_setup
psql -X -q <<'SQL' 2>&1 | grep -v NOTICE
DROP ROLE IF EXISTS bgw_trainer; DROP ROLE IF EXISTS bgw_reader; DROP ROLE IF EXISTS bgw_lapsed;
DROP ROLE IF EXISTS bgw_nologin;
CREATE ROLE bgw_trainer LOGIN IN ROLE fsmml_trainer;
CREATE ROLE bgw_lapsed LOGIN IN ROLE fsmml_trainer;
CREATE ROLE bgw_nologin NOLOGIN IN ROLE fsmml_trainer;
CREATE ROLE bgw_reader LOGIN IN ROLE fsmml_reader;
ALTER SYSTEM SET fsmml.max_workers = 4;
SELECT pg_reload_conf() \gset
SQL
sleep 0.3
for s in AAA BBB; do gen_walk $s 4000 $((RANDOM % 50)) 0.001 >/dev/null; done
asrole() { local r=$1; shift; psql -X -At -v ON_ERROR_STOP=1 -c "SET ROLE $r" -c "$1" 2>&1 | tail -n +2; }

# ---- a schedule every 3 s on two instances
s1=$(asrole bgw_trainer "SELECT fsmml_schedule('DirectionXGB', 'AAA', '1m', every => '3 seconds', params => '$SMALL')")
s2=$(asrole bgw_trainer "SELECT fsmml_schedule('DirectionXGB', 'BBB', '1m', '3 seconds', '$SMALL')")
check "fsmml_schedule returns ids" [ -n "$s1$s2" ]
wait_for 60 "SELECT count(*) >= 3 FROM fsmml.jobs WHERE symbol = 'AAA' AND status = 'succeeded'
             AND (SELECT count(*) >= 3 FROM fsmml.jobs WHERE symbol = 'BBB' AND status = 'succeeded')"
check "every 3 s: 3 succeeded jobs per instance within 60 s" [ $? = 0 ]
asrole bgw_trainer "SELECT fsmml_unschedule($s1), fsmml_unschedule($s2)" >/dev/null
wait_for 30 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true
psql -X -c "SELECT id, symbol, status, attempt, trigger, started_at - queued_at AS wait, finished_at - started_at AS ran,
                   version_id, decision FROM fsmml.jobs ORDER BY id" | sed 's/^/# /'
check "each succeeded job made exactly one version, and every version has its job" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs j JOIN trading.agentversions v ON v.id = j.version_id
             WHERE j.status = 'succeeded'")" = "$(q "SELECT count(*) FROM trading.agentversions")" ]
check "no failed scheduled job" [ "$(q "SELECT count(*) FROM fsmml.jobs WHERE status = 'failed'")" = 0 ]
check "later versions were judged by the promotion rules (at least 4 decisions logged)" \
    [ "$(q "SELECT count(*) >= 4 FROM fsmml.jobs WHERE decision ~ '^(promoted|kept): pnl '")" = t ]
check "each job's decision is its version's promotion decision, with the reason" \
    [ "$(q "SELECT count(*) FROM fsmml.jobs j JOIN fsmml.promotions p ON p.challenger_id = j.version_id
             WHERE j.decision = p.decision || ': ' || p.reason")" = "$(q "SELECT count(*) FROM fsmml.jobs WHERE status = 'succeeded'")" ]
check "each instance's first job made its champion" \
    [ "$(q "SELECT string_agg(decision, ',') FROM fsmml.jobs j WHERE id = (SELECT min(id) FROM fsmml.jobs k
             WHERE k.symbol = j.symbol AND k.status = 'succeeded')")" = "promoted: first version of the instance,promoted: first version of the instance" ]
check "one champion per instance" [ "$(q "SELECT count(*) FROM trading.agentversions WHERE status = 'champion'")" = 2 ]
check "jobs ran as the role that scheduled them (promotions decided_by = session_user)" \
    [ "$(q "SELECT count(*) FROM fsmml.promotions WHERE decided_by <> 'bgw_trainer'")" = 0 ]
check "the promotions were decided by the scheduled jobs" [ "$(q "SELECT count(*) > 0 FROM fsmml.promotions")" = t ]
check "run_as records the scheduling role" [ "$(q "SELECT string_agg(DISTINCT run_as::text, ',') FROM fsmml.jobs")" = bgw_trainer ]
check "never two jobs of one instance at once" [ "$(q "SELECT count(*) FROM fsmml.jobs a JOIN fsmml.jobs b
    ON a.symbol = b.symbol AND a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at")" = 0 ]
check "the schedules are gone and their jobs stopped" [ "$(q "SELECT count(*) FROM fsmml.schedules")" = 0 ]

# ---- daily schedules (at, UTC)
hm=$(q "SELECT to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'HH24:MI')")
sd=$(asrole bgw_trainer "SELECT fsmml_schedule('DirectionXGB', 'AAA', '1m', at => '$hm', params => '$SMALL')")
check "a daily schedule whose time passed today runs first tomorrow at that UTC time" \
    [ "$(q "SELECT next_run - now() BETWEEN interval '22 hours' AND interval '23 hours'
            AND to_char(next_run AT TIME ZONE 'UTC', 'HH24:MI') = '$hm' FROM fsmml.schedules WHERE id = $sd")" = t ]
check "and queues nothing now" [ "$(q "SELECT count(*) FROM fsmml.jobs WHERE schedule_id = $sd")" = 0 ]
q "UPDATE fsmml.schedules SET next_run = now() - interval '1 day' WHERE id = $sd" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null          # SIGHUP sets the launcher's latch: a pass now
wait_for 10 "SELECT count(*) = 1 FROM fsmml.jobs WHERE schedule_id = $sd"
check "when due, a daily schedule queues one job (missed days are not replayed)" [ $? = 0 ]
check "and moves to the next day at its time" \
    [ "$(q "SELECT next_run > now() AND next_run - now() <= interval '1 day'
            AND to_char(next_run AT TIME ZONE 'UTC', 'HH24:MI') = '$hm' FROM fsmml.schedules WHERE id = $sd")" = t ]
asrole bgw_trainer "SELECT fsmml_unschedule($sd)" >/dev/null
wait_for 30 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true

# ---- privileges
out=$(asrole bgw_reader "SELECT fsmml_schedule('DirectionXGB', 'AAA', '1m', '1 hour')")
echo "# reader: $out"
check "a reader cannot schedule" grep -q "permission denied for function fsmml_schedule" <<<"$out"
out=$(asrole bgw_reader "SELECT fsmml_retrain_now('DirectionXGB', 'AAA', '1m')")
check "a reader cannot queue a retrain" grep -q "permission denied for function fsmml_retrain_now" <<<"$out"
j=$(psql -X -At -q -v ON_ERROR_STOP=1 <<SQL | tail -1
BEGIN;
SET ROLE bgw_lapsed;
SELECT fsmml_retrain_now('DirectionXGB', 'AAA', '1m', '$SMALL');
RESET ROLE;
REVOKE fsmml_trainer FROM bgw_lapsed;
COMMIT;
SQL
)
wait_for 20 "SELECT status = 'failed' FROM fsmml.jobs WHERE id = ${j:-0}"
err=$(q "SELECT error FROM fsmml.jobs WHERE id = ${j:-0}")
echo "# lapsed trainer: $err"
check "a job of a role without fsmml_trainer fails with a clear error" \
    grep -q 'role "bgw_lapsed" is not a member of fsmml_trainer' <<<"$err"
j=$(asrole bgw_nologin "SELECT fsmml_retrain_now('DirectionXGB', 'AAA', '1m', '$SMALL')")
wait_for 20 "SELECT status = 'failed' FROM fsmml.jobs WHERE id = ${j:-0}"
check "a job of a role that cannot log in fails with a clear error" \
    grep -q 'role "bgw_nologin" cannot log in' <<<"$(q "SELECT error FROM fsmml.jobs WHERE id = ${j:-0}")"
out=$(asrole bgw_reader "SELECT fsmml_cancel_job(1)")
check "a reader cannot cancel" grep -q "permission denied" <<<"$out"

# ---- launcher idle CPU
wait_for 30 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true
lpid=$(q "SELECT launcher_pid FROM fsmml_scheduler_status()")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
IDLE=${FSMML_IDLE_SECONDS:-20}
c0=$(ticks "$lpid"); sleep "$IDLE"; c1=$(ticks "$lpid")
hz=$(getconf CLK_TCK)
pct=$(echo "scale=4; ($c1 - $c0) * 100 / $hz / $IDLE" | bc)
echo "# launcher (pid $lpid) idle CPU over $IDLE s: $((c1 - c0)) ticks of 1/$hz s = $pct % of a core"
check "launcher idle CPU < 0.1 % of a core" [ "$(echo "$pct < 0.1" | bc)" = 1 ]

# ---- history pruning
q "ALTER SYSTEM SET fsmml.job_retention = '1min'" >/dev/null
q "UPDATE fsmml.jobs SET finished_at = now() - interval '2 minutes' WHERE symbol = 'BBB'" >/dev/null
# AAA's jobs finished 30 s ago, within the retention (at load the sections above take over a minute)
q "UPDATE fsmml.jobs SET finished_at = now() - interval '30 seconds' WHERE symbol = 'AAA' AND finished_at IS NOT NULL" >/dev/null
before=$(q "SELECT count(*) FROM fsmml.jobs WHERE symbol = 'BBB'")
q "SELECT pg_reload_conf()" >/dev/null
wait_for 10 "SELECT count(*) = 0 FROM fsmml.jobs WHERE symbol = 'BBB'"
check "finished jobs older than fsmml.job_retention are pruned ($before of them)" [ $? = 0 -a "$before" -gt 0 ]
check "younger ones (finished 30 s ago) are kept" [ "$(q "SELECT count(*) > 0 FROM fsmml.jobs WHERE symbol = 'AAA'")" = t ]

q "ALTER SYSTEM RESET fsmml.max_workers" >/dev/null; q "ALTER SYSTEM RESET fsmml.job_retention" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE bgw_trainer" -c "DROP ROLE bgw_reader" -c "DROP ROLE bgw_lapsed" -c "DROP ROLE bgw_nologin"
finish