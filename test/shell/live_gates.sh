#!/usr/bin/env bash
# live_gates.sh — what live scoring skips when nobody is there, and that it stops skipping the
# moment somebody is, seen from sessions that live on (their caches must not go stale):
#   1. the outbox trigger's WHEN (fsmml.outbox_wanted, cached per backend): with no enabled
#      endpoint a signal writes no outbox row; an endpoint created (committed) in another session
#      is seen by the long-lived session's next signal; a rolled-back one never; a disabled one
#      stops the rows;
#   2. NOTIFY fsmml_signals only when some backend ran LISTEN fsmml_signals (shared counter kept by
#      a ProcessUtility hook): a listener that starts after bars were scored without anybody
#      listening receives the next bar's notification, and so does one listening on a
#      connection that first listened elsewhere and UNLISTENed; the count (fsmml_signal_listeners)
#      drops at the commit of UNLISTEN fsmml_signals, UNLISTEN * or DISCARD ALL and at backend
#      exit, never for a rolled-back UNLISTEN;
. "$(dirname "$0")/../lib.sh"
set -u
# endpoints live in fsmml.database (the delivery worker's): the test runs there
. "$ROOT/test/bgw_lib.sh"
bgw_setup
psql -X -q -c "ALTER SYSTEM SET fsmml.allowed_urls = 'http://127.0.0.1:9/'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3

out=$("$PY" - <<'PY'
import os, select, time, psycopg2
db = os.environ["PGDATABASE"]
def conn():
    c = psycopg2.connect(dbname=db); c.autocommit = True; return c, c.cursor()
w, wc = conn()            # the long-lived writer of signals
a, ac = conn()            # the admin changing endpoints
def outbox():
    ac.execute("SELECT count(*) FROM fsmml.outbox"); return ac.fetchone()[0]
ts = [0]
def signal():
    ts[0] += 1
    wc.execute("INSERT INTO trading.agentsignals (symbol, timeframe, \"timestamp\", side, strength) "
               "VALUES ('GATE', '1m', '2024-01-01'::timestamptz + %s * interval '1 minute', 1, 0.5)", (ts[0],))
wc.execute("SET track_functions = 'pl'")
wc.execute("BEGIN"); signal()
wc.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = 'agentsignals_outbox'")
print("calls_without", wc.fetchone()[0]); wc.execute("COMMIT")
print("none", outbox())
ac.execute("BEGIN"); ac.execute("SELECT fsmml_create_endpoint('gate_rb', 'webhook', 'http://127.0.0.1:9/')"); ac.execute("ROLLBACK")
signal(); print("rolled_back", outbox())
ac.execute("BEGIN"); ac.execute("SELECT fsmml_create_endpoint('gate', 'webhook', 'http://127.0.0.1:9/')")
signal(); print("uncommitted", outbox())
ac.execute("COMMIT")
wc.execute("BEGIN"); signal()
wc.execute("SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = 'agentsignals_outbox'")
print("calls_with", wc.fetchone()[0]); wc.execute("COMMIT")
print("committed", outbox())
ac.execute("UPDATE fsmml.endpoints SET enabled = false WHERE name = 'gate'")
n = outbox(); signal(); print("disabled", outbox() - n)
PY
)
echo "$out" | sed 's/^/# /'
check "no enabled endpoint: a signal writes no outbox row" [ "$(echo "$out" | awk '$1 == "none" {print $2}')" = 0 ]
check "with no endpoint the PL/pgSQL outbox trigger is not even called, with one it is" \
    [ "$(echo "$out" | awk '$1 == "calls_without" || $1 == "calls_with" {printf "%s", $2}')" = 01 ]
check "an endpoint rolled back in another session is never seen" [ "$(echo "$out" | awk '$1 == "rolled_back" {print $2}')" = 0 ]
check "an endpoint not yet committed is not seen by the other session" [ "$(echo "$out" | awk '$1 == "uncommitted" {print $2}')" = 0 ]
check "once committed, the long-lived session's next signal is queued" [ "$(echo "$out" | awk '$1 == "committed" {print $2}')" = 1 ]
check "disabled: the long-lived session queues nothing again" [ "$(echo "$out" | awk '$1 == "disabled" {print $2}')" = 0 ]
psql -X -q -c "ALTER SYSTEM RESET fsmml.allowed_urls" -c "SELECT pg_reload_conf()" >/dev/null

# ---- 2. NOTIFY only with a listener (bars of GATE2; part 3 goes on with them)
q "SET client_min_messages = warning; SELECT fsmml_train('EnsembleWeighted', 'GATE2', '1m')" >/dev/null 2>&1 || true
"$PY" - <<'PY' >/dev/null
import os, psycopg2, math
c = psycopg2.connect(dbname=os.environ["PGDATABASE"]); c.autocommit = True; cur = c.cursor()
rows = []
p = 100.0
for i in range(400):
    q = p * (1 + 0.001 * math.sin(i * 0.7))
    rows.append(("GATE2", "1m", "2024-02-01 00:00+00", i, p, max(p, q) * 1.0005, min(p, q) * 0.9995, q, 10 + i % 7))
    p = q
for r in rows:
    cur.execute("INSERT INTO trading.historicaldata VALUES (%s, %s, %s::timestamptz + %s * interval '1 minute', %s, %s, %s, %s, %s)", r)
PY
q "SET client_min_messages = warning; SELECT fsmml_train('EnsembleWeighted', 'GATE2', '1m')" >/dev/null
q "SELECT fsmml_enable_scoring('GATE2', '1m')" >/dev/null
out=$("$PY" - <<'PY'
import os, select, psycopg2
db = os.environ["PGDATABASE"]
def conn():
    c = psycopg2.connect(dbname=db); c.autocommit = True; return c, c.cursor()
w, wc = conn()
n = [400]
def bar():
    wc.execute("INSERT INTO trading.historicaldata VALUES ('GATE2', '1m', '2024-02-01 00:00+00'::timestamptz + %s * interval '1 minute', 100, 100.1, 99.9, 100.05, 10)", (n[0],))
    n[0] += 1
def wait(c, secs=2.0):
    got = []
    if select.select([c], [], [], secs) != ([], [], []):
        c.poll(); got = [x.payload for x in c.notifies]; del c.notifies[:]
    return got
wc.execute("SELECT count(*) FROM trading.agentsignals WHERE symbol = 'GATE2'"); s0 = wc.fetchone()[0]
bar(); bar()
wc.execute("SELECT count(*) FROM trading.agentsignals WHERE symbol = 'GATE2'"); print("scored_unheard", wc.fetchone()[0] - s0)
l, lc = conn(); lc.execute("LISTEN fsmml_signals")
bar(); print("late_listener", len(wait(l)))
m, mc = conn(); mc.execute("LISTEN other_channel"); mc.execute("UNLISTEN *"); mc.execute("LISTEN fsmml_signals")
bar(); print("second_listener", len(wait(m)), len(wait(l)))
PY
)
echo "$out" | sed 's/^/# /'
check "bars scored while nobody listens still write their signals" [ "$(echo "$out" | awk '$1 == "scored_unheard" {print $2}')" = 2 ]
check "a listener that starts later gets the next bar's notification" [ "$(echo "$out" | awk '$1 == "late_listener" {print $2}')" = 1 ]
check "a second listener (after LISTEN elsewhere and UNLISTEN *) and the first both get the next one" \
    [ "$(echo "$out" | awk '$1 == "second_listener" {print $2 $3}')" = 11 ]

# ---- 2b. the listener count follows UNLISTEN, UNLISTEN *, DISCARD ALL and backend exit, at commit
# (fsmml_signal_listeners(): cluster-wide, so counted from this part's own starting figure)
out=$("$PY" - <<'PY'
import os, select, psycopg2
db = os.environ["PGDATABASE"]
def conn():
    c = psycopg2.connect(dbname=db); c.autocommit = True; return c, c.cursor()
o, oc = conn()
def n():
    oc.execute("SELECT fsmml_signal_listeners()"); return oc.fetchone()[0]
base = n()
l, lc = conn()
def d(): return n() - base
lc.execute("LISTEN fsmml_signals"); lc.execute("LISTEN fsmml_signals"); print("listen_twice", d())
lc.execute("UNLISTEN other_channel"); print("unlisten_other", d())
lc.execute("UNLISTEN fsmml_signals"); print("unlisten", d())
lc.execute("LISTEN fsmml_signals")
lc.execute("BEGIN"); lc.execute("UNLISTEN *"); print("unlisten_uncommitted", d()); lc.execute("ROLLBACK")
print("unlisten_rolled_back", d())
lc.execute("BEGIN"); lc.execute("SAVEPOINT a"); lc.execute("UNLISTEN fsmml_signals")
lc.execute("ROLLBACK TO SAVEPOINT a"); lc.execute("COMMIT"); print("unlisten_savepoint_rolled_back", d())
wc = o.cursor()
wc.execute("INSERT INTO trading.historicaldata SELECT 'GATE2', '1m', max(\"timestamp\") + interval '1 minute', 100, 100.1, 99.9, 100.05, 10 "
           "FROM trading.historicaldata WHERE symbol = 'GATE2' AND timeframe = '1m'")
got = 0
if select.select([l], [], [], 2.0) != ([], [], []):
    l.poll(); got = len(l.notifies); del l.notifies[:]
print("still_listening_gets", got)
lc.execute("BEGIN"); lc.execute("UNLISTEN *"); lc.execute("LISTEN fsmml_signals"); lc.execute("COMMIT"); print("unlisten_then_listen", d())
lc.execute("BEGIN"); lc.execute("UNLISTEN *"); lc.execute("COMMIT"); print("unlisten_all", d())
lc.execute("LISTEN fsmml_signals"); lc.execute("DISCARD ALL"); print("discard_all", d())
lc.execute("LISTEN fsmml_signals"); l.close()
import time
for _ in range(50):
    if d() == 0: break
    time.sleep(0.1)
print("backend_exit", d())
PY
)
echo "$out" | sed 's/^/# /'
lv() { echo "$out" | awk -v k="$1" '$1 == k {print $2}'; }
check "LISTEN twice counts the backend once" [ "$(lv listen_twice)" = 1 ]
check "UNLISTEN of another channel leaves it counted" [ "$(lv unlisten_other)" = 1 ]
check "UNLISTEN fsmml_signals uncounts it" [ "$(lv unlisten)" = 0 ]
check "an UNLISTEN * not yet committed still counts it" [ "$(lv unlisten_uncommitted)" = 1 ]
check "an UNLISTEN * rolled back leaves it counted" [ "$(lv unlisten_rolled_back)" = 1 ]
check "an UNLISTEN rolled back to a savepoint leaves it counted" [ "$(lv unlisten_savepoint_rolled_back)" = 1 ]
check "... and it still receives the next bar's notification" [ "$(lv still_listening_gets)" = 1 ]
check "UNLISTEN * then LISTEN in one transaction: still counted" [ "$(lv unlisten_then_listen)" = 1 ]
check "a committed UNLISTEN * uncounts it" [ "$(lv unlisten_all)" = 0 ]
check "DISCARD ALL uncounts it" [ "$(lv discard_all)" = 0 ]
check "a listening backend that exits is uncounted" [ "$(lv backend_exit)" = 0 ]
check "fsmml_signal_listeners is not PUBLIC" \
    grep -q "permission denied for function fsmml_signal_listeners" <<<"$(psql -X -At -c "CREATE ROLE gate_nobody" -c "SET ROLE gate_nobody" -c "SELECT fsmml_signal_listeners()" 2>&1; psql -X -q -c "DROP ROLE gate_nobody")"

# ---- 3. the feature state saved every fsmml.live_state_interval bars, resumed by any backend
# Three sessions take turns inserting bars (one with the interval at 1, one at 5, one at the
# default 32): every bar after another session's resumes from the saved state and steps over the
# bars stored since.  The features and signals must equal a rebuild from the first bar.
out=$("$PY" - <<'PY'
import os, psycopg2
db = os.environ["PGDATABASE"]
cs = []
for iv in (None, 1, 5):
    c = psycopg2.connect(dbname=db); c.autocommit = True; cur = c.cursor()
    if iv: cur.execute("SET fsmml.live_state_interval = %s" % iv)
    cs.append(cur)
cs[0].execute("SELECT max(timestamp) FROM trading.features WHERE symbol = 'GATE2'"); first = cs[0].fetchone()[0]
print("first", first.isoformat())
n = int(first.timestamp() // 60) - int(1706745600 // 60) + 1     # minutes after 2024-02-01
for k in range(60):
    cur = cs[(k // 3) % 3] if k < 30 else cs[0]
    o = 100 + k * 0.01; c = o + (k % 7 - 3) * 0.02
    cur.execute("INSERT INTO trading.historicaldata VALUES ('GATE2', '1m', '2024-02-01 00:00+00'::timestamptz + %s * interval '1 minute', "
                "%s, %s, %s, %s, %s)", (n, o, max(o, c) + 0.05, min(o, c) - 0.05, c, 10 + k % 5))
    n += 1
cs[0].execute("SELECT (SELECT max(timestamp) FROM trading.features WHERE symbol = 'GATE2') - last_ts FROM fsmml.feature_state WHERE symbol = 'GATE2'")
print("lag", cs[0].fetchone()[0].total_seconds() / 60)
cs[0].execute("SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = 'GATE2'"); print("errors", cs[0].fetchone()[0])
PY
)
echo "$out" | sed 's/^/# /'
first=$(echo "$out" | awk '$1 == "first" {print $2}')
lag=$(echo "$out" | awk '$1 == "lag" {print $2}')
check "30 bars by one session at the default interval leave the saved state behind (by $lag bars, < 32)" \
    awk -v l="$lag" 'BEGIN { exit !(l > 0 && l < 32) }'
check "no scoring errors while sessions took turns" [ "$(echo "$out" | awk '$1 == "errors" {print $2}')" = 0 ]
diff=$(psql -X -At -q -v ON_ERROR_STOP=1 <<SQL 2>&1 | tail -1
SET client_min_messages = warning;
CREATE TEMP TABLE lf AS SELECT * FROM trading.features WHERE symbol = 'GATE2';
CREATE TEMP TABLE ls AS SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids
    FROM trading.agentsignals WHERE symbol = 'GATE2' AND timestamp > '$first';
BEGIN;
SET LOCAL fsmml.score_on_insert = off;
DELETE FROM trading.agentsignals WHERE symbol = 'GATE2' AND timestamp > '$first';
DELETE FROM trading.features WHERE symbol = 'GATE2';
DELETE FROM fsmml.feature_state WHERE symbol = 'GATE2';
SELECT fsmml_build_features('GATE2', '1m') >= 0;
SELECT fsmml_score('GATE2', '1m', '$first'::timestamptz + interval '1 minute', 'infinity') >= 0;
SELECT (SELECT count(*) FROM ls) || ' ' ||
  (SELECT count(*) FROM ((SELECT * FROM trading.features WHERE symbol = 'GATE2' EXCEPT SELECT * FROM lf)
                         UNION ALL (SELECT * FROM lf EXCEPT SELECT * FROM trading.features WHERE symbol = 'GATE2')) d) || ' ' ||
  (SELECT count(*) FROM ((SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids
                          FROM trading.agentsignals WHERE symbol = 'GATE2' AND timestamp > '$first' EXCEPT SELECT * FROM ls)
                         UNION ALL (SELECT * FROM ls EXCEPT SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids
                          FROM trading.agentsignals WHERE symbol = 'GATE2' AND timestamp > '$first')) d);
COMMIT;
SQL
)
echo "# live signals, differing features, differing signals: $diff"
check "sessions taking turns: features and signals equal a rebuild from the first bar" [ "$diff" = "60 0 0" ]

bgw_teardown
finish
