"""``fmprep.airflow``: the DAG's callables in-process, on a local directory and on S3 (a moto
server, when scripts/test.sh provides one), giving the same files as ``fmprep_airflow``'s."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import data_files


def test_signatures_match_fmprep_airflow(fmprep_pkg) -> None:
    import inspect

    import fmprep_airflow
    from fmprep import airflow

    for name in ("preprocess", "prepare"):
        assert inspect.signature(getattr(airflow, name)) == inspect.signature(getattr(fmprep_airflow, name))
    assert airflow.location is fmprep_airflow.location


def test_preprocess_then_prepare_locally(fmprep_pkg, reviews_tsv: Path, tmp_path: Path, use_real_fmprep) -> None:
    from fmprep import airflow

    import fmprep_airflow

    pre = airflow.preprocess(str(reviews_tsv), str(tmp_path), "/pre/", delimiter="\t")
    prep = airflow.prepare(f"file://{tmp_path}", "pre", str(tmp_path), "prep/")
    assert prep["feature_dim"] == pre["feature_dim"] > 0
    assert json.loads((tmp_path / "prep" / "manifest.json").read_text()) == prep
    # A retry is idempotent (if_exists="reuse"): the finished run comes back as it is.
    assert airflow.prepare(str(tmp_path), "pre", str(tmp_path), "prep") == prep

    # The subprocess flavour writes the same files.
    fmprep_airflow.preprocess(str(reviews_tsv), str(tmp_path), "pre2", delimiter="\t")
    fmprep_airflow.prepare(str(tmp_path), "pre2", str(tmp_path), "prep2")
    assert data_files(tmp_path / "prep2") == data_files(tmp_path / "prep")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_s3(monkeypatch):
    """A moto S3 server on 127.0.0.1, with a bucket; skipped (failed with FMPREP_REQUIRE_MOTO=1)
    without moto."""
    server = os.environ.get("FMPREP_MOTO_SERVER", "")
    if not (server and os.access(server, os.X_OK)):
        if os.environ.get("FMPREP_REQUIRE_MOTO") == "1":
            pytest.fail(f"FMPREP_MOTO_SERVER={server!r} is not executable")
        pytest.skip("no moto server (FMPREP_MOTO_SERVER)")
    port = free_port()
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.1)
        for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                     "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(k, v)
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/fm-bucket", method="PUT"), timeout=10).close()
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


def test_preprocess_then_prepare_on_s3(fmprep_pkg, reviews_tsv: Path, moto_s3: str, tmp_path: Path) -> None:
    from fmprep import airflow

    pre = airflow.preprocess(str(reviews_tsv), "fm-bucket", "run1/preprocess/", delimiter="\t")
    prep = airflow.prepare("fm-bucket", "run1/preprocess/", "fm-bucket", "run1/prepare/")
    assert prep["feature_dim"] == pre["feature_dim"] > 0
    assert prep["output"].startswith("s3://fm-bucket/run1/prepare")
    local = fmprep_pkg.prepare("s3://fm-bucket/run1/preprocess", tmp_path / "local")
    records = fmprep_pkg.read_recordio("s3://fm-bucket/run1/prepare/train/train.protobuf")
    assert len(records) == local["counts"]["train"] == prep["counts"]["train"]
