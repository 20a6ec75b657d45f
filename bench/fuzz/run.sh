#!/usr/bin/env bash
# run.sh [SECONDS] — fuzz the model blob validator (src/kernel/model_validate.c) with
# libFuzzer + ASan for SECONDS (default 120), then compare its verdicts with XGBoost's own
# loader (diff_load, one subprocess per blob) over a corpus of mutated valid models.
# Not part of CI.  Needs clang (Debian's clang 14) and libxgboost-dev.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-120}
NMUT=${FUZZ_MUTANTS:-3000}
# A busy machine slows single inputs down: a hang is still caught at FUZZ_TIMEOUT seconds.
W=${FUZZ_WORK:-/tmp/fsmml-fuzz}
rm -rf "$W"; mkdir -p "$W/seeds" "$W/corpus" "$W/mutants"
K=../../src/kernel
cc -O2 -o "$W/gen_seeds" gen_seeds.c -lxgboost
"$W/gen_seeds" "$W/seeds"
cp "$W"/seeds/* "$W/corpus/"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$K" -o "$W/fuzz_model" fuzz_model.c "$K/model_validate.c"
echo "== libFuzzer: fs_model_validate, $SECS s"
"$W/fuzz_model" -artifact_prefix="$W/" -max_total_time="$SECS" -max_len=65536 -timeout="${FUZZ_TIMEOUT:-30}" -rss_limit_mb=2048 \
    -print_final_stats=1 "$W/corpus" >"$W/fuzz.log" 2>&1 || true
grep -E '^Done|stat::number_of_executed_units|stat::peak_rss_mb|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY' "$W/fuzz.log" || true
crashes=$(find "$W" . -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \) | wc -l)
echo "crashes/leaks/timeouts: $crashes"

echo "== validator vs XGBoost's loader over $NMUT mutated models"
python3 gen_corpus.py "$W/seeds" "$W/mutants" "$NMUT"
cc -O2 -I"$K" -o "$W/diff_load" diff_load.c "$K/model_validate.c" -lxgboost
"$W/diff_load" "$W"/seeds/* > "$W/seeds.tsv"
"$W/diff_load" "$W"/mutants/* > "$W/diff.tsv" 2>/dev/null
echo "seeds (validator 0 = accept): $(awk '{print $1, $2}' "$W/seeds.tsv" | sort | uniq -c | tr '\n' ';')"
echo "verdicts (validator, xgboost): "; awk '{print $1, $2}' "$W/diff.tsv" | sort | uniq -c
bad=$(awk '$1 == 0 && $2 != "ok"' "$W/diff.tsv" | wc -l)
echo "accepted by the validator but rejected by or crashing XGBoost: $bad"
awk '$1 == 0 && $2 != "ok" {print "  " $0}' "$W/diff.tsv" | head -20
