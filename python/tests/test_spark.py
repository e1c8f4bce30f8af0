"""fmprep.spark against the single machine: ``fmprep.spark.run`` in local mode (``local[2]``,
bound to 127.0.0.1) on a synthetic input cut into several files, and ``fmprep.run --shuffle
hash`` on the same files. Maps byte for byte, the train parts in name order byte for byte, every
split's records as multisets, the read counters and bad lines, and a failing job's output.

Skipped without pyspark or Java, except with ``FMPREP_REQUIRE_SPARK=1`` (CI), where that is a
failure.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import fmprep

REQUIRE = os.environ.get("FMPREP_REQUIRE_SPARK") == "1"


def _spark_or_skip():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if REQUIRE:
            raise
        pytest.skip("pyspark is not installed (scripts/test.sh installs it)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if REQUIRE:
            pytest.fail("no java: install openjdk-17-jre-headless")
        pytest.skip("no java on PATH")


@pytest.fixture(scope="module")
def spark():
    _spark_or_skip()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("fmprep-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list:
    """A synth input of 30,000 lines (0.2% malformed) cut into three files, the middle
    one gzipped, each with the header."""
    d = tmp_path_factory.mktemp("spark-in")
    whole = d / "whole.tsv"
    assert fmprep._native.main(["fmprep", "synth", "--rows", "30000", "--seed", "5", "--bad-line-rate", "0.002", "-o", str(whole)]) == 0
    lines = whole.read_bytes().split(b"\n")
    header, body = lines[0], [l for l in lines[1:]]
    if body and body[-1] == b"":
        body.pop()
    cut = [0, len(body) // 3, 2 * len(body) // 3, len(body)]
    files = []
    for i in range(3):
        text = header + b"\n" + b"\n".join(body[cut[i]:cut[i + 1]]) + b"\n"
        if i == 1:
            p = d / f"part{i}.tsv.gz"
            p.write_bytes(gzip.compress(text))
        else:
            p = d / f"part{i}.tsv"
            p.write_bytes(text)
        files.append(str(p))
    return files


def _records(path: Path) -> list:
    import pyarrow as pa

    t = pa.table(fmprep.read_recordio(path))
    return list(zip(t.column("label").to_pylist(), map(tuple, t.column("keys").to_pylist())))


def _framed(path: Path) -> list:
    """Each file's records as raw frames (RecordIO: magic, length, payload padded to 4)."""
    data = path.read_bytes()
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i + 4:i + 8], "little") & ((1 << 29) - 1)
        end = i + 8 + n + (-n % 4)
        out.append(data[i:end])
        i = end
    return out


@pytest.fixture(scope="module")
def both(spark, inputs, tmp_path_factory):
    import fmprep.spark

    d = tmp_path_factory.mktemp("spark-out")
    single = d / "single"
    fmprep.run(inputs, single, shuffle="hash", seed=11, max_bad_lines="5%")
    dist = d / "spark"
    m = fmprep.spark.run(spark, inputs, str(dist), seed=11, max_bad_lines="5%")
    return single, dist, m


def test_maps_are_byte_identical(both):
    single, dist, _ = both
    for name in ("maps/customers.tsv", "maps/products.tsv"):
        assert (dist / name).read_bytes() == (single / name).read_bytes(), name


def test_train_parts_concatenate_to_the_single_train_file(both):
    single, dist, _ = both
    parts = sorted((dist / "train").glob("part-*.protobuf"))
    assert len(parts) > 1, "the test needs several parts to check their order"
    assert b"".join(p.read_bytes() for p in parts) == (single / "train/train.protobuf").read_bytes()
    listed = json.loads((dist / "train/train.manifest").read_text())
    assert listed[1:] == [p.name for p in parts]
    assert listed[0]["prefix"].endswith("/train/")


def test_every_split_has_the_same_records(both):
    single, dist, _ = both
    for split, single_files in (
        ("train", ["train/train.protobuf"]),
        ("validate", ["validate/validate.protobuf"]),
        ("test", sorted(str(p.relative_to(single)) for p in (single / "test").glob("*.protobuf"))),
    ):
        want = Counter(f for name in single_files for f in _framed(single / name))
        got = Counter(f for p in sorted((dist / split).glob("part-*.protobuf")) for f in _framed(p))
        assert got == want, split
        assert sum(got.values()) > 0, split
    assert Counter(_records(dist / "test")) == Counter(_records(single / "test"))
    for p in (dist / "test").glob("part-*.protobuf"):
        assert len(_framed(p)) <= 10_000


def test_counts_and_bad_lines_match(both):
    single, _, m = both
    s = json.loads((single / "manifest.json").read_text())
    for k in ("input_lines", "blank_lines", "bad_lines", "bad_lines_total", "valid",
              "after_long_tail", "after_dedupe", "train", "validate", "test"):
        assert m["counts"][k] == s["counts"][k], k
    assert s["counts"]["bad_lines_total"] > 0, "synth input has malformed lines"
    assert m["bad_line_examples"] == s["bad_line_examples"]
    assert (m["feature_dim"], m["n_customers"], m["n_products"]) == (
        s["feature_dim"], s["n_customers"], s["n_products"])
    assert m["hyperparameters"] == s["hyperparameters"]


def test_too_many_bad_lines_fail_like_the_single_machine(spark, inputs, tmp_path):
    import fmprep.spark

    with pytest.raises(fmprep.BadInputError) as single:
        fmprep.run(inputs, tmp_path / "single", shuffle="hash", max_bad_lines="0.1%")
    with pytest.raises(fmprep.BadInputError) as dist:
        fmprep.spark.run(spark, inputs, str(tmp_path / "spark"), max_bad_lines="0.1%")
    # A fraction is checked on the totals by both: the same numbers (bad lines, lines, the first
    # bad line's number) in both messages. (A count limit stops the single machine early, at the
    # chunk that crosses it, so its message counts fewer lines; both fail.)
    for word in str(single.value).split():
        if word.isdigit():
            assert word in str(dist.value).split(), (str(single.value), str(dist.value))
    assert not (tmp_path / "spark" / "manifest.json").exists()
    assert str(dist.value).split("malformed")[1] == str(single.value).split("malformed")[1]


def test_a_failing_job_leaves_no_manifest(spark, inputs, tmp_path):
    import fmprep.spark

    broken = tmp_path / "broken.tsv.gz"
    full = Path(inputs[1]).read_bytes()
    broken.write_bytes(full[: len(full) // 2])  # a truncated gzip stream: a task fails
    out = tmp_path / "out"
    with pytest.raises(Exception):
        fmprep.spark.run(spark, [inputs[0], str(broken)], str(out))
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("_fmprep_staging/*/*")), "staged attempt files are removed"


def test_other_shuffles_are_refused(spark, inputs, tmp_path):
    import fmprep.spark

    with pytest.raises(fmprep.UsageError, match="hash"):
        fmprep.spark.run(spark, inputs, str(tmp_path / "o"), shuffle="fmprep")


def test_split_keys_follow_the_documented_hash():
    """The kernel's keys against the pure-Python reference of docs/spark.md."""
    import struct

    M = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & M

    def sip(k0, k1, data):
        v0, v1, v2, v3 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

        def rnd(v0, v1, v2, v3):
            v0 = (v0 + v1) & M; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
            v2 = (v2 + v3) & M; v3 = rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & M; v3 = rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & M; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
            return v0, v1, v2, v3

        n = len(data) // 8 * 8
        words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, n, 8)]
        words.append(((len(data) & 0xFF) << 56) | int.from_bytes(data[n:], "little"))
        for m in words:
            v3 ^= m
            v0, v1, v2, v3 = rnd(*rnd(v0, v1, v2, v3))
            v0 ^= m
        v2 ^= 0xFF
        for _ in range(4):
            v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        return v0 ^ v1 ^ v2 ^ v3

    import tempfile

    import pyarrow as pa

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "k.tsv"
        rows = [(f"cust{i}", f"prod-{i * 7}") for i in range(50)]
        p.write_text("customer_id\tproduct_id\tstar_rating\n" + "".join(f"{c}\t{q}\t3\n" for c, q in rows))
        parsed, _ = fmprep._native.spark_parse_file(str(p), 0, 77)
        t = pa.table(parsed)
    for (c, q), key in zip(rows, t.column("key").to_pylist()):
        cb, qb = c.encode(), q.encode()
        want = sip(77, 0, struct.pack("<I", len(cb)) + cb + qb)
        assert (key & M) ^ (1 << 63) == want
