"""The wheel alone: installed into a fresh venv whose PATH has no cargo, the command and the
package work and give the Rust binary's bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from conftest import SAMPLE, data_files


@pytest.fixture(scope="module")
def fresh_venv(fmprep_wheel: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    py = root / "bin" / "python"
    # --no-index: the wheel has no dependencies, so nothing may come from a registry.
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check",
                    str(fmprep_wheel)], check=True, timeout=300)
    return root


def no_cargo_env(root: Path) -> dict:
    """The environment of a machine without a Rust toolchain: PATH is the venv and the system."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO", "RUST", "FMPREP_"))}
    env["PATH"] = os.pathsep.join([str(root / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=env["PATH"]) is None
    return env


def test_the_wheel_is_abi3(fmprep_wheel: Path) -> None:
    assert "-abi3-" in fmprep_wheel.name, fmprep_wheel.name


def test_fmprep_version_from_the_fresh_venv(fresh_venv: Path, real_fmprep: Path) -> None:
    env = no_cargo_env(fresh_venv)
    done = subprocess.run(["fmprep", "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = subprocess.run([str(real_fmprep), "--version"], capture_output=True, text=True, timeout=60)
    assert done.stdout == theirs.stdout and done.stdout.startswith("fmprep ")


def test_import_and_run_from_the_fresh_venv(fresh_venv: Path, real_fmprep: Path, tmp_path: Path) -> None:
    env = no_cargo_env(fresh_venv)
    code = (
        "import sys, fmprep; m = fmprep.run(sys.argv[1], sys.argv[2], seed=5); "
        "print(m['feature_dim'])"
    )
    done = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code, str(SAMPLE), str(tmp_path / "py")],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ref = subprocess.run([str(real_fmprep), "run", str(SAMPLE), "--output", str(tmp_path / "rs"), "--seed", "5"],
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    assert data_files(tmp_path / "py") == data_files(tmp_path / "rs")
    assert int(done.stdout.strip()) > 0
