"""The wrapper's own behaviour, driven by fake fmprep binaries (no real binary needed).

Covers: argv built by preprocess/prepare (including S3 locations), manifest parsing, error
reporting, stderr streaming into a logger, timeouts, and stopping the child when an
Airflow-style exception (raised from a signal handler) interrupts the wait.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

import fmprep_airflow
from fmprep_airflow import (
    FmprepError,
    FmprepNotFoundError,
    FmprepTimeout,
    find_fmprep,
    location,
    prepare,
    preprocess,
    run_fmprep,
)

# A fake that prints its arguments as the "manifest", to check the command line exactly.
ECHO_ARGV = """
    #!python
    import json, sys
    print(json.dumps({"argv": sys.argv[1:]}))
"""


def is_running(pid: int) -> bool:
    """True while ``pid`` exists. Our children are reaped by the wrapper, so a dead child
    is gone entirely (no zombie left to answer the probe)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_file(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


def slow_script(pidfile: Path, ignore_sigterm: bool = False) -> str:
    """A fake that records its pid and then sleeps (as the same process, thanks to exec).

    With ``ignore_sigterm`` the ignored disposition survives the exec, so only SIGKILL ends it.
    """
    trap = "trap '' TERM\n" if ignore_sigterm else ""
    return f"""
        {trap}echo "fake fmprep starting" >&2
        echo $$ > "{pidfile}.tmp" && mv "{pidfile}.tmp" "{pidfile}"
        exec sleep 300
    """


# --- command lines ------------------------------------------------------------------------


def test_preprocess_builds_the_s3_command(fake_fmprep) -> None:
    fake_fmprep("fmprep", ECHO_ARGV)
    result = preprocess(
        "s3://amazon-reviews-pds/tsv/reviews.tsv.gz", "my-bucket", "/preprocess/", delimiter="\t"
    )
    assert result["argv"] == [
        "preprocess",
        "s3://amazon-reviews-pds/tsv/reviews.tsv.gz",
        "--output",
        "s3://my-bucket/preprocess",
        "--delimiter",
        "\t",
        "--if-exists",
        "reuse",
    ]


def test_prepare_builds_the_s3_command_with_default_delimiter(fake_fmprep) -> None:
    fake_fmprep("fmprep", ECHO_ARGV)
    result = prepare("in-bucket", "a/preprocess/", "s3://out-bucket/", "prepare")
    assert result["argv"] == [
        "prepare",
        "s3://in-bucket/a/preprocess",
        "--output",
        "s3://out-bucket/prepare",
        "--delimiter",
        ",",
        "--if-exists",
        "reuse",
    ]


def test_local_paths_and_file_urls(fake_fmprep, tmp_path: Path) -> None:
    fake_fmprep("fmprep", ECHO_ARGV)
    result = prepare(str(tmp_path), "pre/", f"file://{tmp_path}/out", "/prep/")
    assert result["argv"][1] == str(tmp_path / "pre")
    assert result["argv"][3] == str(tmp_path / "out" / "prep")
    result = preprocess(f"file://{tmp_path}/in.tsv.gz", str(tmp_path), "")
    assert result["argv"][1:4] == [str(tmp_path / "in.tsv.gz"), "--output", str(tmp_path)]


@pytest.mark.parametrize(
    "bucket, prefix, expected",
    [
        ("b", "p", "s3://b/p"),
        ("b", "/p/q/", "s3://b/p/q"),
        ("b", "", "s3://b"),
        ("s3://b/", "p/", "s3://b/p"),
        ("/data", "p/", "/data/p"),
        ("file:///data", "/p", "/data/p"),
        ("file://localhost/da%20ta", "", "/da ta"),
    ],
)
def test_location(bucket: str, prefix: str, expected: str) -> None:
    assert location(bucket, prefix) == expected


@pytest.mark.parametrize("bucket", ["", "s3://", "file://other-host/data"])
def test_location_rejects(bucket: str) -> None:
    with pytest.raises(ValueError):
        location(bucket, "p")


def test_env_is_layered_on_the_parent_environment(fake_fmprep, monkeypatch) -> None:
    fake_fmprep(
        "fmprep",
        """
        #!python
        import json, os
        print(json.dumps({k: os.environ.get(k) for k in ("FROM_PARENT", "ADDED", "REMOVED")}))
        """,
    )
    monkeypatch.setenv("FROM_PARENT", "p")
    monkeypatch.setenv("REMOVED", "r")
    result = run_fmprep([], env={"ADDED": "a", "REMOVED": None})
    assert result == {"FROM_PARENT": "p", "ADDED": "a", "REMOVED": None}


def test_the_child_exits_with_its_parent_unless_told_otherwise(fake_fmprep, monkeypatch) -> None:
    fake_fmprep(
        "fmprep",
        """
        #!python
        import json, os
        print(json.dumps({"v": os.environ.get("FMPREP_EXIT_WITH_PARENT")}))
        """,
    )
    monkeypatch.delenv("FMPREP_EXIT_WITH_PARENT", raising=False)
    assert run_fmprep([]) == {"v": "1"}
    assert run_fmprep([], env={"FMPREP_EXIT_WITH_PARENT": "0"}) == {"v": "0"}
    monkeypatch.setenv("FMPREP_EXIT_WITH_PARENT", "off")
    assert run_fmprep([]) == {"v": "off"}


# --- finding the binary ----------------------------------------------------------------------


def test_missing_fmprep_bin_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FMPREP_BIN", str(tmp_path / "no-such-fmprep"))
    with pytest.raises(FmprepNotFoundError, match="FMPREP_BIN"):
        run_fmprep(["run"])


def test_fmprep_not_on_path_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FMPREP_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FmprepNotFoundError, match="PATH"):
        preprocess("s3://b/k", "b", "p")


def test_fmprep_found_on_path(monkeypatch, tmp_path: Path, fake_fmprep) -> None:
    script = fake_fmprep("fmprep", ECHO_ARGV)
    monkeypatch.delenv("FMPREP_BIN")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.defpath}")
    assert find_fmprep() == str(script)
    assert run_fmprep(["x"]) == {"argv": ["x"]}


# --- results and errors ----------------------------------------------------------------------


def test_last_non_empty_stdout_line_is_the_manifest(fake_fmprep) -> None:
    fake_fmprep(
        "fmprep",
        """
        echo "not json"
        echo '{"feature_dim": 5, "n_customers": 3}'
        echo ""
        """,
    )
    assert run_fmprep(["run"]) == {"feature_dim": 5, "n_customers": 3}


@pytest.mark.parametrize("stdout", ["", "done", "[1, 2]"])
def test_exit_zero_without_a_manifest_is_an_error(fake_fmprep, stdout: str) -> None:
    fake_fmprep("fmprep", f"printf '%s\\n' '{stdout}'")
    with pytest.raises(FmprepError) as info:
        run_fmprep(["run"])
    assert info.value.exit_code == 0
    assert "manifest" in info.value.message


def test_failure_carries_exit_code_and_last_error_line(fake_fmprep) -> None:
    fake_fmprep(
        "fmprep",
        """
        echo "reading input" >&2
        echo "error: an earlier problem" >&2
        echo "still going" >&2
        echo "error: input has no star_rating column" >&2
        echo "" >&2
        exit 3
        """,
    )
    with pytest.raises(FmprepError) as info:
        run_fmprep(["run", "x"])
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.exit_code == 3
    assert err.message == "error: input has no star_rating column"
    assert "3" in str(err) and "bad input data" in str(err) and err.message in str(err)
    assert err.command[1:] == ["run", "x"]
    assert err.stderr[0] == "reading input"


def test_failure_without_error_line_uses_last_stderr_line(fake_fmprep) -> None:
    fake_fmprep("fmprep", 'echo "something odd" >&2\necho "panicked at src/x.rs:1" >&2\nexit 1')
    with pytest.raises(FmprepError) as info:
        run_fmprep([])
    assert (info.value.exit_code, info.value.message) == (1, "panicked at src/x.rs:1")


def test_death_by_signal_is_reported(fake_fmprep) -> None:
    fake_fmprep("fmprep", "kill -KILL $$")
    with pytest.raises(FmprepError) as info:
        run_fmprep([])
    assert info.value.exit_code == -signal.SIGKILL
    assert "SIGKILL" in str(info.value)


# --- logging -------------------------------------------------------------------------------


def test_stderr_lines_go_to_the_logger_with_levels(fake_fmprep, caplog) -> None:
    fake_fmprep(
        "fmprep",
        """
        echo "fmprep: reading in.tsv.gz" >&2
        echo "fmprep: warning: 2 bad lines skipped" >&2
        echo "2024-01-01T00:00:01Z  WARN other-format warning" >&2
        echo "fmprep: error: disk full" >&2
        exit 4
        """,
    )
    caplog.set_level(logging.INFO, logger="fmprep_airflow")
    with pytest.raises(FmprepError) as info:
        run_fmprep(["run"])
    assert info.value.message == "error: disk full"
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    # The wrapper's "Running: ..." line, then fmprep's lines verbatim and in order.
    assert records[0][2].startswith("Running: ")
    assert records[1:] == [
        ("fmprep_airflow", logging.INFO, "fmprep: reading in.tsv.gz"),
        ("fmprep_airflow", logging.WARNING, "fmprep: warning: 2 bad lines skipped"),
        ("fmprep_airflow", logging.WARNING, "2024-01-01T00:00:01Z  WARN other-format warning"),
        ("fmprep_airflow", logging.ERROR, "fmprep: error: disk full"),
    ]


def test_custom_logger_by_object_and_by_name(fake_fmprep, caplog) -> None:
    fake_fmprep("fmprep", "echo progress >&2\necho '{}'")
    caplog.set_level(logging.INFO)
    run_fmprep([], logger=logging.getLogger("airflow.task"))
    run_fmprep([], logger="my.pipeline")
    names = {r.name for r in caplog.records if r.getMessage().endswith("progress")}
    assert names == {"airflow.task", "my.pipeline"}


def test_stderr_is_streamed_while_the_child_runs(fake_fmprep, tmp_path: Path) -> None:
    """The fake waits for a file that only the log handler creates when it sees the first
    line, so this passes only if lines are logged before the child exits."""
    go = tmp_path / "go"
    fake_fmprep(
        "fmprep",
        f"""
        echo "first line" >&2
        while [ ! -e "{go}" ]; do sleep 0.05; done
        echo '{{"ok": true}}'
        """,
    )

    class Release(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().endswith("first line"):
                go.touch()

    logger = logging.getLogger("fmprep_airflow.test_streaming")
    logger.setLevel(logging.INFO)
    handler = Release()
    logger.addHandler(handler)
    try:
        assert run_fmprep([], timeout=30, logger=logger) == {"ok": True}
    finally:
        logger.removeHandler(handler)


# --- timeouts and cancellation ---------------------------------------------------------------


def test_timeout_stops_the_child(fake_fmprep, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake_fmprep("fmprep", slow_script(pidfile))
    started = time.monotonic()
    with pytest.raises(FmprepTimeout) as info:
        run_fmprep(["run"], timeout=2)
    assert time.monotonic() - started < 10
    pid = int(pidfile.read_text())
    assert not is_running(pid)
    err = info.value
    assert isinstance(err, FmprepError) and err.timeout == 2
    assert err.exit_code == -signal.SIGTERM
    assert err.stderr == ["fake fmprep starting"]


def test_child_ignoring_sigterm_is_killed_after_the_grace_period(fake_fmprep, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    fake_fmprep("fmprep", slow_script(pidfile, ignore_sigterm=True))
    started = time.monotonic()
    with pytest.raises(FmprepTimeout) as info:
        run_fmprep(["run"], timeout=2, grace_period=0.5)
    assert time.monotonic() - started < 10
    assert info.value.exit_code == -signal.SIGKILL
    assert not is_running(int(pidfile.read_text()))


class FakeAirflowTaskTimeout(Exception):
    """Stands in for airflow.exceptions.AirflowTaskTimeout (Airflow is not installed)."""


class FakeAirflowException(Exception):
    """Stands in for the AirflowException Airflow raises from its SIGTERM handler."""


@pytest.fixture
def raise_from_signal() -> Iterator[Callable[[int, BaseException, Path], None]]:
    """``arm(signum, exc, pidfile)``: once ``pidfile`` exists, deliver ``signum`` to this
    process, whose temporary handler raises ``exc`` in the main thread, the way Airflow's
    SIGALRM (execution_timeout) and SIGTERM (task killed) handlers do."""
    saved = {}
    threads = []

    def arm(signum: int, exc: BaseException, pidfile: Path) -> None:
        def handler(_signum: int, _frame: Optional[object]) -> None:
            raise exc

        saved[signum] = signal.signal(signum, handler)

        def fire() -> None:
            wait_for_file(pidfile)
            os.kill(os.getpid(), signum)

        thread = threading.Thread(target=fire, daemon=True)
        thread.start()
        threads.append(thread)

    yield arm
    for thread in threads:
        thread.join(30)
    for signum, previous in saved.items():
        signal.signal(signum, previous)


@pytest.mark.parametrize(
    "signum, exc",
    [
        (signal.SIGALRM, FakeAirflowTaskTimeout("Timeout, PID: 1")),
        (signal.SIGTERM, FakeAirflowException("Task received SIGTERM signal")),
        (signal.SIGINT, KeyboardInterrupt()),
    ],
    ids=["airflow-timeout", "airflow-sigterm", "keyboard-interrupt"],
)
def test_exception_raised_during_the_wait_stops_the_child(
    fake_fmprep, tmp_path: Path, raise_from_signal, signum: int, exc: BaseException
) -> None:
    pidfile = tmp_path / "pid"
    fake_fmprep("fmprep", slow_script(pidfile))
    raise_from_signal(signum, exc, pidfile)
    started = time.monotonic()
    with pytest.raises(type(exc)) as info:
        run_fmprep(["run"])  # no timeout of its own: only the signal ends the wait
    assert info.value is exc  # propagated unchanged
    assert time.monotonic() - started < 15
    assert not is_running(int(pidfile.read_text()))


def test_nothing_global_is_left_behind(fake_fmprep) -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM)}
    threads_before = set(threading.enumerate())
    fake_fmprep("fmprep", "echo log >&2\necho '{}'")
    run_fmprep([])
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    for thread in leftover:  # reader threads end with the pipes; give them a moment
        thread.join(5)
    assert not [t for t in leftover if t.is_alive()]


def test_public_api() -> None:
    assert set(fmprep_airflow.__all__) >= {
        "preprocess",
        "prepare",
        "run_fmprep",
        "FmprepError",
        "FmprepTimeout",
        "FmprepNotFoundError",
    }
    assert issubclass(FmprepError, RuntimeError) and issubclass(FmprepTimeout, FmprepError)
    assert sys.modules["fmprep_airflow"].preprocess is preprocess
