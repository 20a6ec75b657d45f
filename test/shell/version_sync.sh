#!/usr/bin/env bash
# One version, one source: fsmml.control's default_version drives META.json,
# the install script's name, the C code's FSMML_VERSION and what CREATE
# EXTENSION installs (the C code's version, written into every version row, is
# checked by sql/train.sql: ext_version).
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"
v=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" fsmml.control)
meta=$("$PY" -c "import json; m=json.load(open('META.json')); print(m['version'], m['provides']['fsmml']['version'])")
echo "# control $v, META.json $meta"
check "META.json version and provides.fsmml.version equal the control file's" [ "$meta" = "$v $v" ]
check "META.json is what the Makefile generates from META.json.in" \
    diff -q <(sed "s/@EXTVERSION@/$v/g" META.json.in) META.json
check "the install script for $v exists" [ -f "sql/fsmml--$v.sql" ]
check "the installed extension reports $v" [ "$(q "SELECT extversion FROM pg_extension WHERE extname = 'fsmml'")" = "$v" ]
finish
