#!/usr/bin/env python3
"""gen_corpus.py SEEDS_DIR OUT_DIR N — N mutated copies of the seed models
(byte flips, truncations, splices, inserted/deleted bytes, digit changes in
JSON), deterministic (seed 7), for diff_load."""
import os, random, sys
seeds_dir, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(7)
seeds = [open(os.path.join(seeds_dir, f), 'rb').read() for f in sorted(os.listdir(seeds_dir))]
os.makedirs(out, exist_ok=True)
for i in range(n):
    b = bytearray(rnd.choice(seeds))
    for _ in range(rnd.choice([1, 1, 1, 2, 3, 8])):
        op = rnd.randrange(6)
        p = rnd.randrange(len(b))
        if op == 0:
            b[p] = rnd.randrange(256)
        elif op == 1:
            b[p] ^= 1 << rnd.randrange(8)
        elif op == 2:
            del b[p:p + rnd.randrange(1, 16)]
        elif op == 3:
            b[p:p] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
        elif op == 4:
            b = b[:max(2, p)]
        else:
            # a digit in place of a digit (JSON child indices, counts)
            ds = [j for j in range(len(b)) if 48 <= b[j] <= 57]
            if ds:
                b[rnd.choice(ds)] = rnd.randrange(48, 58)
    open(os.path.join(out, '%06d' % i), 'wb').write(bytes(b))
