#!/usr/bin/env python3
"""Check an output directory's bytes against the SageMaker SDK writer.

    sdk_check.py DIR [--max-records 20000]

For a sample of DIR's RecordIO-protobuf files (train, validate, the first and
the last test file), decode the leading records with benchlib's decoder,
write the same records again with the SDK's own
sagemaker.amazon.common.write_spmatrix_to_sparse_tensor (float32 CSR matrix,
float32 labels, as the original pipeline did), and require the SDK's bytes to
equal the file's bytes for that prefix. Prints one JSON line; exit 1 on any
difference.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import json
import os
import re
import sys

import numpy as np
from scipy.sparse import csr_matrix

import benchlib


def sample_files(d: str) -> list[str]:
    tests = sorted(glob.glob(os.path.join(d, "test", "test_*.protobuf")),
                   key=lambda p: int(re.search(r"_(\d+)\.protobuf$", p).group(1)))
    files = [os.path.join(d, "train", "train.protobuf"),
             os.path.join(d, "validate", "validate.protobuf")]
    files += tests[:1] + tests[-1:] if len(tests) > 1 else tests
    return [f for f in files if os.path.exists(f)]


def check_file(path: str, max_records: int, write) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    keys, labels, shapes, end = [], [], set(), 0
    # Walk frames by hand to know where the checked prefix ends.
    for payload in benchlib.iter_recordio(data):
        if len(labels) == max_records:
            break
        rec = benchlib.decode_record(payload)
        feat, lab = rec["features"]["values"], rec["label"]["values"]
        keys.append(feat["keys"])
        labels.append(lab["values"][0])
        shapes.add(tuple(feat["shape"]))
        end += 8 + len(payload) + (-len(payload) % 4)
    if len(shapes) > 1:
        return {"file": path, "ok": False, "error": f"several shapes {sorted(shapes)}"}
    n = len(labels)
    width = next(iter(shapes))[0] if shapes else 1
    lens = np.array([len(k) for k in keys], np.int64)
    X = csr_matrix((np.ones(int(lens.sum()), np.float32),
                    np.array([k for ks in keys for k in ks], np.int64),
                    np.concatenate([[0], np.cumsum(lens)])), shape=(n, width))
    buf = io.BytesIO()
    write(buf, X, np.array(labels, np.float32))
    return {"file": path, "records": n, "bytes": end, "ok": buf.getvalue() == data[:end]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--max-records", type=int, default=20_000,
                    help="records checked per file (from the start)")
    args = ap.parse_args(argv)

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    with contextlib.redirect_stdout(sys.stderr):     # the SDK logs on stdout at import
        from sagemaker.amazon.common import write_spmatrix_to_sparse_tensor

    files = sample_files(args.dir)
    results = [check_file(f, args.max_records, write_spmatrix_to_sparse_tensor) for f in files]
    ok = bool(results) and all(r["ok"] for r in results)
    for r in results:
        r["file"] = os.path.relpath(r["file"], args.dir)
    print(json.dumps({"verdict": "identical" if ok else "DIFFERENT", "dir": args.dir,
                      "records_checked": sum(r.get("records", 0) for r in results),
                      "files": results}, separators=(",", ":")))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
