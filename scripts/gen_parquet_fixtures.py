#!/usr/bin/env python3
"""Write tests/fixtures/parquet/reviews/: the bundled sample as a partitioned Parquet dataset, the
way the Parquet edition of the reviews is laid out (product_category=<cat>/part-*.snappy.parquet),
written by pyarrow, so fmprep's Parquet reader is tested on files another implementation wrote.

Run once, from the repository root, with pyarrow from PyPI in a throw-away venv:

    python3 -m venv /tmp/fmprep-parquet-venv
    /tmp/fmprep-parquet-venv/bin/pip install pyarrow
    /tmp/fmprep-parquet-venv/bin/python scripts/gen_parquet_fixtures.py

The rows are the sample's valid rows (15 fields, non-empty UTF-8 ids, star rating 1..5), in input
order, split over three files, so `fmprep run` on the directory must write the same files as on
data-samples/reviews_sample.tsv.gz. Types as in the published dataset: star_rating int32,
review_date date32, ids strings. review_headline and review_body are left out to keep the fixture
small. Three malformed rows (null customer, star rating 0, null product) are appended to the last
file; they must be counted and skipped.
"""

import datetime
import gzip
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq

SRC = "data-samples/reviews_sample.tsv.gz"
OUT = "tests/fixtures/parquet/reviews"
CATEGORY = "Digital_Video_Download"
COLUMNS = ["marketplace", "customer_id", "review_id", "product_id", "product_parent",
           "product_title", "star_rating", "review_date"]


def utf8(b: bytes):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def main() -> None:
    with gzip.open(SRC, "rb") as f:
        lines = f.read().split(b"\n")
    header = lines[0].rstrip(b"\r").decode().split("\t")
    col = {name: i for i, name in enumerate(header)}
    rows = {name: [] for name in COLUMNS}
    for raw in lines[1:]:
        raw = raw.rstrip(b"\r")
        if not raw:
            continue
        fields = raw.split(b"\t")
        if len(fields) != len(header):
            continue
        c, p, s = (fields[col["customer_id"]], fields[col["product_id"]], fields[col["star_rating"]])
        if not c or not p or s not in (b"1", b"2", b"3", b"4", b"5"):
            continue
        if utf8(c) is None or utf8(p) is None:
            continue
        try:
            date = datetime.date.fromisoformat(fields[col["review_date"]].decode())
        except ValueError:
            date = None
        rows["marketplace"].append(fields[col["marketplace"]].decode(errors="replace"))
        rows["customer_id"].append(utf8(c))
        rows["review_id"].append(fields[col["review_id"]].decode(errors="replace"))
        rows["product_id"].append(utf8(p))
        parent = fields[col["product_parent"]]
        rows["product_parent"].append(int(parent) if parent.isdigit() else None)
        rows["product_title"].append(fields[col["product_title"]].decode("utf-8", errors="replace"))
        rows["star_rating"].append(int(s))
        rows["review_date"].append(date)
    schema = pa.schema([
        ("marketplace", pa.string()), ("customer_id", pa.string()), ("review_id", pa.string()),
        ("product_id", pa.string()), ("product_parent", pa.int64()), ("product_title", pa.string()),
        ("star_rating", pa.int32()), ("review_date", pa.date32()),
    ])
    table = pa.table(rows, schema=schema)
    bad = pa.table({
        "marketplace": ["US"] * 3, "customer_id": [None, "1", "2"], "review_id": ["RX"] * 3,
        "product_id": ["B1", "B1", None], "product_parent": [1] * 3, "product_title": ["t"] * 3,
        "star_rating": [5, 0, 4], "review_date": [datetime.date(2015, 1, 1)] * 3,
    }, schema=schema)
    shutil.rmtree(OUT, ignore_errors=True)
    part_dir = os.path.join(OUT, f"product_category={CATEGORY}")
    os.makedirs(part_dir)
    n = table.num_rows
    cuts = [0, n // 3, 2 * n // 3, n]
    for i in range(3):
        piece = table.slice(cuts[i], cuts[i + 1] - cuts[i])
        if i == 2:
            piece = pa.concat_tables([piece, bad])
        pq.write_table(piece, os.path.join(part_dir, f"part-0000{i}.snappy.parquet"),
                       compression="snappy")
    open(os.path.join(OUT, "_SUCCESS"), "w").close()
    print(f"{n} valid rows + 3 malformed in 3 files under {OUT}")


if __name__ == "__main__":
    main()
