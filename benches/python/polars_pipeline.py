#!/usr/bin/env python3
"""The same job as fmprep, written the way a skilled Python user would today.

    polars_pipeline.py INPUT OUTDIR [--seed 42]
    polars_pipeline.py --selftest

Semantics follow fmprep's contract (not the quirks of the pandas original):
  * the TSV has no quoting (quote_char=None); a line is valid when it has
    exactly 15 fields (see "field count" below), non-empty customer_id and
    product_id without invalid UTF-8, and star_rating an integer 1..5;
  * long-tail filter counted once on the valid rows: customers with >= 5 rows
    AND products with >= 10 rows;
  * duplicate (customer_id, product_id) pairs dropped, keeping the first row in
    input order;
  * customers and products indexed by descending count on the de-duplicated
    rows, ties broken by first appearance;
  * a numpy permutation (default_rng(seed)), cut at int(.6 n), int(.8 n);
  * RecordIO-protobuf written by numpy code that builds all records of a split
    at once (no per-record Python loop), byte-identical to the SageMaker SDK's
    write_spmatrix_to_sparse_tensor (checked by --selftest).

Field count: polars cannot report a line's field count directly, so the reader
declares 16 columns: a line with fewer than 15 fields has a null 15th column
(review_date) and a line with more has a non-null 16th. Two rare cases slip
through: a 15-field line whose review_date is empty is rejected, and a line
with 16+ fields whose 16th field is empty is accepted (polars maps both an
empty and a missing field to null).

Writes OUTDIR/{train/train.protobuf, validate/validate.protobuf,
test/test_<i>.protobuf, maps/customers.tsv, maps/products.tsv, summary.json}.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import numpy as np
import polars as pl

import benchlib

TEST_CHUNK = 10_000
N_FIELDS = 15
NEEDED = ["customer_id", "product_id", "product_title", "star_rating"]


# --------------------------------------------------------------------------
# Reading and filtering
# --------------------------------------------------------------------------

def load_valid_rows(path: str, counts: dict) -> pl.DataFrame:
    """Valid rows (cust, prod, title, rating) in input order, via one streaming scan."""
    header = benchlib.read_header(path)
    missing = [c for c in NEEDED if c not in header]
    if missing:
        raise SystemExit(f"input lacks column(s) {missing}; header is {header}")
    pos = {name: header.index(name) for name in NEEDED}

    # Positional names, one more than the file has, so over-long lines show up.
    names = [f"column_{i}" for i in range(1, N_FIELDS + 2)]
    col = {name: pl.col(names[i]) for name, i in pos.items()}
    lf = pl.scan_csv(
        path,
        separator="\t",
        quote_char=None,          # the dataset has no quoting: '"' is a plain character
        has_header=False,
        skip_rows=1,
        schema={n: pl.String for n in names},
        missing_columns="insert",  # the 16th column is absent from well-formed files
        encoding="utf8-lossy",     # invalid UTF-8 becomes U+FFFD; rejected in ids below
    )

    rating = col["star_rating"].cast(pl.Int8, strict=False)

    def good_id(e: pl.Expr) -> pl.Expr:
        # empty strings are read as null
        return e.is_not_null() & ~e.str.contains("\ufffd", literal=True)

    valid = (good_id(col["customer_id"]) & good_id(col["product_id"])
             & rating.is_between(1, 5)
             & pl.col(names[N_FIELDS - 1]).is_not_null()   # >= 15 fields
             & pl.col(names[N_FIELDS]).is_null())           # <= 15 fields

    # One streaming pass; the validity flag is kept as a column so the line
    # count comes from the same scan (a separate count would decompress twice).
    rows = lf.select(cust=col["customer_id"], prod=col["product_id"],
                     title=col["product_title"], rating=rating,
                     ok=valid).collect(engine="streaming")
    counts["input_lines"] = rows.height
    rows = rows.filter("ok").drop("ok")
    counts["valid"] = rows.height
    counts["bad_lines_total"] = counts["input_lines"] - rows.height
    return rows


def filter_and_index(rows: pl.DataFrame, counts: dict):
    """Long tail + de-dupe + indexing. Returns (c_idx, p_idx, rating, cust_tab, prod_tab)."""
    kept = rows.filter(
        (pl.len().over("cust") >= 5) & (pl.len().over("prod") >= 10))
    counts["after_long_tail"] = kept.height

    dedup = kept.unique(subset=["cust", "prod"], keep="first", maintain_order=True)
    counts["after_dedupe"] = dedup.height

    # group_by(maintain_order=True) lists keys in order of first appearance;
    # a stable descending sort on the count then breaks ties by that order.
    cust_tab = (dedup.group_by("cust", maintain_order=True).agg(count=pl.len())
                .sort("count", descending=True, maintain_order=True)
                .with_row_index("idx"))
    prod_tab = (dedup.group_by("prod", maintain_order=True)
                .agg(count=pl.len(), title=pl.col("title").first())
                .sort("count", descending=True, maintain_order=True)
                .with_row_index("idx"))

    indexed = (dedup.select("cust", "prod", "rating")
               .join(cust_tab.select("cust", cidx="idx"), on="cust", how="left",
                     maintain_order="left")
               .join(prod_tab.select("prod", pidx="idx"), on="prod", how="left",
                     maintain_order="left"))
    c_idx = indexed["cidx"].to_numpy().astype(np.uint64)
    p_idx = indexed["pidx"].to_numpy().astype(np.uint64)
    rating = indexed["rating"].to_numpy().astype(np.float32)
    return c_idx, p_idx, rating, cust_tab, prod_tab


# --------------------------------------------------------------------------
# Vectorised RecordIO-protobuf encoding
# --------------------------------------------------------------------------
#
# Every FM record has the same shape; only the two key varints (and with them
# the lengths and the padding) vary in size. Each record is laid out in one row
# of a fixed-width uint8 matrix with *slots* wide enough for the longest key
# varint and for 3 padding bytes; a boolean mask marks the bytes actually used
# (a k-byte varint uses the first k bytes of its slot, padding uses
# (-payload_len) % 4 zero bytes). Because numpy's boolean indexing walks the
# matrix in row-major order, matrix[mask] is exactly the concatenated records.
#
# Record = magic, header word (payload length L), payload, padding, with payload:
#   0a E  0a 06 "values"  12 V  12 T  0a 08 <1.0f><1.0f>  12 K <key0><key1>  1a S <shape>
#   12 12 0a 06 "values"  12 08 12 06 0a 04 <label f32>
# where K = len(key0)+len(key1) varint bytes, S = len(shape varint),
# T = 14+K+S, V = 16+K+S, E = 26+K+S and L = 48+K+S (all < 128: one-byte lengths).

_MAGIC = np.frombuffer(np.uint32(benchlib.RECORDIO_MAGIC).astype("<u4").tobytes(), np.uint8)
_VALUES_KEY = b"\x0a\x06values"
_FIXED_A = _VALUES_KEY + b"\x12"                     # after 0a E: map key, Value tag
_TWO_ONES = b"\x0a\x08" + np.array([1.0, 1.0], "<f4").tobytes()
_LABEL_HEAD = b"\x12\x12" + _VALUES_KEY + b"\x12\x08\x12\x06\x0a\x04"
_CHUNK_ROWS = 1 << 20                                # bounds the temporary matrices


def _varint_len(v: np.ndarray) -> np.ndarray:
    n = np.ones(v.shape, np.int64)
    for j in range(1, 10):
        n += v >= np.uint64(1) << np.uint64(7 * j)
    return n


def _varint_bytes(v: np.ndarray, lens: np.ndarray, width: int) -> np.ndarray:
    """(n, width) uint8: little-endian base-128 digits, continuation bit set
    on all but the last used byte; bytes past lens are unused."""
    out = np.empty((v.shape[0], width), np.uint8)
    for j in range(width):
        digit = (v >> np.uint64(7 * j)) & np.uint64(0x7F)
        out[:, j] = digit | np.where(j < lens - 1, 0x80, 0).astype(np.uint64)
    return out


def _encode_py_varint(x: int) -> bytes:
    out = bytearray()
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _encode_chunk(key0, key1, labels, shape_bytes: bytes):
    n = key0.shape[0]
    l0, l1 = _varint_len(key0), _varint_len(key1)
    w0, w1 = int(l0.max()), int(l1.max())
    S = len(shape_bytes)
    K = l0 + l1
    L = 48 + K + S
    pad = (-L) % 4

    pieces = [  # (bytes for all rows: ndarray (n, w) or constant bytes, used-mask or None)
        (_MAGIC.tobytes(), None),
        (L.astype("<u4").view(np.uint8).reshape(n, 4), None),
        (b"\x0a", None), ((26 + K + S).astype(np.uint8)[:, None], None),
        (_FIXED_A, None), ((16 + K + S).astype(np.uint8)[:, None], None),
        (b"\x12", None), ((14 + K + S).astype(np.uint8)[:, None], None),
        (_TWO_ONES + b"\x12", None), (K.astype(np.uint8)[:, None], None),
        (_varint_bytes(key0, l0, w0), np.arange(w0) < l0[:, None]),
        (_varint_bytes(key1, l1, w1), np.arange(w1) < l1[:, None]),
        (b"\x1a" + bytes([S]) + shape_bytes + _LABEL_HEAD, None),
        (labels.astype("<f4").view(np.uint8).reshape(n, 4), None),
        (np.zeros((n, 3), np.uint8), np.arange(3) < pad[:, None]),
    ]
    width = sum(len(p) if isinstance(p, bytes) else p.shape[1] for p, _ in pieces)
    mat = np.empty((n, width), np.uint8)
    mask = np.ones((n, width), bool)
    at = 0
    for data, used in pieces:
        w = len(data) if isinstance(data, bytes) else data.shape[1]
        mat[:, at:at + w] = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
        if used is not None:
            mask[:, at:at + w] = used
        at += w
    return mat[mask], 8 + L + pad


def encode_fm_records(c_idx, p_idx, labels, n_customers: int, feature_dim: int):
    """All records of one split as (uint8 buffer, record end offsets)."""
    c_idx = np.asarray(c_idx, np.uint64)
    key1 = np.asarray(p_idx, np.uint64) + np.uint64(n_customers)
    labels = np.asarray(labels, np.float32)
    shape_bytes = _encode_py_varint(feature_dim)
    bufs, sizes = [], []
    for s in range(0, c_idx.shape[0], _CHUNK_ROWS):
        e = s + _CHUNK_ROWS
        b, sz = _encode_chunk(c_idx[s:e], key1[s:e], labels[s:e], shape_bytes)
        bufs.append(b)
        sizes.append(sz)
    if not bufs:
        return np.empty(0, np.uint8), np.empty(0, np.int64)
    return np.concatenate(bufs), np.cumsum(np.concatenate(sizes))


def write_split(outdir: str, name: str, c, p, r, n_customers: int, feature_dim: int,
                chunk: int | None = None) -> list[dict]:
    buf, ends = encode_fm_records(c, p, r, n_customers, feature_dim)
    os.makedirs(os.path.join(outdir, name), exist_ok=True)
    if chunk is None:
        rel = f"{name}/{name}.protobuf"
        with open(os.path.join(outdir, rel), "wb") as f:
            f.write(buf.data)
        return [benchlib.file_entry(outdir, rel, len(ends))]
    entries = []
    for i, s in enumerate(range(0, len(ends), chunk)):
        e = min(s + chunk, len(ends))
        lo = int(ends[s - 1]) if s else 0
        rel = f"{name}/{name}_{i}.protobuf"
        with open(os.path.join(outdir, rel), "wb") as f:
            f.write(buf[lo:int(ends[e - 1])].data)
        entries.append(benchlib.file_entry(outdir, rel, e - s))
    return entries


# --------------------------------------------------------------------------
# Self-test: encoder vs FORMAT.md vectors and vs the SageMaker SDK writer
# --------------------------------------------------------------------------

def _encode_bytes(nc, npd, rows) -> bytes:
    c, p, r = (np.array(x) for x in zip(*rows, strict=True)) if rows else ([], [], [])
    buf, _ = encode_fm_records(c, p, r, nc, nc + npd)
    return buf.tobytes()


def _sdk_bytes(write, nc, npd, rows) -> bytes:
    from scipy.sparse import lil_matrix
    X = lil_matrix((len(rows), nc + npd)).astype("float32")
    for i, (c, p, _) in enumerate(rows):
        X[i, c] = 1
        X[i, nc + p] = 1
    Y = np.array([r for _, _, r in rows], np.float32)
    f = io.BytesIO()
    write(f, X, Y)
    return f.getvalue()


def selftest() -> int:
    failures = 0
    for i, (nc, npd, rows, hexstr) in enumerate(benchlib.TEST_VECTORS):
        got = _encode_bytes(nc, npd, rows)
        ok = got == bytes.fromhex(hexstr)
        failures += not ok
        print(f"vector {i}: {'ok' if ok else 'MISMATCH'} ({len(got)} bytes)")
        if not ok:
            print(f"  want {hexstr}\n  got  {got.hex()}")
        decoded = [benchlib.decode_record(pl_) for pl_ in benchlib.iter_recordio(got)]
        keys = [(d["features"]["values"]["keys"], d["label"]["values"]["values"][0])
                for d in decoded]
        want = [([c, nc + p], float(r)) for c, p, r in rows]
        if keys != want:
            failures += 1
            print(f"  decoder disagrees: {keys} != {want}")

    try:
        import contextlib
        os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        with contextlib.redirect_stdout(sys.stderr):
            from sagemaker.amazon.common import write_spmatrix_to_sparse_tensor as sdk
    except ImportError:
        print("SDK comparison skipped: sagemaker not importable")
        return 1 if failures else 0

    # Random data across varint sizes: 1..5-byte keys, 1..5-byte shapes,
    # so every payload length modulo 4 (all padding amounts) occurs.
    rng = np.random.default_rng(0)
    pads_seen: set[int] = set()
    for nc, npd in [(1, 1), (3, 2), (100, 27), (128, 1), (200, 16_300),
                    (140_344, 38_385), (2_000_000, 300_000), (300_000_000, 9_000_000)]:
        n = 500
        rows = list(zip(rng.integers(0, nc, n).tolist(), rng.integers(0, npd, n).tolist(),
                        rng.integers(1, 6, n).tolist(), strict=True))
        rows += [(0, 0, 1), (nc - 1, npd - 1, 5)]
        ours, theirs = _encode_bytes(nc, npd, rows), _sdk_bytes(sdk, nc, npd, rows)
        ok = ours == theirs
        failures += not ok
        pads_seen.update(-len(x) % 4 for x in benchlib.iter_recordio(ours))
        print(f"vs SDK nc={nc} np={npd} rows={len(rows)}: "
              f"{'ok' if ok else 'MISMATCH'} ({len(ours)} bytes)")
    ok = pads_seen == {0, 1, 2, 3}
    failures += not ok
    print(f"padding amounts covered {sorted(pads_seen)}: {'ok' if ok else 'INCOMPLETE'}")
    ok = _encode_bytes(3, 2, []) == _sdk_bytes(sdk, 3, 2, []) == b""
    failures += not ok
    print(f"empty split: {'ok' if ok else 'MISMATCH'}")
    print("selftest:", "FAILED" if failures else "passed")
    return 1 if failures else 0


# --------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", nargs="?", help="reviews TSV, plain or gzip")
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--selftest", action="store_true",
                    help="check the encoder against FORMAT.md vectors and the SDK, then exit")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()
    if not args.input or not args.outdir:
        ap.error("INPUT and OUTDIR are required")

    t0 = time.perf_counter()
    os.makedirs(args.outdir, exist_ok=True)
    stages = benchlib.Stages()
    counts: dict = {}

    rows = load_valid_rows(args.input, counts)
    stages.mark("scan_csv")
    c, p, r, cust_tab, prod_tab = filter_and_index(rows, counts)
    del rows
    n_customers, n_products = cust_tab.height, prod_tab.height
    feature_dim = n_customers + n_products
    stages.mark("filter_index")

    perm = np.random.default_rng(args.seed).permutation(len(c))
    a, b = benchlib.split_points(len(c))
    parts = {"train": perm[:a], "validate": perm[a:b], "test": perm[b:]}
    counts.update({k: int(len(v)) for k, v in parts.items()})
    stages.mark("shuffle_split")

    files = {}
    for name, sel in parts.items():
        files[name] = write_split(args.outdir, name, c[sel], p[sel], r[sel], n_customers,
                                  feature_dim, TEST_CHUNK if name == "test" else None)
    stages.mark("write_protobuf")

    files["maps"] = benchlib.write_maps(
        args.outdir, cust_tab["cust"].to_list(), cust_tab["count"].to_list(),
        prod_tab["prod"].to_list(), prod_tab["count"].to_list(), prod_tab["title"].to_list())
    stages.mark("write_maps")

    benchlib.write_summary(args.outdir, {
        "tool": "polars_pipeline",
        "input": args.input,
        "output": args.outdir,
        "seed": args.seed,
        "feature_dim": feature_dim,
        "n_customers": n_customers,
        "n_products": n_products,
        "counts": counts,
        "files": files,
        "stages": stages.times,
        "elapsed_seconds": round(time.perf_counter() - t0, 3),
        "threads": pl.thread_pool_size(),
        "versions": benchlib.package_versions(["polars", "numpy"]),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
