"""``python -m fmprep.spark run INPUT... --output OUT [--master URL] [options]`` (also through
``spark-submit``): :func:`fmprep.spark.run` from the command line; prints the manifest as one
JSON line, the last line of stdout, as ``fmprep run`` does."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from . import run


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fmprep.spark", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="the fmprep run --shuffle hash pipeline on Spark")
    r.add_argument("inputs", nargs="+", metavar="INPUT", help="TSV(.gz) files, directories, prefixes")
    r.add_argument("-o", "--output", required=True, help="output directory or s3:// prefix")
    r.add_argument("--master", help="Spark master URL (default: spark-submit's, else local[*])")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--split", default="0.6,0.2,0.2")
    r.add_argument("--shuffle", default="hash", help="only hash is supported on Spark")
    r.add_argument("--min-customer-ratings", type=int, default=5)
    r.add_argument("--min-product-ratings", type=int, default=10)
    r.add_argument("--test-chunk", type=int, default=10_000)
    r.add_argument("--max-bad-lines", default="0.01")
    r.add_argument("--delimiter", default="\t")
    r.add_argument("--max-line-bytes", type=int, default=16 << 20)
    r.add_argument("--rating-scale", default="stars")
    r.add_argument("--partitions", type=int, help="shuffle partitions (train parts at most)")
    r.add_argument("--overwrite", action="store_true")
    r.add_argument("--region")
    r.add_argument("--endpoint-url")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv``, start (or join) a Spark session, run, print the manifest; the exit code
    is the fmprep error's (1 for other failures)."""
    from pyspark.sql import SparkSession

    from .._errors import FmprepError

    a = _parser().parse_args(argv)
    builder = SparkSession.builder.appName("fmprep")
    if a.master:
        builder = builder.master(a.master)
    spark = builder.getOrCreate()
    options = {
        k: v
        for k, v in vars(a).items()
        if k not in ("command", "inputs", "output", "master") and v is not None
    }
    try:
        manifest = run(spark, a.inputs, a.output, **options)
    except FmprepError as e:
        print(f"fmprep.spark: {e}", file=sys.stderr)
        return e.exit_code or 1
    finally:
        spark.stop()
    print(json.dumps(manifest, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
