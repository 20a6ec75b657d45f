#!/usr/bin/env bash
# build.sh — builds and installs the extension into the local PostgreSQL 15.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
make -s -j2 >/dev/null
make -s install >/dev/null
