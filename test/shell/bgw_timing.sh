#!/usr/bin/env bash
# bgw_timing.sh — fsmml's scheduler against the clock (a solo test in scripts/test.sh: nothing
# else runs meanwhile): wake-up latency (<= 100 ms), cancel of a running job within 1 s, four
# instances one at a time with max_workers 1 and all at once with 4 (their speed-up is measured
# by bench/bgw_parallel.sh).  The scheduler's functions without a clock are in bgw_scheduler.sh.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/test/bgw_lib.sh"
set -u
bgw_setup
psql -X -q <<'SQL' 2>&1 | grep -v NOTICE
DROP ROLE IF EXISTS bgw_trainer;
CREATE ROLE bgw_trainer LOGIN IN ROLE fsmml_trainer;
ALTER SYSTEM SET fsmml.max_workers = 4;
SELECT pg_reload_conf() \gset
SQL
sleep 0.3
for s in P1 P2 P3 P4; do gen_walk $s 4000 $((RANDOM % 50)) 0.001 >/dev/null; done
gen_walk SLOW 20000 7 0.001 >/dev/null
asrole() { local r=$1; shift; psql -X -At -v ON_ERROR_STOP=1 -c "SET ROLE $r" -c "$1" 2>&1 | tail -n +2; }

# ---- wake-up latency: fsmml_retrain_now and a new schedule -> job claimed by its worker
# started_at is stamped when the job's worker has connected and claimed it.  Queued and waited
# for inside one session (polling every 5 ms in that backend): a new psql every few ms would
# start a backend each time, competing with the worker's own start-up for the two cores.
waited() {   # waited QUEUE-SQL CLAIMED-SQL -> the id QUEUE-SQL returned, once CLAIMED-SQL (with $id) is true
    psql -X -At -q -v ON_ERROR_STOP=1 <<SQL | tail -1
SET ROLE bgw_trainer;
SELECT set_config('fsmml_test.id', ($1)::text, false);
DO \$\$ DECLARE id bigint := current_setting('fsmml_test.id')::bigint; done boolean; BEGIN
    FOR i IN 1..2000 LOOP
        EXECUTE format('SELECT coalesce((%s), false)', replace(\$q\$$2\$q\$, '\$id', id::text)) INTO done;
        EXIT WHEN done;
        PERFORM pg_sleep(0.005);
    END LOOP; END \$\$;
SELECT current_setting('fsmml_test.id');
SQL
}
lat=()
for i in 1 2 3 4 5; do
    j=$(waited "SELECT fsmml_retrain_now('DirectionXGB', 'P$(( (i % 4) + 1 ))', '1m', '$SMALL')" \
               "SELECT started_at IS NOT NULL OR status NOT IN ('queued', 'running') FROM fsmml.jobs WHERE id = \$id")
    lat+=("$(q "SELECT round(extract(epoch FROM started_at - queued_at) * 1000) FROM fsmml.jobs WHERE id = ${j:-0}")")
    wait_for 30 "SELECT status <> 'running' FROM fsmml.jobs WHERE id = ${j:-0}" || true
done
slat=()
for i in 1 2 3; do
    s=$(waited "SELECT fsmml_schedule('DirectionXGB', 'P$i', '1m', '1 day', '$SMALL')" \
               "SELECT bool_or(started_at IS NOT NULL) FROM fsmml.jobs WHERE schedule_id = \$id")
    slat+=("$(q "SELECT round(extract(epoch FROM j.started_at - s.created_at) * 1000) FROM fsmml.jobs j, fsmml.schedules s
                 WHERE j.schedule_id = s.id AND s.id = ${s:-0}")")
    asrole bgw_trainer "SELECT fsmml_unschedule(${s:-0})" >/dev/null
    wait_for 30 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true
done
med=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 3p)
smed=$(printf '%s\n' "${slat[@]}" | sort -n | sed -n 2p)
echo "# queue-to-claim latency (ms): ${lat[*]}; median $med; schedule created -> its first job claimed: ${slat[*]}; median $smed (load $(cut -d' ' -f1 /proc/loadavg))"
check "retrain_now: job claimed by its worker within 100 ms (median of 5)" [ "${med:-99999}" -le 100 ]
check "new schedule: its first job claimed within 100 ms (median of 3)" [ "${smed:-99999}" -le 100 ]
wait_for 30 "SELECT count(*) = 0 FROM fsmml.jobs WHERE status IN ('queued', 'running')" || true

# ---- cancel a running job within 1 s
SLOWP="{\"folds\": 1, \"rounds\": 5000, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1, \"max_depth\": 8}}"
j=$(asrole bgw_trainer "SELECT fsmml_retrain_now('DirectionXGB', 'SLOW', '1m', '$SLOWP')")
wait_for 30 "SELECT coalesce((SELECT round >= 3 FROM fsmml.training_progress p JOIN fsmml.jobs j ON j.pid = p.pid
                              WHERE j.id = $j), false)" || true
t0=$(date +%s.%N)
asrole bgw_trainer "SELECT fsmml_cancel_job($j)" >/dev/null
wait_for 5 "SELECT status = 'cancelled' FROM fsmml.jobs WHERE id = $j" || true
el=$(echo "$(date +%s.%N) - $t0" | bc)
echo "# cancel of a running job took $el s: $(q "SELECT status || ': ' || error FROM fsmml.jobs WHERE id = $j")"
check "fsmml_cancel_job stops a running job within 1 s" [ "$(echo "$el < 1.0" | bc)" = 1 ]
check "the cancel is recorded" [ "$(q "SELECT status FROM fsmml.jobs WHERE id = $j")" = cancelled ]
check "a cancelled job leaves no version" [ -z "$(q "SELECT version_id FROM fsmml.jobs WHERE id = $j")" ]
check "a queued job is cancelled at once" [ "$(psql -X -At -c "SET ROLE bgw_trainer" \
    -c "SELECT fsmml_cancel_job(fsmml_retrain_now('DirectionXGB', 'AAA', '1m', '{\"xgb\": {\"nthread\": 1}}'))" | tail -1)" = t ]

# ---- four instances in parallel vs one after another (nthread 1 each)
# Trainings of about 1 s each, features built beforehand, so that the comparison measures the
# trainings and not the fixed cost of starting a worker (tens of ms) or the first feature build.
PAR="{\"folds\": 3, \"rounds\": 300, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1}}"
for s in P1 P2 P3 P4; do q "SELECT fsmml_build_features('$s', '1m')" >/dev/null; done
batch() {   # batch MAX_WORKERS -> seconds from first queued to last finished
    q "ALTER SYSTEM SET fsmml.max_workers = $1" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.5
    local ids
    ids=$(psql -X -At -c "SET ROLE bgw_trainer" -c "SELECT string_agg(fsmml_retrain_now('DirectionXGB', s, '1m', '$PAR')::text, ',')
                                                    FROM unnest('{P1,P2,P3,P4}'::text[]) s" | tail -1)
    # Waits inside one backend: polling with a new psql every 50 ms would itself use a good part
    # of a core and slow the parallel batch down.
    q "DO \$\$ BEGIN FOR i IN 1..3000 LOOP
         EXIT WHEN (SELECT count(*) = 4 FROM fsmml.jobs WHERE id IN ($ids) AND status IN ('succeeded', 'failed', 'cancelled'));
         PERFORM pg_sleep(0.1); END LOOP; END \$\$" >/dev/null
    [ "$(q "SELECT count(*) FROM fsmml.jobs WHERE id IN ($ids) AND status = 'succeeded'")" = 4 ] || echo "# batch $1 did not finish" >&2
    psql -X -At -c "SELECT format('# max_workers %s: job %s queued +%s s, started +%s s, ran %s s', $1, id,
                        round(extract(epoch FROM queued_at - t0)::numeric, 2), round(extract(epoch FROM started_at - t0)::numeric, 2),
                        round(extract(epoch FROM finished_at - started_at)::numeric, 2))
                    FROM fsmml.jobs, (SELECT min(queued_at) t0 FROM fsmml.jobs WHERE id IN ($ids)) z WHERE id IN ($ids) ORDER BY id" >&2
    echo "$ids" >"$TMPD/ids$1"
    q "SELECT round(extract(epoch FROM max(finished_at) - min(queued_at))::numeric, 2) FROM fsmml.jobs WHERE id IN ($ids)"
}
TMPD=$(mktemp -d)
tseq=$(batch 1)
tpar=$(batch 4)
ids1=$(cat "$TMPD/ids1"); ids4=$(cat "$TMPD/ids4"); rm -rf "$TMPD"
ratio=$(echo "scale=3; $tpar / $tseq" | bc)
echo "# 4 instances: one after another $tseq s, in parallel (max_workers 4, 2 cores) $tpar s: ratio $ratio"
# The speed-up itself is a benchmark (bench/bgw_parallel.sh), not a timed test: here, that the
# launcher really ran them one at a time with max_workers 1 and all at once with 4.
check "max_workers 1: no two of the four jobs overlapped" [ "$(q "SELECT count(*) FROM fsmml.jobs a JOIN fsmml.jobs b
    ON a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at WHERE a.id IN ($ids1) AND b.id IN ($ids1)")" = 0 ]
check "max_workers 4: the four jobs all ran at once (each started before any finished)" \
    [ "$(q "SELECT max(started_at) < min(finished_at) FROM fsmml.jobs WHERE id IN ($ids4)")" = t ]

q "ALTER SYSTEM RESET fsmml.max_workers" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
bgw_teardown
psql -X -q -c "DROP ROLE bgw_trainer"
finish
