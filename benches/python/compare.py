#!/usr/bin/env python3
"""Check that two output directories hold the same ratings.

    compare.py DIR_A DIR_B [--examples 5]

Each DIR is an output of `fmprep run`, polars_pipeline.py or
pandas_pipeline.py: train/train.protobuf, validate/validate.protobuf,
test/test_<i>.protobuf, maps/customers.tsv, maps/products.tsv, and
manifest.json or summary.json.

The RecordIO-protobuf files are decoded by benchlib's own decoder (framing and
protobuf fields by number, no SDK). Keys are mapped back to
(customer_id, product_id) through each directory's maps, and the multiset of
(customer_id, product_id, rating) over all splits must be equal, as must
feature_dim. Index assignment and split membership may differ (different
shuffles, different tie-breaking) without failing the check; they are
reported for information.

Prints one JSON line on stdout; exit status 0 on a match, 1 on a mismatch,
2 when a directory cannot be read.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
from collections import Counter

import benchlib

SPLITS = ("train", "validate", "test")


def load_map(path: str, id_col: str) -> list[str]:
    """ids by index from a maps/*.tsv file (header: <id_col> index count ...)."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:3] != [id_col, "index", "count"]:
            raise ValueError(f"{path}: unexpected header {header}")
        pairs = []
        for line in f:
            fields = line.rstrip("\n").split("\t")
            pairs.append((int(fields[1]), fields[0]))
    pairs.sort()
    return [pid for _, pid in pairs]


def split_files(d: str, split: str) -> list[str]:
    if split == "test":
        files = glob.glob(os.path.join(d, "test", "test_*.protobuf"))
        return sorted(files, key=lambda p: int(re.search(r"_(\d+)\.protobuf$", p).group(1)))
    path = os.path.join(d, split, f"{split}.protobuf")
    return [path] if os.path.exists(path) else []


def read_dir(d: str) -> dict:
    """Decode one output dir into per-split Counters of (cust, prod, rating)."""
    meta = {}
    for name in ("manifest.json", "summary.json"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                meta = json.load(f)
            break
    customers = load_map(os.path.join(d, "maps", "customers.tsv"), "customer_id")
    products = load_map(os.path.join(d, "maps", "products.tsv"), "product_id")
    nc = len(customers)
    feature_dim = meta.get("feature_dim")

    out = {"feature_dim": feature_dim, "n_customers": nc, "n_products": len(products),
           "maps": (customers, products),
           "splits": {}, "records": 0, "malformed": 0, "malformed_examples": [],
           "shapes": Counter(), "test_files": 0, "test_file_sizes": []}
    for split in SPLITS:
        files = split_files(d, split)
        if split != "test" and not files:
            raise FileNotFoundError(f"{d}: no {split}/{split}.protobuf")
        ratings: Counter = Counter()
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            n_in_file = 0
            for payload in benchlib.iter_recordio(data):
                n_in_file += 1
                rec = benchlib.decode_record(payload)
                feat = rec["features"].get("values") or {}
                lab = rec["label"].get("values") or {}
                keys, vals = feat.get("keys", []), feat.get("values", [])
                labels = lab.get("values", [])
                shape = tuple(feat.get("shape", []))
                out["shapes"][shape] += 1
                ok = (len(keys) == 2 and vals == [1.0, 1.0] and len(labels) == 1
                      and keys[0] < nc <= keys[1] < nc + len(products))
                if not ok:
                    out["malformed"] += 1
                    if len(out["malformed_examples"]) < 3:
                        out["malformed_examples"].append(
                            {"file": os.path.relpath(path, d), "keys": keys,
                             "values": vals, "label": labels, "shape": list(shape)})
                    continue
                ratings[(customers[keys[0]], products[keys[1] - nc], labels[0])] += 1
            if split == "test":
                out["test_files"] += 1
                out["test_file_sizes"].append(n_in_file)
        out["splits"][split] = ratings
        out["records"] += sum(ratings.values())
    if feature_dim is None and len(out["shapes"]) == 1:
        feature_dim = next(iter(out["shapes"]))[0]
    out["feature_dim"] = feature_dim
    return out


def fmt_key(k) -> list:
    c, p, r = k
    return [c, p, r if r != int(r) else int(r)]


def compare(a_dir: str, b_dir: str, n_examples: int) -> dict:
    a, b = read_dir(a_dir), read_dir(b_dir)
    all_a = sum(a["splits"].values(), Counter())
    all_b = sum(b["splits"].values(), Counter())
    only_a, only_b = all_a - all_b, all_b - all_a

    # Shape of every record must be [feature_dim].
    shape_ok = all(set(x["shapes"]) == {(x["feature_dim"],)} for x in (a, b)
                   if x["records"])
    problems = []
    if a["feature_dim"] != b["feature_dim"]:
        problems.append("feature_dim")
    if only_a or only_b:
        problems.append("ratings")
    if a["malformed"] or b["malformed"]:
        problems.append("malformed_records")
    if not shape_ok:
        problems.append("shape")

    # Informational: same split membership? (needs the same shuffle, so usually not)
    same_splits = all(a["splits"][s] == b["splits"][s] for s in SPLITS)
    # Informational: same index for every customer and product (same tie-breaking)?
    same_maps = a["maps"] == b["maps"]
    # Pairs keyed to a different rating (same customer/product) show rating drift.
    pairs_a = {(c, p): r for (c, p, r) in only_a}
    rating_diffs = [[c, p, pairs_a[(c, p)], r] for (c, p, r) in only_b if (c, p) in pairs_a]

    def side(x: dict, only: Counter) -> dict:
        return {"records": x["records"], "feature_dim": x["feature_dim"],
                "n_customers": x["n_customers"], "n_products": x["n_products"],
                "split_records": {s: sum(x["splits"][s].values()) for s in SPLITS},
                "test_files": x["test_files"],
                "test_file_sizes_ok": all(n == 10_000 for n in x["test_file_sizes"][:-1]),
                "malformed": x["malformed"], "malformed_examples": x["malformed_examples"],
                "only_here": sum(only.values()),
                "only_here_examples": [fmt_key(k) for k in sorted(only)[:n_examples]]}

    return {"verdict": "mismatch" if problems else "match",
            "problems": problems,
            "a": a_dir, "b": b_dir,
            "common": sum((all_a & all_b).values()),
            "same_index_maps": same_maps,
            "same_split_membership": same_splits,
            "rating_differences": len(rating_diffs),
            "rating_difference_examples": rating_diffs[:n_examples],
            "side_a": side(a, only_a), "side_b": side(b, only_b)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir_a")
    ap.add_argument("dir_b")
    ap.add_argument("--examples", type=int, default=5, help="examples per difference kind")
    args = ap.parse_args(argv)
    try:
        result = compare(args.dir_a, args.dir_b, args.examples)
    except (OSError, ValueError) as e:
        print(json.dumps({"verdict": "error", "a": args.dir_a, "b": args.dir_b,
                          "error": str(e)}))
        return 2
    print(json.dumps(result, separators=(",", ":"), ensure_ascii=False))
    if result["verdict"] != "match":
        benchlib.log(f"MISMATCH: {', '.join(result['problems'])}; "
                     f"only in A: {result['side_a']['only_here']}, "
                     f"only in B: {result['side_b']['only_here']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
