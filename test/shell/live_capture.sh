#!/usr/bin/env bash
# live_capture.sh — live scoring's front door (src/serve/live_capture.c): the row triggers' WHEN
# clause lets through only rows that will be scored, and the statement trigger scores exactly the
# rows of its own statement.  Counted with track_functions = all (pg_stat_xact_user_functions):
# COPY and INSERT with fsmml.score_on_insert off, of a series that is not live, or older than
# fsmml.live_window capture nothing; multi-row INSERT and COPY of a live series capture and score
# every bar; a statement that fails leaves no captured row behind for the next one (savepoint,
# PL/pgSQL exception block, top-level error); a statement nested in another's row trigger scores
# only its own bars; UPDATE that changes nothing scores nothing, a correcting one re-scores.  The
# series here have no champion, so what live scoring writes is their trading.features rows, and
# its DEBUG1 line "fsmml live SYMBOL TF: N bars" says which batch a statement trigger took.
. "$(dirname "$0")/../lib.sh"
set -u

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
-- n valid 1m bars of a series from minute a to minute b (after 2024-03-01)
CREATE FUNCTION public.bars(s text, a int, b int)
RETURNS TABLE (symbol text, timeframe text, ts timestamptz, o float8, h float8, l float8, c float8, v float8)
LANGUAGE sql AS $$
    SELECT s, '1m', '2024-03-01'::timestamptz + i * interval '1 minute',
           100 + sin(i / 9.0), 101.5 + sin(i / 9.0), 98.5 + sin(i / 9.0), 100 + sin((i + 1) / 9.0), 10 + i % 7
    FROM generate_series(a, b) i $$;
INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEA', 0, 399);
INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEB', 0, 399);
INSERT INTO trading.historicaldata SELECT * FROM public.bars('COLD', 0, 399);
SQL
check "two series enabled" [ "$(q "SELECT fsmml_enable_scoring('LIVEA', '1m') AND fsmml_enable_scoring('LIVEB', '1m')" 2>/dev/null)" = t ]
feats() { q "SELECT count(*) FROM trading.features WHERE symbol = '$1' AND timestamp >= '2024-03-01'::timestamptz + $2 * interval '1 minute'"; }

# calls of the WHEN function and of the capture trigger in one transaction running $1
calls() {
    psql -X -At -q -v ON_ERROR_STOP=1 <<SQL | tail -1
BEGIN;
SET LOCAL track_functions = 'all';
SET LOCAL client_min_messages = warning;
$1
SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'fsmml_live_wanted'), 0) || ' ' ||
       coalesce(sum(calls) FILTER (WHERE funcname = 'fsmml_live_capture'), 0)
FROM pg_stat_xact_user_functions;
COMMIT;
SQL
}

# ---- rows nobody scores are not captured
csv=$(mktemp); trap 'rm -f "$csv"' EXIT
q "COPY (SELECT * FROM public.bars('COLD', 400, 1399)) TO STDOUT WITH (FORMAT csv)" >"$csv"
out=$(calls "\\copy trading.historicaldata FROM '$csv' WITH (FORMAT csv)")
check "COPY of 1,000 bars of a series not live: WHEN evaluated per row, nothing captured ($out)" [ "$out" = "1000 0" ]
sed 's/^COLD,/LIVEA,/' "$csv" >"$csv.a"
out=$(calls "SET LOCAL fsmml.score_on_insert = off; \\copy trading.historicaldata FROM '$csv.a' WITH (FORMAT csv)")
rm -f "$csv.a"
check "COPY of 1,000 bars of a live series with score_on_insert off: nothing captured ($out)" [ "$out" = "1000 0" ]
check "... and nothing scored" [ "$(feats LIVEA 400)" = 0 ]
out=$(calls "SET LOCAL fsmml.live_window = '1h'; INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEB', 400, 409);")
check "bars older than fsmml.live_window: nothing captured ($out)" [ "$out" = "10 0" ]
check "... and nothing scored" [ "$(feats LIVEB 400)" = 0 ]

# ---- live bars: every one captured and scored (the next bar brings the unscored ones with it)
out=$(calls "INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEA', 1400, 1402);")
check "a three-row INSERT of a live series captures three rows ($out)" [ "$out" = "3 3" ]
check "... and scores the bars stored unscored before them too" [ "$(feats LIVEA 400)" = 1003 ]
q "COPY (SELECT * FROM public.bars('LIVEA', 1403, 1452)) TO STDOUT WITH (FORMAT csv)" >"$csv"
out=$(calls "\\copy trading.historicaldata FROM '$csv' WITH (FORMAT csv)")
check "a COPY of 50 bars of a live series captures 50 rows ($out)" [ "$out" = "50 50" ]
check "... and scores all 50" [ "$(feats LIVEA 1403)" = 50 ]
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = debug1" \
      -c "INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEA', 1453, 1455) UNION ALL SELECT * FROM public.bars('COLD', 1453, 1455)" 2>&1)
check "a statement mixing a live and a cold series scores the live bars in one batch" grep -q "fsmml live LIVEA 1m: 3 bars" <<<"$out"
check "... and only those" [ "$(grep -c "fsmml live" <<<"$out")" = 1 ]

# ---- a failed statement leaves nothing behind.  zz_fail fires after the capture trigger (row
# triggers fire in name order): the bar is captured, then the statement fails before its
# statement trigger runs.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FUNCTION public.zz_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.volume = 666 THEN RAISE EXCEPTION 'refused bar'; END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_fail AFTER INSERT ON trading.historicaldata FOR EACH ROW EXECUTE FUNCTION public.zz_fail();
SQL
bar() {   # bar MINUTE VOLUME: one LIVEA bar as VALUES
    echo "('LIVEA', '1m', '2024-03-01'::timestamptz + $1 * interval '1 minute', 100, 101, 99, 100.5, $2)"
}
out=$(psql -X -At 2>&1 <<SQL
SET client_min_messages = debug2;
BEGIN;
SAVEPOINT a;
INSERT INTO trading.historicaldata VALUES $(bar 1456 666), $(bar 1457 666);
ROLLBACK TO SAVEPOINT a;
INSERT INTO trading.historicaldata VALUES $(bar 1456 5);
COMMIT;
SQL
)
check "a statement rolled back to a savepoint: the failure is there" grep -q "refused bar" <<<"$out"
check "... and the next statement scores its own bar only" grep -q "fsmml live LIVEA 1m: 1 bars" <<<"$out"
check "... (no other batch)" [ "$(grep -c "fsmml live [A-Z]" <<<"$out")" = 1 ]
check "... and nothing is left pending" [ "$(grep "fsmml live capture" <<<"$out" | sed 's/.*fsmml live capture/fsmml live capture/')" = "fsmml live capture: 1 rows taken, 0 left for other statements" ]
out=$(psql -X -At -v ON_ERROR_STOP=1 2>&1 <<SQL
SET client_min_messages = debug2;
DO \$\$
BEGIN
    BEGIN
        INSERT INTO trading.historicaldata VALUES $(bar 1457 666), $(bar 1458 666);
    EXCEPTION WHEN raise_exception THEN RAISE NOTICE 'caught';
    END;
    INSERT INTO trading.historicaldata VALUES $(bar 1457 5);
END
\$\$;
SQL
)
check "an error caught in a PL/pgSQL block: the next statement scores its own bar only, nothing left pending" \
    [ "$(grep "fsmml live" <<<"$out" | sed 's/.*fsmml live/fsmml live/' | tr '\n' '|')" = "fsmml live capture: 1 rows taken, 0 left for other statements|fsmml live LIVEA 1m: 1 bars, 0 champions|" ]
out=$(psql -X -At -c "INSERT INTO trading.historicaldata VALUES $(bar 1458 666), $(bar 1459 666)" \
      -c "SET client_min_messages = debug2" -c "INSERT INTO trading.historicaldata VALUES $(bar 1458 5)" 2>&1)
check "a failed top-level statement: the next one scores its own bar only, nothing left pending" \
    [ "$(grep "fsmml live" <<<"$out" | sed 's/.*fsmml live/fsmml live/' | tr '\n' '|')" = "fsmml live capture: 1 rows taken, 0 left for other statements|fsmml live LIVEA 1m: 1 bars, 0 champions|" ]
check "every bar up to there is featured, the refused ones are not stored" \
    [ "$(q "SELECT count(*) FILTER (WHERE f.symbol IS NULL) || ' ' || count(*) FILTER (WHERE h.volume = 666)
            FROM trading.historicaldata h LEFT JOIN trading.features f USING (symbol, timeframe, timestamp)
            WHERE h.symbol = 'LIVEA'")" = "0 0" ]
q "DROP TRIGGER zz_fail ON trading.historicaldata" >/dev/null

# ---- nested statements: a row trigger on the bars (after the capture trigger) inserts a LIVEB
# bar for each LIVEA bar, inside the outer statement's trigger events.  Each nested statement
# scores its own LIVEB bar; the outer statement trigger all three LIVEA bars.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FUNCTION public.zz_mirror() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.symbol = 'LIVEA' THEN
        INSERT INTO trading.historicaldata VALUES ('LIVEB', NEW.timeframe, NEW.timestamp, NEW.open, NEW.high, NEW.low, NEW.close, NEW.volume);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_mirror AFTER INSERT ON trading.historicaldata FOR EACH ROW EXECUTE FUNCTION public.zz_mirror();
-- LIVEB up to the minute before the mirrored bars, scored
SET client_min_messages = warning;
INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEB', 410, 1459);
SQL
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = debug2" \
      -c "INSERT INTO trading.historicaldata SELECT * FROM public.bars('LIVEA', 1460, 1462)" 2>&1)
echo "# nested: $(grep "fsmml live [A-Z]" <<<"$out" | sed 's/.*fsmml live/fsmml live/' | tr '\n' '|')"
check "nested statements: each scores its own bar" [ "$(grep -c "fsmml live LIVEB 1m: 1 bars" <<<"$out")" = 3 ]
check "... and the outer statement its three" [ "$(grep -c "fsmml live LIVEA 1m: 3 bars" <<<"$out")" = 1 ]
check "... and no other batch" [ "$(grep -c "fsmml live [A-Z]" <<<"$out")" = 4 ]
check "... the nested ones leaving the outer rows captured so far pending" \
    [ "$(grep "fsmml live capture" <<<"$out" | sed 's/.*fsmml live capture: //' | tr '\n' '|')" = "1 rows taken, 1 left for other statements|1 rows taken, 2 left for other statements|1 rows taken, 3 left for other statements|3 rows taken, 0 left for other statements|" ]
check "... every mirrored bar featured" [ "$(feats LIVEB 1460)" = 3 ]
q "DROP TRIGGER zz_mirror ON trading.historicaldata" >/dev/null

# ---- UPDATE: old and new rows matched as before
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = debug1" \
      -c "UPDATE trading.historicaldata SET volume = volume WHERE symbol = 'LIVEA' AND timestamp >= '2024-03-01'::timestamptz + 1450 * interval '1 minute'" 2>&1)
check "an UPDATE that changes nothing scores nothing" [ "$(grep -c "fsmml live" <<<"$out")" = 0 ]
before=$(q "SELECT ret_1 FROM trading.features WHERE symbol = 'LIVEA' AND timestamp = '2024-03-01'::timestamptz + 1461 * interval '1 minute'")
out=$(psql -X -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = debug1" \
      -c "UPDATE trading.historicaldata SET close = close * 1.001, high = high * 1.001 WHERE symbol = 'LIVEA' AND timestamp = '2024-03-01'::timestamptz + 1461 * interval '1 minute'" 2>&1)
check "a correcting UPDATE re-scores from the corrected bar" grep -q "fsmml live LIVEA 1m: 1 bars re-scored from" <<<"$out"
check "... and its features change" [ "$(q "SELECT ret_1 FROM trading.features WHERE symbol = 'LIVEA' AND timestamp = '2024-03-01'::timestamptz + 1461 * interval '1 minute'")" != "$before" ]
out=$(calls "UPDATE trading.historicaldata SET volume = volume + 1 WHERE symbol = 'COLD' AND timestamp < '2024-03-01 01:00+00';")
check "an UPDATE of a series not live captures nothing ($out)" [ "$out" = "120 0" ]
check "no scoring errors" [ "$(q "SELECT count(*) FROM fsmml.scoring_errors")" = 0 ]
check "no backend crashed" [ "$(q "SELECT 1")" = 1 ]
finish
