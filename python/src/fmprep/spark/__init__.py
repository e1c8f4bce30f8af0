"""``fmprep.spark``: the ``fmprep run --shuffle hash`` pipeline as a PySpark job.

>>> import fmprep.spark
>>> manifest = fmprep.spark.run(spark, ["s3://bucket/reviews/"], "s3://bucket/fm/")  # doctest: +SKIP

Spark does the global work with its own operators (the counts of the long-tail filter, the
de-duplication, the index numbering, the sort by split key); fmprep's kernels from the wheel
parse the input files and encode the RecordIO records on the executors (``mapInArrow``). The
records, maps and counts are those of ``fmprep run --shuffle hash`` on the same input with the
same options; ``docs/spark.md`` lists what differs in the layout (part files per split).

Nothing but small results reaches the driver: the per-file counters, per-partition row counts,
the names of the files the tasks wrote, and the maps, which are streamed (one partition at a
time, ``toLocalIterator``) into ``maps/customers.tsv`` and ``maps/products.tsv``.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .. import _native
from .._errors import BadInputError, OutputExistsError, UsageError

__all__ = ["run", "Options"]

#: The layout's file names, as ``fmprep run`` names them where there is one file.
MAPS = ("maps/customers.tsv", "maps/products.tsv")
MANIFEST = "manifest.json"
#: Where task attempts stage their files before the driver commits the winners.
STAGING = "_fmprep_staging"


class Options:
    """The options of a Spark run: the ``fmprep run`` flags that apply (snake_case).

    Attributes:
        seed: the split seed (``--seed``, 42).
        split: train, validate, test fractions (``--split``, ``(0.6, 0.2, 0.2)``); two numbers
            leave the rest to test.
        min_customer_ratings, min_product_ratings: the long-tail thresholds (5, 10).
        test_chunk: records per test file at most (10,000).
        max_bad_lines: ``100`` (a count), ``0.01`` or ``"1%"`` (a fraction of the lines).
        delimiter, max_line_bytes, rating_scale, customer_column, product_column,
        rating_column, title_column: the reader's options, as for ``fmprep run``.
        shuffle: only ``"hash"`` (the row-wise split a cluster can compute).
        overwrite: replace a finished run at the output.
        region, endpoint_url: S3 settings for the kernels' reads and writes.
        partitions: Spark partitions of the shuffles (default: the session's
            ``spark.sql.shuffle.partitions``); the train split has at most this many parts.
    """

    _DEFAULTS: Dict[str, Any] = {
        "seed": 42,
        "split": (0.6, 0.2, 0.2),
        "min_customer_ratings": 5,
        "min_product_ratings": 10,
        "test_chunk": 10_000,
        "max_bad_lines": 0.01,
        "delimiter": "\t",
        "max_line_bytes": 16 << 20,
        "rating_scale": "stars",
        "customer_column": "customer_id",
        "product_column": "product_id",
        "rating_column": "star_rating",
        "title_column": "product_title",
        "shuffle": "hash",
        "overwrite": False,
        "region": None,
        "endpoint_url": None,
        "partitions": None,
    }

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self._DEFAULTS))
        if unknown:
            raise UsageError(
                f"fmprep.spark: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self._DEFAULTS))}"
            )
        merged = {**self._DEFAULTS, **options}
        for k, v in merged.items():
            setattr(self, k, v)
        if self.shuffle != "hash":
            raise UsageError(
                f"fmprep.spark supports --shuffle hash only (asked: {self.shuffle!r}): the other "
                "shuffles draw one permutation of all rows, which a cluster cannot compute row by row"
            )
        self.fractions = _fractions(self.split)
        self.limit = _bad_line_limit(self.max_bad_lines)
        if int(self.test_chunk) < 1:
            raise UsageError("test_chunk must be at least 1")
        self.seed = int(self.seed)
        if not 0 <= self.seed < 1 << 64:
            raise UsageError(f"seed {self.seed} is not an unsigned 64-bit integer")

    def reader_json(self) -> str:
        """The reader's options as the native parse kernel takes them."""
        return json.dumps(
            {
                "delimiter": self.delimiter,
                "max_line_bytes": int(self.max_line_bytes),
                "rating_scale": self.rating_scale,
                "customer": self.customer_column,
                "product": self.product_column,
                "rating": self.rating_column,
                "title": self.title_column,
            }
        )

    def record(self) -> Dict[str, Any]:
        """The options as the manifest records them."""
        return {
            "seed": self.seed,
            "split": list(self.fractions),
            "shuffle": "hash",
            "min_customer_ratings": int(self.min_customer_ratings),
            "min_product_ratings": int(self.min_product_ratings),
            "test_chunk": int(self.test_chunk),
            "max_bad_lines": self.max_bad_lines,
            "rating_scale": self.rating_scale,
            "engine": "spark",
        }


def _fractions(split: Union[str, Sequence[float]]) -> Tuple[float, float, float]:
    parts = [float(p) for p in (split.split(",") if isinstance(split, str) else split)]
    if len(parts) == 2:
        # As fmprep's parser: the remainder without the rounding noise of 1 - a - b.
        rest = round(1.0 - parts[0] - parts[1], 12)
        parts.append(max(rest, 0.0))
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-9:
        raise UsageError(f"invalid split {split!r}: give 2 or 3 fractions that add up to 1, like 0.6,0.2,0.2")
    return (parts[0], parts[1], parts[2])


def _bad_line_limit(limit: Union[int, float, str]) -> Tuple[str, float]:
    """``("count", n)`` or ``("fraction", f)``, as ``BadLineLimit`` parses it."""
    s = str(limit).strip()
    bad = UsageError(f"invalid bad-line limit {s!r}: use a count like 100 or a fraction like 0.01 or 1%")
    try:
        if s.endswith("%"):
            v = float(s[:-1])
            if not 0.0 <= v <= 100.0:
                raise bad
            return ("fraction", v / 100.0)
        if s.isdigit():
            return ("count", int(s))
        v = float(s)
    except ValueError:
        raise bad from None
    if not 0.0 <= v <= 1.0:
        raise bad
    return ("fraction", v)


#: The kinds of bad lines in words, as fmprep's messages name them (``BadKind::describe``).
_KIND_WORDS = {
    "field_count": "wrong number of fields",
    "empty_customer_id": "empty customer id",
    "empty_product_id": "empty product id",
    "bad_star_rating": "star rating is not an integer 1..5",
    "invalid_utf8_id": "id is not valid UTF-8",
    "line_too_long": "line longer than --max-line-bytes",
}


def _describe_limit(limit: Tuple[str, float]) -> str:
    kind, v = limit
    if kind == "count":
        return f"{int(v)} lines"
    pct = v * 100.0
    return f"{pct:g}% of lines"


def cuts(n: int, fractions: Tuple[float, float, float]) -> Tuple[int, int]:
    """Where the key-ordered rows are cut: ``floor(f_train n)`` and ``floor((f_train +
    f_validate) n)``, in f64 as fmprep computes them."""
    a = min(math.floor(fractions[0] * n), n)
    b = min(max(math.floor((fractions[0] + fractions[1]) * n), a), n)
    return a, b


def _kernel_spec(url: str) -> str:
    """The location as fmprep's kernels name it: ``s3a://`` and ``s3n://`` are ``s3://``;
    ``file:`` URLs are paths."""
    for scheme in ("s3a://", "s3n://"):
        if url.startswith(scheme):
            return "s3://" + url[len(scheme):]
    if url.startswith("file://"):
        return url[len("file://"):]
    if url.startswith("file:"):
        return url[len("file:"):]
    return url


def _hadoop_uri(url: str) -> str:
    """The location as Hadoop's FileSystem (the driver's commit) names it: URLs as given, local
    paths absolute with ``file:``."""
    if "://" in url or url.startswith("file:"):
        return url
    return "file:" + os.path.abspath(url)


class _Output:
    """The output location: kernel spelling for the executors' writes, Hadoop FileSystem for the
    driver's renames, listings and deletes (the commit)."""

    def __init__(self, spark: Any, url: str) -> None:
        self.url = url.rstrip("/")
        self.spec = _kernel_spec(self.url)
        if "://" not in self.spec:
            self.spec = os.path.abspath(self.spec)
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        self._root = jvm.org.apache.hadoop.fs.Path(_hadoop_uri(self.url))
        self._fs = self._root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def kernel(self, rel: str) -> str:
        return f"{self.spec}/{rel}"

    def _path(self, rel: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(self._root, rel)

    def exists(self, rel: str) -> bool:
        return bool(self._fs.exists(self._path(rel)))

    def delete(self, rel: str) -> None:
        self._fs.delete(self._path(rel), True)

    def rename(self, src_kernel_path: str, rel: str) -> None:
        """Move a file a task wrote (named as the kernel wrote it) to ``rel``."""
        src = self._path(os.path.relpath(src_kernel_path, self.spec) if "://" not in self.spec
                         else src_kernel_path[len(self.spec) + 1:])
        dst = self._path(rel)
        self._fs.mkdirs(dst.getParent())
        if self._fs.exists(dst):
            self._fs.delete(dst, False)
        if not self._fs.rename(src, dst):
            raise OSError(f"fmprep.spark: could not move {src.toString()} to {dst.toString()}")

    def list(self, rel: str) -> List[str]:
        p = self._path(rel)
        if not self._fs.exists(p):
            return []
        return sorted(s.getPath().getName() for s in self._fs.listStatus(p))


def _schemas() -> Tuple[Any, Any]:
    from pyspark.sql import types as T

    parsed = T.StructType(
        [
            T.StructField("customer_id", T.StringType(), True),
            T.StructField("product_id", T.StringType(), True),
            T.StructField("rating", T.FloatType(), True),
            T.StructField("product_title", T.BinaryType(), True),
            T.StructField("pos", T.LongType(), True),
            T.StructField("key", T.LongType(), True),
            # One row per file with its counters as JSON (the data columns null); null on rows.
            T.StructField("stats", T.StringType(), True),
        ]
    )
    written = T.StructType(
        [
            T.StructField("split", T.StringType(), False),
            T.StructField("partition", T.IntegerType(), False),
            T.StructField("chunk", T.IntegerType(), False),
            T.StructField("path", T.StringType(), False),
            T.StructField("records", T.LongType(), False),
            T.StructField("bytes", T.LongType(), False),
        ]
    )
    return parsed, written


def _parse_task(seed: int, reader_json: str, region: Optional[str], endpoint_url: Optional[str]):
    """The parse tasks' function (``mapInArrow`` over (file number, path) rows): each file
    through fmprep's reader, its rows, then one row of its counters."""

    def parse(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        from fmprep import _native as native

        for batch in batches:
            for file, path in zip(batch.column("file").to_pylist(), batch.column("path").to_pylist()):
                rows, stats = native.spark_parse_file(
                    path, file, seed, reader_json, 65536, region, endpoint_url
                )
                table = pa.table(rows)
                for b in table.to_batches():
                    yield pa.RecordBatch.from_arrays(
                        [*b.columns, pa.nulls(b.num_rows, pa.string())],
                        names=[*b.schema.names, "stats"],
                    )
                # The counters ride in the same stream so the file is read once.
                info = json.loads(stats)
                info["file"] = file
                info["path"] = path
                yield pa.RecordBatch.from_pydict(
                    {
                        "customer_id": pa.nulls(1, pa.string()),
                        "product_id": pa.nulls(1, pa.string()),
                        "rating": pa.nulls(1, pa.float32()),
                        "product_title": pa.nulls(1, pa.binary()),
                        "pos": pa.nulls(1, pa.int64()),
                        "key": pa.nulls(1, pa.int64()),
                        "stats": pa.array([json.dumps(info)], pa.string()),
                    }
                )

    return parse


def _write_task(
    offsets: Dict[int, int],
    a: int,
    b: int,
    dims: Tuple[int, int],
    staging: str,
    test_chunk: int,
    region: Optional[str],
    endpoint_url: Optional[str],
):
    """The encode tasks' function (``mapInArrow`` over the key-sorted rows): a partition's rows
    hold global ranks ``offsets[partition] ..``; ranks below ``a`` are train, below ``b``
    validate, the rest test. Files are written under an attempt-scoped name in ``staging``; the
    task returns one row per file for the driver to commit."""

    def write(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        from fmprep import _native as native

        ctx = TaskContext.get()
        part = ctx.partitionId()
        attempt = f"{ctx.stageId()}-{ctx.attemptNumber()}-{ctx.taskAttemptId()}"
        rank = offsets.get(part, 0)
        # One pass over the partition: the rows of each split are contiguous in it.
        pending: Dict[str, List[Any]] = {"train": [], "validate": [], "test": []}
        ranges = (("train", 0, a), ("validate", a, b), ("test", b, None))
        for batch in batches:
            n = batch.num_rows
            for split, lo, hi in ranges:
                start = max(lo - rank, 0)
                stop = n if hi is None else min(hi - rank, n)
                if stop > start:
                    pending[split].append(batch.slice(start, stop - start))
            rank += n
        out = []
        for split, parts in pending.items():
            if not parts:
                continue
            reader = pa.RecordBatchReader.from_batches(parts[0].schema, parts)
            template = f"{staging}/{attempt}/{split}/part-{part:05d}-{{}}.protobuf"
            chunk = test_chunk if split == "test" else 0
            for i, (path, records, nbytes) in enumerate(
                native.spark_write_records(reader, dims[0], dims[1], template, chunk, region, endpoint_url)
            ):
                out.append((split, part, i, path, records, nbytes))
        yield pa.RecordBatch.from_pydict(
            {
                "split": pa.array([o[0] for o in out], pa.string()),
                "partition": pa.array([o[1] for o in out], pa.int32()),
                "chunk": pa.array([o[2] for o in out], pa.int32()),
                "path": pa.array([o[3] for o in out], pa.string()),
                "records": pa.array([o[4] for o in out], pa.int64()),
                "bytes": pa.array([o[5] for o in out], pa.int64()),
            }
        )

    return write


def _number(df: Any, order: List[Any], persist: Any) -> Any:
    """``df`` with an ``index`` column ``0..n`` in ``order`` (a total order): a range-partitioned
    sort, then each row's rank = the rows of earlier partitions + its place in its own, so no
    single-partition window is needed."""
    from pyspark.sql import functions as F

    sorted_df = df.orderBy(*order).withColumn("_part", F.spark_partition_id()).withColumn(
        "_mid", F.monotonically_increasing_id()
    )
    sorted_df = sorted_df.persist(persist)
    counts = dict(
        (r["_part"], r["count"]) for r in sorted_df.groupBy("_part").count().collect()
    )
    offsets, total = {}, 0
    for p in sorted(counts):
        offsets[p] = total
        total += counts[p]
    # monotonically_increasing_id is (partition << 33) + position in the partition.
    spark = df.sparkSession
    off = spark.createDataFrame(list(offsets.items()), "_part int, _off long")
    numbered = (
        sorted_df.join(F.broadcast(off), "_part")
        .withColumn("index", (F.col("_off") + (F.col("_mid").bitwiseAND((1 << 33) - 1))).cast("int"))
        .drop("_part", "_mid", "_off")
    )
    return numbered, sorted_df


def _map_lines(rows: Iterable[Any], with_title: bool) -> Iterator[bytes]:
    """The map's lines as fmprep writes them, a block of lines per chunk."""
    if with_title:
        yield b"product_id\tindex\tcount\tproduct_title\n"
    else:
        yield b"customer_id\tindex\tcount\n"
    block: List[bytes] = []
    for r in rows:
        line = b"%s\t%d\t%d" % (r[0].encode(), r[1], r[2])
        if with_title:
            line += b"\t" + bytes(r[3] or b"")
        block.append(line + b"\n")
        if len(block) == 65536:
            yield b"".join(block)
            block = []
    if block:
        yield b"".join(block)


def _manifest_file(prefix: str, names: List[str]) -> bytes:
    """A SageMaker ``ManifestFile``: the prefix object, then the file names relative to it."""
    return (json.dumps([{"prefix": prefix}, *names], separators=(",", ":")) + "\n").encode()


def run(spark: Any, inputs: Union[str, Sequence[str]], output: str, **options: Any) -> Dict[str, Any]:
    """The ``fmprep run --shuffle hash`` pipeline on ``spark``: ratings at ``inputs`` to
    RecordIO-protobuf part files, maps and ``manifest.json`` at ``output``.

    Args:
        spark: a ``SparkSession`` whose executors have the ``fmprep`` wheel installed.
        inputs: TSV(.gz) files, directories, globs or prefixes, local or ``s3://``/``s3a://``,
            read in fmprep's order (files as listed, a directory's files by name).
        output: a local directory (local mode) or ``s3://``/``s3a://`` prefix.
        **options: see :class:`Options`.

    Returns:
        The manifest (the dict written as ``manifest.json``), written after every task succeeded.

    Raises:
        UsageError: an unknown or invalid option, or a shuffle other than ``hash``.
        BadInputError: headers that differ between files, or more bad lines than
            ``max_bad_lines``.
        OutputExistsError: a finished run at ``output`` without ``overwrite=True``.
        Exception: a failed Spark job (e.g. a corrupt gzip file) as PySpark raises it; no
            ``manifest.json`` is written and the staged files are removed.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.time()
    stages: Dict[str, float] = {}
    o = Options(**options)
    specs = [inputs] if isinstance(inputs, str) else list(inputs)
    if not specs:
        raise UsageError("fmprep.spark: no input")
    out = _Output(spark, output)
    if out.exists(MANIFEST):
        if not o.overwrite:
            raise OutputExistsError(
                f"{output}: holds a finished run (manifest.json); pass overwrite=True to replace it"
            )
        out.delete(MANIFEST)
    for name in ("train", "validate", "test", "maps"):
        if o.overwrite:
            out.delete(name)
    job = uuid.uuid4().hex[:12]
    staging_rel = f"{STAGING}/{job}"
    persisted: List[Any] = []

    def stage(name: str, t0: float) -> None:
        stages[name] = round(time.time() - t0, 3)

    if o.partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(int(o.partitions)))
    try:
        t0 = time.time()
        files = _native.spark_input_files([_kernel_spec(s) for s in specs], o.region, o.endpoint_url)
        parquet = [f for f in files if f.endswith(".parquet")]
        if parquet:
            raise UsageError(
                f"fmprep.spark reads TSV(.gz) input; {parquet[0]} is Parquet (see docs/spark.md)"
            )
        parsed_schema, written_schema = _schemas()
        listing = spark.createDataFrame(list(enumerate(files)), "file int, path string").repartition(
            len(files), "file"
        )
        parsed = listing.mapInArrow(
            _parse_task(o.seed, o.reader_json(), o.region, o.endpoint_url), parsed_schema
        ).persist(StorageLevel.MEMORY_AND_DISK)
        persisted.append(parsed)
        infos = sorted(
            (json.loads(r["stats"]) for r in parsed.where(F.col("stats").isNotNull()).select("stats").collect()),
            key=lambda i: i["file"],
        )
        stage("read", t0)
        counts = _read_counts(infos, specs, o)

        t0 = time.time()
        rows = parsed.where(F.col("stats").isNull()).drop("stats")
        per_customer = rows.groupBy("customer_id").count().where(F.col("count") >= int(o.min_customer_ratings))
        titles = rows.groupBy("product_id").agg(
            F.count(F.lit(1)).alias("count"), F.min_by("product_title", "pos").alias("product_title")
        )
        per_product = titles.where(F.col("count") >= int(o.min_product_ratings)).select("product_id")
        kept = rows.join(per_customer.select("customer_id"), "customer_id", "left_semi").join(
            per_product, "product_id", "left_semi"
        )
        # The first row of a pair in input order wins: the smallest position, and its rating.
        dedup = (
            kept.groupBy("customer_id", "product_id", "key")
            .agg(F.min("pos").alias("pos"), F.min_by("rating", "pos").alias("rating"))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        persisted.append(dedup)
        after_long_tail = kept.count()
        after_dedupe = dedup.count()
        stage("filter", t0)

        t0 = time.time()
        level = StorageLevel.MEMORY_AND_DISK
        customers, c_sorted = _number(
            dedup.groupBy("customer_id").agg(F.count(F.lit(1)).alias("count"), F.min("pos").alias("first")),
            [F.col("count").desc(), F.col("first").asc()],
            level,
        )
        products, p_sorted = _number(
            dedup.groupBy("product_id").agg(F.count(F.lit(1)).alias("count"), F.min("pos").alias("first")),
            [F.col("count").desc(), F.col("first").asc()],
            level,
        )
        persisted += [c_sorted, p_sorted]
        customers = customers.persist(level)
        products = products.join(titles.select("product_id", "product_title"), "product_id").persist(level)
        persisted += [customers, products]
        n_customers, n_products = customers.count(), products.count()
        stage("index", t0)

        t0 = time.time()
        a, b = cuts(after_dedupe, o.fractions)
        indexed = (
            dedup.join(customers.select("customer_id", F.col("index").alias("customer")), "customer_id")
            .join(products.select("product_id", F.col("index").alias("product")), "product_id")
            .select("key", "pos", "customer", "product", F.col("rating").alias("label"))
        )
        ordered = indexed.orderBy("key", "pos").select("customer", "product", "label").persist(level)
        persisted.append(ordered)
        part_counts = dict(
            (r["p"], r["count"])
            for r in ordered.groupBy(F.spark_partition_id().alias("p")).count().collect()
        )
        offsets, total = {}, 0
        for p in sorted(part_counts):
            offsets[p] = total
            total += part_counts[p]
        written = ordered.mapInArrow(
            _write_task(
                offsets,
                a,
                b,
                (n_customers, n_products),
                out.kernel(staging_rel),
                int(o.test_chunk),
                o.region,
                o.endpoint_url,
            ),
            written_schema,
        ).collect()
        stage("encode", t0)

        t0 = time.time()
        files_out = _commit(out, staging_rel, written)
        files_out["maps"] = _write_maps(out, customers, products, o)
        manifests = []
        for split in ("train", "validate", "test"):
            names = [f["path"].split("/", 1)[1] for f in files_out.get(split, [])]
            body = _manifest_file(f"{out.url}/{split}/", names)
            rel = f"{split}/{split}.manifest"
            _native.spark_write_object(out.kernel(rel), [body], o.region, o.endpoint_url)
            manifests.append({"path": rel, "records": len(names), "bytes": len(body)})
        files_out["manifests"] = manifests
        out.delete(staging_rel)
        stage("write", t0)
    except BaseException:
        # A failed job leaves no manifest and no staged attempt files.
        try:
            out.delete(staging_rel)
        finally:
            for df in persisted:
                df.unpersist()
        raise
    for df in persisted:
        df.unpersist()

    split_counts = {s: sum(f["records"] for f in files_out.get(s, [])) for s in ("train", "validate", "test")}
    if split_counts != {"train": a, "validate": b - a, "test": after_dedupe - b}:
        raise RuntimeError(f"fmprep.spark: records written {split_counts} differ from the cut ({a}, {b}, {after_dedupe})")
    feature_dim = n_customers + n_products
    counts.update(
        {
            "after_long_tail": after_long_tail,
            "after_dedupe": after_dedupe,
            **split_counts,
        }
    )
    manifest = {
        "fmprep_version": _native.__version__,
        "command": "spark run",
        "input": " ".join(specs),
        "output": out.url,
        "seed": o.seed,
        "feature_dim": feature_dim,
        "n_customers": n_customers,
        "n_products": n_products,
        "counts": counts,
        "bad_line_examples": counts.pop("_examples"),
        "files": files_out,
        "options": o.record(),
        "elapsed_seconds": round(time.time() - started, 3),
        "stage_seconds": stages,
        "hyperparameters": {"feature_dim": str(feature_dim), "predictor_type": "regressor"},
    }
    if not manifest["bad_line_examples"]:
        del manifest["bad_line_examples"]
    body = (json.dumps(manifest, indent=2) + "\n").encode()
    # Last: the mark of a finished run.
    _native.spark_write_object(out.kernel(MANIFEST), [body], o.region, o.endpoint_url)
    return manifest


def _read_counts(infos: List[Dict[str, Any]], specs: List[str], o: Options) -> Dict[str, Any]:
    """The read counters summed over files, the first bad lines in input order, the headers
    checked equal and the bad-line limit applied, as fmprep does over a many-file input."""
    first = infos[0]["header"].rstrip("\r") if infos else ""
    for i in infos[1:]:
        if i["header"].rstrip("\r") != first:
            raise BadInputError(
                f"{i['path']}: the header differs from the one of {infos[0]['path']}; every input "
                "file must have the same columns in the same order",
                3,
            )
    kinds: Dict[str, int] = {}
    for i in infos:
        for k, v in i["bad_lines"].items():
            kinds[k] = kinds.get(k, 0) + v
    examples = [e for i in infos for e in i["examples"]][:5]
    if len(infos) == 1:
        for e in examples:
            e.pop("file", None)
    lines = sum(i["input_lines"] for i in infos)
    total = sum(kinds.values())
    kind, v = o.limit
    if (kind == "count" and total > v) or (kind == "fraction" and total > v * lines):
        first_bad = ""
        if examples:
            e = examples[0]
            where = f"{e['file']} " if e.get("file") else ""
            first_bad = f"; first: {where}line {e['line']}: {_KIND_WORDS.get(e['kind'], e['kind'])} ({e['detail']})"
        raise BadInputError(
            f"{' '.join(specs)}: {total} malformed lines out of {lines} exceed --max-bad-lines "
            f"({_describe_limit(o.limit)}){first_bad}; check the delimiter and the file, or raise "
            "--max-bad-lines",
            3,
        )
    return {
        "input_lines": lines,
        "blank_lines": sum(i["blank_lines"] for i in infos),
        "bad_lines": kinds,
        "bad_lines_total": total,
        "valid": sum(i["valid"] for i in infos),
        "_examples": examples,
    }


def _commit(out: _Output, staging_rel: str, written: List[Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Move the files of the winning attempts (the rows Spark returned: one attempt per
    partition) to their final names, in partition order; the files of other attempts stay in
    the staging folder, which is removed after."""
    files: Dict[str, List[Dict[str, Any]]] = {"train": [], "validate": [], "test": []}
    seen = set()
    for r in sorted(written, key=lambda r: (r["split"], r["partition"], r["chunk"])):
        key = (r["split"], r["partition"], r["chunk"])
        if key in seen:
            raise RuntimeError(f"fmprep.spark: two committed files for {key} (a bug)")
        seen.add(key)
        if r["split"] == "test":
            rel = f"test/part-{r['partition']:05d}-{r['chunk']:04d}.protobuf"
        else:
            rel = f"{r['split']}/part-{r['partition']:05d}.protobuf"
        out.rename(r["path"], rel)
        files[r["split"]].append({"path": rel, "records": r["records"], "bytes": r["bytes"]})
    return files


def _write_maps(out: _Output, customers: Any, products: Any, o: Options) -> List[Dict[str, Any]]:
    """The maps, streamed in index order through the driver one partition at a time."""
    entries = []
    for rel, df, cols, with_title in (
        (MAPS[0], customers, ["customer_id", "index", "count"], False),
        (MAPS[1], products, ["product_id", "index", "count", "product_title"], True),
    ):
        rows = df.select(*cols).orderBy("index").toLocalIterator(prefetchPartitions=True)
        n = df.count()
        nbytes = _native.spark_write_object(
            out.kernel(rel), _map_lines(rows, with_title), o.region, o.endpoint_url
        )
        entries.append({"path": rel, "records": n, "bytes": nbytes})
    return entries
