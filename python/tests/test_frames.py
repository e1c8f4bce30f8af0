"""``fmprep.from_frame``: polars, pandas, a pyarrow Table and a RecordBatchReader give the bytes
``fmprep.run`` writes for a file holding the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import data_files

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def expected(fmprep_pkg, clean_tsv: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("file-run") / "out"
    fmprep_pkg.run(clean_tsv, out, seed=11)
    return out


@pytest.fixture(scope="module")
def frame(clean_tsv: Path):
    """The TSV as polars reads it: every column text, as the file holds it."""
    return pl.read_csv(clean_tsv, separator="\t", quote_char=None, infer_schema=False)


def check(fmprep_pkg, source, expected: Path, out: Path, **kwargs) -> dict:
    manifest = fmprep_pkg.from_frame(source, out, seed=11, **kwargs)
    assert data_files(out) == data_files(expected)
    return manifest


def test_polars(fmprep_pkg, frame, expected: Path, tmp_path: Path) -> None:
    manifest = check(fmprep_pkg, frame, expected, tmp_path / "out")
    assert manifest["input"].startswith("<polars.")
    assert manifest["counts"]["valid"] == frame.height


def test_polars_typed_and_renamed_columns(fmprep_pkg, frame, expected: Path, tmp_path: Path) -> None:
    """Integer ratings and other column names (title included) read as the text columns do."""
    typed = frame.select(
        pl.col("customer_id").alias("user"),
        pl.col("product_id").alias("item"),
        pl.col("star_rating").cast(pl.Int8).alias("stars"),
        pl.col("product_title").alias("name"),
    )
    check(fmprep_pkg, typed, expected, tmp_path / "out", customer="user", product="item",
          rating="stars", title="name")


def test_pandas(fmprep_pkg, frame, expected: Path, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    assert tuple(int(x) for x in pd.__version__.split(".")[:2]) >= (2, 2)
    check(fmprep_pkg, frame.to_pandas(), expected, tmp_path / "out")


def test_pyarrow_table(fmprep_pkg, frame, expected: Path, tmp_path: Path) -> None:
    check(fmprep_pkg, frame.to_arrow(), expected, tmp_path / "out")


def test_record_batch_reader(fmprep_pkg, frame, expected: Path, tmp_path: Path) -> None:
    table = frame.to_arrow()
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=777))
    check(fmprep_pkg, reader, expected, tmp_path / "out")


def test_invalid_rows_are_counted_and_limited(fmprep_pkg, frame, tmp_path: Path) -> None:
    rows = frame.head(2000).with_columns(pl.col("star_rating").cast(pl.Int64))
    broken = pl.concat([
        rows,
        pl.DataFrame({"customer_id": [None], "product_id": ["p"], "star_rating": [5]}),
        pl.DataFrame({"customer_id": ["c"], "product_id": ["p"], "star_rating": [7]}),
    ], how="diagonal")
    manifest = fmprep_pkg.from_frame(broken, tmp_path / "out", min_customer_ratings=1,
                                     min_product_ratings=1)
    bad = manifest["counts"]["bad_lines"]
    assert bad["empty_customer_id"] == 1 and bad["bad_star_rating"] == 1
    assert manifest["counts"]["valid"] == 2000
    with pytest.raises(fmprep_pkg.BadInputError) as info:
        fmprep_pkg.from_frame(broken, tmp_path / "strict", max_bad_lines=1)
    assert "--max-bad-lines" in info.value.message


def test_missing_column_and_non_frames(fmprep_pkg, frame, tmp_path: Path) -> None:
    with pytest.raises(fmprep_pkg.BadInputError) as info:
        fmprep_pkg.from_frame(frame, tmp_path / "out", rating="stars")
    assert "no column stars" in info.value.message
    with pytest.raises(TypeError):
        fmprep_pkg.from_frame([("c", "p", 5)], tmp_path / "out")
