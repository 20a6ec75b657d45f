#!/usr/bin/env bash
# live_model_load.sh — how a backend loads its champions on its first live bar (model_cache.c,
# agent_train.c, live_score.c): the quad-at-a-time base64 decoder against Python's base64; a new
# backend's first bar scores every champion from its blob without calling
# fsmml_create_pred_partitions for a month whose partition exists (and calls it for a new month);
# a corrupt blob is caught whether the backend holds the model (re-checked after the
# invalidation) or loads it (checked from the one copy it reads), and restoring it restores
# scoring; what a backend keeps of a loaded champion (no model document; no XGBoost handle once
# its forest matches) and the warning when a session's series do not fit the cache.
. "$(dirname "$0")/../lib.sh"
set -u
cd "$ROOT"

# The decoder, compiled as strict C99 without PostgreSQL, against Python's base64.
bin=$FSMML_TEST_DIR/base64_test
cc -std=c99 -O2 -Wall -Wextra -Werror -I src/kernel src/kernel/base64.c test/unit/base64_test.c \
    -o "$bin" 2>"$bin.log"
check "base64.c compiles as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$bin.log"
"$PY" test/unit/base64_cases.py | "$bin"

S=BTCUSDT
CSV=$(mktemp)
trap 'rm -f "$CSV"' EXIT
gzip -dc "$ROOT/data/btcusdt_1m_sample.csv.gz" | head -5101 >"$CSV"
head -5001 "$CSV" | psql -X -q -v ON_ERROR_STOP=1 -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv, HEADER)"
for a in DirectionXGB VolQuantile StateFSM; do
    p='{}'; [ $a = DirectionXGB ] && p='{"folds": 2, "rounds": 30}'
    check "$a trains a champion" [ "$(q "SELECT status FROM fsmml_train('$a', '$S', '1m', '$p')" 2>/dev/null)" = champion ]
done
q "SELECT fsmml_enable_scoring('$S', '1m')" >/dev/null
ins() {   # ins LINE_NO [TIMESTAMP]: the CSV line as one INSERT
    sed -n "$1p" "$CSV" | awk -F, -v ts="${2:-}" '{if (ts != "") $3 = ts; printf "INSERT INTO trading.historicaldata VALUES (\x27%s\x27,\x27%s\x27,\x27%s\x27,%s,%s,%s,%s,%s);\n", $1,$2,$3,$4,$5,$6,$7,$8}'
}
ts_of() { sed -n "$1p" "$CSV" | cut -d, -f3; }
npred() { q "SELECT count(*) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp = '$1'"; }
nerr() { q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = '$S'"; }
# the bar, then the calls of fsmml_create_pred_partitions the transaction made
ins_counting() {
    psql -X -At -q -v ON_ERROR_STOP=1 <<SQL
BEGIN;
SET LOCAL track_functions = 'pl';
$1
SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = 'fsmml_create_pred_partitions';
COMMIT;
SQL
}

check "the blobs carry canonical base64 (the quad decoder's case)" \
    [ "$(q "SELECT bool_and(b ~ '^[A-Za-z0-9+/]*={0,2}$' AND length(b) % 4 = 0) FROM (
              SELECT j->'boosters'->0->>'trees' b FROM (SELECT convert_from(model, 'UTF8')::jsonb j FROM trading.agentversions WHERE agent = 'VolQuantile') v
              UNION ALL SELECT convert_from(model, 'UTF8')::jsonb->>'classifier' FROM trading.agentversions WHERE agent = 'StateFSM') s")" = t ]
calls=$(ins_counting "$(ins 5002)")
check "a new backend's first bar scores its three champions from their blobs" [ "$(npred "$(ts_of 5002)")" = 3 ]
calls=$(ins_counting "$(ins 5003)")
check "... the next backend's first bar too" [ "$(npred "$(ts_of 5003)")" = 3 ]
check "... without calling fsmml_create_pred_partitions: its month's partition exists" [ "$calls" = 0 ]
check "no scoring errors" [ "$(nerr)" = 0 ]
# the live bars equal fsmml_score's, which loads the models through its own path
before=$(q "SELECT string_agg(agent_version_id || ':' || payload::text, ',' ORDER BY agent_version_id) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp = '$(ts_of 5003)'")
q "SELECT fsmml_score('$S', '1m', '$(ts_of 5002)', '$(ts_of 5003)')" >/dev/null
check "... and predict what fsmml_score predicts" \
    [ "$(q "SELECT string_agg(agent_version_id || ':' || payload::text, ',' ORDER BY agent_version_id) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp = '$(ts_of 5003)'")" = "$before" ]

# A blob rewritten in place (its model_sha256 unchanged): a backend holding the model catches it
# after the invalidation; a new backend catches it as it loads the blob.
fsm=$(q "SELECT id FROM trading.agentversions WHERE symbol = '$S' AND agent = 'StateFSM' AND status = 'champion'")
out=$("$PY" - "$CSV" "$fsm" <<'PYEOF'
import sys, psycopg2
rows = [l.strip().split(",") for l in open(sys.argv[1]).read().splitlines()]
fsm = int(sys.argv[2])
a = psycopg2.connect(""); a.autocommit = True; ca = a.cursor()
b = psycopg2.connect(""); b.autocommit = True; cb = b.cursor()
ins = "INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
def errors():
    ca.execute("SELECT count(*) FROM fsmml.scoring_errors WHERE sqlstate = 'XX001'"); return ca.fetchone()[0]
def preds(r):
    ca.execute("SELECT count(*) FROM trading.agentpreds WHERE symbol = %s AND timestamp = %s", (r[0], r[2])); return ca.fetchone()[0]
ca.execute(ins, rows[5003])                       # line 5004: models now held by backend a
print("held_scored", preds(rows[5003]))
cb.execute("UPDATE trading.agentversions SET model = model || '\\x20'::bytea WHERE id = %s", (fsm,))
e0 = errors()
ca.execute(ins, rows[5004])                       # line 5005: after the invalidation
print("held_caught", errors() - e0, preds(rows[5004]))
cb.execute("UPDATE trading.agentversions SET model = substring(model FROM 1 FOR length(model) - 1) WHERE id = %s", (fsm,))
ca.execute(ins, rows[5005])                       # line 5006: restored
print("held_restored", errors() - e0, preds(rows[5005]))
PYEOF
)
echo "$out" | sed 's/^/# /'
check "a backend holding the models scores with them" grep -qx "held_scored 3" <<<"$out"
check "... and catches its StateFSM blob rewritten in place (data_corrupted), scoring nothing" grep -qx "held_caught 1 0" <<<"$out"
check "... restored, it scores again (the bar missed meanwhile too)" \
    [ "$(grep held_restored <<<"$out")" = "held_restored 1 3" ] && [ "$(npred "$(ts_of 5005)")" = 3 ]
q "UPDATE trading.agentversions SET model = model || '\\x20'::bytea WHERE id = $fsm" >/dev/null
psql -X -q -c "$(ins 5007)" 2>/dev/null
check "a new backend catches the rewritten blob as it loads it" \
    [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = '$S' AND sqlstate = 'XX001' AND \"timestamp\" = '$(ts_of 5007)'
             AND message ~ '^model of champion v[0-9.]+ of StateFSM@$S-1m does not match its sha256$'")" = 1 ]
q "UPDATE trading.agentversions SET model = substring(model FROM 1 FOR length(model) - 1) WHERE id = $fsm" >/dev/null
psql -X -q -c "$(ins 5008)" 2>/dev/null
check "... and scores again once it is restored" [ "$(npred "$(ts_of 5008)")" = 3 ]

# What a backend keeps of its champions: the parsed model documents go once the boosters are
# loaded; on the series' second bar each gbtree booster compiles into a forest and, matching
# XGBoost on the probe rows, gives up its XGBoost handle (DirectionXGB's, VolQuantile's two,
# StateFSM's classifier); a 20-row INSERT afterwards (more rows than a forest otherwise takes)
# is scored by the forests alone and equals fsmml_score. BTC2 (BTCUSDT's bars and champions
# copied) shows a session alternating between series that do not fit fsmml.model_cache_size.
sed -n 2,5001p "$CSV" | sed 's/^BTCUSDT,/BTC2,/' | psql -X -q -v ON_ERROR_STOP=1 -c "SET fsmml.score_on_insert = off" \
    -c "\copy trading.historicaldata FROM STDIN WITH (FORMAT csv)"
q "INSERT INTO trading.agentversions (symbol, timeframe, agent, version, status, model, model_format, model_sha256,
       params, metrics, feature_names, ext_version)
   SELECT 'BTC2', timeframe, agent, version, status, model, model_format, model_sha256, params, metrics, feature_names,
          ext_version FROM trading.agentversions WHERE symbol = '$S' AND status = 'champion'" >/dev/null
q "SELECT fsmml_enable_scoring('BTC2', '1m')" >/dev/null
out=$("$PY" - "$CSV" <<'PYEOF'
import sys, psycopg2
rows = [l.strip().split(",") for l in open(sys.argv[1]).read().splitlines()]
c = psycopg2.connect(""); c.autocommit = True; cur = c.cursor()
ins = "INSERT INTO trading.historicaldata VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
def mem():
    cur.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name = 'fsmml live model'")
    return int(cur.fetchone()[0])
cur.execute(ins, rows[5009])                      # CSV line 5010: loads the three champions
print("first_bar_kb", mem() // 1024)
cur.execute("SET client_min_messages = debug1")
del c.notices[:]
cur.execute(ins, rows[5010])                      # line 5011: compiles the forests
print("compiled", sum("compiled into a forest" in n for n in c.notices))
print("released", sum("released its XGBoost handle" in n for n in c.notices))
cur.execute("SET client_min_messages = notice")
cur.execute("INSERT INTO trading.historicaldata VALUES " + ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s)"] * 20),
            [v for r in rows[5011:5031] for v in r])   # lines 5012-5031 in one statement
cur.execute("SELECT count(*) FROM trading.agentpreds WHERE symbol = 'BTCUSDT' AND timestamp BETWEEN %s AND %s",
            (rows[5011][2], rows[5030][2]))
print("batch_preds", cur.fetchone()[0])
# another session alternates between BTCUSDT and BTC2 with room for one series' models
w = psycopg2.connect(""); w.autocommit = True; wc = w.cursor()
wc.execute("SET fsmml.model_cache_size = 3")
for r in rows[5031:5035]:                         # lines 5032-5035, each to both series
    wc.execute(ins, r)
    wc.execute(ins, ["BTC2"] + r[1:])
warned = [n for n in w.notices if "fsmml.model_cache_size (3) is too small" in n]
print("warnings", len(warned))
wc.execute("SELECT count(*) FROM trading.agentpreds WHERE symbol IN ('BTCUSDT', 'BTC2') AND timestamp BETWEEN %s AND %s",
           (rows[5031][2], rows[5034][2]))
print("thrash_preds", wc.fetchone()[0])
PYEOF
)
echo "$out" | sed 's/^/# /'
check "a backend holding three champions keeps under 128 kB of them in palloc'd memory (the documents: over 500 kB)" \
    [ "$(sed -n 's/^first_bar_kb //p' <<<"$out")" -lt 128 ]
check "the second bar compiles the four gbtree boosters into forests" grep -qx "compiled 4" <<<"$out"
check "... and each gives up its XGBoost handle" grep -qx "released 4" <<<"$out"
check "a 20-row INSERT afterwards is scored by the forests alone" grep -qx "batch_preds 60" <<<"$out"
before=$(q "SELECT string_agg(agent_version_id || ':' || timestamp || ':' || payload::text, ',' ORDER BY agent_version_id, timestamp) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp BETWEEN '$(ts_of 5011)' AND '$(ts_of 5031)'")
q "SELECT fsmml_score('$S', '1m', '$(ts_of 5011)', '$(ts_of 5031)')" >/dev/null
check "... equal to fsmml_score's predictions (XGBoost's own) for those bars" \
    [ "$(q "SELECT string_agg(agent_version_id || ':' || timestamp || ':' || payload::text, ',' ORDER BY agent_version_id, timestamp) FROM trading.agentpreds WHERE symbol = '$S' AND timestamp BETWEEN '$(ts_of 5011)' AND '$(ts_of 5031)'")" = "$before" ]
check "a session cycling through more series than fsmml.model_cache_size holds is warned once" \
    grep -qx "warnings 1" <<<"$out"
check "... and its bars are all scored" grep -qx "thrash_preds 24" <<<"$out"
check "no scoring errors since" \
    [ "$(q "SELECT count(*) FROM fsmml.scoring_errors WHERE symbol = 'BTC2' OR \"timestamp\" >= '$(ts_of 5010)'")" = 0 ]

# A bar of a month without a partition: fsmml_create_pred_partitions makes it.
next=$(q "SELECT to_char(date_trunc('month', '$(ts_of 5008)'::timestamptz AT TIME ZONE 'UTC') + interval '1 month' + interval '1 day', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
part=$(q "SELECT to_char('$next'::timestamptz AT TIME ZONE 'UTC', '\"agentpreds_y\"YYYY\"m\"MM')")
check "(no partition for $next yet)" [ "$(q "SELECT to_regclass('trading.$part') IS NULL")" = t ]
calls=$(ins_counting "$(ins 5009 "$next")")
check "a bar of a new month calls fsmml_create_pred_partitions once" [ "$calls" = 1 ]
check "... which makes the month's partition, holding its predictions" \
    [ "$(q "SELECT count(*) FROM trading.$part WHERE symbol = '$S'")" = 3 ]
finish
