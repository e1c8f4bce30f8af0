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

# The Python test dependencies live in one venv: moto (a second S3 implementation, run as a
# server by tests/s3), then pytest for the Airflow package below.
venv="${FMPREP_TEST_VENV:-$HOME/.cache/fmprep-test-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.2,<5.3'
export FMPREP_MOTO_SERVER="$venv/bin/moto_server"

echo "== library boundary: no command-line dependency without the cli feature"
cargo build --quiet --no-default-features --lib
if cargo tree -p fmprep -e normal --no-default-features --prefix none \
    | grep -E '^(clap|clap_complete|clap_mangen|indicatif|anyhow|signal-hook|toml|plotters) '; then
  echo "the library without default features depends on the crates above" >&2
  exit 1
fi

echo "== cargo test"
cargo test --all-targets
cargo test --doc
cargo run --quiet --example cancel -- 200000

if [ -d python ]; then
  echo "== python: fmprep_airflow against the real binary"
  # The debug binary that `cargo test` just built: small inputs, and no second (release) build.
  cargo build --bin fmprep
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest ./python
  FMPREP_BIN="$target_dir/debug/fmprep" "$venv/bin/python" -m pytest python/tests -q
fi

echo "== container: the image, run as a SageMaker Processing job"
bash scripts/container_test.sh
