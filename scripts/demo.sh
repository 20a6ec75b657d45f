#!/usr/bin/env bash
# demo.sh — the main job end to end on a throwaway cluster: build and install
# fsmml, load the bundled sample bars, build features, train, score, show signals.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
RUN=${FSMML_DEMO_DIR:-/tmp/fsmml-demo}

./scripts/deps.sh
./scripts/build.sh
. scripts/cluster.sh
trap 'cluster_stop "$RUN"' EXIT
# No shared_preload_libraries: the library loads on demand (training progress
# then shows as one NOTICE per fold instead of in fsmml.training_progress).
cluster_start "$RUN"
echo "cluster: socket $RUN, database fsmml_demo"

psql -qX -d postgres -c "CREATE DATABASE fsmml_demo"
psql -qX -d fsmml_demo -c "CREATE EXTENSION fsmml"
gzip -dc data/btcusdt_1m_sample.csv.gz |
    psql -qX -d fsmml_demo -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
psql -X -d fsmml_demo -v ON_ERROR_STOP=1 -f scripts/demo.sql

# The visual report: one self-contained HTML page (inline SVG), written where the cluster lives.
REPORT=${FSMML_REPORT:-$RUN-report-BTCUSDT-1m.html}
psql -X -At -d fsmml_demo -v ON_ERROR_STOP=1 -c "SELECT fsmml_report('BTCUSDT', '1m', 30)" >"$REPORT"
chmod a+r "$REPORT"
echo "report: $REPORT ($(wc -c <"$REPORT") bytes)"
