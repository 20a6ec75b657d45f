#!/usr/bin/env bash
# progress_no_preload.sh — without shared_preload_libraries (how demo.sh runs a cluster), a
# training still reports each fold as a NOTICE, and fsmml.training_progress (and
# fsmml_signal_listeners) raise an ERROR whose hint says to preload fsmml instead of answering empty.  Runs its own throwaway cluster (no
# preload) next to the suite's, with the same PostgreSQL binaries.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$ROOT/scripts/cluster.sh"
DIR=${FSMML_TEST_DIR:-/tmp/fsmml-test}-nopreload
trap 'cluster_stop "$DIR"; rm -rf "$DIR"' EXIT

if ! cluster_start "$DIR" >/dev/null; then
    not_ok "a cluster without shared_preload_libraries starts"; finish
fi
export PGDATABASE=postgres
q "CREATE EXTENSION fsmml" >/dev/null
check "fsmml is not preloaded" [ -z "$(q "SHOW shared_preload_libraries")" ]

out=$(psql -X -c "SELECT * FROM fsmml.training_progress" 2>&1)
check "fsmml.training_progress raises an ERROR without preload" \
    grep -q '^ERROR:  fsmml.training_progress needs fsmml in shared_preload_libraries' <<<"$out"
check "... whose hint says to add fsmml to shared_preload_libraries" \
    grep -q '^HINT:  Add fsmml to shared_preload_libraries' <<<"$out"

out=$(psql -X -c "SELECT fsmml_signal_listeners()" 2>&1)
check "fsmml_signal_listeners raises an ERROR without preload (no count to give)" \
    grep -q '^ERROR:  fsmml_signal_listeners needs fsmml in shared_preload_libraries' <<<"$out"

# A small real training: it works, and its folds come as NOTICEs.
q "INSERT INTO trading.historicaldata
   SELECT 'NOPRE', '5m', '2024-01-01 00:00+00'::timestamptz + (i * 5 || ' minutes')::interval,
          c0, greatest(c0, c1) * 1.0004, least(c0, c1) * 0.9996, c1, 10 + (i * 7919 % 97)
   FROM (SELECT i, 100 + 3 * sin(i / 23.0) + 2 * sin(i / 7.0) + 0.5 * sin(i * 1.7) AS c1,
                100 + 3 * sin((i - 1) / 23.0) + 2 * sin((i - 1) / 7.0) + 0.5 * sin((i - 1) * 1.7) AS c0
         FROM generate_series(0, 1499) AS i) s" >/dev/null
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SELECT version || ' ' || status FROM fsmml_train('DirectionXGB', 'NOPRE', '5m',
        '{\"folds\": 3, \"rounds\": 5, \"lookback\": \"all\", \"features\": [\"ret_1\", \"rsi_14\"], \"xgb\": {\"nthread\": 1}}')" 2>&1)
check "fsmml_train works without preload" grep -qx 'v1.0.0 champion' <<<"$out"
n=$(grep -cE '^NOTICE:  DirectionXGB@NOPRE-5m: fold [1-3]/3 done' <<<"$out")
check "one NOTICE per fold without preload (3, got $n)" [ "$n" -eq 3 ]
check "no backend of the cluster without preload died" \
    bash -c "! grep -qE 'terminated by (signal|exception)|TRAP:' '$DIR/server.log'"
finish
