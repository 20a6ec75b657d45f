# lib.sh — sourced by test/shell/*.sh: TAP-ish output and small helpers.
# The harness (scripts/test.sh) exports PGHOST PGPORT PGUSER PGDATABASE of a
# database where fsmml is installed.
ROOT=${FSMML_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SHARED=${FSMML_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
failures=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() {   # check "name" command...
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}
q() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
finish() { [ "$failures" -eq 0 ]; exit $?; }

# Loads bars from gen_bars.py (../shared/bench) into trading.historicaldata.
load_gen_bars() {   # load_gen_bars SYMBOL ARGS...
    local sym=$1; shift
    "$PY" "$SHARED/bench/gen_bars.py" --symbol "$sym" "$@" |
        psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
}

# The bundled sample: 100,000 BTCUSDT 1m bars.
load_sample_bars() {
    gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" |
        psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
}

# Resident memory of a backend, in kB.
backend_rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# One psql session as a coprocess named PSQL, which the test starts (coproc PSQL { psql ...; }),
# so every query runs in the same backend: send a line; recv prints the answer up to the marker
# (RECV_TIMEOUT seconds per line, 120); run does both.
send() { echo "$1" >&"${PSQL[1]}"; }
recv() {
    local line
    while IFS= read -r -t "${RECV_TIMEOUT:-120}" line <&"${PSQL[0]}"; do
        [ "$line" = "__done__" ] && return 0
        echo "$line"
    done
    return 1
}
run() { send "$1"; send "\\echo __done__"; recv; }
# One psql session as a coprocess (send, recv, run all reach the same backend), its pid in pid,
# and before: the count of agentversions rows, for versions() after.   one_backend [psql options]
versions() { q "SELECT count(*) FROM trading.agentversions"; }
one_backend() {
    coproc PSQL { psql -X -At -q -v ON_ERROR_STOP=0 "$@" 2>&1; }
    pid=$(run "SELECT pg_backend_pid();")
    before=$(versions)
}

# Until the training of backend $pid is at boosting round >= N (0: just started), at most 30 s;
# the round last read is left in r.
wait_round() {   # wait_round N
    for _ in $(seq 600); do
        r=$(q "SELECT round FROM fsmml.training_progress WHERE pid = $pid")
        [ -n "$r" ] && [ "$r" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
