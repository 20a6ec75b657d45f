#!/usr/bin/env bash
# run.sh — fsmml's speed, side by side with the Python baseline, in one run.
#
#   ./bench/run.sh                  # 4 to 6 minutes on a 2-core machine
#
# Builds and installs the extension, starts a throwaway cluster
# (FSMML_BENCH_DIR, default /tmp/fsmml-bench; shared_preload_libraries=fsmml),
# loads 1,000,000 synthetic 1m bars (CSV cached under /tmp), then measures:
#   A1 kernel bars/s on one core (bench/kernel_bench.c)
#   A2 fsmml_features in memory vs the baseline's load + features
#   A3 fsmml_build_features end to end vs a bare INSERT ... SELECT of the same rows
#   B4 fsmml_train vs the baseline's boosting phase and its whole train run
#   B5 fsmml_score rows/s (bench/score_bench.sh)
# Each figure is a line "name value unit"; each requirement a line
#   "ratio <name> <value> (requirement <op> <limit>) PASS|FAIL"   or
#   "check <name> <value> (requirement <op> <limit>) PASS|FAIL",
# all repeated in a summary at the end.  Every timed thing runs 3 times,
# interleaved with its counterpart, and the minimum is kept (see bench/README.md).
# Exits 0 when a requirement fails (it reports); non-zero only when something
# crashes.  Never part of the tests.
#
# Environment: FSMML_BENCH_DIR (cluster dir), FSMML_BENCH_BARS (default
# 1000000), FSMML_BENCH_CSV (cached CSV), FSMML_BENCH_REPS (repetitions of
# A2, A3 and B4, baseline included; default 3), FSMML_BENCH_SKIP_BUILD=1 (use
# what is installed), FSMML_BENCH_EXPLAIN=1 (EXPLAIN ANALYZE of the A3 copy),
# FSMML_BENCH_PARTS (the parts to run, e.g. "A3 B5"; default all: A1 A2 A3 B4 B5;
# the baseline runs only with A2 or B4).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
PY=/usr/bin/python3
SHARED=${FSMML_SHARED:-$ROOT/../shared}
BENCH_DIR=${FSMML_BENCH_DIR:-/tmp/fsmml-bench}
BARS=${FSMML_BENCH_BARS:-1000000}
CSV=${FSMML_BENCH_CSV:-/tmp/fsmml-bench-bars-$BARS-s7.csv}
REPS=${FSMML_BENCH_REPS:-3}
DB=fsmml_bench
SYMBOL=BTCUSDT
TF=1m
WORK=$(mktemp -d /tmp/fsmml-bench-work.XXXXXX)
T_START=$(date +%s)
SUMMARY=()
CRASHED=0
CLUSTER_UP=0
PARTS=" ${FSMML_BENCH_PARTS:-A1 A2 A3 B4 B5} "
want() { case $PARTS in *" $1 "*) return 0 ;; esac; return 1; }
# The cluster is stopped on exit, and its directory removed unless something failed
# (then its server.log is worth a look).
cleanup() {
    if [ "$CLUSTER_UP" = 1 ]; then
        cluster_stop "$BENCH_DIR"
        if [ "$CRASHED" = 0 ]; then rm -rf "$BENCH_DIR"; else echo "bench: cluster kept in $BENCH_DIR" >&2; fi
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "bench: $*" >&2; CRASHED=1; exit 1; }
log() { echo "# $*"; }
fig() { echo "$1 $2${3:+ $3}"; }               # name value [unit]
crash() { echo "bench: ERROR in $1 (see above)" >&2; SUMMARY+=("error $1"); CRASHED=1; }

# check KIND NAME VALUE OP LIMIT: prints and records a requirement line.
check() {
    local kind=$1 name=$2 val=$3 op=$4 lim=$5 res
    res=$(awk -v v="$val" -v l="$lim" -v op="$op" 'BEGIN { ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "PASS" : "FAIL" }')
    local line="$kind $name $val (requirement $op $lim) $res"
    echo "$line"
    SUMMARY+=("$line")
}
skip() { local line="skip $1 ($2)"; echo "$line"; SUMMARY+=("$line"); }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
ms2s() { awk -v a="$1" 'BEGIN { printf "%.3f", a / 1000 }'; }

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

# timed_sql SETUP TIMED: runs SETUP untimed, then TIMED under \timing, in one
# session.  Sets T_S (seconds of TIMED by psql's client-side clock around the
# round trip), T_CPU (CPU seconds the backend spent on it, all its threads
# included, read from /proc/self/stat by the backend itself), T_OUT (TIMED's
# rows, unaligned) and T_ERR (its NOTICEs).
CPU_SQL="SELECT (split_part(s, ' ', 13)::bigint + split_part(s, ' ', 14)::bigint) / 100.0 AS cpu FROM split_part(pg_read_file('/proc/self/stat'), ')', 2) AS s"
timed_sql() {
    local setup=$1 stmt=$2
    case $stmt in \\*) ;; *) stmt="$stmt;" ;; esac
    { printf '%s\n' "$setup"
      printf '%s \\gset cpu0_\n\\timing on\n%s\n\\timing off\n' "$CPU_SQL" "$stmt"
      printf '%s \\gset cpu1_\n\\echo CPU :cpu0_cpu :cpu1_cpu\n' "$CPU_SQL"
    } | psql_q -At >"$WORK/timed.out" 2>"$WORK/timed.err" ||
        { cat "$WORK/timed.err" >&2; return 1; }
    T_S=$(ms2s "$(awk '/^Time: /{ t = $2 } END { print t }' "$WORK/timed.out")")
    T_CPU=$(awk '$1 == "CPU" { printf "%.2f", $3 - $2 }' "$WORK/timed.out")
    T_OUT=$(grep -v -e '^Time: ' -e '^CPU ' "$WORK/timed.out" || true)
    T_ERR=$(cat "$WORK/timed.err")
}

# The 1-minute load average: above the number of cores, other work shares the
# machine and wall-clock figures are inflated (CPU seconds much less so).
MAXLOAD=0
loadavg() {
    local l
    l=$(cut -d' ' -f1 /proc/loadavg)
    MAXLOAD=$(awk -v a="$MAXLOAD" -v b="$l" 'BEGIN { print (b > a) ? b : a }')
    echo "# load average $l ($(nproc) cores)"
}

echo "== fsmml benchmark — $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname): $(nproc) cores, $(awk '/MemTotal/{ printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "== PostgreSQL $(pg_config --version | awk '{ print $2 }'), fsmml $(sed -n "s/^default_version *= *'\(.*\)'/\1/p" fsmml.control), git $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo '+dirty'), $REPS repetitions"

# ---- build ---------------------------------------------------------------
if [ "${FSMML_BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building and installing the extension"
    ./scripts/build.sh || die "build failed"
fi

# ---- A1 kernel (before the cluster starts) --------------------------------
echo
echo "== A1 feature kernel, one core (bench/kernel_bench.c, best of 5)"
loadavg
if ! want A1; then
    skip kernel_bars_per_sec "not in FSMML_BENCH_PARTS"
elif [ -f bench/kernel_bench.c ]; then
    if cc -O2 -I src/kernel src/kernel/features_kernel.c src/kernel/features_check.c src/kernel/features_catalog.c bench/kernel_bench.c -lm -o /tmp/kernel_bench 2>"$WORK/kcc.err" &&
        /tmp/kernel_bench "$BARS" >"$WORK/kernel.out" 2>/dev/null; then
        kbps=$(awk '$1 == "kernel_bars_per_sec" { print $2 }' "$WORK/kernel.out")
        fig kernel_bars_per_sec "$kbps" bars/s
        fig kernel_ns_per_bar "$(awk '$1 == "kernel_ns_per_bar" { print $2 }' "$WORK/kernel.out")" ns
        fig kernel_state_bytes "$(awk '$1 == "kernel_state_bytes" { print $2 }' "$WORK/kernel.out")" bytes
        check check kernel_bars_per_sec "$kbps" '>=' 2000000
    else
        cat "$WORK/kcc.err" >&2
        crash "A1 kernel_bench"
    fi
else
    skip kernel_bars_per_sec "bench/kernel_bench.c not present"
fi

# ---- cluster and data ----------------------------------------------------
echo
echo "== setup"
. scripts/cluster.sh
CLUSTER_UP=1
cluster_start "$BENCH_DIR" fsmml || die "cluster did not start"
export PGHOST PGPORT PGUSER PGDATABASE=$DB
psql -X -q -d postgres -c "CREATE DATABASE $DB" || die "createdb failed"
psql_q -c "CREATE EXTENSION fsmml" || die "CREATE EXTENSION fsmml failed"

if [ ! -s "$CSV" ]; then
    log "generating $BARS bars into $CSV (cached for later runs)"
    t0=$(date +%s.%N)
    "$PY" "$SHARED/bench/gen_bars.py" --bars "$BARS" --seed 7 >"$CSV.tmp.$$" || die "gen_bars failed"
    mv "$CSV.tmp.$$" "$CSV"
    fig gen_bars_seconds "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" s
else
    log "using cached $CSV"
fi
timed_sql "" "\\copy trading.historicaldata (symbol, timeframe, \"timestamp\", open, high, low, close, volume) FROM '$CSV' WITH (FORMAT csv, HEADER)" ||
    die "loading the bars failed"
fig load_bars_copy_seconds "$T_S" s
timed_sql "" "VACUUM ANALYZE trading.historicaldata" || die "VACUUM ANALYZE failed"
fig vacuum_analyze_seconds "$T_S" s
nbars=$(psql_q -At -c "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$SYMBOL' AND timeframe = '$TF'")
fig bars "$nbars" rows
[ "$nbars" -gt 0 ] || die "no bars loaded"

# ---- baseline ------------------------------------------------------------
# run_baseline N: one run of baseline_python.py train through baseline_cpu.py
# (unchanged; adds "cpu <phase> <python_s> <backend_s>" lines), its tables
# emptied first so every run writes the same.  Appends to the B_* arrays.
B_load=() B_features=() B_train=() B_total=() B_loadfeat=() B_cpu_loadfeat=() B_cpu_train=() B_cpu_total=()
B_auc=""
run_baseline() {
    local i=$1 out=$WORK/baseline.$1.out
    echo
    echo "== baseline run $i (baseline_python.py train: psycopg2 + pandas + xgboost, nthread 2)"
    loadavg
    psql_q -c "DO \$\$ BEGIN IF to_regclass('baseline.agentpreds') IS NOT NULL THEN
                 TRUNCATE baseline.agentpreds, baseline.agentversions; END IF; END \$\$" \
           -c "CHECKPOINT" >/dev/null || return 1
    "$PY" bench/baseline_cpu.py "$SHARED/bench" train --dsn "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$DB" \
        --table trading.historicaldata --symbol "$SYMBOL" --tf "$TF" --nthread 2 >"$out" 2>"$WORK/baseline.err" ||
        { cat "$out" "$WORK/baseline.err" >&2; return 1; }
    local ph v
    for ph in load features train evaluate store total; do
        v=$(awk -v p="$ph" '$1 == p { print $2 }' "$out")
        [ -n "$v" ] || { echo "no '$ph' line from the baseline" >&2; return 1; }
        fig "baseline_$ph" "$v" s
        case $ph in load) B_load+=("$v") ;; features) B_features+=("$v") ;;
                    train) B_train+=("$v") ;; total) B_total+=("$v") ;; esac
    done
    for ph in load features train evaluate store; do
        awk -v p="$ph" '$1 == "cpu" && $2 == p { printf "baseline_%s_cpu %.2f s (python %.2f + backend %.2f)\n", p, $3 + $4, $3, $4 }' "$out"
    done
    B_loadfeat+=("$(awk -v a="${B_load[-1]}" -v b="${B_features[-1]}" 'BEGIN { printf "%.3f", a + b }')")
    B_cpu_loadfeat+=("$(awk '$1 == "cpu" && ($2 == "load" || $2 == "features") { t += $3 + $4 } END { printf "%.2f", t }' "$out")")
    B_cpu_train+=("$(awk '$1 == "cpu" && $2 == "train" { printf "%.2f", $3 + $4 }' "$out")")
    B_cpu_total+=("$(awk '$1 == "cpu" { t += $3 + $4 } END { printf "%.2f", t }' "$out")")
    fig baseline_load_plus_features "${B_loadfeat[-1]}" s
    fig baseline_total_cpu "${B_cpu_total[-1]}" s
    local bm
    bm=$(sed -n 's/^metrics //p' "$out")
    echo "baseline_metrics $bm"
    B_auc=$(printf '%s' "$bm" | "$PY" -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["auc"])')
    fig baseline_holdout_auc "$B_auc"
}
if want A2 || want B4; then run_baseline 1 || crash "baseline_python.py (run 1)"; fi

# ---- A2 features in memory -----------------------------------------------
echo
echo "== A2 SELECT count(*) FROM fsmml_features('$SYMBOL', '$TF') ($REPS runs)"
loadavg
A2_t=() A2_c=()
want A2 || skip features_inmem "not in FSMML_BENCH_PARTS"
for i in $(want A2 && seq "$REPS"); do
    if timed_sql "" "SELECT count(*) FROM fsmml_features('$SYMBOL', '$TF')"; then
        A2_t+=("$T_S") A2_c+=("$T_CPU"); log "run $i: $T_S s (backend CPU $T_CPU s), $T_OUT rows"
    else crash "A2 fsmml_features"; break; fi
done
if [ "${#A2_t[@]}" -eq "$REPS" ]; then
    fig features_inmem_seconds "$(min "${A2_t[@]}")" s
    fig features_inmem_cpu "$(min "${A2_c[@]}")" s
    fig features_inmem_bars_per_sec "$(awk -v n="$nbars" -v t="$(min "${A2_t[@]}")" 'BEGIN { printf "%.0f", n / t }')" bars/s
fi

# ---- A3 build vs bare copy -----------------------------------------------
echo
echo "== A3 fsmml_build_features on an empty trading.features vs INSERT INTO bench_copy SELECT * FROM trading.features ($REPS runs each, alternated)"
loadavg
psql_q -c "CREATE TABLE bench_copy (LIKE trading.features INCLUDING ALL)" >/dev/null || crash "A3 CREATE bench_copy"
A3_b=() A3_c=() A3_bc=() A3_cc=()
want A3 || skip build_features "not in FSMML_BENCH_PARTS"
for i in $(want A3 && seq "$REPS"); do
    if timed_sql "TRUNCATE trading.features; DELETE FROM fsmml.feature_state; CHECKPOINT;" \
        "SELECT fsmml_build_features('$SYMBOL', '$TF')"; then
        A3_b+=("$T_S") A3_bc+=("$T_CPU"); log "build $i: $T_S s (backend CPU $T_CPU s), $T_OUT rows written"
    else crash "A3 fsmml_build_features"; break; fi
    # The source rows were just written: read them once (hint bits, cache) so
    # the copy is timed as a plain read + write, like the build (its bars are warm).
    if timed_sql "TRUNCATE bench_copy; SELECT count(*) FROM trading.features \\g /dev/null
CHECKPOINT;" "INSERT INTO bench_copy SELECT * FROM trading.features"; then
        A3_c+=("$T_S") A3_cc+=("$T_CPU"); log "copy  $i: $T_S s (backend CPU $T_CPU s)"
    else crash "A3 bench_copy"; break; fi
done
if [ "${#A3_b[@]}" -eq "$REPS" ] && [ "${#A3_c[@]}" -eq "$REPS" ]; then
    fig build_features_seconds "$(min "${A3_b[@]}")" s
    fig bare_insert_select_seconds "$(min "${A3_c[@]}")" s
    fig build_features_cpu "$(min "${A3_bc[@]}")" s
    fig bare_insert_select_cpu "$(min "${A3_cc[@]}")" s
    fig features_rows "$(psql_q -At -c "SELECT count(*) FROM trading.features")" rows
    fig features_table_size "$(psql_q -At -c "SELECT pg_size_pretty(pg_table_size('trading.features')) || ' heap + ' || pg_size_pretty(pg_indexes_size('trading.features')) || ' index'")"
    if [ "${FSMML_BENCH_EXPLAIN:-0}" = 1 ]; then
        psql_q -c "TRUNCATE bench_copy" -c "CHECKPOINT" \
               -c "EXPLAIN (ANALYZE, BUFFERS, WAL) INSERT INTO bench_copy SELECT * FROM trading.features"
    fi
fi

# ---- B4 training ---------------------------------------------------------
echo
echo "== B4 fsmml_train DirectionXGB, 1 fold, 200 rounds, the baseline's 41 features and XGBoost parameters ($REPS runs, alternated with the baseline)"
B4_t=() B4_c=()
if ! want B4; then
    skip "fsmml_train" "not in FSMML_BENCH_PARTS"
elif [ "$(psql_q -At -c "SELECT to_regproc('fsmml_train') IS NOT NULL")" != t ]; then
    skip "fsmml_train" "not installed yet"
else
    # The baseline's features() columns, in its order: 35 + m15_* and h1_* = 41.
    FEATS=$("$PY" - "$SHARED/bench" <<'PYEOF'
import json, sys
import numpy as np, pandas as pd
sys.path.insert(0, sys.argv[1])
import baseline_python as b
n = 3000
ts = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
c = 100 + np.cumsum(np.sin(np.arange(n) / 7.0))
df = pd.DataFrame({"ts": ts, "open": c, "high": c + 1, "low": c - 1, "close": c, "volume": 1 + np.arange(n) % 5})
print(json.dumps(list(b.features(df).columns)))
PYEOF
    )
    fig train_features "$(printf '%s' "$FEATS" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" features
    PARAMS="{\"folds\":1,\"test_size\":0.2,\"lookback\":\"all\",\"early_stopping_rounds\":0,\"rounds\":200,\"auto_promote\":false,\"features\":$FEATS,\"xgb\":{\"objective\":\"binary:logistic\",\"tree_method\":\"hist\",\"max_depth\":6,\"eta\":0.1,\"subsample\":0.8,\"colsample_bytree\":0.8,\"seed\":42,\"eval_metric\":\"auc\",\"nthread\":2}}"
    for i in $(seq "$REPS"); do
        [ "$i" -gt 1 ] && { run_baseline "$i" || crash "baseline_python.py (run $i)"; echo; }
        log "fsmml_train run $i"
        loadavg
        if timed_sql "CHECKPOINT;" "SELECT version_id, metrics->'holdout'->>'auc', metrics FROM fsmml_train('DirectionXGB', '$SYMBOL', '$TF', '$PARAMS')"; then
            B4_t+=("$T_S") B4_c+=("$T_CPU")
            IFS='|' read -r vid F_auc fmetrics <<<"$T_OUT"
            fit=$(printf '%s\n' "$T_ERR" | sed -n 's/.*fold 1\/1 done.*, \([0-9.]*\) s$/\1/p' | tail -1)
            fig fsmml_train_seconds "$T_S" s
            fig fsmml_train_cpu "$T_CPU" s
            [ -n "$fit" ] && fig fsmml_train_fit_seconds "$fit" "s (boosting, from the fold NOTICE; the rest is dataset, hold-out, registry)"
            fig fsmml_version_id "$vid"
            fig fsmml_version_features "$(psql_q -At -c "SELECT cardinality(feature_names) FROM trading.agentversions WHERE id = $vid")" "features (the version's feature_names)"
            fig fsmml_holdout_auc "$(awk -v a="$F_auc" 'BEGIN { printf "%.4f", a }')"
            [ -n "$B_auc" ] && fig baseline_holdout_auc "$B_auc"
            echo "fsmml_metrics $(printf '%s' "$fmetrics" | "$PY" -c '
import json, sys
m = json.load(sys.stdin)
h = dict(m.get("holdout", {})); h.pop("backtest", None)
print(json.dumps({"rows": m.get("rows"), "holdout": h}))' 2>/dev/null || echo "$fmetrics")"
        else
            crash "B4 fsmml_train"; break
        fi
    done
fi

# ---- B5 scoring ----------------------------------------------------------
echo
echo "== B5 fsmml_score (bench/score_bench.sh)"
loadavg
if ! want B5; then
    skip score_rows_per_sec "not in FSMML_BENCH_PARTS"
elif [ ! -f bench/score_bench.sh ]; then
    skip score_rows_per_sec "bench/score_bench.sh not present"
elif [ "$(psql_q -At -c "SELECT to_regproc('fsmml_score') IS NOT NULL")" != t ]; then
    skip score_rows_per_sec "fsmml_score not installed yet"
else
    # Only the schema as installed; FSMML_BENCH_SCORE_VARIANTS adds score_bench.sh's diagnostics.
    FSMML_SHARED=$SHARED VARIANTS=${FSMML_BENCH_SCORE_VARIANTS:-fk} bash bench/score_bench.sh >"$WORK/score.out" 2>"$WORK/score.err"
    rc=$?
    sed 's/^/score: /' "$WORK/score.out"
    srps=$(awk '$1 == "score_rows_per_sec" { print $2; exit }' "$WORK/score.out")
    if [ -n "$srps" ]; then
        fig score_rows_per_sec "$srps" "rows/s (first write of 200,000 predictions)"
        check check score_rows_per_sec "$srps" '>=' 200000
    fi
    srw=$(awk '$1 == "score_rows_per_sec" && ++n == 2 { print $2; exit }' "$WORK/score.out")
    [ -n "$srw" ] && fig score_rewrite_rows_per_sec "$srw" "rows/s (the same range again, every prediction unchanged)"
    if [ "$rc" -ne 0 ] || [ -z "$srps" ]; then
        cat "$WORK/score.err" >&2
        crash "B5 score_bench.sh (exit $rc)"
    fi
fi

# ---- ratios --------------------------------------------------------------
# Each side's minimum over its runs (wall clock); the CPU-second ratios are
# printed as "info" lines, not checked.
echo
echo "== ratios (minimum of each side over its runs)"
if [ "${#B_total[@]}" -gt 0 ]; then
    fig baseline_runs "${#B_total[@]}"
    fig baseline_load_plus_features_min "$(min "${B_loadfeat[@]}")" s
    fig baseline_train_min "$(min "${B_train[@]}")" s
    fig baseline_total_min "$(min "${B_total[@]}")" s
    if [ "${#A2_t[@]}" -gt 0 ]; then
        check ratio "features_inmem/(baseline_load+features)" "$(div "$(min "${A2_t[@]}")" "$(min "${B_loadfeat[@]}")")" '<=' 0.25
        echo "info cpu_ratio features_inmem/(baseline_load+features) $(div "$(min "${A2_c[@]}")" "$(min "${B_cpu_loadfeat[@]}")") (CPU seconds, not checked)"
    fi
fi
if [ "${#A3_b[@]}" -gt 0 ] && [ "${#A3_c[@]}" -gt 0 ]; then
    check ratio "build_features/bare_insert_select" "$(div "$(min "${A3_b[@]}")" "$(min "${A3_c[@]}")")" '<=' 1.3
    echo "info cpu_ratio build_features/bare_insert_select $(div "$(min "${A3_bc[@]}")" "$(min "${A3_cc[@]}")") (CPU seconds, not checked)"
fi
if [ "${#B4_t[@]}" -gt 0 ] && [ "${#B_total[@]}" -gt 0 ]; then
    fig fsmml_train_min "$(min "${B4_t[@]}")" s
    check ratio "fsmml_train/baseline_train(boosting)" "$(div "$(min "${B4_t[@]}")" "$(min "${B_train[@]}")")" '<=' 1.15
    check ratio "fsmml_train/baseline_total" "$(div "$(min "${B4_t[@]}")" "$(min "${B_total[@]}")")" '<=' 0.6
    echo "info cpu_ratio fsmml_train/baseline_train(boosting) $(div "$(min "${B4_c[@]}")" "$(min "${B_cpu_train[@]}")") (CPU seconds, not checked)"
    echo "info cpu_ratio fsmml_train/baseline_total $(div "$(min "${B4_c[@]}")" "$(min "${B_cpu_total[@]}")") (CPU seconds, not checked)"
    echo "info holdout_auc fsmml $(awk -v a="$F_auc" 'BEGIN { printf "%.4f", a }') baseline $B_auc"
fi

# ---- summary -------------------------------------------------------------
loadavg >/dev/null
echo
echo "== summary ($(($(date +%s) - T_START)) s; highest load average seen $MAXLOAD on $(nproc) cores)"
printf '%s\n' "${SUMMARY[@]}"
if awk -v l="$MAXLOAD" -v n="$(nproc)" 'BEGIN { exit !(l > n + 0.5) }'; then
    echo "note: other work shared the machine during this run (load average up to $MAXLOAD on $(nproc) cores); wall-clock figures are noisy — compare the info cpu_ratio lines"
fi
exit "$CRASHED"
