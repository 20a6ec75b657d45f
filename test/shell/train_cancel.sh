#!/usr/bin/env bash
# Cancelling a training (pg_cancel_backend, statement_timeout) stops it within
# a second, leaves no version row and no leaked XGBoost handles, and the same
# backend serves the next query (a solo test in scripts/test.sh: it times the
# server).  Many cancels keeping its memory flat: train_cancel_leak.sh.
. "$(dirname "$0")/../lib.sh"
set -u
load_sample_bars
# stop_backend PID: pg_cancel_backend, then the seconds until the backend's statement is no
# longer active, measured in the server from the signal on (no client start-up in it).
q "CREATE FUNCTION stop_backend(p int) RETURNS float8 LANGUAGE plpgsql AS \$\$
   DECLARE t0 timestamptz := clock_timestamp();
   BEGIN
     PERFORM pg_cancel_backend(p);
     LOOP
       PERFORM pg_stat_clear_snapshot();
       EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = p AND a.state = 'active')
                 OR clock_timestamp() - t0 > interval '60 s';
       PERFORM pg_sleep(0.005);
     END LOOP;
     RETURN extract(epoch FROM clock_timestamp() - t0);
   END \$\$" >/dev/null
SLOW='{"folds": 1, "rounds": 5000, "early_stopping_rounds": 0, "lookback": "all", "auto_promote": false, "xgb": {"max_depth": 8, "nthread": 2}}'

one_backend   # every query below in the same backend

# pg_cancel_backend during boosting.
send "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');"
send "\\echo __done__"
wait_round 3
echo "# boosting round $r when cancelled"
el=$(q "SELECT stop_backend($pid)")
out=$(recv)
echo "# cancel: statement over after $el s: $out"
check "pg_cancel_backend stops boosting within 1 s" [ "$(echo "$el < 1.0" | bc)" = 1 ]
check "the cancel is reported as such" grep -q "canceling statement due to user request" <<<"$out"
check "no version row after a cancel" [ "$(versions)" = "$before" ]
check "the same backend serves the next query" [ "$(run 'SELECT 41 + 1;')" = 42 ]
check "no progress row left behind" [ -z "$(q "SELECT pid FROM fsmml.training_progress WHERE pid = $pid")" ]

# statement_timeout: from the statement's start (the timer's) to its end, in the server
# (pg_stat_activity's query_start and state_change), so no client time is counted.
run "SET statement_timeout = '2s';" >/dev/null
out=$(run "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');")
el=$(q "SELECT extract(epoch FROM state_change - query_start) FROM pg_stat_activity WHERE pid = $pid AND state = 'idle'")
run "RESET statement_timeout;" >/dev/null
echo "# statement_timeout 2 s: statement over after $el s"
check "statement_timeout stops training within 1 s of the limit" [ "$(echo "${el:-99} < 3.0" | bc)" = 1 ]
check "the timeout is reported as such" grep -q "statement timeout" <<<"$out"
check "no version row after a timeout" [ "$(versions)" = "$before" ]

send "\\q"
finish
