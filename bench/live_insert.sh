#!/usr/bin/env bash
# live_insert.sh — live scoring, side by side in one run:
#   1. single-row INSERT + commit with scoring on (all six champions) vs off, interleaved bar by
#      bar over $N bars each (two sessions, same load): wall p50/p99 and backend CPU per insert;
#   2. insert-to-signal (INSERT sent -> its NOTIFY received by a LISTENing client; and, with
#      nobody listening, to the INSERT's answer, when the signal is committed, where the
#      baseline stops its own clock) vs
#      ../shared/bench/baseline_python.py live (insert, read a window, pandas features, predict,
#      write back) on the same bars, in $ROUNDS rounds, beside a bare INSERT and the rows alone;
#   3. pgbench, $CLIENTS clients (8-16) inserting bars of 100 symbols (each client its own):
#      scored bars/s, errors, lost bars, missing signals (a feed's INSERT ... VALUES, and an INSERT that
#      reads the last bar, simple and prepared); one connection feeding all 100, a bar
#      per INSERT and all 100 bars of a minute in one INSERT;
#   4. COPY of 100,000 bars with fsmml.score_on_insert = off (and on, of a series not live) vs
#      the same COPY in a database without fsmml;
#   5. fsmml_predict of the latest bar of a 1,000,000-bar series (kernel state) vs an older bar
#      (computed from the first bar).
# Uses the cluster of the usual libpq variables (a superuser; creates databases live_bench*).
# Run it on a cluster with fsync and synchronous_commit on for committed latencies.
#   bench/live_insert.sh        # N=5000 CLIENTS=10 SECONDS_PGBENCH=30 BIG=1000000 PHASES="1 2 3 4 5"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${FSMML_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
N=${N:-5000}
CLIENTS=${CLIENTS:-10}
SECONDS_PGBENCH=${SECONDS_PGBENCH:-30}
BIG=${BIG:-1000000}
PHASES=" ${PHASES:-1 2 3 4 5} "
phase() { [[ "$PHASES" == *" $1 "* ]]; }
DB=live_bench
TMP=$(mktemp -d /tmp/live_insert.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
q() { psql -X -At -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
gen() { "$PY" "$SHARED/bench/gen_bars.py" "$@"; }
pct() { sort -n "$1" | awk '{a[NR]=$1} END {printf "p50 %.3f p99 %.3f", a[int(NR*0.5)+1], a[int(NR*0.99)]}'; }

echo "# settings: $(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers')")"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q "SET client_min_messages = warning; CREATE EXTENSION fsmml"

# ---------------------------------------------------------------- 1. INSERT latency, on vs off
W=10000
gen --symbol LIVEON --tf 1m --bars $((W + N)) --seed 7 >"$TMP/on.csv"
gen --symbol LIVEOFF --tf 1m --bars $((W + N)) --seed 8 >"$TMP/off.csv"
if phase 1 || phase 2 || phase 3; then   # the live series and its champions (phase 4 and 5 need neither)
head -$((W + 1)) "$TMP/on.csv" | psql -X -q -d "$DB" -c "\\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
head -$((W + 1)) "$TMP/off.csv" | psql -X -q -d "$DB" -c "\\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
echo "# training the six agents on $W bars of LIVEON"
for a in 'DirectionXGB|{"folds": 2}' 'RegimeKMeans|{}' 'VolQuantile|{}' 'StateFSM|{}' 'ExecRules|{}' 'EnsembleWeighted|{}'; do
    q "SET client_min_messages = warning; SELECT status FROM fsmml_train('${a%%|*}', 'LIVEON', '1m', '${a#*|}')" >/dev/null
done
q "SELECT fsmml_enable_scoring('LIVEON', '1m')" >/dev/null
fi
if phase 1; then
tail -n +$((W + 2)) "$TMP/on.csv" >"$TMP/on_stream.csv"
tail -n +$((W + 2)) "$TMP/off.csv" >"$TMP/off_stream.csv"
"$PY" - "$DB" "$TMP" <<'PYEOF'
import os, sys, time, psycopg2
db, tmp = sys.argv[1], sys.argv[2]
def sess(scoring):
    c = psycopg2.connect(dbname=db); c.autocommit = True; cur = c.cursor()
    cur.execute("SET fsmml.score_on_insert = " + scoring)
    cur.execute("SELECT pg_backend_pid()")
    return cur, cur.fetchone()[0]
tick = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / tick
on, pon = sess("on"); off, poff = sess("off")
rows_on = [l.strip().split(",") for l in open(tmp + "/on_stream.csv")]
rows_off = [l.strip().split(",") for l in open(tmp + "/off_stream.csv")]
sql = "INSERT INTO trading.historicaldata VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
lon, loff = [], []
c_on0, c_off0 = cpu(pon), cpu(poff)
for a, b in zip(rows_on, rows_off):
    t0 = time.perf_counter(); on.execute(sql, a); lon.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter(); off.execute(sql, b); loff.append((time.perf_counter() - t0) * 1000)
c_on, c_off = (cpu(pon) - c_on0) / len(lon), (cpu(poff) - c_off0) / len(loff)
open(tmp + "/lat_on", "w").write("\n".join(map(str, lon)) + "\n")
open(tmp + "/lat_off", "w").write("\n".join(map(str, loff)) + "\n")
def p(v, q): v = sorted(v); return v[min(len(v) - 1, int(len(v) * q))]
d50, d99 = p(lon, .5) - p(loff, .5), p(lon, .99) - p(loff, .99)
print("insert latency over %d bars each, interleaved: scoring on p50 %.3f ms p99 %.3f ms, off p50 %.3f ms p99 %.3f ms"
      % (len(lon), p(lon, .5), p(lon, .99), p(loff, .5), p(loff, .99)))
print("added latency: p50 %.3f ms, p99 %.3f ms; backend CPU per insert: on %.3f ms, off %.3f ms, added %.3f ms"
      % (d50, d99, c_on, c_off, c_on - c_off))
PYEOF
echo "scored: $(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = 'LIVEON'") signals, $(q "SELECT count(*) FROM fsmml.scoring_errors") scoring errors"

fi

# ---------------------------------------------------------------- 2. insert-to-signal vs the Python loop
# $ROUNDS rounds of $M bars, each round: fsmml, a bare INSERT + commit (no trigger), the rows and
# the notification issue 9 asks for with nothing computed (bench/live_floor.sql: a PL/pgSQL
# trigger copying the rows live scoring just wrote: the floor under any scorer that commits with
# its bar), then the baseline. fsmml and the floor run twice: with a client LISTENing (the clock
# stops when the notification arrives there) and with nobody listening (the clock stops at the
# INSERT's answer, when the signal is committed: where the baseline's own clock stops; fsmml then
# sends no NOTIFY). The VM's disk and the host's load move from minute to minute; rounds keep
# each ratio to one minute and show how far it moves.
if phase 2; then
M=${M:-1000}
ROUNDS=${ROUNDS:-3}
med() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int(NR*0.5)+1]}'; }
gen --symbol LIVEON --tf 1m --bars $((W + N + 2 * M * ROUNDS)) --seed 7 | tail -n $((2 * M * ROUNDS)) >"$TMP/sig_all.csv"
gen --symbol FLOOR --tf 1m --bars $((2 * M * ROUNDS)) --seed 9 | tail -n +2 >"$TMP/floor_all.csv"
: >"$TMP/ratios"
stream() { sed -n "$(( ($2 - 1) * M + 1 )),$(( $2 * M ))p" "$TMP/$1_all.csv" >"$TMP/$1_stream.csv"; }
for r in $(seq "$ROUNDS"); do
    stream sig $((2 * r - 1))
    "$PY" "$ROOT/bench/live_latency.py" --dsn "dbname=$DB" --out "$TMP/sig" --listen <"$TMP/sig_stream.csv"
    if [ "$r" = 1 ]; then   # the floor's templates and the baseline's bars: what fsmml just scored
        psql -X -q -d "$DB" -v sym=LIVEON -f "$ROOT/bench/live_floor.sql"
        q "CREATE TABLE public.basebars AS SELECT * FROM trading.historicaldata WHERE symbol = 'LIVEON' ORDER BY \"timestamp\" LIMIT $((W + M))"
        "$PY" "$SHARED/bench/baseline_python.py" train --dsn "dbname=$DB" --table public.basebars --symbol LIVEON \
            --tf 1m --nthread 1 >"$TMP/base_train.txt" 2>&1 || true
    fi
    stream sig $((2 * r))
    "$PY" "$ROOT/bench/live_latency.py" --dsn "dbname=$DB" --out "$TMP/sig_quiet" <"$TMP/sig_stream.csv"
    quiet_signals=$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = 'LIVEON' AND timeframe = '1m'
        AND \"timestamp\" BETWEEN '$(head -1 "$TMP/sig_stream.csv" | cut -d, -f3)' AND '$(tail -1 "$TMP/sig_stream.csv" | cut -d, -f3)'")
    stream floor $((2 * r - 1))
    "$PY" "$ROOT/bench/live_latency.py" --dsn "dbname=$DB" --out "$TMP/bare" --table floor_bench.bare <"$TMP/floor_stream.csv"
    "$PY" "$ROOT/bench/live_latency.py" --dsn "dbname=$DB" --out "$TMP/floor" --table floor_bench.historicaldata \
        --channel fsmml_floor --listen <"$TMP/floor_stream.csv"
    stream floor $((2 * r))
    "$PY" "$ROOT/bench/live_latency.py" --dsn "dbname=$DB" --out "$TMP/floor_quiet" --table floor_bench.historicaldata \
        <"$TMP/floor_stream.csv"
    "$PY" "$SHARED/bench/baseline_python.py" live --dsn "dbname=$DB" --table public.basebars --symbol LIVEON --tf 1m \
        --warmup $W --bars $M --nthread 1 >"$TMP/base_live.txt" 2>&1 || { tail -5 "$TMP/base_live.txt"; }
    echo "round $r, $M bars each: a client LISTENing, INSERT sent -> its notification received: fsmml" \
         "$(pct "$TMP/sig.signal") ms, the rows and notification alone $(pct "$TMP/floor.signal") ms"
    echo "round $r: nobody listening, INSERT sent -> its answer (the signal committed; $quiet_signals of $M bars have one):" \
         "fsmml $(pct "$TMP/sig_quiet") ms," \
         "the rows and notification alone $(pct "$TMP/floor_quiet") ms; bare INSERT + commit $(pct "$TMP/bare") ms;" \
         "baseline_python.py live $(grep latency_ms "$TMP/base_live.txt" | sed 's/latency_ms //') ms"
    echo "round $r: backend CPU per INSERT: fsmml $(cat "$TMP/sig.cpu") ms listened to, $(cat "$TMP/sig_quiet.cpu") ms not;" \
         "the rows and notification alone $(cat "$TMP/floor.cpu") / $(cat "$TMP/floor_quiet.cpu") ms; bare $(cat "$TMP/bare.cpu") ms"
    base50=$(awk '/latency_ms/ {print $3}' "$TMP/base_live.txt")
    [ -n "$base50" ] && awk -v b="$base50" -v s="$(med "$TMP/sig.signal")" -v w="$(med "$TMP/floor.signal")" \
        -v f="$(med "$TMP/bare")" -v c="$(med "$TMP/sig_quiet")" -v cw="$(med "$TMP/floor_quiet")" \
        'BEGIN { printf "%.1f %.1f %.1f %.1f %.1f\n", b / s, b / w, b / f, b / c, b / cw }' >>"$TMP/ratios"
    [ -n "$base50" ] && echo "round $r: faster than the baseline at p50, listened to: fsmml $(tail -1 "$TMP/ratios" | cut -d' ' -f1) x," \
         "the rows and notification alone $(tail -1 "$TMP/ratios" | cut -d' ' -f2) x; nobody listening: fsmml" \
         "$(tail -1 "$TMP/ratios" | cut -d' ' -f4) x, the rows alone $(tail -1 "$TMP/ratios" | cut -d' ' -f5) x;" \
         "a bare INSERT + commit $(tail -1 "$TMP/ratios" | cut -d' ' -f3) x"
done
over_rounds() { echo "$(cut -d' ' -f"$1" "$TMP/ratios" | sort -n | tr '\n' ' ')x (median $(cut -d' ' -f"$1" "$TMP/ratios" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') x)"; }
echo "insert-to-signal, fsmml vs baseline at p50 over $ROUNDS rounds: a client listening $(over_rounds 1);" \
     "nobody listening, to the committed signal $(over_rounds 4)"

fi

# ---------------------------------------------------------------- 3. pgbench: 100 symbols, $CLIENTS clients
if phase 3; then
echo "# 100 symbols x 2,000 bars, the LIVEON champions copied to each"
for s in $(seq 0 99); do
    sed -n "2,2001s/^LIVEON,/PB$s,/p" "$TMP/on.csv"
done | psql -X -q -d "$DB" -c "SET fsmml.score_on_insert = off" -c "\\copy trading.historicaldata FROM STDIN WITH (FORMAT csv)"
q "INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format, model_sha256,
       params, metrics, feature_names, ext_version)
   SELECT 'PB' || s, timeframe, agent, version, status, model, model_format, model_sha256, params, metrics,
          feature_names, ext_version
   FROM trading.agentversions, generate_series(0, 99) s WHERE symbol = 'LIVEON' AND status = 'champion'"
q "SET client_min_messages = warning; SELECT count(fsmml_enable_scoring('PB' || s, '1m')) FROM generate_series(0, 99) s" >/dev/null
# each client owns the symbols client_id + k * clients: no two clients race on a series; the
# INSERT reads its series' last bar and writes the next from it
cat >"$TMP/live.sql" <<'SQL'
\set k random(0, 100 / :nclients - 1)
\set sym :client_id + :k * :nclients
INSERT INTO trading.historicaldata
SELECT symbol, timeframe, ts, o, greatest(o, c) * 1.0005, least(o, c) * 0.9995, c, v
FROM (SELECT symbol, timeframe, "timestamp" + interval '1 minute' AS ts, close AS o,
             close * (1 + 0.001 * (random() - 0.5)) AS c, 10 + 20 * random() AS v
      FROM trading.historicaldata WHERE symbol = 'PB' || :sym AND timeframe = '1m'
      ORDER BY "timestamp" DESC LIMIT 1) s;
SQL
# a feed's INSERT: it knows its bar (from the exchange) and writes the values; each client cycles
# through its own symbols, a minute per round, prices a random walk around p0
cat >"$TMP/feed.sql" <<'SQL'
\set n :n + 1
\set per 100 / :nclients
\set sym :client_id + (:n % :per) * :nclients
\set ts :t0 + (:n / :per) * 60
\set o :p0 * (1 + random(-500, 500) / 1000000.0)
\set c :o * (1 + random(-500, 500) / 1000000.0)
\set h greatest(:o, :c) * 1.0005
\set l least(:o, :c) * 0.9995
\set v random(10, 30)
INSERT INTO trading.historicaldata (symbol, timeframe, "timestamp", open, high, low, close, volume)
VALUES ('PB' || :sym, '1m', to_timestamp(:ts), :o, :h, :l, :c, :v);
SQL
# Nobody LISTENing (live scoring skips the NOTIFY; simple, then prepared protocol), then with a client LISTENing on
# fsmml_signals (every scoring transaction NOTIFYs: PostgreSQL's notify lock makes them commit one
# at a time, WAL flush included).
# The query protocol is the client's choice, not fsmml's work: simple (parsed and planned per
# INSERT) and prepared (-M prepared, as a driver with prepared statements sends it) side by side.
pgbench_run() {   # pgbench_run LABEL [PROTOCOL [CLIENTS [SCRIPT]]]
    local before sig_before bars sigs clients=${3:-$CLIENTS} t0 p0
    before=$(q "SELECT count(*) FROM trading.historicaldata WHERE symbol LIKE 'PB%'")
    sig_before=$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol LIKE 'PB%'")
    # the feed's first minute: after every series' newest bar
    t0=$(q "SELECT extract(epoch FROM max(\"timestamp\"))::bigint + 60 FROM trading.historicaldata WHERE symbol LIKE 'PB%'")
    p0=$(q "SELECT close FROM trading.historicaldata WHERE symbol = 'PB0' ORDER BY \"timestamp\" DESC LIMIT 1")
    pgbench -n -P 1 -M "${2:-simple}" -d "$DB" -c "$clients" -j "$(( clients > 1 ? 2 : 1 ))" -T "$SECONDS_PGBENCH" \
        -D nclients="$clients" -D n=0 -D t0="$t0" -D p0="$p0" -f "$TMP/${4:-live}.sql" >"$TMP/pgbench.txt" 2>&1 || true
    grep -E "number of (transactions|failed)|latency average|^tps" "$TMP/pgbench.txt" | sed "s/^/pgbench ($1): /"
    # each new connection loads its symbols' champions first (60 models for 10 symbols): the
    # rate once they are loaded, from pgbench's per-second progress after the first 5 s
    awk -v l="$1" '/^progress: / {t = $2 + 0; if (t > 5) {s += $4; n++}}
        END {if (n) printf "pgbench (%s): after the first 5 s: %.0f tps (mean of %d per-second figures)\n", l, s / n, n}' "$TMP/pgbench.txt"
    bars=$(( $(q "SELECT count(*) FROM trading.historicaldata WHERE symbol LIKE 'PB%'") - before ))
    sigs=$(( $(q "SELECT count(*) FROM trading.agentsignals WHERE symbol LIKE 'PB%'") - sig_before ))
    echo "pgbench ($1): $bars bars inserted, $sigs signals written ($(( bars - sigs )) missing), $(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol LIKE 'PB%'") scoring errors, $(echo "scale=0; $sigs / $SECONDS_PGBENCH" | bc) scored bars/s"
}
pgbench_run "feed, no listener" simple "$CLIENTS" feed
pgbench_run "no listener"
pgbench_run "no listener, prepared" prepared
# one connection feeding all 100 series (600 models in its cache)
pgbench_run "one connection, 100 series" simple 1
# the same connection pattern as a feed that writes each minute's bars of every series at once:
# one multi-row INSERT of the 100 series' next bars (the statement trigger scores the batch)
"$PY" - "$DB" <<'PYEOF'
import datetime, random, sys, time, psycopg2
c = psycopg2.connect(dbname=sys.argv[1]); c.autocommit = True; cur = c.cursor()
cur.execute("""SELECT DISTINCT ON (symbol) symbol, "timestamp", close FROM trading.historicaldata
               WHERE symbol LIKE 'PB%%' AND timeframe = '1m' ORDER BY symbol, "timestamp" DESC""")
last = cur.fetchall(); rnd = random.Random(5); ms = []
for minute in range(1, 23):   # 2 warm-up minutes (models loaded, then forests compiled), 20 timed
    rows = []
    for s, ts, cl in last:
        cc = cl * (1 + 0.001 * (rnd.random() - 0.5))
        rows.append((s, "1m", ts + datetime.timedelta(minutes=minute), cl, max(cl, cc) * 1.0005,
                     min(cl, cc) * 0.9995, cc, 10 + 20 * rnd.random()))
    sql = "INSERT INTO trading.historicaldata VALUES " + ",".join(
        cur.mogrify("(%s,%s,%s,%s,%s,%s,%s,%s)", r).decode() for r in rows)
    t = time.perf_counter(); cur.execute(sql); ms.append((time.perf_counter() - t) * 1000)
cur.execute("""SELECT count(*) FROM trading.historicaldata h WHERE symbol LIKE 'PB%%' AND NOT EXISTS
               (SELECT 1 FROM trading.agentsignals s WHERE (s.symbol, s.timeframe, s."timestamp")
                = (h.symbol, h.timeframe, h."timestamp"))
               AND "timestamp" > (SELECT min(x) FROM unnest(%s::timestamptz[]) x)""", ([ts for _, ts, _ in last],))
missing = cur.fetchone()[0]
t = sorted(ms[2:])
print("one INSERT of the 100 series' next bars (one connection, autocommit): warm-up %.0f, %.0f ms; "
      "then median %.1f ms, max %.1f ms over 20 minutes: %.0f scored bars/s; %d bars without a signal"
      % (ms[0], ms[1], t[10], t[-1], 100 * 1000 / t[10], missing))
PYEOF
"$PY" - "$DB" "$TMP/heard" <<'PYEOF' &
import select, sys, time, psycopg2
c = psycopg2.connect(dbname=sys.argv[1]); c.autocommit = True; c.cursor().execute("LISTEN fsmml_signals")
n = 0; idle = 0.0
open(sys.argv[2] + ".ready", "w").close()
while idle < 5:
    if select.select([c], [], [], 0.5) == ([], [], []):
        idle += 0.5; continue
    idle = 0; c.poll(); n += len(c.notifies); del c.notifies[:]
open(sys.argv[2], "w").write(str(n))
PYEOF
lpid=$!
while [ ! -e "$TMP/heard.ready" ]; do sleep 0.1; done
pgbench_run "a client listening"
wait $lpid
echo "pgbench (a client listening): $(cat "$TMP/heard") notifications received"

fi

# ---------------------------------------------------------------- 4. COPY 100,000 bars, scoring off vs no fsmml
if phase 4; then
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | sed 1d | sed 's/^BTCUSDT,/COPYB,/' >"$TMP/copy.csv"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ${DB}_plain" -c "CREATE DATABASE ${DB}_plain"
# the table fsmml's install script creates when there is none (the timeframe CHECK included)
psql -X -q -d "${DB}_plain" -c "CREATE SCHEMA trading" -c "CREATE TABLE trading.historicaldata (symbol text NOT NULL, timeframe text NOT NULL CHECK (timeframe IN ('1m', '5m', '15m', '1h', '4h', '1d')), \"timestamp\" timestamptz NOT NULL, open float8 NOT NULL, high float8 NOT NULL, low float8 NOT NULL, close float8 NOT NULL, volume float8 NOT NULL, PRIMARY KEY (symbol, timeframe, \"timestamp\"))"
# the same rows already in both tables: the COPY's index inserts then descend the same tree (a
# table holding only the copied symbol takes btree's rightmost-leaf fast path for every row)
psql -X -q -d "$DB" -c "\\copy (SELECT * FROM trading.historicaldata) TO STDOUT" |
    psql -X -q -d "${DB}_plain" -c "\\copy trading.historicaldata FROM STDIN"
copy_ms() {   # copy_ms DB SETTING: "wall_ms backend_cpu_ms" of the COPY and its commit
    psql -X -q -d "$1" -c "DELETE FROM trading.historicaldata WHERE symbol = 'COPYB'" -c "VACUUM trading.historicaldata" >/dev/null
    "$PY" - "$1" "$2" "$TMP/copy.csv" <<'PYEOF'
import os, sys, time, psycopg2
db, setting, path = sys.argv[1:4]
c = psycopg2.connect(dbname=db); cur = c.cursor()
cur.execute(setting)
cur.execute("SELECT pg_backend_pid()"); pid = cur.fetchone()[0]; c.commit()
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / tick
c0 = cpu(); t0 = time.perf_counter()
with open(path) as f:
    cur.copy_expert("COPY trading.historicaldata FROM STDIN WITH (FORMAT csv)", f)
c.commit()
print("%d %d" % ((time.perf_counter() - t0) * 1000, cpu() - c0))
PYEOF
}
# some series live (not the one copied), as on a desk that scores a few
q "INSERT INTO fsmml.live_series (symbol, timeframe) SELECT 'LIVE' || s, '1m' FROM generate_series(1, 20) s ON CONFLICT DO NOTHING"
plain=(); fs=(); fson=(); cplain=(); cfs=(); cfson=()
for i in $(seq "${COPY_RUNS:-5}"); do   # interleaved: the three see the same load
    read -r w c < <(copy_ms "${DB}_plain" "SELECT 1"); plain+=("$w"); cplain+=("$c")
    read -r w c < <(copy_ms "$DB" "SET fsmml.score_on_insert = off"); fs+=("$w"); cfs+=("$c")
    read -r w c < <(copy_ms "$DB" "SET fsmml.score_on_insert = on"); fson+=("$w"); cfson+=("$c")
done
echo "COPY 100,000 bars: without fsmml ${plain[*]} ms, with fsmml (score_on_insert off) ${fs[*]} ms, with fsmml (on, series not live) ${fson[*]} ms"
echo "COPY 100,000 bars, backend CPU: without fsmml ${cplain[*]} ms, with fsmml (score_on_insert off) ${cfs[*]} ms, with fsmml (on, series not live) ${cfson[*]} ms"
psql -X -q -d postgres -c "DROP DATABASE ${DB}_plain"

fi

# ---------------------------------------------------------------- 5. fsmml_predict on a 1,000,000-bar series
if phase 5; then
echo "# $BIG bars of BIG 1m"
gen --symbol BIG --tf 1m --bars "$BIG" --seed 9 | psql -X -q -d "$DB" -c "SET fsmml.score_on_insert = off" -c "\\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
q "SET client_min_messages = warning; SELECT fsmml_build_features('BIG', '1m')" >/dev/null
q "SET client_min_messages = warning; SELECT status FROM fsmml_train('DirectionXGB', 'BIG', '1m', '{\"folds\": 2, \"lookback\": 20000}')" >/dev/null
psql -X -q -d "$DB" >"$TMP/predict.txt" <<'SQL'
\timing on
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS warm;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS latest;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS latest;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS latest;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS latest;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m') IS NOT NULL AS latest;
SELECT fsmml_predict('DirectionXGB', 'BIG', '1m', (SELECT max("timestamp") - interval '1 minute' FROM trading.historicaldata WHERE symbol = 'BIG')) IS NOT NULL AS older_bar;
SQL
echo "fsmml_predict latest bar of $BIG bars (5 calls after a warm one): $(grep Time "$TMP/predict.txt" | sed -n 2,6p | awk '{print $2}' | tr '\n' ' ')ms; an older bar (from the first bar): $(grep Time "$TMP/predict.txt" | tail -1 | awk '{print $2}') ms"
fi
psql -X -q -d postgres -c "DROP DATABASE $DB"
