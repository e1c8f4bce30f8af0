#!/usr/bin/env bash
# The container test: build the image from the Dockerfile users build, run a SageMaker
# Processing-style job in it (input mounted read-only under /opt/ml/processing/input/, output
# under /opt/ml/processing/output), and check that its files are byte-identical to a local run of
# the same binary, that it runs as a non-root user, and that it adds at most 40 MB to its base.
#
# Installs docker.io (and debootstrap, for the base image) when missing and starts dockerd when
# none is running. Without docker it prints a loud SKIPPED line and exits 0, unless
# FMPREP_REQUIRE_DOCKER=1 (CI), which makes it fail instead.
#
# Environment: CARGO_TARGET_DIR (where the release binary is built), FMPREP_RELEASE_BIN (use this
# binary instead of building one), FMPREP_IMAGE (tag, default fmprep:test),
# FMPREP_CONTAINER_INPUT (a reviews file or a directory of them; default the bundled sample),
# FMPREP_KEEP_DOCKERD=1 (leave a dockerd this script started running).
set -euo pipefail
cd "$(dirname "$0")/.."

image="${FMPREP_IMAGE:-fmprep:test}"
base="debian:bookworm-slim"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fmprep-container.XXXXXX")"
dockerd_pid=""
cleanup() {
  rm -rf "$work"
  # A daemon this script started is stopped again (FMPREP_KEEP_DOCKERD=1 keeps it for reruns);
  # images stay in /var/lib/docker either way.
  if [ -n "$dockerd_pid" ] && [ "${FMPREP_KEEP_DOCKERD:-0}" != 1 ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  fi
}
trap cleanup EXIT

say() { echo "container: $*"; }
# Seconds since a `date +%s%N` stamp, two decimals (no bc on a fresh machine).
seconds_since() { local ns=$(( $(date +%s%N) - $1 )); printf '%d.%02d' $((ns / 1000000000)) $((ns / 10000000 % 100)); }
fail() { echo "container: FAILED: $*" >&2; exit 1; }

skip() {
  if [ "${FMPREP_REQUIRE_DOCKER:-0}" = 1 ]; then
    fail "$* (FMPREP_REQUIRE_DOCKER=1 makes the container test mandatory)"
  fi
  echo
  echo "################################################################################"
  echo "## SKIPPED: the container test did not run: $*"
  echo "## (set FMPREP_REQUIRE_DOCKER=1 to make this an error)"
  echo "################################################################################"
  echo
  exit 0
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_updated=0
apt_install() {
  can_apt || return 1
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; return 1; }
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; return 1; }
}

# --- docker: client, daemon --------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    say "installing docker.io (apt)"
    apt_install docker.io || skip "docker is not installed and apt-get could not install docker.io"
  fi
  if ! docker info >/dev/null 2>&1; then
    log="${TMPDIR:-/tmp}/fmprep-dockerd.log"
    say "starting dockerd (log: $log)"
    setsid nohup dockerd >"$log" 2>&1 </dev/null &
    dockerd_pid=$!
    for _ in $(seq 60); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
    docker info >/dev/null 2>&1 || { tail -20 "$log" >&2; skip "dockerd did not start"; }
  fi
fi

# --- the base image, made from Debian packages when it cannot be pulled -------------------
if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || apt_install debootstrap \
    || skip "$base is absent and debootstrap cannot be installed"
  say "making $base with debootstrap (no registry here)"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  # What the published slim image does: no docs, man pages or locales; no package caches.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  # ...and apt removes downloaded packages and its binary caches after every run.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# --- the binary, stripped into a small build context --------------------------------------
bin="${FMPREP_RELEASE_BIN:-}"
if [ -z "$bin" ]; then
  say "cargo build --release"
  cargo build --release --bin fmprep
  bin="$target_dir/release/fmprep"
fi
[ -x "$bin" ] || fail "no release binary at $bin"
ctx="$work/context"
mkdir -p "$ctx"
if command -v strip >/dev/null; then
  strip -o "$ctx/fmprep" "$bin"
else
  cp "$bin" "$ctx/fmprep"
fi

version="$("$bin" --version | awk '{print $2}')"
source_url="$(git remote get-url origin 2>/dev/null || true)"
revision="$(git rev-parse HEAD 2>/dev/null || true)"
say "docker build -t $image (fmprep $version)"
start=$(date +%s%N)
docker build -q -t "$image" -f Dockerfile \
  --build-arg BINARY=fmprep --build-arg VERSION="$version" \
  --build-arg SOURCE="$source_url" --build-arg REVISION="$revision" "$ctx" >/dev/null
say "image built in $(seconds_since "$start") s"

# --- the image's metadata ------------------------------------------------------------------
inspect() { docker image inspect -f "$1" "$image"; }
[ "$(inspect '{{json .Config.Entrypoint}}')" = '["fmprep"]' ] \
  || fail "ENTRYPOINT is $(inspect '{{json .Config.Entrypoint}}'), expected [\"fmprep\"]"
label_version="$(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}')"
[ "$label_version" = "$version" ] \
  || fail "label org.opencontainers.image.version is '$label_version', the binary says $version"
image_bytes="$(inspect '{{.Size}}')"
base_bytes="$(docker image inspect -f '{{.Size}}' "$base")"
added=$(( (image_bytes - base_bytes) / 1000000 ))
say "image $((image_bytes / 1000000)) MB, $added MB over $base"
[ "$added" -le 40 ] || fail "the image adds $added MB to $base; at most 40 MB allowed"

uid="$(docker run --rm --entrypoint id "$image" -u)"
[ "$uid" != 0 ] || fail "the container runs as root"
docker run --rm --entrypoint sh "$image" -c 'test -s /etc/ssl/certs/ca-certificates.crt' \
  || fail "no CA bundle at /etc/ssl/certs/ca-certificates.crt"
[ "$(docker run --rm "$image" --version)" = "fmprep $version" ] || fail "fmprep --version in the image"

# --- a Processing-style job, against a local run ---------------------------------------------
# Processing mounts the objects of an S3 prefix as a directory: by default the bundled sample cut
# into three gzip files (each with the header) is the job's input, and the local run reads the
# sample itself: the bytes must be the same. FMPREP_CONTAINER_INPUT=FILE-or-DIR runs both on it.
input="${FMPREP_CONTAINER_INPUT:-data-samples/reviews_sample.tsv.gz}"
input="$(cd "$(dirname "$input")" && pwd)/$(basename "$input")"
if [ -d "$input" ]; then
  in_dir="$input"
  in_arg="/opt/ml/processing/input/reviews"
elif [ -z "${FMPREP_CONTAINER_INPUT:-}" ]; then
  in_dir="$work/objects"
  mkdir -p "$in_dir"
  python3 - "$input" "$in_dir" <<'PY' || fail "cannot cut the sample into parts"
import gzip, sys
lines = gzip.open(sys.argv[1], "rb").read().splitlines(keepends=True)
header, body = lines[0], lines[1:]
cuts = [0, len(body) // 3, 2 * len(body) // 3, len(body)]
for i in range(3):
    with gzip.open(f"{sys.argv[2]}/part-{i:05d}.tsv.gz", "wb") as f:
        f.write(header + b"".join(body[cuts[i]:cuts[i + 1]]))
PY
  chmod -R a+rX "$in_dir"
  in_arg="/opt/ml/processing/input/reviews"
else
  in_dir="$(dirname "$input")"
  in_arg="/opt/ml/processing/input/reviews/$(basename "$input")"
fi
local_out="$work/local"
job_out="$work/job"
mkdir -p "$job_out"
# SageMaker hands the container an output directory it can write; here, owned by its user.
chown "$uid" "$job_out" 2>/dev/null || chmod 0777 "$job_out"

run_local() { "$bin" run "$input" --output "$local_out" -q; }
run_job() {
  docker run --rm --network none \
    -v "$in_dir:/opt/ml/processing/input/reviews:ro" \
    -v "$job_out:/opt/ml/processing/output" \
    "$image" run "$in_arg" --output /opt/ml/processing/output -q
}
timed() {
  local s
  s=$(date +%s%N)
  "$@" >"$work/stdout" 2>"$work/stderr" || { cat "$work/stderr" >&2; fail "$* failed"; }
  seconds_since "$s"
}
t_local="$(timed run_local)"
t_job="$(timed run_job)"
tail -n 1 "$work/stdout" | python3 -c 'import json,sys; json.loads(sys.stdin.read())' \
  || fail "the container's last stdout line is not the manifest JSON"
say "run on $(basename "$input") (the job: $in_arg, $(ls "$in_dir" | wc -l) files): local ${t_local} s, in the container ${t_job} s"

# Every data file byte for byte; the manifests equal but for paths and timings.
(cd "$local_out" && find . -type f ! -name manifest.json | sort) >"$work/local.files"
(cd "$job_out" && find . -type f ! -name manifest.json | sort) >"$work/job.files"
diff -u "$work/local.files" "$work/job.files" || fail "the container wrote other files than the local run"
[ -s "$work/job.files" ] || fail "no output files"
while read -r f; do
  cmp -s "$local_out/$f" "$job_out/$f" || fail "$f differs between the local run and the container"
done <"$work/job.files"
python3 - "$local_out/manifest.json" "$job_out/manifest.json" <<'PY' || fail "manifests differ"
import json, sys
# Paths and timings differ; so do the input objects (other files: their paths, sizes, mtimes) and
# the examples of skipped lines, which name the part file and count lines within it when the job
# reads the sample as several objects.
volatile = {"input", "output", "elapsed_seconds", "stage_seconds", "bad_line_examples", "input_objects"}
a, b = ({k: v for k, v in json.load(open(p)).items() if k not in volatile} for p in sys.argv[1:])
if a != b:
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    sys.exit(f"manifest.json differs beyond paths and timings: {diff}")
PY
owner="$(stat -c %u "$job_out/manifest.json")"
[ "$owner" = "$uid" ] || fail "the job's files belong to uid $owner, not the image user $uid"
say "ok: $(wc -l <"$work/job.files") files byte-identical to the local run, written by uid $uid"
