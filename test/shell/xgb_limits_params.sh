#!/usr/bin/env bash
# xgb_limits_params.sh — the fsmml.xgb_* limits refuse what would make one boosting round long,
# for any parameters a non-superuser may pass; only a superuser changes them;
# fsmml_xgb_check_params is not PUBLIC.  No clock here (not a solo test): the worst allowed
# training stopped within a second is xgb_limits.sh.
. "$(dirname "$0")/../lib.sh"
set -u
load_sample_bars
q "DROP ROLE IF EXISTS xl_trainer; DROP ROLE IF EXISTS xl_nobody;
   CREATE ROLE xl_trainer LOGIN IN ROLE fsmml_trainer; CREATE ROLE xl_nobody LOGIN;" >/dev/null
tq() { psql -X -At -U xl_trainer -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
refused() {   # refused NAME SQL REGEX: as the trainer, SQL fails with a message matching REGEX
    local out; out=$(tq "$2"); echo "# $1: $(grep -m1 -E 'ERROR|HINT' <<<"$out")"
    check "$1" grep -qE "$3" <<<"$out"
}
T="SELECT count(*) FROM fsmml_train('DirectionXGB', 'BTCUSDT', '1m', "

# --- who may call, who may change the limits
out=$(psql -X -At -U xl_nobody -c "SELECT fsmml_xgb_check_params('{}')" 2>&1)
check "a role without grants cannot call fsmml_xgb_check_params" grep -q "permission denied for function fsmml_xgb_check_params" <<<"$out"
check "a trainer can call fsmml_xgb_check_params" [ "$(tq "SELECT fsmml_xgb_check_params('{\"max_depth\": 3}') IS NOT NULL")" = t ]
for g in xgb_max_threads xgb_max_depth xgb_max_trees_per_round xgb_max_bin xgb_max_rounds xgb_max_cells xgb_max_round_work; do
    refused "a non-superuser cannot SET fsmml.$g" "SET fsmml.$g = 100000" "permission denied to set parameter \"fsmml.$g\""
done
refused "fsmml.nthread above fsmml.xgb_max_threads is refused" "SET fsmml.nthread = 64" 'invalid value for parameter "fsmml.nthread"'
refused "fsmml.train_nthread above fsmml.xgb_max_threads is refused" "SET fsmml.train_nthread = 5" 'invalid value for parameter "fsmml.train_nthread"'
check "fsmml.nthread up to the cap is fine" [ "$(tq "SET fsmml.nthread = 4; SHOW fsmml.nthread" | tail -1)" = 4 ]

# --- over-limit parameters are refused, in fsmml_train and in fsmml_xgb_check_params
refused "the operator's {num_parallel_tree 20000, max_depth 12} is refused by fsmml_train" \
    "$T '{\"xgb\": {\"num_parallel_tree\": 20000, \"max_depth\": 12}}')" "fsmml.xgb_max_(depth|trees_per_round)"
refused "... and by fsmml_xgb_check_params" \
    "SELECT fsmml_xgb_check_params('{\"num_parallel_tree\": 20000, \"max_depth\": 12}')" "fsmml.xgb_max_(depth|trees_per_round)"
refused "max_depth 0 (unlimited) with lossguide is refused" \
    "$T '{\"xgb\": {\"grow_policy\": \"lossguide\", \"max_depth\": 0, \"max_leaves\": 100000}}')" "max_depth = 0 is not allowed"
refused "num_parallel_tree x num_class over the limit is refused" \
    "SELECT fsmml_xgb_check_params('{\"objective\": \"multi:softprob\", \"num_class\": 9, \"num_parallel_tree\": 2}')" "fsmml.xgb_max_trees_per_round"
refused "max_bin over the limit is refused" "$T '{\"xgb\": {\"max_bin\": 100000}}')" "fsmml.xgb_max_bin"
refused "booster dart is refused" "$T '{\"xgb\": {\"booster\": \"dart\"}}')" "booster = dart is not allowed"
refused "tree_method exact is refused" "SELECT fsmml_xgb_check_params('{\"tree_method\": \"exact\"}')" "tree_method = exact is not allowed"
refused "an updater override is refused" "SELECT fsmml_xgb_check_params('{\"updater\": \"grow_colmaker,prune\"}')" "updater = .* is not allowed"
refused "process_type update is refused" "SELECT fsmml_xgb_check_params('{\"process_type\": \"update\"}')" "process_type = update is not allowed"
refused "params.xgb.nthread over the cap is refused" "$T '{\"xgb\": {\"nthread\": 64}}')" "fsmml.xgb_max_threads"
refused "n_jobs (nthread's alias) over the cap is refused" "SELECT fsmml_xgb_check_params('{\"n_jobs\": 64}')" "fsmml.xgb_max_threads"
refused "params.rounds over the limit is refused" "$T '{\"rounds\": 20000}')" "fsmml.xgb_max_rounds"
refused "one round over the work budget is refused when boosting starts" \
    "$T '{\"folds\": 1, \"lookback\": \"all\", \"xgb\": {\"max_depth\": 8, \"num_parallel_tree\": 8}}')" "fsmml.xgb_max_round_work"
check "a superuser raises a limit for its session" \
    [ "$(q "SET fsmml.xgb_max_depth = 12; SELECT fsmml_xgb_check_params('{\"max_depth\": 12}') IS NOT NULL" | tail -1)" = t ]

q "DROP OWNED BY xl_trainer; DROP ROLE xl_trainer; DROP ROLE xl_nobody;" >/dev/null 2>&1
finish
