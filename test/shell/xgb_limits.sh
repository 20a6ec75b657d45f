#!/usr/bin/env bash
# xgb_limits.sh — every fsmml XGBoost call stops within a second when asked, for the worst
# training the fsmml.xgb_* limits allow a non-superuser (a solo test in scripts/test.sh: it
# times the server), and the backend thread never blocks SIGQUIT while XGBoost runs.  The
# limits themselves and who may change them: xgb_limits_params.sh.
. "$(dirname "$0")/../lib.sh"
set -u
load_sample_bars
# stop_backend PID cancel|terminate: sends the signal and returns the seconds until the
# backend's statement is over (cancel: no longer active) or the backend is gone (terminate),
# measured in the server from the signal on, without any client connection start-up.
q "CREATE FUNCTION stop_backend(p int, how text) RETURNS float8 LANGUAGE plpgsql AS \$\$
   DECLARE t0 timestamptz := clock_timestamp();
   BEGIN
     IF how = 'cancel' THEN PERFORM pg_cancel_backend(p); ELSE PERFORM pg_terminate_backend(p); END IF;
     LOOP
       PERFORM pg_stat_clear_snapshot();
       EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity a
                             WHERE a.pid = p AND (how = 'terminate' OR a.state = 'active'))
                 OR clock_timestamp() - t0 > interval '60 s';
       PERFORM pg_sleep(0.005);
     END LOOP;
     RETURN extract(epoch FROM clock_timestamp() - t0);
   END \$\$" >/dev/null
q "DROP ROLE IF EXISTS xl_trainer; CREATE ROLE xl_trainer LOGIN IN ROLE fsmml_trainer;" >/dev/null
T="SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', "

# --- the worst allowed training, as the trainer, one thread: stopped within 1 s
WORST='{"folds": 1, "rounds": 10000, "early_stopping_rounds": 0, "lookback": "all", "auto_promote": false,
        "xgb": {"max_depth": 8, "num_parallel_tree": 1, "max_bin": 256, "nthread": 1, "min_child_weight": 0, "lambda": 0}}'
RECV_TIMEOUT=300
one_backend -U xl_trainer

# pg_cancel_backend, once during the first round and once later; meanwhile sample the
# backend thread's blocked signals.
for at in 0 3; do
    send "$T '$WORST');"; send "\\echo __done__"
    wait_round "$at"
    [ "$at" = 0 ] && sleep 0.3
    if [ "$at" = 3 ]; then
        quit=0 int=0 n=0 workers_bad=0
        for _ in $(seq 40); do
            blk=$(awk '/^SigBlk/ {print $2}' "/proc/$pid/task/$pid/status")
            (( 16#$blk & 0x4 )) && quit=$((quit + 1))          # SIGQUIT = 3
            (( 16#$blk & 0x2 )) && int=$((int + 1))            # SIGINT = 2
            n=$((n + 1))
            for t in /proc/$pid/task/*; do                      # XGBoost's threads: INT, ALRM, TERM blocked
                [ "${t##*/}" = "$pid" ] && continue
                w=$(awk '/^SigBlk/ {print $2}' "$t/status" 2>/dev/null) || continue
                [ -n "$w" ] && (( (16#$w & 0x6002) != 0x6002 )) && workers_bad=$((workers_bad + 1))
            done
            sleep 0.02
        done
        echo "# SigBlk samples of the backend thread: $n, SIGINT blocked in $int (inside XGBoost calls), SIGQUIT blocked in $quit"
        check "the backend thread never blocks SIGQUIT during training ($n samples)" [ "$quit" = 0 ]
        check "samples were taken inside XGBoost calls (SIGINT blocked in some)" [ "$int" -gt 0 ]
        check "XGBoost's worker threads block SIGINT, SIGALRM and SIGTERM" [ "$workers_bad" = 0 ]
    fi
    el=$(q "SELECT stop_backend($pid, 'cancel')")
    out=$(recv)
    echo "# pg_cancel_backend at round >= $at: statement over after $el s"
    check "pg_cancel_backend stops the worst allowed training within 1 s (round >= $at)" [ "$(echo "$el < 1.0" | bc)" = 1 ]
    check "reported as a cancel" grep -q "canceling statement due to user request" <<<"$out"
done

# statement_timeout
# (from the statement's start to its end, in the server: query_start and state_change)
run "SET statement_timeout = '3s';" >/dev/null
out=$(run "$T '$WORST');")
el=$(q "SELECT extract(epoch FROM state_change - query_start) FROM pg_stat_activity WHERE pid = $pid AND state = 'idle'")
run "RESET statement_timeout;" >/dev/null
echo "# statement_timeout 3 s: statement over after $el s"
check "statement_timeout stops the worst allowed training within 1 s of the limit" [ "$(echo "${el:-99} < 4.0" | bc)" = 1 ]
check "reported as a timeout" grep -q "statement timeout" <<<"$out"
check "no version row after the cancels" [ "$(versions)" = "$before" ]

# pg_terminate_backend: the backend is gone within 1 s
send "$T '$WORST');"; send "\\echo __done__"
wait_round 2
el=$(q "SELECT stop_backend($pid, 'terminate')")
out=$(recv)      # the session ends: FATAL, then psql loses the connection
echo "# pg_terminate_backend: backend gone from pg_stat_activity after $el s"
check "pg_terminate_backend ends the worst allowed training within 1 s" [ "$(echo "$el < 1.0" | bc)" = 1 ]
check "reported as a termination" grep -q "terminating connection due to administrator command" <<<"$out"
check "the terminated backend is gone" [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid")" = 0 ]
check "the server still answers" [ "$(q 'SELECT 1')" = 1 ]
# --- 1 M bars: a trainer may train on them with the default limits (fsmml.xgb_max_cells), and
# a cancel while XGBoost builds the training matrix (its histogram index: 30 M cells, many
# seconds in one XGBoost call) stops it within 1 s: the rows are fed in batches and the
# feeding stops once a cancel is pending.
q "SELECT setseed(0.5);
   INSERT INTO trading.historicaldata (symbol, timeframe, \"timestamp\", open, high, low, close, volume)
   SELECT 'BIG', '1m', timestamptz '2020-01-01' + i * interval '1 minute',
          c * 0.9999, c * 1.0006, c * 0.9994, c, 10 + (i % 7)
   FROM (SELECT i, 30000 * exp(sum((random() - 0.5) * 0.002) OVER (ORDER BY i)) AS c
         FROM generate_series(1, 1000000) i) s" >/dev/null
BIG='{"folds": 1, "rounds": 50, "early_stopping_rounds": 0, "lookback": "all", "auto_promote": false,
      "xgb": {"max_depth": 2, "nthread": 1}}'
coproc PSQL { psql -X -At -q -U xl_trainer -v ON_ERROR_STOP=0 2>&1; }
pid=$(run "SELECT pg_backend_pid();")
send "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BIG', '1m', '$BIG');"; send "\\echo __done__"
phase=
for _ in $(seq 1200); do
    phase=$(q "SELECT coalesce((SELECT phase || ' ' || round FROM fsmml.training_progress WHERE pid = $pid), '')
                      || (SELECT CASE WHEN state = 'active' THEN '' ELSE 'over' END FROM pg_stat_activity WHERE pid = $pid)")
    [ "$phase" = "final 0" ] || [ "$phase" = over ] && break
    sleep 0.05
done
sleep 1      # well inside the matrix construction (many seconds for 1 M rows)
blk=$(awk '/^SigBlk/ {print $2}' "/proc/$pid/task/$pid/status")
now=$(q "SELECT phase || ' ' || round FROM fsmml.training_progress WHERE pid = $pid")
el=$(q "SELECT stop_backend($pid, 'cancel')")
out=$(recv)
echo "# 1 M bars: cancelled at phase/round '$now' (SIGINT blocked: $(( 16#$blk & 0x2 ? 1 : 0 ))), statement over after $el s: $(head -1 <<<"$out")"
check "1 M bars: the trainer's training reached the matrix construction (not refused)" [ "$now" = "final 0" ]
check "1 M bars: the cancel arrived inside an XGBoost call (SIGINT blocked)" [ $(( 16#$blk & 0x2 )) -ne 0 ]
check "1 M bars: pg_cancel_backend during matrix construction stops it within 1 s" [ "$(echo "$el < 1.0" | bc)" = 1 ]
check "1 M bars: reported as a cancel" grep -q "canceling statement due to user request" <<<"$out"
check "1 M bars: the same backend serves the next query" [ "$(run 'SELECT 41 + 1;')" = 42 ]
send "\\q"

q "DROP OWNED BY xl_trainer; DROP ROLE xl_trainer;" >/dev/null 2>&1
finish
