"""The Python package's figures for docs/python.md: `fmprep.from_frame` on a polars frame against
`fmprep.run` on the same rows as a TSV, and the peak memory of `from_frame` fed a streaming
RecordBatchReader.

    python benches/python_frames.py [ROWS]        # default 4,057,147 (the e2e bench size)

Needs the fmprep wheel (a release build: `pip install ./python`), polars and pyarrow in the
running interpreter, and `fmprep` on PATH (the wheel's). Data: `fmprep synth --rows ROWS --seed 1
--bad-line-rate 0` as plain TSV, cached under $BENCH_DATA (default ~/.cache/fmprep-bench-data);
without malformed lines, so that polars and pyarrow read the file as fmprep does. Each
measurement runs in a fresh process so that peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

COLUMNS = ["customer_id", "product_id", "product_title", "star_rating"]

# One measurement per child process; prints a JSON line. Modes: run (the TSV file), polars (the
# TSV read into a polars frame, then from_frame), reader (pyarrow's streaming CSV reader),
# parquet (a RecordBatchReader over a Parquet copy's batches), parquet-only (those batches read
# and dropped: the reader's own footprint).
CHILD = r"""
import json, resource, sys, time
import fmprep
mode, tsv, out = sys.argv[1:4]
cols = %r
t0 = time.perf_counter()
if mode == "run":
    m = fmprep.run(tsv, out, threads=2)
    load = 0.0
elif mode == "polars":
    import polars as pl
    df = pl.read_csv(tsv, separator="\t", quote_char=None, columns=cols, infer_schema=False)
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = fmprep.from_frame(df, out, threads=2)
elif mode == "parquet":
    import pyarrow as pa, pyarrow.parquet as pq
    f = pq.ParquetFile(tsv.replace(".tsv", ".parquet"))
    reader = pa.RecordBatchReader.from_batches(f.schema_arrow, f.iter_batches(batch_size=65536))
    load = 0.0
    m = fmprep.from_frame(reader, out, threads=2)
elif mode == "parquet-only":
    import pyarrow.parquet as pq
    f = pq.ParquetFile(tsv.replace(".tsv", ".parquet"))
    n = sum(b.num_rows for b in f.iter_batches(batch_size=65536))
    load = 0.0
    m = {"counts": {"valid": n}}
else:
    import pyarrow as pa, pyarrow.csv as csv
    reader = csv.open_csv(
        tsv,
        read_options=csv.ReadOptions(block_size=8 << 20),
        parse_options=csv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=csv.ConvertOptions(include_columns=cols,
                                           column_types={c: pa.string() for c in cols}),
    )
    load = 0.0
    m = fmprep.from_frame(reader, out, threads=2)
secs = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "seconds": round(secs, 2), "load_seconds": round(load, 2),
                  "peak_rss_mb": round(rss_mb), "rows": m["counts"]["valid"]}))
""" % COLUMNS


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 4_057_147
    data = Path(os.environ.get("BENCH_DATA", Path.home() / ".cache" / "fmprep-bench-data"))
    data.mkdir(parents=True, exist_ok=True)
    tsv = data / f"synth-{rows}-s1-clean.tsv"
    if not tsv.exists():
        tmp = tsv.with_suffix(".tmp")
        subprocess.run(["fmprep", "synth", "--rows", str(rows), "--seed", "1", "--bad-line-rate", "0",
                        "--output", str(tmp)], check=True, stdout=subprocess.DEVNULL)
        tmp.rename(tsv)
    parquet = tsv.with_suffix(".parquet")
    if not parquet.exists():
        # In a child: a parent that held the frame would pass its peak RSS on to the children
        # it forks afterwards (Linux keeps ru_maxrss across fork and exec).
        code = (
            "import sys, polars as pl; pl.read_csv(sys.argv[1], separator='\\t', quote_char=None, "
            f"columns={COLUMNS!r}, infer_schema=False).write_parquet(sys.argv[2], row_group_size=65536)"
        )
        subprocess.run([sys.executable, "-c", code, str(tsv), str(parquet)], check=True)
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for mode in ("run", "polars", "reader", "parquet", "parquet-only"):
            out = Path(tmpdir) / mode
            done = subprocess.run([sys.executable, "-c", CHILD, mode, str(tsv), str(out)],
                                  check=True, capture_output=True, text=True)
            results.append(json.loads(done.stdout.splitlines()[-1]))
        same = len({tuple(sorted(p.read_bytes() for p in (Path(tmpdir) / m).rglob("*.protobuf")))
                     for m in ("run", "polars", "reader", "parquet")}) == 1
    size_mb = tsv.stat().st_size / 1e6
    for r in results:
        r["input_mb"] = round(size_mb)
        r["mrows_per_s"] = round(r["rows"] / r["seconds"] / 1e6, 2)
        print(json.dumps(r))
    print(json.dumps({"protobuf_files_identical": same}))


if __name__ == "__main__":
    main()
