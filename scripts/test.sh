#!/usr/bin/env bash
# The one command that runs every test: Rust (unit, integration, doc, S3 against an in-process
# server), the Python package (its wheel, API, command and Airflow tasks) against the real
# binary, and the container image (built and run as a SageMaker Processing job; skipped loudly
# without docker unless FMPREP_REQUIRE_DOCKER=1).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

bash scripts/setup.sh

# The Python test dependencies live in one venv: moto (a second S3 implementation, run as a
# server by tests/s3 and the Airflow tests), then maturin, pytest, polars, pandas and pyarrow for
# the Python package below.
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
  echo "== python: the fmprep wheel (command, API, frames, Airflow tasks) and fmprep_airflow"
  # The debug binary that `cargo test` just built: small inputs, and no second (release) build.
  cargo build --bin fmprep
  # The wheel is built once, in the dev profile and into the same target dir, so it reuses the
  # crates compiled above; `pip wheel ./python` and `pip install ./python` make release wheels.
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.16,<1.17' pytest polars \
    'pandas>=2.2' pyarrow
  cargo test --quiet -p fmprep-python
  # fmprep.spark's tests (python/tests/test_spark.py) run pyspark in local mode on Java 17;
  # a fresh machine gets both here (pip caches pyspark's ~300 MB under ~/.cache/pip).
  if ! command -v java >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyspark>=4.0,<4.4'
  export PYSPARK_PYTHON="$venv/bin/python" PYSPARK_DRIVER_PYTHON="$venv/bin/python"
  wheel_dir="$target_dir/python-test-wheel"
  rm -rf "$wheel_dir"
  "$venv/bin/maturin" build --quiet --profile dev -m python/Cargo.toml --out "$wheel_dir"
  wheel="$(ls "$wheel_dir"/fmprep-*.whl)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  # Away from python/src so that `import fmprep` is the installed package, not the sources.
  (cd python/tests && FMPREP_BIN="$target_dir/debug/fmprep" FMPREP_WHEEL="$wheel" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider .)
fi

echo "== container: the image, run as a SageMaker Processing job"
bash scripts/container_test.sh
