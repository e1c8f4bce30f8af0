"""Shared fixtures: the real fmprep binary, synthetic input, and fake binaries.

Two kinds of tests live here:

* ``test_fmprep_binary.py`` runs the REAL binary (success, failure, preprocess -> prepare).
  Its path is ``$FMPREP_BIN``, else ``~/.cache/fmprep-target/release/fmprep``. Without it
  those tests are skipped with the reason, except under CI (``CI`` set), where a missing
  binary is a failure: CI builds it first, so its absence means a broken pipeline.
* ``test_runner.py`` drives the wrapper with tiny fake binaries (shell or Python scripts)
  to cover what the real one cannot be made to do on demand: hang, ignore SIGTERM, print
  chosen lines. Those always run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

DEFAULT_BIN = Path.home() / ".cache" / "fmprep-target" / "release" / "fmprep"


def _real_binary_path() -> Path:
    configured = os.environ.get("FMPREP_BIN")
    return Path(configured).expanduser() if configured else DEFAULT_BIN


@pytest.fixture(scope="session")
def real_fmprep() -> Path:
    """Path of the real fmprep binary; skips (fails under CI) if it is not there."""
    path = _real_binary_path()
    if path.is_file() and os.access(path, os.X_OK):
        return path.resolve()
    reason = (
        f"real fmprep binary not found at {path} "
        "(build it with `cargo build --release` or set FMPREP_BIN)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must build it before running these tests")
    pytest.skip(reason)


@pytest.fixture
def use_real_fmprep(real_fmprep: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the wrapper at the real binary for one test."""
    monkeypatch.setenv("FMPREP_BIN", str(real_fmprep))
    return real_fmprep


@pytest.fixture(scope="session")
def reviews_tsv(real_fmprep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 synthetic reviews (gzip TSV) made by ``fmprep synth``, shared by the session."""
    out = tmp_path_factory.mktemp("synth") / "in.tsv.gz"
    subprocess.run(
        [str(real_fmprep), "synth", "--rows", "3000", "--seed", "1", "--output", str(out)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    assert out.is_file() and out.stat().st_size > 0
    return out


ScriptFactory = Callable[[str, str], Path]


@pytest.fixture
def fake_fmprep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptFactory:
    """Install a fake fmprep: ``fake_fmprep(name, body)`` writes an executable script,
    points ``FMPREP_BIN`` at it and returns its path. ``body`` is dedented; a body that does
    not start with ``#!`` is a /bin/sh script, ``#!python`` means this test's interpreter.
    """

    def make(name: str, body: str) -> Path:
        text = textwrap.dedent(body).lstrip("\n")
        if text.startswith("#!python"):
            text = f"#!{sys.executable}" + text[len("#!python") :]
        elif not text.startswith("#!"):
            text = "#!/bin/sh\n" + text
        script = tmp_path / name
        script.write_text(text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        monkeypatch.setenv("FMPREP_BIN", str(script))
        return script

    return make


# --- the fmprep wheel ---------------------------------------------------------------------------
#
# The tests of the ``fmprep`` package (``test_api.py``, ``test_frames.py``, ``test_wheel.py``,
# ``test_command.py``, ``test_airflow_native.py``) import the installed package. scripts/test.sh
# builds the wheel once and installs it into the test venv; ``$FMPREP_WHEEL`` names that wheel
# for the fresh-venv test. Without the package those tests are skipped, except under CI.

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data-samples" / "reviews_sample.tsv.gz"


def _require(what: str, reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what}: {reason}; CI must provide it")
    pytest.skip(f"{what}: {reason}")


@pytest.fixture(scope="session")
def fmprep_pkg():
    """The installed ``fmprep`` package (skipped, or failed under CI, when it is not)."""
    try:
        import fmprep
    except ImportError as e:
        _require("the fmprep package", f"not importable ({e}); build it with scripts/test.sh")
    return fmprep


@pytest.fixture(scope="session")
def fmprep_wheel() -> Path:
    """The wheel scripts/test.sh built (``$FMPREP_WHEEL``)."""
    configured = os.environ.get("FMPREP_WHEEL")
    if not configured or not Path(configured).is_file():
        _require("the fmprep wheel", f"FMPREP_WHEEL={configured!r} is not a file")
    return Path(configured)


@pytest.fixture(scope="session")
def clean_tsv(real_fmprep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 synthetic reviews without malformed lines, plain TSV: the same rows read as a file
    and as a frame must give the same bytes."""
    out = tmp_path_factory.mktemp("clean") / "clean.tsv"
    subprocess.run(
        [str(real_fmprep), "synth", "--rows", "20000", "--seed", "3", "--bad-line-rate", "0",
         "--output", str(out)],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120,
    )
    return out


def data_files(out_dir: Path) -> dict:
    """Every file of a run's output except the manifest (its timings and paths differ between
    runs), by relative path, as bytes."""
    files = {}
    for p in sorted(out_dir.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            files[str(p.relative_to(out_dir))] = p.read_bytes()
    return files


def staged_leftovers(out_dir: Path) -> list:
    """Staged (unfinished) files left under ``out_dir``."""
    return [str(p) for p in out_dir.rglob("*") if ".fmprep-tmp" in p.name] if out_dir.exists() else []
