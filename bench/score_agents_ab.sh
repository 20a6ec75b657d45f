#!/usr/bin/env bash
# score_agents_ab.sh BEFORE.so AFTER.so [ROUNDS] — bench/score_agents.sh with two builds of fsmml on
# one cluster, side by side: the champions are trained once with BEFORE, so both can load them
# (KEEP_MODELS=1: those already there), then the runs alternate BEFORE, AFTER, BEFORE, AFTER ...
# (ROUNDS pairs, default 2), the library swapped in and the server restarted before each, and the
# figures are printed per build with the ratios of their medians.  The installed fsmml.so is
# AFTER when the script ends.
#
# Needs the usual libpq variables (a superuser), PGDATA of that cluster, and pg_ctl/pg_config of
# its PostgreSQL on PATH; as root the server is restarted as the postgres user.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=$(readlink -f "$1"); AFTER=$(readlink -f "$2"); ROUNDS=${3:-2}
: "${PGDATA:?PGDATA of the benchmark cluster}"
LIB=$(pg_config --pkglibdir)/fsmml.so
OUT=$(mktemp -d /tmp/score_agents_ab.XXXXXX)
# a new file renamed into place: processes still mapping the old library keep their copy
install_lib() { cp "$1" "$LIB.ab.$$" && mv -f "$LIB.ab.$$" "$LIB"; }
trap 'rm -rf "$OUT"; install_lib "$AFTER"' EXIT
restart() {
    if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -w -l '$PGDATA/../ab-server.log' restart" >/dev/null
    else pg_ctl -D "$PGDATA" -w -l "$PGDATA/../ab-server.log" restart >/dev/null; fi
}
use() { install_lib "$1"; restart; }

use "$BEFORE"
KEEP_MODELS=${KEEP_MODELS:-0} "$ROOT/bench/score_agents.sh" | grep -E '^# [A-Za-z]+@' || true
for r in $(seq "$ROUNDS"); do
    for v in before after; do
        if [ $v = before ]; then use "$BEFORE"; else use "$AFTER"; fi
        echo "# round $r, $v (load $(cut -d' ' -f1-3 /proc/loadavg))"
        KEEP_MODELS=1 "$ROOT/bench/score_agents.sh" | grep -E '^(first write|re-run)' | tee -a "$OUT/$v" | sed 's/^/    /'
    done
done
# medians per build and run kind: wall bars/s, CPU us/bar, CPU without writes us/bar
med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for kind in "first write" "re-run"; do
    for v in before after; do
        f=$(grep "^$kind" "$OUT/$v")
        bps=$(echo "$f" | sed -E 's/.* ([0-9]+) bars\/s end to end.*/\1/' | med)
        cpu=$(echo "$f" | sed -E 's/.*backend CPU [0-9.]+ s \(([0-9.]+) us\/bar.*/\1/' | med)
        nw=$(echo "$f" | sed -E 's/.*CPU without writes ([0-9.]+) us\/bar.*/\1/' | med)
        eval "${v}_bps=$bps ${v}_cpu=$cpu ${v}_nw=$nw"
        printf '%-12s %-7s median %6.0f bars/s end to end, %5.1f us CPU/bar (%6.0f bars per CPU second), %5.1f us/bar without writes\n' \
            "$kind" "$v" "$bps" "$cpu" "$(echo "1000000 / $cpu" | bc -l)" "$nw"
    done
    printf '%-12s after/before: bars/s x%.2f, CPU per bar x%.2f, CPU without writes x%.2f\n' "$kind" \
        "$(echo "$after_bps / $before_bps" | bc -l)" "$(echo "$after_cpu / $before_cpu" | bc -l)" \
        "$(echo "$after_nw / $before_nw" | bc -l)"
done
