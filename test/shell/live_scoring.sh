#!/usr/bin/env bash
# live_scoring.sh — bars inserted into trading.historicaldata are scored by the extension's
# trigger: one-at-a-time inserts give their predictions, one signal and one notification whose
# payload equals the stored row (a psycopg2 client LISTENing on a second connection); the live
# rows equal fsmml_score's over the same range (also after a late bar and a corrected bar);
# a rolled-back bar leaves nothing and notifies nobody; a corrupt champion blob never loses a
# bar (errors recorded, scoring resumes when restored); multi-row INSERT and COPY; a bulk COPY
# with fsmml.score_on_insert off scores nothing; stale champions; disabling; an ingest role;
# a new bar's plain INSERTs, and the upsert when its rows are there already.
. "$(dirname "$0")/../lib.sh"
set -u
S=BTCUSDT
CSV=$(mktemp)
trap 'rm -f "$CSV"' EXIT
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | head -7001 >"$CSV"
head -5001 "$CSV" | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
for a in DirectionXGB RegimeKMeans VolQuantile StateFSM ExecRules EnsembleWeighted; do
    p='{}'; [ $a = DirectionXGB ] && p='{"folds": 2, "rounds": 30}'
    check "$a trains a champion" [ "$(q "SELECT status FROM fsmml_train('$a', '$S', '1m', '$p')" 2>/dev/null)" = champion ]
done
check "fsmml_enable_scoring adds the series" [ "$(q "SELECT fsmml_enable_scoring('$S', '1m')")" = t ]
check "enabling twice reports it was already on" [ "$(q "SELECT fsmml_enable_scoring('$S', '1m')")" = f ]
first=$(sed -n 5002p "$CSV" | cut -d, -f3)

# One bar at a time: predictions of the five predicting champions, one signal, one notification
# equal to the row; a rolled-back bar: nothing stored, nothing notified.
"$PY" - "$CSV" <<'PYEOF'
import json, select, sys, psycopg2, datetime
rows = [l.strip().split(",") for l in open(sys.argv[1]).read().splitlines()[5001:5041]]
c = psycopg2.connect(""); c.autocommit = True; cur = c.cursor()
l = psycopg2.connect(""); l.autocommit = True; l.cursor().execute("LISTEN fsmml_signals")
def notes(wait):
    out = []
    if select.select([l], [], [], wait) != ([], [], []):
        l.poll()
    while l.notifies: out.append(l.notifies.pop(0))
    return out
bad = {"preds": 0, "signals": 0, "notes": 0, "payload": 0}
for r in rows[:30]:
    cur.execute("INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", r)
    cur.execute("SELECT count(*) FROM trading.agentpreds WHERE symbol = %s AND timeframe = %s AND timestamp = %s", r[:3])
    bad["preds"] += cur.fetchone()[0] != 5
    cur.execute("SELECT timestamp, side, strength, size, sl, tp, ensemble_version_id, agent_version_ids, "
                "coalesce((payload->>'stale')::boolean, false) FROM trading.agentsignals "
                "WHERE symbol = %s AND timeframe = %s AND timestamp = %s", r[:3])
    sig = cur.fetchall()
    bad["signals"] += len(sig) != 1
    ns = notes(5)
    bad["notes"] += len(ns) != 1
    if len(sig) == 1 and len(ns) == 1:
        p = json.loads(ns[0].payload); s = sig[0]
        ts = datetime.datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00"))
        same = (p["symbol"] == r[0] and p["timeframe"] == r[1] and ts == s[0] and p["side"] == s[1]
                and p["strength"] == s[2] and p["size"] == s[3] and p["sl"] == s[4] and p["tp"] == s[5]
                and p["ensemble_version_id"] == s[6] and p["agent_version_ids"] == s[7] and p["stale"] == s[8])
        bad["payload"] += not same
        if not same: print("# payload", p, "row", s)
for k, v in bad.items():
    print(("ok - " if v == 0 else "not ok - ") + "one-at-a-time inserts: every bar has its %s (%d of 30 wrong)" % (k, v))
# a bar inserted and rolled back
c.autocommit = False
r = rows[30]
cur.execute("INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", r)
cur.execute("SELECT count(*) FROM trading.agentsignals WHERE symbol = %s AND timeframe = %s AND timestamp = %s", r[:3])
inside = cur.fetchone()[0]
c.rollback(); c.autocommit = True
cur.execute("SELECT (SELECT count(*) FROM trading.features WHERE symbol = %s AND timeframe = %s AND timestamp = %s) + "
            "(SELECT count(*) FROM trading.agentpreds WHERE symbol = %s AND timeframe = %s AND timestamp = %s) + "
            "(SELECT count(*) FROM trading.agentsignals WHERE symbol = %s AND timeframe = %s AND timestamp = %s) + "
            "(SELECT count(*) FROM trading.state_history WHERE symbol = %s AND timeframe = %s AND timestamp = %s)", r[:3] * 4)
left = cur.fetchone()[0]
print(("ok - " if inside == 1 else "not ok - ") + "a bar's signal is visible inside its transaction")
print(("ok - " if left == 0 else "not ok - ") + "a rolled-back bar leaves no feature, prediction, signal or state (%d left)" % left)
n = notes(1)
print(("ok - " if not n else "not ok - ") + "a rolled-back bar notifies nobody (%d notifications)" % len(n))
# the same bar again, committed, and the next: scoring resumes from the right state
for r in rows[30:32]:
    cur.execute("INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", r)
print(("ok - " if len(notes(5) + notes(0.5)) == 2 else "not ok - ") + "bars after a rollback are scored and notified")
PYEOF

# fsmml_predict serves every agent's payload of the latest bar from the kernel state: the same
# payload live scoring stored for it.
latest=$(q "SELECT max(timestamp) FROM trading.historicaldata WHERE symbol = '$S'")
for a in DirectionXGB RegimeKMeans VolQuantile StateFSM ExecRules; do
    check "fsmml_predict('$a') of the latest bar equals its stored prediction" \
        [ "$(q "SELECT (fsmml_predict('$a', '$S', '1m') - '{agent_version_id,version,timestamp,horizon}'::text[]) = p.payload
                FROM trading.agentpreds p JOIN trading.agentversions v ON v.id = p.agent_version_id
                WHERE p.symbol = '$S' AND v.agent = '$a' AND p.timestamp = '$latest'")" = t ]
done
check "fsmml_predict('EnsembleWeighted') of the latest bar equals its stored signal" \
    [ "$(q "SELECT (fsmml_predict('EnsembleWeighted', '$S', '1m') - '{agent_version_id,version,timestamp}'::text[]) = payload
            FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$latest'")" = t ]

# Live equals batch: the stored rows equal what fsmml_score writes over the same range.
live_equals_batch() {   # live_equals_batch NAME
    local diff
    diff=$(psql -X -At -q -v ON_ERROR_STOP=1 <<SQL 2>&1 | grep signals, | tail -1
SET client_min_messages = warning;
CREATE TEMP TABLE lp AS SELECT agent_version_id, timestamp, horizon, payload FROM trading.agentpreds WHERE symbol = '$S' AND timestamp >= '$first';
CREATE TEMP TABLE ls AS SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids FROM trading.agentsignals WHERE symbol = '$S' AND timestamp >= '$first';
CREATE TEMP TABLE lh AS SELECT timestamp, state, confidence, effort, result, compression, slope, speed, feat_score, agent_version_id FROM trading.state_history WHERE symbol = '$S' AND timestamp >= '$first';
CREATE TEMP TABLE lt AS SELECT timestamp, from_state, to_state, confidence, reason, agent_version_id FROM trading.transitions WHERE symbol = '$S' AND timestamp >= '$first';
CREATE TEMP TABLE lf AS SELECT * FROM trading.features WHERE symbol = '$S';
BEGIN;
SET LOCAL fsmml.score_on_insert = off;
DELETE FROM trading.agentpreds WHERE symbol = '$S' AND timestamp >= '$first';
DELETE FROM trading.agentsignals WHERE symbol = '$S' AND timestamp >= '$first';
DELETE FROM trading.state_history WHERE symbol = '$S' AND timestamp >= '$first';
DELETE FROM trading.transitions WHERE symbol = '$S' AND timestamp >= '$first';
SELECT fsmml_build_features('$S', '1m', '-infinity') >= 0;
SELECT fsmml_score('$S', '1m', '$first', 'infinity') > 0;
SELECT (SELECT count(*) FROM ls) || ' signals, ' ||
  (SELECT count(*) FROM ((SELECT agent_version_id, timestamp, horizon, payload FROM trading.agentpreds WHERE symbol = '$S' AND timestamp >= '$first' EXCEPT SELECT * FROM lp)
                         UNION ALL (SELECT * FROM lp EXCEPT SELECT agent_version_id, timestamp, horizon, payload FROM trading.agentpreds WHERE symbol = '$S' AND timestamp >= '$first')) d) || ' ' ||
  (SELECT count(*) FROM ((SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids FROM trading.agentsignals WHERE symbol = '$S' AND timestamp >= '$first' EXCEPT SELECT * FROM ls)
                         UNION ALL (SELECT * FROM ls EXCEPT SELECT timestamp, side, strength, size, sl, tp, payload, ensemble_version_id, agent_version_ids FROM trading.agentsignals WHERE symbol = '$S' AND timestamp >= '$first')) d) || ' ' ||
  (SELECT count(*) FROM ((SELECT timestamp, state, confidence, effort, result, compression, slope, speed, feat_score, agent_version_id FROM trading.state_history WHERE symbol = '$S' AND timestamp >= '$first' EXCEPT SELECT * FROM lh)
                         UNION ALL (SELECT * FROM lh EXCEPT SELECT timestamp, state, confidence, effort, result, compression, slope, speed, feat_score, agent_version_id FROM trading.state_history WHERE symbol = '$S' AND timestamp >= '$first')) d) || ' ' ||
  (SELECT count(*) FROM ((SELECT timestamp, from_state, to_state, confidence, reason, agent_version_id FROM trading.transitions WHERE symbol = '$S' AND timestamp >= '$first' EXCEPT SELECT * FROM lt)
                         UNION ALL (SELECT * FROM lt EXCEPT SELECT timestamp, from_state, to_state, confidence, reason, agent_version_id FROM trading.transitions WHERE symbol = '$S' AND timestamp >= '$first')) d) || ' ' ||
  (SELECT count(*) FROM ((SELECT * FROM trading.features WHERE symbol = '$S' EXCEPT SELECT * FROM lf)
                         UNION ALL (SELECT * FROM lf EXCEPT SELECT * FROM trading.features WHERE symbol = '$S')) d);
COMMIT;
SQL
)
    echo "# $1: $diff (signals; differing predictions, signals, states, transitions, features)"
    check "$1: live rows equal fsmml_score's" [ "${diff#* signals, }" = "0 0 0 0 0" ]
    check "$1: signals were compared" [ "${diff%% signals*}" -gt 30 ]
}
live_equals_batch "one-at-a-time"

ins() {   # ins LINE_NO: the CSV line as one INSERT
    sed -n "$1p" "$CSV" | awk -F, '{printf "INSERT INTO trading.historicaldata VALUES (\x27%s\x27,\x27%s\x27,\x27%s\x27,%s,%s,%s,%s,%s);\n", $1,$2,$3,$4,$5,$6,$7,$8}'
}
ts_of() { sed -n "$1p" "$CSV" | cut -d, -f3; }
nsig() { q "SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$1'"; }

# Multi-row INSERT and COPY (with scoring on) score every bar of the statement.
psql -X -q -v ON_ERROR_STOP=1 -c "$(for i in 5034 5035 5036; do ins $i; done | sed 's/;$//' | paste -sd'|' | sed 's/|INSERT INTO trading.historicaldata VALUES /, /g');"
check "a three-row INSERT gives three signals" [ "$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S' AND timestamp BETWEEN '$(ts_of 5034)' AND '$(ts_of 5036)'")" = 3 ]
sed -n 5037,5046p "$CSV" | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv)"
check "a COPY of ten bars gives ten signals" [ "$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S' AND timestamp BETWEEN '$(ts_of 5037)' AND '$(ts_of 5046)'")" = 10 ]

# Late bar: 5048 before 5047, then 5047.
psql -X -q -v ON_ERROR_STOP=1 -c "$(ins 5048)"
psql -X -q -v ON_ERROR_STOP=1 -c "$(ins 5047)" 2>/dev/null
check "a late bar is scored" [ "$(nsig "$(ts_of 5047)")" = 1 ]
live_equals_batch "after a late bar"

# Corrected bar: ON CONFLICT DO UPDATE of an earlier bar re-scores from it.
psql -X -q -v ON_ERROR_STOP=1 -c "$(ins 5049)" -c "$(ins 5050)"
before=$(q "SELECT payload FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$(ts_of 5049)'")
q "INSERT INTO trading.historicaldata SELECT symbol, timeframe, timestamp, open, high * 1.01, low, high * 1.009, volume * 5
   FROM trading.historicaldata WHERE symbol = '$S' AND timestamp = '$(ts_of 5049)'
   ON CONFLICT (symbol, timeframe, timestamp) DO UPDATE SET high = EXCLUDED.high, close = EXCLUDED.close, volume = EXCLUDED.volume" >/dev/null 2>&1
check "a corrected bar changes its features" \
    [ "$(q "SELECT f.ret_1 = h.close / p.close - 1 FROM trading.features f JOIN trading.historicaldata h USING (symbol, timeframe, timestamp)
            JOIN trading.historicaldata p ON p.symbol = h.symbol AND p.timeframe = h.timeframe AND p.timestamp = h.timestamp - interval '1 minute'
            WHERE f.symbol = '$S' AND f.timestamp = '$(ts_of 5049)'")" = t ]
check "a corrected bar's signal is rewritten" \
    [ "$(q "SELECT payload FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$(ts_of 5049)'")" != "$before" ]
live_equals_batch "after a corrected bar"
check "no scoring errors so far" [ "$(q "SELECT count(*) FROM fsmml.scoring_errors")" = 0 ]

# A corrupt champion blob: the bar is kept, the error recorded; restored, scoring resumes.
dir=$(q "SELECT id FROM trading.agentversions WHERE symbol = '$S' AND agent = 'DirectionXGB' AND status = 'champion'")
q "CREATE TABLE blob_backup AS SELECT id, model FROM trading.agentversions WHERE id = $dir" >/dev/null
q "UPDATE trading.agentversions SET model = '\\xdeadbeef' WHERE id = $dir" >/dev/null
out=$(psql -X -v ON_ERROR_STOP=1 -c "$(ins 5051)" 2>&1)
check "an insert with a corrupt champion succeeds" [ "$(q "SELECT count(*) FROM trading.historicaldata WHERE symbol = '$S' AND timestamp = '$(ts_of 5051)'")" = 1 ]
check "... with a WARNING" grep -q "WARNING:  fsmml: scoring $S 1m failed" <<<"$out"
check "... recorded in fsmml.scoring_errors (data_corrupted)" \
    [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = '$S' AND sqlstate = 'XX001' AND \"timestamp\" = '$(ts_of 5051)'")" = 1 ]
check "... and nothing of it scored" [ "$(nsig "$(ts_of 5051)")" = 0 ]
psql -X -q -c "$(ins 5052)" 2>/dev/null
check "the next bar is recorded too" [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = '$S'")" = 2 ]
q "UPDATE trading.agentversions v SET model = b.model FROM blob_backup b WHERE v.id = b.id" >/dev/null
psql -X -q -c "$(ins 5053)" 2>/dev/null
check "restoring the blob restores scoring" [ "$(nsig "$(ts_of 5053)")" = 1 ]
check "... no new error" [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = '$S'")" = 2 ]
check "... and the bars missed meanwhile are scored with it" [ "$(nsig "$(ts_of 5052)")" = 1 ]

# Stale champions: older than fsmml.model_max_age gives side 0 and "stale": true.
sleep 1.1
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SET fsmml.model_max_age = '1s'" -c "$(ins 5054)" \
      -c "SELECT side, strength, payload->>'stale' FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$(ts_of 5054)'")
check "a stale champion gives a flat signal marked stale" [ "$(tail -1 <<<"$out")" = "0|0|true" ]
q "SELECT fsmml_score('$S', '1m', '$(ts_of 5054)', '$(ts_of 5054)')" >/dev/null   # re-scored without expiry

# Disabled series and fsmml.score_on_insert = off score nothing; the next live bar picks up the
# bars stored unscored since the series' last featured bar.
check "fsmml_disable_scoring" [ "$(q "SELECT fsmml_disable_scoring('$S', '1m')")" = t ]
psql -X -q -c "$(ins 5055)"
check "a disabled series is not scored" [ "$(nsig "$(ts_of 5055)")" = 0 ]
q "SELECT fsmml_enable_scoring('$S', '1m')" >/dev/null
check "enabling builds the features of bars inserted meanwhile" \
    [ "$(q "SELECT count(*) FROM trading.features WHERE symbol = '$S' AND timestamp = '$(ts_of 5055)'")" = 1 ]
check "... but scores nothing" [ "$(nsig "$(ts_of 5055)")" = 0 ]
q "SELECT fsmml_score('$S', '1m', '$(ts_of 5055)', '$(ts_of 5055)')" >/dev/null
psql -X -q -c "SET fsmml.score_on_insert = off" -c "$(ins 5056)"
check "score_on_insert = off scores nothing" [ "$(nsig "$(ts_of 5056)")" = 0 ]
psql -X -q -c "$(ins 5057)"
check "the next live bar scores the skipped one too" [ "$(q "SELECT count(*) FROM trading.agentsignals WHERE symbol = '$S' AND timestamp BETWEEN '$(ts_of 5056)' AND '$(ts_of 5057)'")" = 2 ]
live_equals_batch "after skipped bars"

# A bulk back-fill with scoring off: 100,000 bars of another (enabled) series, nothing scored.
q "SELECT fsmml_enable_scoring('BULK', '1m')" >/dev/null 2>&1
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | sed 1d | sed 's/^BTCUSDT,/BULK,/' |
    psql -X -q -v ON_ERROR_STOP=1 -c "SET fsmml.score_on_insert = off" -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv)"
check "COPY of 100,000 bars with score_on_insert off stores them" [ "$(q "SELECT count(*) FROM trading.historicaldata WHERE symbol = 'BULK'")" = 100000 ]
check "... and scores none" [ "$(q "SELECT (SELECT count(*) FROM trading.features WHERE symbol = 'BULK') + (SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = 'BULK')")" = 0 ]

# An ingest role with INSERT on the bars only: its bars are scored, fsmml's tables stay closed to it.
q "CREATE ROLE live_ingest LOGIN; GRANT USAGE ON SCHEMA trading TO live_ingest; GRANT SELECT, INSERT ON trading.historicaldata TO live_ingest" >/dev/null
PGUSER=live_ingest psql -X -q -v ON_ERROR_STOP=1 -c "$(ins 5058)"
check "an ingest role's bar is scored" [ "$(nsig "$(ts_of 5058)")" = 1 ]
ingest_writes() { PGUSER=live_ingest psql -X -q -c "DELETE FROM trading.agentsignals" 2>/dev/null; }
check "... and it cannot write signals itself" [ "$(ingest_writes && echo wrote)" = "" ]

# A new bar goes in with plain INSERTs (no ON CONFLICT: the AFTER UPDATE statement triggers an
# upsert fires stay silent); one whose signal row is already there (left by a deleted bar, or
# written by hand) meets it, and is scored again with upserts: no error, the row rewritten.
q "CREATE TABLE sig_log (op text); GRANT INSERT ON sig_log TO PUBLIC; CREATE FUNCTION log_sig() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN INSERT INTO public.sig_log VALUES (TG_OP); RETURN NULL; END\$\$;
   CREATE TRIGGER log_ins AFTER INSERT ON trading.agentsignals FOR EACH STATEMENT EXECUTE FUNCTION log_sig();
   CREATE TRIGGER log_upd AFTER UPDATE ON trading.agentsignals FOR EACH STATEMENT EXECUTE FUNCTION log_sig()" >/dev/null
out=$(psql -X -v ON_ERROR_STOP=1 -c "$(ins 5059)" 2>&1)
check "a new bar's signal is written by a plain INSERT" [ "$(q "SELECT string_agg(op, ',' ORDER BY op) FROM sig_log")" = INSERT ]
q "TRUNCATE sig_log; INSERT INTO trading.agentsignals (symbol, timeframe, timestamp, side, strength, payload)
   VALUES ('$S', '1m', '$(ts_of 5060)', -1, 1, '{\"left\": \"behind\"}')" >/dev/null
q "TRUNCATE sig_log" >/dev/null
out=$(psql -X -v ON_ERROR_STOP=1 -c "$(ins 5060)" 2>&1)
check "a new bar whose signal row is there: no warning" [ -z "$(grep WARNING <<<"$out")" ]
check "... no scoring error" [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE \"timestamp\" = '$(ts_of 5060)'")" = 0 ]
check "... scored again with an upsert (INSERT and UPDATE statement triggers, once each)" \
    [ "$(q "SELECT string_agg(op, ',' ORDER BY op) FROM sig_log")" = INSERT,UPDATE ]
check "... the row left there is rewritten" \
    [ "$(q "SELECT payload ? 'left' FROM trading.agentsignals WHERE symbol = '$S' AND timestamp = '$(ts_of 5060)'")" = f ]
check "... and its predictions written" \
    [ "$(q "SELECT count(*) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp = '$(ts_of 5060)'")" = 5 ]
q "DROP TRIGGER log_ins ON trading.agentsignals; DROP TRIGGER log_upd ON trading.agentsignals" >/dev/null
live_equals_batch "after a bar whose signal row was there"

# CHECK constraints of the tables live scoring writes are parsed and planned once per backend
# (src/serve/live_checks.c): a long-lived session must see a constraint added, dropped, or a SQL
# function inside one redefined by another session at its next bar.
q "CREATE FUNCTION public.side_ok(s smallint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT s > -5'" >/dev/null
out=$("$PY" - "$CSV" <<'PYEOF'
import sys, psycopg2
rows = [l.strip().split(",") for l in open(sys.argv[1]).read().splitlines()[5060:5066]]
w = psycopg2.connect(""); w.autocommit = True; wc = w.cursor()       # the long-lived writer
a = psycopg2.connect(""); a.autocommit = True; ac = a.cursor()       # the DBA
def bar(i):
    wc.execute("INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", rows[i])
    ac.execute("SELECT (SELECT count(*) FROM trading.agentsignals WHERE symbol = %s AND timestamp = %s), "
               "(SELECT string_agg(sqlstate, ',') FROM fsmml.scoring_errors WHERE symbol = %s AND timestamp = %s)",
               (rows[i][0], rows[i][2], rows[i][0], rows[i][2]))
    return "%d/%s" % ac.fetchone()
print("plain", bar(0))
ac.execute("ALTER TABLE trading.agentsignals ADD CONSTRAINT live_no_signal CHECK (strength < 0) NOT VALID")
print("added", bar(1))
ac.execute("ALTER TABLE trading.agentsignals DROP CONSTRAINT live_no_signal")
ac.execute("ALTER TABLE trading.agentsignals ADD CONSTRAINT live_side_ok CHECK (public.side_ok(side)) NOT VALID")
print("function", bar(2))      # re-scored from the rejected bar on (batch path)
print("function_live", bar(3)) # a new bar after a scored one: the live write statement
ac.execute("CREATE OR REPLACE FUNCTION public.side_ok(s smallint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT s > 5'")
print("redefined", bar(4))
ac.execute("ALTER TABLE trading.agentsignals DROP CONSTRAINT live_side_ok")
print("dropped", bar(5))
PYEOF
)
echo "$out" | sed 's/^/# /'
check "a long-lived session scores a bar" grep -qx "plain 1/None" <<<"$out"
check "... a CHECK added by another session rejects its next bar's signal (23514 recorded, bar kept)" grep -qx "added 0/23514" <<<"$out"
check "... a CHECK calling a SQL function passes while the function (inlined by the planner) says true" \
    grep -qx "function_live 1/None" <<<"$out"
check "... and rejects once another session redefines the function" grep -qx "redefined 0/23514" <<<"$out"
check "... dropped: the next bar scores again" grep -qx "dropped 1/None" <<<"$out"
check "no backend crashed" [ "$(q "SELECT 1")" = 1 ]
# A backend predicting single rows again and again compiles its gbtree champions into forests
# (src/xgb/xgb_forest.c), trusted only when they matched XGBoost on probe rows: the second call
# compiles (the cached booster then keeps only its forest), and the answers stay what XGBoost
# gave on the first.
out=$(psql -X -At -q -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT fsmml_predict('DirectionXGB', '$S', '1m')->>'prob_up';
SET client_min_messages = debug1;
SELECT fsmml_predict('DirectionXGB', '$S', '1m')->>'prob_up';
SELECT fsmml_predict('DirectionXGB', '$S', '1m')->>'prob_up';
SQL
)
check "the second single-row prediction compiles the champion into a forest" \
    grep -q "booster compiled into a forest" <<<"$out"
check "... and, matching XGBoost, frees its XGBoost handle" grep -q "released its XGBoost handle" <<<"$out"
check "first (XGBoost), second and third (forest) predictions are equal" \
    [ "$(grep -vE '^(DEBUG|LOG|NOTICE)' <<<"$out" | grep -E '^[0-9.e-]+$' | sort -u | wc -l)" = 1 ]
finish
