#!/usr/bin/env bash
# Installs what a fresh machine lacks to build fmprep's default (fast) configuration: ISA-L's
# inflater is built from source by the isal-sys crate, which needs nasm, autoconf, automake,
# libtool and make. Does nothing when they are all present.
set -euo pipefail

missing=()
for tool in nasm autoreconf automake libtoolize make; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "== setup: installing the ISA-L build tools (missing: ${missing[*]})"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get here; install nasm, autoconf, automake, libtool and make with your package" \
       "manager, or build without ISA-L: cargo build --release --no-default-features --features s3,parquet" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  nasm autoconf automake libtool make >/dev/null
