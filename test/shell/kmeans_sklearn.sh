#!/usr/bin/env bash
# kmeans_sklearn.sh — src/kernel/kmeans.c against scikit-learn's KMeans (Debian python3-sklearn)
# with the same k and restarts: inertia no worse (1e-9 relative for summation order) on blobs,
# uniform noise, heavy tails and standardised bar features; deterministic for a seed; silhouette
# equal to sklearn.metrics.silhouette_score on the same labels; bad arguments refused.
. "$(dirname "$0")/../lib.sh"
set -u
W=$FSMML_TEST_DIR/kmeans; rm -rf "$W"; mkdir -p "$W"
cd "$ROOT"
cc -O2 -Wall -Werror -std=c99 -I src/kernel src/kernel/kmeans.c test/unit/kmeans_cli.c -lm -o "$W/kmeans_cli" 2>"$W/cc.log"
check "kmeans.c and its CLI compile as strict C99 without PostgreSQL" [ $? -eq 0 ] || cat "$W/cc.log"

"$PY" - "$W" <<'PY'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(7)
sets = {
    "blobs3": np.vstack([rng.normal(c, 1.0, (400, 4)) for c in (0, 3, 6)]),
    "blobs5": np.vstack([rng.normal(rng.uniform(-8, 8, 6), 1.5, (250, 6)) for _ in range(5)]),
    "uniform": rng.uniform(0, 1, (1500, 3)),
    "heavy": rng.standard_t(3, (1500, 5)),
}
# Standardised bar-like features: returns and volatility of a regime-switching walk.
r = np.concatenate([rng.normal(0, s, 1000) for s in (0.5, 2.0, 1.0)])
f = np.column_stack([np.convolve(r, np.ones(k) / k, "same") for k in (5, 20, 60)] +
                    [np.sqrt(np.convolve(r ** 2, np.ones(20) / 20, "same"))])
sets["features"] = (f - f.mean(0)) / f.std(0)
for name, x in sets.items():
    np.savetxt(f"{w}/{name}.csv", x, delimiter=",", fmt="%.17g")
PY

for spec in blobs3:3 blobs5:5 uniform:4 uniform:6 heavy:3 features:3 features:4; do
    set=${spec%%:*} k=${spec##*:}
    ours=$("$W/kmeans_cli" "$k" 10 42 <"$W/$set.csv" | head -1 | cut -d' ' -f1)
    theirs=$("$PY" -c "
import numpy as np; from sklearn.cluster import KMeans
x = np.loadtxt('$W/$set.csv', delimiter=',')
print(min(KMeans($k, n_init=10, random_state=s, algorithm='lloyd').fit(x).inertia_ for s in [0]))")
    echo "# $set k=$k: fsmml $ours, scikit-learn $theirs"
    check "inertia no worse than scikit-learn's KMeans ($set, k=$k, 10 restarts)" \
        "$PY" -c "import sys; sys.exit(0 if $ours <= $theirs * (1 + 1e-9) else 1)"
done

a=$("$W/kmeans_cli" 4 3 123 <"$W/features.csv" | md5sum); b=$("$W/kmeans_cli" 4 3 123 <"$W/features.csv" | md5sum)
c=$("$W/kmeans_cli" 4 3 124 <"$W/features.csv" | md5sum)
check "same seed, same clusters and labels" [ "$a" = "$b" ]
check "another seed is another run (the seed is used)" [ "$a" != "$c" ] || [ "$("$W/kmeans_cli" 4 1 1 <"$W/uniform.csv" | md5sum)" != "$("$W/kmeans_cli" 4 1 2 <"$W/uniform.csv" | md5sum)" ]

"$W/kmeans_cli" 3 10 42 <"$W/blobs3.csv" | tail -n +2 >"$W/labels.txt"
paste -d, "$W/labels.txt" "$W/blobs3.csv" >"$W/labelled.csv"
ours=$("$W/kmeans_cli" --silhouette 3 <"$W/labelled.csv")
theirs=$("$PY" -c "
import numpy as np; from sklearn.metrics import silhouette_score
x = np.loadtxt('$W/blobs3.csv', delimiter=','); l = np.loadtxt('$W/labels.txt', dtype=int)
print(silhouette_score(x, l))")
echo "# silhouette: fsmml $ours, scikit-learn $theirs"
check "silhouette equals scikit-learn's silhouette_score" \
    "$PY" -c "import sys; sys.exit(0 if abs($ours - $theirs) < 1e-9 else 1)"

check "k = 1 is refused" grep -q "^error 1" <("$W/kmeans_cli" 1 1 1 <"$W/blobs3.csv")
head -3 "$W/blobs3.csv" >"$W/three.csv"
check "more clusters than rows is refused" grep -q "^error 1" <("$W/kmeans_cli" 4 1 1 <"$W/three.csv")
finish
