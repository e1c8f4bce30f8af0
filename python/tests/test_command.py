"""The ``fmprep`` console script the wheel installs: the Rust command line in a Python process,
with the binary's stdout contract, exit codes and signal behaviour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE, data_files, staged_leftovers


@pytest.fixture(scope="module")
def command(fmprep_pkg) -> str:
    """The console script next to this interpreter (the test venv's bin/)."""
    path = Path(sys.executable).parent / "fmprep"
    if not path.is_file():
        pytest.fail(f"{path}: the fmprep wheel installs no console script")
    return str(path)


def test_run_prints_the_manifest_last_and_matches_the_binary(command, real_fmprep: Path, tmp_path: Path) -> None:
    ours = subprocess.run([command, "run", str(SAMPLE), "-o", str(tmp_path / "a")], capture_output=True,
                          text=True, timeout=300)
    theirs = subprocess.run([str(real_fmprep), "run", str(SAMPLE), "-o", str(tmp_path / "b")],
                            capture_output=True, text=True, timeout=300)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert json.loads(ours.stdout.splitlines()[-1]) == json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert len(ours.stdout.splitlines()) == len(theirs.stdout.splitlines()) == 1
    assert data_files(tmp_path / "a") == data_files(tmp_path / "b")


@pytest.mark.parametrize(
    "args, code",
    [
        (["run", str(SAMPLE), "-o", "{tmp}/o", "--no-such-flag"], 2),
        (["run", "{tmp}/missing.tsv", "-o", "{tmp}/o"], 4),
        (["inspect", str(SAMPLE)], 3),
    ],
)
def test_exit_codes_and_the_error_line(command, real_fmprep: Path, tmp_path: Path, args, code: int) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    ours = subprocess.run([command, *argv], capture_output=True, text=True, timeout=120)
    theirs = subprocess.run([str(real_fmprep), *argv], capture_output=True, text=True, timeout=120)
    assert ours.returncode == theirs.returncode == code
    assert ours.stdout == theirs.stdout == ""
    assert ours.stderr == theirs.stderr
    assert "Traceback" not in ours.stderr


def test_help_and_stdout_products(command, real_fmprep: Path) -> None:
    for args in (["--help"], ["run", "--help"], ["completions", "bash"]):
        ours = subprocess.run([command, *args], capture_output=True, text=True, timeout=60)
        theirs = subprocess.run([str(real_fmprep), *args], capture_output=True, text=True, timeout=60)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args


def test_sigint_stops_the_run_with_130_and_no_manifest(command, tmp_path: Path) -> None:
    """Ctrl-C on a run reading stdin: once it is reading (the log says so), SIGINT makes it remove
    its staged files and exit 130, as the binary does; Python prints no traceback."""
    out = tmp_path / "out"
    proc = subprocess.Popen([command, "run", "-", "-o", str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("customer_id\tproduct_id\tstar_rating\n" + "c1\tp1\t5\n" * 100)
    proc.stdin.flush()
    seen = []
    for line in proc.stderr:  # the handlers are installed before this line is logged
        seen.append(line)
        if "reading" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(seen) + rest
    assert stdout == ""
    assert "interrupted by SIGINT" in rest and "Traceback" not in rest
    assert not (out / "manifest.json").exists() and staged_leftovers(out) == []


def test_python_dash_m(fmprep_pkg) -> None:
    done = subprocess.run([sys.executable, "-m", "fmprep", "--version"], capture_output=True, text=True,
                          timeout=60, env={**os.environ})
    assert done.returncode == 0 and done.stdout.startswith("fmprep ")
