#!/usr/bin/env bash
# live_insert_ab.sh BEFORE_DIR AFTER_DIR [ROUNDS] — bench/live_insert.sh with two installs of fsmml
# on one cluster, side by side: each DIR holds a build's fsmml.so, fsmml.control and fsmml--*.sql
# (copied from pg_config's pkglibdir and sharedir/extension after a build).  Runs alternate
# BEFORE, AFTER, BEFORE, AFTER ... (ROUNDS pairs, default 3), the install swapped before each (a
# fresh database each run: live_insert.sh creates it), with the load average of each run; then the
# medians per build.  PHASES and N pass through (default PHASES=4; PHASES=1 prints the backend CPU
# per single-row insert).  The AFTER install is left in place.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(readlink -f "$1"); AFTER=$(readlink -f "$2"); ROUNDS=${3:-3}
export PHASES=${PHASES:-4}
LIB=$(pg_config --pkglibdir); EXT=$(pg_config --sharedir)/extension
OUT=$(mktemp -d /tmp/live_insert_ab.XXXXXX)
install_build() {   # new files renamed into place: backends mapping the old library keep it
    for f in "$1"/fsmml.so; do cp "$f" "$LIB/fsmml.so.ab.$$" && mv -f "$LIB/fsmml.so.ab.$$" "$LIB/fsmml.so"; done
    for f in "$1"/fsmml.control "$1"/fsmml--*.sql; do cp "$f" "$EXT/"; done
}
trap 'install_build "$AFTER"; rm -rf "$OUT"' EXIT
for r in $(seq "$ROUNDS"); do
    for v in before after; do
        if [ $v = before ]; then install_build "$BEFORE"; else install_build "$AFTER"; fi
        load=$(cut -d' ' -f1 /proc/loadavg)
        "$ROOT/bench/live_insert.sh" >"$OUT/$v.$r" 2>&1 || { tail -5 "$OUT/$v.$r"; exit 1; }
        echo "# round $r $v (load $load): $(grep -E '^(COPY|added latency)' "$OUT/$v.$r" | tr '\n' ' ')"
    done
done
med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for v in before after; do
    if [[ " $PHASES " == *" 4 "* ]]; then
        for what in "wall" "backend CPU"; do
            if [ "$what" = wall ]; then pre="COPY 100,000 bars: "; else pre="COPY 100,000 bars, backend CPU: "; fi
            cat "$OUT"/$v.* | grep "^$pre" | sed -n 's/^.*without fsmml \(.*\) ms, with fsmml (score_on_insert off) \(.*\) ms, with fsmml (on, series not live) \(.*\) ms$/\1|\2|\3/p' >"$OUT/$v.copy"
            p=$(cut -d'|' -f1 "$OUT/$v.copy" | tr ' ' '\n' | med)
            o=$(cut -d'|' -f2 "$OUT/$v.copy" | tr ' ' '\n' | med)
            n=$(cut -d'|' -f3 "$OUT/$v.copy" | tr ' ' '\n' | med)
            echo "$v: COPY 100,000 bars, $what, median of $(cut -d'|' -f1 "$OUT/$v.copy" | wc -w): without fsmml $p ms, score_on_insert off $o ms ($(echo "scale=2; $o / $p" | bc) x), on but not live $n ms ($(echo "scale=2; $n / $p" | bc) x)"
        done
    fi
    if [[ " $PHASES " == *" 1 "* ]]; then
        c=$(cat "$OUT"/$v.* | sed -n 's/.*backend CPU per insert: on \([0-9.]*\) ms, off \([0-9.]*\) ms.*/\1 \2/p')
        echo "$v: backend CPU per single-row insert, median of $ROUNDS: scoring on $(cut -d' ' -f1 <<<"$c" | med) ms, off $(cut -d' ' -f2 <<<"$c" | med) ms"
    fi
done
