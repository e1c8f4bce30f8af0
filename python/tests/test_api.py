"""The ``fmprep`` package's API in-process, against the Rust binary's output on the same input.

Each call must give the bytes the ``fmprep`` binary writes, raise the documented exception
class with the CLI's exit code and message, and, when cancelled, leave no manifest and no
staged files behind.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import SAMPLE, data_files, staged_leftovers


def run_binary(binary: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def binary_run(real_fmprep: Path, tmp_path_factory) -> Path:
    """The binary's `run` on the bundled sample, seed 7."""
    out = tmp_path_factory.mktemp("binary") / "out"
    done = run_binary(real_fmprep, "run", str(SAMPLE), "--output", str(out), "--seed", "7")
    assert done.returncode == 0, done.stderr
    return out


def test_run_writes_the_binarys_bytes(fmprep_pkg, binary_run: Path, tmp_path: Path) -> None:
    manifest = fmprep_pkg.run(SAMPLE, tmp_path / "out", seed=7)
    assert data_files(tmp_path / "out") == data_files(binary_run)
    assert manifest == json.loads((tmp_path / "out" / "manifest.json").read_text())
    theirs = json.loads((binary_run / "manifest.json").read_text())
    for key in ("feature_dim", "counts", "hyperparameters", "options", "seed", "command"):
        assert manifest[key] == theirs[key], key


def test_preprocess_then_prepare_equals_run(fmprep_pkg, binary_run: Path, tmp_path: Path) -> None:
    pre = fmprep_pkg.preprocess(str(SAMPLE), tmp_path / "pre", seed=7, threads=2)
    assert pre["command"] == "preprocess"
    prep = fmprep_pkg.prepare(tmp_path / "pre", tmp_path / "prep")
    assert prep["feature_dim"] == pre["feature_dim"]
    protobufs = {k: v for k, v in data_files(binary_run).items() if k.endswith(".protobuf")}
    assert data_files(tmp_path / "prep") == protobufs


def test_options_are_the_clis_flags(fmprep_pkg, real_fmprep: Path, tmp_path: Path) -> None:
    """Snake-case keywords map to the long flags: a split tuple, a threshold, a boolean."""
    manifest = fmprep_pkg.run(
        SAMPLE, tmp_path / "api", split=(0.5, 0.3), min_product_ratings=3, k_core=True, test_chunk=100
    )
    done = run_binary(
        real_fmprep, "run", str(SAMPLE), "--output", str(tmp_path / "cli"), "--split", "0.5,0.3",
        "--min-product-ratings", "3", "--k-core", "--test-chunk", "100",
    )
    assert done.returncode == 0, done.stderr
    assert manifest["options"] == json.loads(done.stdout.splitlines()[-1])["options"]
    assert data_files(tmp_path / "api") == data_files(tmp_path / "cli")
    assert len(manifest["files"]["test"]) > 1


def test_inspect_and_read_recordio_round_trip(fmprep_pkg, binary_run: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    train = binary_run / "train" / "train.protobuf"
    summary = fmprep_pkg.inspect(train, head=3)
    n = summary["total"]["records"]
    manifest = json.loads((binary_run / "manifest.json").read_text())
    assert n == manifest["counts"]["train"] > 0
    assert len(summary["head"]) == 3
    assert fmprep_pkg.inspect(train)["head"] == []

    records = fmprep_pkg.read_recordio(train)
    assert len(records) == n and records.files == [str(train)]
    table = pa.table(records)
    assert table.column_names == ["label", "keys", "values"]
    assert table.num_rows == n
    rows = table.slice(0, 3).to_pylist()
    for row, printed in zip(rows, summary["head"]):
        assert row["keys"] == printed["keys"] and row["label"] == printed["label"]
    n_customers = manifest["n_customers"]
    for keys in table.column("keys").to_pylist():
        assert len(keys) == 2 and keys[0] < n_customers <= keys[1] < manifest["feature_dim"]
    # The stream can be taken again from the same object.
    assert pa.table(records).equals(table)


def test_explore_returns_the_json_report(fmprep_pkg) -> None:
    report = fmprep_pkg.explore(SAMPLE)
    assert isinstance(report, dict) and report
    text = json.dumps(report)
    assert "sweep" in text


def test_logs_go_to_the_fmprep_logger(fmprep_pkg, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="fmprep")
    fmprep_pkg.run(SAMPLE, tmp_path / "out")
    messages = [r.getMessage() for r in caplog.records if r.name == "fmprep"]
    assert any("feature_dim" in m for m in messages), messages
    assert any(r.levelno == logging.WARNING for r in caplog.records if r.name == "fmprep")


def test_config_file_supplies_defaults(fmprep_pkg, tmp_path: Path) -> None:
    config = tmp_path / "fmprep.toml"
    config.write_text("seed = 21\n[run]\nmin-product-ratings = 3\n")
    manifest = fmprep_pkg.run(SAMPLE, tmp_path / "out", config=config, min_customer_ratings=2)
    assert manifest["seed"] == 21
    assert manifest["options"]["filter"] == {"min_customer_ratings": 2, "min_product_ratings": 3}


class Wait(logging.Handler):
    """Sets ``seen`` when a record whose message contains ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def test_progress_only_when_asked(fmprep_pkg, clean_tsv: Path, tmp_path: Path, monkeypatch) -> None:
    """With progress=True a progress line reaches the logger while the run waits for it; without,
    none comes in a run that waits for longer than the interval (0.01 s) several times."""
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    monkeypatch.setenv("FMPREP_PROGRESS_SECONDS", "0.01")
    table = pl.read_csv(clean_tsv, separator="\t", quote_char=None, infer_schema=False).to_arrow()
    log = logging.getLogger("fmprep")
    for asked in (True, False):
        handler = Wait("progress: ")
        log.addHandler(handler)
        old_level = log.level
        log.setLevel(logging.INFO)
        try:
            started, go = threading.Event(), threading.Event()
            # Asked: the rest of the frame once a progress line was logged. Not asked: after 0.2 s,
            # twenty intervals, in which a progress line would have come.
            wait = 60 if asked else 0.2
            then = lambda: (handler.seen.wait(wait), go.set())  # noqa: E731
            fmprep_pkg.from_frame(slow_reader(pa, table, started, go, then), tmp_path / f"out-{asked}",
                                  progress=asked)
        finally:
            log.removeHandler(handler)
            log.setLevel(old_level)
        assert handler.seen.is_set() == asked


# --- errors: each class from a real failure ---------------------------------------------------


def test_usage_error(fmprep_pkg, tmp_path: Path, real_fmprep: Path) -> None:
    with pytest.raises(fmprep_pkg.UsageError) as info:
        fmprep_pkg.run(SAMPLE, tmp_path / "out", split=(0.9, 0.3))
    done = run_binary(real_fmprep, "run", str(SAMPLE), "--output", str(tmp_path / "o"), "--split", "0.9,0.3")
    assert info.value.exit_code == done.returncode == 2
    assert info.value.message in done.stderr
    with pytest.raises(fmprep_pkg.UsageError):
        fmprep_pkg.run(SAMPLE, tmp_path / "out", no_such_flag=1)


def test_bad_input_error(fmprep_pkg, tmp_path: Path, real_fmprep: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n1\t2\n")
    with pytest.raises(fmprep_pkg.BadInputError) as info:
        fmprep_pkg.run(bad, tmp_path / "out")
    done = run_binary(real_fmprep, "run", str(bad), "--output", str(tmp_path / "o"))
    assert info.value.exit_code == done.returncode == 3
    assert f"fmprep: error: {info.value.message}" in done.stderr
    with pytest.raises(fmprep_pkg.BadInputError):
        fmprep_pkg.read_recordio(bad)


def test_local_io_error(fmprep_pkg, tmp_path: Path) -> None:
    with pytest.raises(fmprep_pkg.LocalIOError) as info:
        fmprep_pkg.run(tmp_path / "missing.tsv.gz", tmp_path / "out")
    assert info.value.exit_code == 4 and "missing.tsv.gz" in str(info.value)
    assert isinstance(info.value, fmprep_pkg.FmprepError) and isinstance(info.value, RuntimeError)


def test_output_exists_error(fmprep_pkg, tmp_path: Path) -> None:
    fmprep_pkg.run(SAMPLE, tmp_path / "out")
    with pytest.raises(fmprep_pkg.OutputExistsError) as info:
        fmprep_pkg.run(SAMPLE, tmp_path / "out", seed=9)
    assert info.value.exit_code == 6
    again = fmprep_pkg.run(SAMPLE, tmp_path / "out", seed=9, overwrite=True)
    assert again["seed"] == 9


def test_s3_error(fmprep_pkg, tmp_path: Path, monkeypatch) -> None:
    """A bucket on an endpoint where nothing listens: S3Error, exit code 5."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(fmprep_pkg.S3Error) as info:
        fmprep_pkg.run(
            "s3://no-bucket/in.tsv", tmp_path / "out", endpoint_url="http://127.0.0.1:9",
            region="us-east-1", s3_max_attempts=1,
        )
    assert info.value.exit_code == 5


# --- cancellation -----------------------------------------------------------------------------


def slow_reader(pa, table, started: threading.Event, go: threading.Event, then=None):
    """A RecordBatchReader over ``table`` that, after its first batch, signals ``started`` and
    waits for ``go`` (calling ``then`` first): the run is provably under way in between."""
    batches = table.to_batches(max_chunksize=max(1, table.num_rows // 8))

    def gen():
        yield batches[0]
        started.set()
        if then is not None:
            then()
        go.wait(60)
        yield from batches[1:]

    return pa.RecordBatchReader.from_batches(table.schema, gen())


def test_cancel_from_another_thread(fmprep_pkg, clean_tsv: Path, tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    table = pl.read_csv(clean_tsv, separator="\t", quote_char=None, infer_schema=False).to_arrow()
    token = fmprep_pkg.CancelToken()
    started, go = threading.Event(), threading.Event()
    result = {}

    def call():
        try:
            result["manifest"] = fmprep_pkg.from_frame(
                slow_reader(pa, table, started, go), tmp_path / "out", cancel=token
            )
        except BaseException as e:  # noqa: BLE001 - the test inspects whatever it was
            result["error"] = e

    worker = threading.Thread(target=call)
    worker.start()
    assert started.wait(60)
    token.cancel()
    go.set()
    worker.join(120)
    assert not worker.is_alive()
    err = result.get("error")
    assert isinstance(err, fmprep_pkg.InterruptedRunError), result
    assert err.exit_code == 130 and token.cancelled
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert staged_leftovers(tmp_path / "out") == []


def test_keyboard_interrupt_cancels_and_reraises(fmprep_pkg, clean_tsv: Path, tmp_path: Path) -> None:
    """Ctrl-C while a run works: the run stops cleanly and KeyboardInterrupt reaches the caller."""
    import _thread

    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    table = pl.read_csv(clean_tsv, separator="\t", quote_char=None, infer_schema=False).to_arrow()
    started, go = threading.Event(), threading.Event()
    token = fmprep_pkg.CancelToken()

    def press_ctrl_c():
        _thread.interrupt_main()  # as SIGINT: Python's handler raises in the main thread
        # The rest of the frame only once the interrupt has cancelled the run, so that the run
        # cannot finish first.
        waited = threading.Event()
        for _ in range(6000):  # at most a minute, should the cancel never come
            if token.cancelled:
                break
            waited.wait(0.01)
        go.set()

    with pytest.raises(KeyboardInterrupt):
        fmprep_pkg.from_frame(slow_reader(pa, table, started, go, press_ctrl_c), tmp_path / "out", cancel=token)
    assert started.is_set()
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert staged_leftovers(tmp_path / "out") == []
    # The process-wide state is untouched: the next call runs normally.
    assert fmprep_pkg.run(SAMPLE, tmp_path / "after")["feature_dim"] > 0
