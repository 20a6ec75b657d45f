#!/usr/bin/env bash
# warm_start.sh — params.warm_start against a full retrain: time and hold-out AUC on the same
# rolling window and the same hold-out.
#
#   ./scripts/build.sh release && ./bench/warm_start.sh      # about 2 minutes on 2 cores
#
# A throwaway cluster (FSMML_BENCH_DIR, default /tmp/fsmml-bench-warm, fsmml preloaded) gets
# 40,000 1m bars of an MA(1) random walk (theta 0.3: a small learnable signal), a champion
# trained on them, then 10,000 newer bars.  On the last 40,000 bars (hold-out the last 20 %),
# three retrains, one thread each, auto_promote off so all start from the same champion:
#   full      fsmml_train, 5 folds (4 walk-forward + final), up to 200 rounds, early stopping
#   final     fsmml_train, folds 1 (the final fit only), same rounds
#   warm      a scheduled job with warm_start: the same 4 walk-forward folds fit from scratch
#             (the full retrain's fold metrics), then 50 more rounds on the champion's trees
#   warm1     the same with folds 1: no fold metrics, the continued boosting alone
# Prints "name seconds auc" per retrain and the ratios.  Never part of the tests.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH
DIR=${FSMML_BENCH_DIR:-/tmp/fsmml-bench-warm}
. scripts/cluster.sh
trap 'cluster_stop "$DIR"' EXIT
cluster_start "$DIR" fsmml || exit 1
. test/lib.sh
. test/bgw_lib.sh
bgw_setup
export GEN_THETA=0.3
gen_walk WS 40000 41 0.001 >/dev/null
FEAT='"features": ["ret_1", "ret_5", "vol_ret_20", "rsi_14", "atr_14", "range_pct", "bb_width_20", "parkinson_20", "macd", "ema_dist_20"]'
BASE="\"lookback\": 40000, \"test_size\": 0.2, \"auto_promote\": false, $FEAT, \"xgb\": {\"nthread\": 1}"
champ=$(q "SELECT version_id FROM fsmml_train('DirectionXGB', 'WS', '1m', '{$BASE}')" 2>/dev/null)
echo "champion $champ: $(q "SELECT metrics->>'rounds' || ' rounds, hold-out auc ' || round((metrics->'holdout'->>'auc')::numeric, 4)
                           FROM trading.agentversions WHERE id = $champ")"
gen_walk WS 10000 42 0.001 0 0.001 40000 >/dev/null

timed_train() {   # timed_train PARAMS -> "seconds auc version"
    local t0 t1 v
    t0=$(date +%s.%N)
    v=$(q "SELECT version_id FROM fsmml_train('DirectionXGB', 'WS', '1m', '$1')" 2>/dev/null)
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc) $(q "SELECT metrics->'holdout'->>'auc' FROM trading.agentversions WHERE id = $v") $v"
}
read -r t_full auc_full v_full <<<"$(timed_train "{$BASE}")"
read -r t_final auc_final v_final <<<"$(timed_train "{\"folds\": 1, $BASE}")"
warm_job() {   # warm_job EXTRA-PARAMS -> "seconds version"
    local j
    j=$(q "SELECT fsmml_retrain_now('DirectionXGB', 'WS', '1m', '{\"warm_start\": true, \"rounds\": 50, $1 $BASE}')")
    wait_for 600 "SELECT status NOT IN ('queued', 'running') FROM fsmml.jobs WHERE id = $j" >/dev/null
    q "SELECT extract(epoch FROM finished_at - started_at) || ' ' || coalesce(version_id::text, 'none:' || error)
       FROM fsmml.jobs WHERE id = $j" | tr '|' ' '
}
read -r t_warm v_warm <<<"$(warm_job "")"
auc_warm=$(q "SELECT metrics->'holdout'->>'auc' FROM trading.agentversions WHERE id = ${v_warm%%:*}" 2>/dev/null)
read -r t_warm1 v_warm1 <<<"$(warm_job '"folds": 1,')"
auc_warm1=$(q "SELECT metrics->'holdout'->>'auc' FROM trading.agentversions WHERE id = ${v_warm1%%:*}" 2>/dev/null)
folds_same=$(q "SELECT w.metrics->'folds' = f.metrics->'folds' FROM trading.agentversions w, trading.agentversions f
                WHERE w.id = ${v_warm%%:*} AND f.id = $v_full")
same=$(q "SELECT count(DISTINCT (test_from, test_to)) = 1 FROM trading.agentversions WHERE id IN ($v_full, $v_final, ${v_warm%%:*})")
printf '%-34s %8s s  hold-out auc %s\n' "full retrain (5 folds)" "$t_full" "$auc_full" \
    "full retrain, final fit only" "$t_final" "$auc_final" "warm start (4 folds, +50 rounds, job)" "$t_warm" "$auc_warm" \
    "warm start (folds 1, +50 rounds, job)" "$t_warm1" "$auc_warm1"
echo "same hold-out for all three: $same; warm start's folds equal the full retrain's: $folds_same"
echo "ratio warm/full time $(echo "scale=3; $t_warm / $t_full" | bc)  warm/final time $(echo "scale=3; $t_warm / $t_final" | bc)  warm1/final time $(echo "scale=3; $t_warm1 / $t_final" | bc)"
echo "auc difference warm - full $(echo "scale=4; $auc_warm - $auc_full" | bc)  warm - final $(echo "scale=4; $auc_warm - $auc_final" | bc)"
bgw_teardown
