"""End to end against the REAL fmprep binary, on local directories instead of S3.

Input is 3,000 synthetic reviews from ``fmprep synth --seed 1``. The calls are the ones the
Airflow DAG makes, with local paths standing in for buckets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fmprep_airflow import FmprepError, prepare, preprocess, run_fmprep

pytestmark = pytest.mark.usefixtures("use_real_fmprep")

RECORDIO_MAGIC = bytes.fromhex("0a23d7ce")


def assert_manifest_matches_disk(manifest: dict, out_dir: Path) -> None:
    """The returned dict is the manifest.json fmprep wrote, and every file it lists exists."""
    assert json.loads((out_dir / "manifest.json").read_text()) == manifest
    for group in manifest["files"].values():
        for entry in group:
            path = out_dir / entry["path"]
            assert path.is_file(), path
            assert path.stat().st_size == entry["bytes"], path


def test_preprocess_then_prepare(reviews_tsv: Path, tmp_path: Path) -> None:
    pre = preprocess(str(reviews_tsv), str(tmp_path), "/preprocess/", delimiter="\t")

    assert pre["command"] == "preprocess"
    assert pre["feature_dim"] == pre["n_customers"] + pre["n_products"] > 0
    counts = pre["counts"]
    assert counts["input_lines"] >= 3000
    assert counts["train"] + counts["validate"] + counts["test"] == counts["after_dedupe"] > 0
    pre_dir = tmp_path / "preprocess"
    for name in ("train/train.csv", "validate/validate.csv", "test/test.csv"):
        lines = (pre_dir / name).read_text().splitlines()
        assert lines[0] == "customer,product,star_rating"
    assert_manifest_matches_disk(pre, pre_dir)

    # file:// form for the input bucket, plain path for the output one.
    prep = prepare(f"file://{tmp_path}", "preprocess", str(tmp_path), "prepare/")

    assert prep["command"] == "prepare"
    assert prep["feature_dim"] == pre["feature_dim"]
    assert (prep["n_customers"], prep["n_products"]) == (pre["n_customers"], pre["n_products"])
    assert prep["hyperparameters"]["feature_dim"] == str(pre["feature_dim"])
    prep_dir = tmp_path / "prepare"
    for name in ("train/train.protobuf", "validate/validate.protobuf", "test/test_0.protobuf"):
        # Each file starts with a RecordIO frame: magic 0xced7230a, little-endian.
        assert (prep_dir / name).read_bytes()[:4] == RECORDIO_MAGIC, name
    assert_manifest_matches_disk(prep, prep_dir)


def test_missing_input_fails_with_exit_code_4(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fmprep_airflow")
    missing = tmp_path / "no-such-input.tsv.gz"

    with pytest.raises(FmprepError) as info:
        preprocess(str(missing), str(tmp_path), "out", delimiter="\t")

    err = info.value
    assert err.exit_code == 4
    assert err.message.startswith("error")
    assert "no-such-input.tsv.gz" in err.message
    assert "4" in str(err) and err.message in str(err)
    # fmprep's own message reached the log as it was printed, at ERROR level.
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and err.message.splitlines()[0] in r.getMessage()]
    assert logged, [r.getMessage() for r in caplog.records]
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_existing_output_is_not_overwritten(reviews_tsv: Path, tmp_path: Path) -> None:
    """A retried task (the same input and options into the same prefix) gets the finished run
    back (``--if-exists reuse``); a different run there fails with exit 6 unless it overwrites."""
    first = preprocess(str(reviews_tsv), str(tmp_path), "pre", delimiter="\t")
    manifest = (tmp_path / "pre" / "manifest.json").read_bytes()
    retried = preprocess(str(reviews_tsv), str(tmp_path), "pre", delimiter="\t")
    assert retried == first
    assert (tmp_path / "pre" / "manifest.json").read_bytes() == manifest
    with pytest.raises(FmprepError) as info:
        preprocess(str(reviews_tsv), str(tmp_path), "pre", delimiter="\t", if_exists="fail")
    assert info.value.exit_code == 6
    with pytest.raises(FmprepError) as info:
        preprocess_args = ["preprocess", str(reviews_tsv), "--output", str(tmp_path / "pre"), "--seed", "9"]
        run_fmprep(preprocess_args + ["--if-exists", "reuse"])
    assert info.value.exit_code == 6  # another seed: another run

    again = run_fmprep(
        ["preprocess", str(reviews_tsv), "--output", str(tmp_path / "pre"), "--delimiter", "\t", "--overwrite"]
    )
    assert again["command"] == "preprocess"
