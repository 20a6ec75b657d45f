#!/usr/bin/env bash
# bgw_parallel.sh — the scheduler's parallelism: four instances retrained one after another
# (fsmml.max_workers 1) against all at once (max_workers 4), one XGBoost thread each.
#
#   ./scripts/build.sh release && ./bench/bgw_parallel.sh [REPEATS]     # about 2 minutes on 2 cores
#
# A throwaway cluster (FSMML_BENCH_DIR, default /tmp/fsmml-bench-par, fsmml preloaded) gets
# four 1m random walks of FSMML_PAR_BARS bars (default 20,000), their features built beforehand
# (so the first feature build is not timed).  Each batch queues four fsmml_retrain_now jobs
# (DirectionXGB, 3 folds, FSMML_PAR_ROUNDS rounds, default 300, depth 6, nthread 1: a few seconds
# each) and waits for them inside one backend.  Batches alternate sequential / parallel REPEATS
# times (default 3) so that other load on the machine hits both alike.  Prints per batch the
# wall time from the first queued to the last finished, per job its wall time, CPU (user +
# system, every thread of the worker, from its "fsmml job ... CPU" line in the server log) and
# thread count, and per run the ratio parallel / sequential (target <= 0.6 on 2 cores; 0.5 is
# perfect) with the CPU both batches used and the cores they got: on a shared machine the wall
# ratio swings with the others' load, so the run also gives the ratio two idle cores would give
# (half the parallel batch's CPU over the sequential batch's).
# Never part of the tests: a timed check flakes on a shared machine.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH
DIR=${FSMML_BENCH_DIR:-/tmp/fsmml-bench-par}
REPEATS=${1:-3}
BARS=${FSMML_PAR_BARS:-20000}
ROUNDS=${FSMML_PAR_ROUNDS:-300}
. scripts/cluster.sh
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" fsmml || exit 1
. test/lib.sh
. test/bgw_lib.sh
bgw_setup
psql -X -q -c "CREATE ROLE bench_trainer LOGIN IN ROLE fsmml_trainer" 2>/dev/null
FEAT='"features": ["ret_1", "ret_5", "vol_ret_20", "rsi_14", "atr_14", "range_pct", "bb_width_20", "parkinson_20", "macd", "ema_dist_20"]'
PAR="{\"folds\": 3, \"rounds\": $ROUNDS, \"early_stopping_rounds\": 0, \"lookback\": \"all\", $FEAT, \"xgb\": {\"nthread\": 1, \"max_depth\": 6}}"
for s in P1 P2 P3 P4; do
    gen_walk $s "$BARS" $((11 + ${s#P})) 0.001 >/dev/null
    q "SELECT fsmml_build_features('$s', '1m')" >/dev/null
done
echo "cores: $(nproc); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "4 instances x $BARS bars, DirectionXGB 3 folds x $ROUNDS rounds, depth 6, nthread 1"

batch() {   # batch MAX_WORKERS -> seconds from first queued to last finished; job lines on stderr
    q "ALTER SYSTEM SET fsmml.max_workers = $1" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.5
    local ids
    ids=$(psql -X -At -c "SET ROLE bench_trainer" -c "SELECT string_agg(fsmml_retrain_now('DirectionXGB', s, '1m', '$PAR')::text, ',')
                                                     FROM unnest('{P1,P2,P3,P4}'::text[]) s" | tail -1)
    q "DO \$\$ BEGIN FOR i IN 1..6000 LOOP
         EXIT WHEN (SELECT count(*) = 4 FROM fsmml.jobs WHERE id IN ($ids) AND status NOT IN ('queued', 'running'));
         PERFORM pg_sleep(0.1); END LOOP; END \$\$" >/dev/null
    [ "$(q "SELECT count(*) FROM fsmml.jobs WHERE id IN ($ids) AND status = 'succeeded'")" = 4 ] ||
        echo "batch $1: not all four jobs succeeded" >&2
    sleep 0.3      # the workers' LOG lines are written as they exit
    for id in ${ids//,/ }; do
        local line wall user sys thr
        line=$(grep -E "fsmml job $id [a-z]+: ran" "$DIR/server.log" | tail -1)
        wall=$(sed -E 's/.*ran ([0-9.]+) s.*/\1/' <<<"$line")
        user=$(sed -E 's/.*CPU user ([0-9.]+) s.*/\1/' <<<"$line")
        sys=$(sed -E 's/.*system ([0-9.]+) s.*/\1/' <<<"$line")
        thr=$(sed -E 's/.* ([0-9-]+) threads.*/\1/' <<<"$line")
        printf '  max_workers %s  job %-4s %s  ran %6.2f s  CPU %6.2f s (user %.2f, system %.2f)  CPU/wall %.2f  %s threads\n' \
            "$1" "$id" "$(q "SELECT symbol || ' started +' || round(extract(epoch FROM started_at - t0)::numeric, 2) || ' s'
                            FROM fsmml.jobs, (SELECT min(queued_at) t0 FROM fsmml.jobs WHERE id IN ($ids)) z WHERE id = $id")" \
            "$wall" "$(echo "$user + $sys" | bc)" "$user" "$sys" "$(echo "scale=3; ($user + $sys) / $wall" | bc)" "$thr" >&2
        echo "$user $sys" >>"$DIR/cpu$1"
    done
    q "SELECT round(extract(epoch FROM max(finished_at) - min(queued_at))::numeric, 2) FROM fsmml.jobs WHERE id IN ($ids)"
}

rm -f "$DIR/cpu1" "$DIR/cpu4"
ratios=()
cpuratios=()
cpusum() { awk '{ s += $1 + $2 } END { printf "%.3f", s }' "$DIR/cpu$1"; }
for r in $(seq "$REPEATS"); do
    rm -f "$DIR/cpu1" "$DIR/cpu4"
    tseq=$(batch 1)
    tpar=$(batch 4)
    ratio=$(echo "scale=3; $tpar / $tseq" | bc)
    ratios+=("$ratio")
    c1=$(cpusum 1); c4=$(cpusum 4)
    # the ratio two otherwise idle cores would give: the parallel batch's CPU spread on 2 cores
    # against the sequential batch's CPU on one
    cr=$(echo "scale=3; ($c4 / 2) / $c1" | bc)
    cpuratios+=("$cr")
    echo "run $r: one after another $tseq s, in parallel $tpar s: ratio $ratio; CPU of the four jobs $c1 s vs $c4 s" \
         "(x$(echo "scale=2; $c4 / $c1" | bc)), cores given to them $(echo "scale=2; $c1 / $tseq" | bc) vs" \
         "$(echo "scale=2; $c4 / $tpar" | bc) of 2: idle-machine ratio $cr   (load average $(cut -d' ' -f1 /proc/loadavg))"
done
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "wall ratios: ${ratios[*]}: median $(med "${ratios[@]}"), best $(printf '%s\n' "${ratios[@]}" | sort -n | head -1) (target <= 0.6)"
echo "idle-machine ratios (CPU): ${cpuratios[*]}: median $(med "${cpuratios[@]}")"
bgw_teardown
psql -X -q -c "DROP ROLE bench_trainer"
