#!/usr/bin/env bash
# The one command that runs every test: Rust (unit, integration, doc, S3 against an in-process
# server), the Python Airflow package against the real binary, and the container image (built
# and run as a SageMaker Processing job; skipped loudly without docker unless
# FMPREP_REQUIRE_DOCKER=1).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

bash scripts/setup.sh

echo "== cargo test"
cargo test --all-targets
cargo test --doc

if [ -d python ]; then
  echo "== python: fmprep_airflow against the real binary"
  # The debug binary that `cargo test` just built: small inputs, and no second (release) build.
  cargo build --bin fmprep
  venv="${FMPREP_TEST_VENV:-$HOME/.cache/fmprep-test-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest ./python
  FMPREP_BIN="$target_dir/debug/fmprep" "$venv/bin/python" -m pytest python/tests -q
fi

echo "== container: the image, run as a SageMaker Processing job"
bash scripts/container_test.sh
