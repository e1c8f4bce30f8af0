#!/usr/bin/env python3
"""Write tests/fixtures/numpy_permutations.json: permutations drawn by numpy's legacy
`RandomState(seed).permutation(n)`, the ground truth of `fmprep --shuffle numpy`.

Run once, from the repository root, with numpy and pandas from PyPI in a throw-away venv:

    python3 -m venv /tmp/fmprep-numpy-venv
    /tmp/fmprep-numpy-venv/bin/pip install numpy pandas
    /tmp/fmprep-numpy-venv/bin/python scripts/gen_numpy_fixtures.py > tests/fixtures/numpy_permutations.json

The file is committed; tests never run Python. For each case it also checks that pandas'
`DataFrame.sample(frac=1, random_state=seed)` returns its rows in the same order (pandas calls
`RandomState(seed).choice(n, n, replace=False)`, which is `permutation(n)[:n]`), and fails
otherwise.

Small permutations are stored whole; large ones as their first and last 32 entries plus
`weighted_sum` = sum(i * p[i]) mod 2**64, which any wrong swap changes.

`interval64` cases pin the 64-bit branch of numpy's masked rejection sampler (used by the
shuffle only when n > 2**32, too large for a fixture): legacy `randint(0, high, dtype=int64)`
with high - 1 > 2**32 - 1 draws with the same `next_uint64() & mask` loop.
"""

import json
import sys

import numpy as np
import pandas as pd

SEEDS = [0, 1, 42, 2024, 123456789, 2**32 - 1]
SIZES = [0, 1, 2, 3, 5, 10, 100, 1000, 65_537, 70_000, 1_000_003]
WHOLE_UP_TO = 1000
EDGE = 32


def weighted_sum(p: np.ndarray) -> int:
    i = np.arange(len(p), dtype=np.uint64)
    return int(np.sum(i * p.astype(np.uint64), dtype=np.uint64))


def main() -> int:
    cases = []
    for seed in SEEDS:
        for n in SIZES:
            p = np.random.RandomState(seed).permutation(n)
            df = pd.DataFrame({"x": np.zeros(n)})
            sampled = df.sample(frac=1, random_state=seed).index.to_numpy()
            if not np.array_equal(sampled, p):
                print(f"pandas sample differs from permutation for seed={seed} n={n}", file=sys.stderr)
                return 1
            case = {"seed": seed, "n": n, "weighted_sum": weighted_sum(p)}
            if n <= WHOLE_UP_TO:
                case["permutation"] = p.tolist()
            else:
                case["head"] = p[:EDGE].tolist()
                case["tail"] = p[-EDGE:].tolist()
            cases.append(case)
    interval64 = []
    for seed in [0, 42, 2**32 - 1]:
        for high in [2**32 + 1, 2**33 + 12_345, 2**40 + 7, 2**63 - 1]:
            draws = np.random.RandomState(seed).randint(0, high, size=16, dtype=np.int64)
            # randint's upper bound is exclusive: the sampler's `max` is high - 1.
            interval64.append({"seed": seed, "max": high - 1, "draws": draws.tolist()})
    json.dump(
        {
            "generator": "scripts/gen_numpy_fixtures.py",
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "pandas_sample_equals_permutation": True,
            "permutations": cases,
            "interval64": interval64,
        },
        sys.stdout,
        separators=(",", ":"),
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
