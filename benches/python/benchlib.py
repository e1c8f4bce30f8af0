"""Shared helpers for the fmprep end-to-end benchmark scripts.

Used by pandas_pipeline.py, polars_pipeline.py and compare.py. It holds only
what several scripts need: logging, the output-layout writers (maps/*.tsv and
summary.json in the same shape as fmprep's), the FORMAT.md test vectors, and a
small self-contained RecordIO-protobuf decoder.

Only the standard library is imported here, so compare.py runs without numpy.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import sys
import time
from typing import Iterator

# --------------------------------------------------------------------------
# Logging and timing
# --------------------------------------------------------------------------

_T0 = time.perf_counter()


def log(msg: str) -> None:
    """Progress message on stderr, prefixed by seconds since start."""
    print(f"[{time.perf_counter() - _T0:8.2f}s] {msg}", file=sys.stderr, flush=True)


class Stages:
    """Collects wall time per named stage, for summary.json."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 3)
        self._last = now
        log(f"stage {name}: {self.times[name]:.2f}s")


def is_gzip(path: str) -> bool:
    """True when the file starts with the gzip magic bytes (1f 8b)."""
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_header(path: str) -> list[str]:
    """Column names from the first line of a (possibly gzip'd) TSV."""
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as f:
        line = f.readline()
    return line.rstrip(b"\r\n").decode("utf-8", "replace").split("\t")


# --------------------------------------------------------------------------
# Output layout shared with fmprep: maps/*.tsv and a summary
# --------------------------------------------------------------------------

def write_maps(outdir: str, customer_ids, customer_counts, product_ids,
               product_counts, product_titles) -> list[dict]:
    """Write maps/customers.tsv and maps/products.tsv like fmprep does.

    Rows are given in index order (row i has index i); the index column is the
    0-based index within its own kind (product keys in the records are
    n_customers + index). Returns file entries for the summary.
    """
    mdir = os.path.join(outdir, "maps")
    os.makedirs(mdir, exist_ok=True)
    entries = []

    path = os.path.join(mdir, "customers.tsv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("customer_id\tindex\tcount\n")
        f.writelines(f"{cid}\t{i}\t{int(n)}\n"
                     for i, (cid, n) in enumerate(zip(customer_ids, customer_counts,
                                                                  strict=True)))
    entries.append({"path": "maps/customers.tsv", "records": len(customer_ids),
                    "bytes": os.path.getsize(path)})

    path = os.path.join(mdir, "products.tsv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("product_id\tindex\tcount\tproduct_title\n")
        f.writelines(f"{pid}\t{i}\t{int(n)}\t{'' if t is None else t}\n"
                     for i, (pid, n, t) in enumerate(zip(product_ids, product_counts,
                                                         product_titles, strict=True)))
    entries.append({"path": "maps/products.tsv", "records": len(product_ids),
                    "bytes": os.path.getsize(path)})
    return entries


def file_entry(outdir: str, relpath: str, records: int) -> dict:
    return {"path": relpath, "records": int(records),
            "bytes": os.path.getsize(os.path.join(outdir, relpath))}


def write_summary(outdir: str, summary: dict) -> None:
    """Write OUTDIR/summary.json (pretty) and echo it as one line on stdout."""
    with open(os.path.join(outdir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(json.dumps(summary, separators=(",", ":")))


def split_points(n: int) -> tuple[int, int]:
    """Cut points of the 60/20/20 split, computed as the Python pipeline did."""
    return int(0.6 * n), int(0.8 * n)


def package_versions(names: list[str]) -> dict[str, str]:
    from importlib import metadata
    out = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------
# FORMAT.md test vectors (bytes written by the SageMaker Python SDK)
# --------------------------------------------------------------------------

# Each vector: (n_customers, n_products, [(customer, product, rating), ...], hex)
TEST_VECTORS = [
    (3, 2, [(0, 1, 5), (2, 0, 3)],
     "0a23d7ce330000000a1d0a0676616c756573121312110a080000803f0000803f120200041a01"
     "0512120a0676616c756573120812060a040000a040000a23d7ce330000000a1d0a0676616c75"
     "6573121312110a080000803f0000803f120202031a010512120a0676616c7565731208120"
     "60a040000404000"),
    (140344, 38385, [(140343, 38384, 1)],
     "0a23d7ce390000000a230a0676616c756573121912170a080000803f0000803f1206b7c808a8"
     "f40a1a03a9f40a12120a0676616c756573120812060a040000803f000000"),
]


# --------------------------------------------------------------------------
# RecordIO-protobuf decoding (FORMAT.md), independent of the SDK
# --------------------------------------------------------------------------

RECORDIO_MAGIC = 0xCED7230A


class DecodeError(ValueError):
    pass


def iter_recordio(data: bytes) -> Iterator[bytes]:
    """Yield the payloads of a RecordIO byte string.

    Frame: u32 LE magic, u32 LE header (low 29 bits length, top 3 bits
    continuation flag: 0 whole, 1 first, 2 middle, 3 last), payload, zero
    padding to a multiple of 4. Split records are re-assembled.
    """
    pos, n = 0, len(data)
    parts: list[bytes] | None = None
    while pos < n:
        if pos + 8 > n:
            raise DecodeError(f"truncated frame header at byte {pos}")
        magic, word = struct.unpack_from("<II", data, pos)
        if magic != RECORDIO_MAGIC:
            raise DecodeError(f"bad magic {magic:#010x} at byte {pos}")
        length, cflag = word & ((1 << 29) - 1), word >> 29
        start = pos + 8
        end = start + length
        if end > n:
            raise DecodeError(f"truncated payload at byte {pos}")
        chunk = data[start:end]
        pos = end + (-length % 4)
        if cflag == 0:
            if parts is not None:
                raise DecodeError("whole record inside a split record")
            yield chunk
        elif cflag == 1:
            if parts is not None:
                raise DecodeError("split record started twice")
            parts = [chunk]
        elif cflag == 2:
            if parts is None:
                raise DecodeError("middle part without a first part")
            parts.append(chunk)
        elif cflag == 3:
            if parts is None:
                raise DecodeError("last part without a first part")
            parts.append(chunk)
            yield b"".join(parts)
            parts = None
        else:
            raise DecodeError(f"unknown continuation flag {cflag}")
    if parts is not None:
        raise DecodeError("file ends inside a split record")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:                      # fast path: one byte
        return b, pos + 1
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise DecodeError("varint too long")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, object]]:
    """Iterate (field_number, wire_type, value) over a protobuf message.

    Length-delimited values are returned as (start, end) offsets into buf;
    fixed32/fixed64 values as raw bytes; varints as ints.
    """
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 2:
            ln, pos = _varint(buf, pos)
            val = (pos, pos + ln)
            pos += ln
        elif wt == 5:
            val = buf[pos:pos + 4]
            pos += 4
        elif wt == 1:
            val = buf[pos:pos + 8]
            pos += 8
        else:
            raise DecodeError(f"unsupported wire type {wt}")
        yield field, wt, val
    if pos != end:
        raise DecodeError("message overruns its length")


# Value oneof field number -> (name, packed element struct format or None for int32)
_TENSOR_KINDS = {2: ("float32", "f", 4), 3: ("float64", "d", 8), 7: ("int32", None, 0)}


def _decode_tensor(buf: bytes, start: int, end: int, kind: int) -> dict:
    _, fmt, size = _TENSOR_KINDS[kind]
    values: list = []
    keys: list[int] = []
    shape: list[int] = []
    for field, wt, val in _fields(buf, start, end):
        if field == 1:
            if wt == 2:
                s, e = val
                if fmt is None:          # packed int32 varints
                    while s < e:
                        v, s = _varint(buf, s)
                        values.append(v - (1 << 64) if v >= 1 << 63 else v)
                else:
                    values.extend(struct.unpack_from(f"<{(e - s) // size}{fmt}", buf, s))
            elif wt == 0:
                values.append(val - (1 << 64) if val >= 1 << 63 else val)
            else:
                values.append(struct.unpack("<" + fmt, val)[0])
        elif field in (2, 3):
            target = keys if field == 2 else shape
            if wt == 2:
                s, e = val
                while s < e:
                    v, s = _varint(buf, s)
                    target.append(v)
            else:
                target.append(val)
    return {"type": _TENSOR_KINDS[kind][0], "values": values, "keys": keys, "shape": shape}


def _decode_map(buf: bytes, start: int, end: int, out: dict) -> None:
    key, value = "", None
    for field, _, val in _fields(buf, start, end):
        if field == 1:
            key = buf[val[0]:val[1]].decode("utf-8")
        elif field == 2:
            for vf, _, vv in _fields(buf, val[0], val[1]):
                if vf in _TENSOR_KINDS:
                    value = _decode_tensor(buf, vv[0], vv[1], vf)
                elif vf == 9:
                    value = {"type": "bytes"}
    out[key] = value


def decode_record(payload: bytes) -> dict:
    """Decode one aialgs.data.Record into {'features': {...}, 'label': {...}}."""
    rec: dict = {"features": {}, "label": {}}
    for field, wt, val in _fields(payload, 0, len(payload)):
        if field == 1 and wt == 2:
            _decode_map(payload, val[0], val[1], rec["features"])
        elif field == 2 and wt == 2:
            _decode_map(payload, val[0], val[1], rec["label"])
        elif field in (3, 4, 5) and wt == 2:
            rec[{3: "uid", 4: "metadata", 5: "configuration"}[field]] = \
                payload[val[0]:val[1]].decode("utf-8")
    return rec
