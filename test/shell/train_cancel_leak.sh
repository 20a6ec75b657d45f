#!/usr/bin/env bash
# train_cancel_leak.sh — 50 trainings cancelled by statement_timeout in one backend keep its
# memory flat and leave no version row (memory, not time: not a solo test; the cancels within
# 1 s are train_cancel.sh).
. "$(dirname "$0")/../lib.sh"
set -u
load_sample_bars
SLOW='{"folds": 1, "rounds": 5000, "early_stopping_rounds": 0, "lookback": "all", "auto_promote": false, "xgb": {"max_depth": 8, "nthread": 2}}'

one_backend   # every query below in the same backend

# The backend first goes through what train_cancel.sh's did before these cancels were split off
# from it (the same history, unchecked here): a training cancelled while boosting, one stopped
# by a 2 s statement_timeout.  Both reach XGBoost's matrix and boosting, so its two threads'
# malloc arenas exist before the baseline below (without them, a short warm-up that a busy
# machine cancels before the matrix reads their first growth as a leak).
send "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');"
send "\\echo __done__"
wait_round 3
q "SELECT pg_cancel_backend($pid)" >/dev/null
recv >/dev/null
run "SET statement_timeout = '2s';" >/dev/null
run "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');" >/dev/null

# 50 cancels in a row: the backend's memory stays flat.
run "SET statement_timeout = '600ms';" >/dev/null
# A cancel now often lands while XGBoost builds the matrix with two threads, whose malloc
# arenas make RSS swing by tens of MB from one call to the next without growing: the baseline
# is the highest RSS after each of 10 warm-up cancels, so only growth beyond it counts.
rss0=0
for _ in $(seq 10); do
    run "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');" >/dev/null
    r=$(backend_rss "$pid"); [ "$r" -gt "$rss0" ] && rss0=$r
done
timeouts=0
for _ in $(seq 50); do
    out=$(run "SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', '$SLOW');")
    grep -q "statement timeout" <<<"$out" && timeouts=$((timeouts + 1))
done
rss1=$(backend_rss "$pid")
echo "# RSS highest over 10 warm-up cancels $rss0 kB, after 50 cancelled trainings $rss1 kB ($timeouts timed out)"
check "50 trainings were cancelled" [ "$timeouts" = 50 ]
check "RSS flat over 50 cancels (growth < 8 MB)" [ $((rss1 - rss0)) -lt 8192 ]
check "no version row after 50 cancels" [ "$(versions)" = "$before" ]
check "backend alive after 50 cancels" [ "$(run 'RESET statement_timeout; SELECT 1;')" = 1 ]
send "\\q"
finish
