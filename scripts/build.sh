#!/usr/bin/env bash
# build.sh [release|assert] — builds and installs the extension into the local PostgreSQL 15.
# "assert" compiles with -DUSE_ASSERT_CHECKING (PostgreSQL's Asserts in fsmml and the inline
# server headers), as pgvector's CI does; objects are rebuilt when the variant changes.
# FSMML_DESTDIR: install under that directory (make install DESTDIR=; scripts/test.sh's copies).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=${FSMML_PG_BINDIR:-/usr/lib/postgresql/15/bin}:$PATH   # FSMML_PG_BINDIR: another (relocated) PostgreSQL 15
variant=${1:-release}
case "$variant" in
    release) cflags= opts= ;;
    # LLVM bitcode (JIT inlining) is the same code compiled by clang: the release build makes it.
    assert)  cflags=-DUSE_ASSERT_CHECKING; opts=with_llvm=no ;;
    *) echo "build.sh: unknown variant $variant (release | assert)" >&2; exit 2 ;;
esac
stamp=.build-variant
if [ "$(cat "$stamp" 2>/dev/null)" != "$variant" ]; then
    make -s clean >/dev/null
    echo "$variant" >"$stamp"
fi
make -s -j2 FSMML_CFLAGS="$cflags" $opts >/dev/null
make -s install FSMML_CFLAGS="$cflags" $opts ${FSMML_DESTDIR:+DESTDIR="$FSMML_DESTDIR"} >/dev/null
