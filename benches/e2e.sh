#!/usr/bin/env bash
# End-to-end benchmark: fmprep vs a polars re-implementation vs the original
# pandas + SageMaker-SDK pipeline, on synthetic Amazon-reviews data.
#
#   benches/e2e.sh [ROWS]            (default 4057147, the size of the video file)
#
# Steps: Python venv from benches/python/requirements.txt (cached), release
# build of fmprep, synthetic data (cached, gzip + an uncompressed copy), then
# REPS interleaved repetitions of every timed command under /usr/bin/time -v,
# output comparisons, and a Markdown report in benches/results/<date>-<rows>.md.
#
# Environment (all optional):
#   REPS=3            repetitions of each timed command
#   PANDAS_REPS=1     repetitions of the (slow) pandas pipeline; 0 skips it
#   POLARS_REPS=REPS  repetitions of the polars pipeline
#   SEED=42           shuffle seed passed to every pipeline
#   PANDAS_ARGS=      extra arguments for pandas_pipeline.py (e.g. --quote-none)
#   SCALE_REPS=1      repetitions of the 10 x rows run (0 skips it; its data is 10 x as big)
#   BENCH_BIN=        use this fmprep binary instead of building one
#   BENCH_VENV=$HOME/.cache/fmprep-bench-venv    Python venv location
#   BENCH_DATA=$HOME/.cache/fmprep-bench-data    synthetic data cache
#   BENCH_WORK=       work dir (default: a fresh temp dir, removed at exit
#                     unless KEEP_WORK=1)
#   RESULTS_DIR=benches/results                  where the report goes
#   PYTHON=python3    interpreter used to create the venv
#
# Exit status: 0 when every run succeeded, both comparisons match, the SDK
# byte checks and the encoder self-test pass, and fmprep wrote the same files
# at every thread count and input compression; else 1 (2 for bad arguments).

set -euo pipefail

ROWS="${1:-4057147}"
REPS="${REPS:-3}"
PANDAS_REPS="${PANDAS_REPS:-1}"
POLARS_REPS="${POLARS_REPS:-$REPS}"
SCALE_REPS="${SCALE_REPS:-1}"
SEED="${SEED:-42}"
PANDAS_ARGS="${PANDAS_ARGS:-}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PYDIR="$HERE/python"
VENV="${BENCH_VENV:-$HOME/.cache/fmprep-bench-venv}"
DATA_DIR="${BENCH_DATA:-$HOME/.cache/fmprep-bench-data}"
RESULTS_DIR="${RESULTS_DIR:-$HERE/results}"
export PYTHONDONTWRITEBYTECODE=1 SAGEMAKER_SUPPRESS_V2_WARNING=1

[[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -gt 0 ]] || { echo "usage: $0 [ROWS]" >&2; exit 2; }
for v in REPS PANDAS_REPS POLARS_REPS SCALE_REPS SEED; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "e2e: $v must be a non-negative integer" >&2; exit 2; }
done
[[ "$REPS" -ge 1 ]] || { echo "e2e: REPS must be >= 1" >&2; exit 2; }

say() { printf '\n== %s\n' "$*" >&2; }

# fmprep reads FMPREP_<FLAG> variables as flags; clear them so every timed
# command runs with exactly the flags shown in the report.
while read -r v; do
    [[ -n "$v" ]] || continue
    echo "e2e: ignoring $v from the environment" >&2
    unset "$v"
done < <(compgen -e | grep '^FMPREP_' || true)

if [[ -n "${BENCH_WORK:-}" ]]; then
    WORK="$BENCH_WORK"
    mkdir -p "$WORK"
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/fmprep-e2e.XXXXXX")"
    [[ "${KEEP_WORK:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT
fi
OUT="$WORK/out"
LOGS="$WORK/logs"
rm -rf "$OUT" "$LOGS" "$WORK/runs.tsv" "$WORK/commands.tsv" "$WORK"/compare-*.json \
    "$WORK"/sdkcheck-*.json
mkdir -p "$OUT" "$LOGS" "$DATA_DIR"

# --------------------------------------------------------------------------
# Tools: GNU time (for max RSS), the Python venv, the fmprep binary
# --------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    say "installing GNU time (Debian package 'time')"
    if [[ "$(id -u)" == 0 ]]; then
        apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
    else
        echo "e2e: /usr/bin/time missing; run: sudo apt-get install -y time" >&2; exit 1
    fi
fi

if ! command -v igzip >/dev/null 2>&1; then
    say "installing ISA-L's igzip (Debian package 'isal')"
    if [[ "$(id -u)" == 0 ]]; then
        apt-get install -y isal >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y isal >/dev/null; }
    else
        echo "e2e: igzip missing; run: sudo apt-get install -y isal" >&2; exit 1
    fi
fi

REQ="$PYDIR/requirements.txt"
LOCK="$PYDIR/requirements.lock.txt"
REQ_SUM="$(cat "$REQ" "$LOCK" | sha256sum | cut -c1-16)"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.fmprep-requirements" 2>/dev/null)" != "$REQ_SUM" ]]; then
    say "creating Python venv in $VENV"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ" -c "$LOCK"
    echo "$REQ_SUM" > "$VENV/.fmprep-requirements"
fi
PY="$VENV/bin/python"

if [[ -n "${BENCH_BIN:-}" ]]; then
    BIN="$BENCH_BIN"
else
    say "building fmprep (release)"
    (cd "$REPO" && cargo build --release --quiet)
    # Ask cargo where the target dir is (honours CARGO_TARGET_DIR and .cargo/config).
    TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' \
        || echo "${CARGO_TARGET_DIR:-$REPO/target}")"
    BIN="$TARGET_DIR/release/fmprep"
fi
[[ -x "$BIN" ]] || { echo "e2e: fmprep binary not found at $BIN" >&2; exit 1; }
FM_VERSION="$("$BIN" --version 2>/dev/null | head -1 || echo unknown)"

say "self-test: polars encoder vs FORMAT.md vectors and the SageMaker SDK writer"
if (cd "$PYDIR" && "$PY" polars_pipeline.py --selftest) >"$LOGS/selftest.log" 2>&1; then
    SELFTEST="passed"
else
    SELFTEST="FAILED (see logs/selftest.log)"
    cat "$LOGS/selftest.log" >&2
fi

# --------------------------------------------------------------------------
# Data (cached per row count, seed 1 and fmprep version)
# --------------------------------------------------------------------------
TAG="$(printf '%s' "$FM_VERSION" | tr -c 'A-Za-z0-9.' '_')"
GZ="$DATA_DIR/synth-${ROWS}-s1-${TAG}.tsv.gz"
TSV="${GZ%.gz}"
if [[ ! -s "$GZ" ]]; then
    say "generating $ROWS rows -> $GZ"
    tmp="$DATA_DIR/.partial-$$.tsv.gz"
    "$BIN" synth --rows "$ROWS" --seed 1 --output "$tmp" >/dev/null
    mv -f "$tmp" "$GZ"
    rm -f "$TSV"
fi
if [[ ! -s "$TSV" ]]; then
    say "decompressing to $TSV"
    gzip -dc "$GZ" > "$TSV.partial.$$"
    mv -f "$TSV.partial.$$" "$TSV"
fi
# The same rows cut into 4 gzip files (each with the header) in a directory.
PARTS="$DATA_DIR/parts4-${ROWS}-s1-${TAG}"
if [[ ! -s "$PARTS/part-3.tsv.gz" ]]; then
    say "cutting $TSV into 4 gzip files -> $PARTS"
    rm -rf "$PARTS" "$PARTS.partial"
    mkdir -p "$PARTS.partial"
    # split -n needs a file it can measure, not a pipe.
    tail -n +2 "$TSV" > "$PARTS.partial/body"
    split -n l/4 -d -a 1 "$PARTS.partial/body" "$PARTS.partial/body-"
    rm -f "$PARTS.partial/body"
    for i in 0 1 2 3; do
        { head -n 1 "$TSV"; cat "$PARTS.partial/body-$i"; } | gzip -6 > "$PARTS.partial/part-$i.tsv.gz"
        rm -f "$PARTS.partial/body-$i"
    done
    mv "$PARTS.partial" "$PARTS"
fi
GZ10="$DATA_DIR/synth-$((ROWS * 10))-s1-${TAG}.tsv.gz"
if [[ "$SCALE_REPS" -gt 0 && ! -s "$GZ10" ]]; then
    say "generating $((ROWS * 10)) rows -> $GZ10"
    "$BIN" synth --rows "$((ROWS * 10))" --seed 1 --output "$GZ10.partial.$$.gz" >/dev/null
    mv -f "$GZ10.partial.$$.gz" "$GZ10"
fi
GZ_BYTES="$(stat -c %s "$GZ")"
TSV_BYTES="$(stat -c %s "$TSV")"

# --------------------------------------------------------------------------
# Timed runs
# --------------------------------------------------------------------------
FAILED=0

# timed LABEL REP CMD... : run CMD under /usr/bin/time -v in a fresh output dir
# $OUT/LABEL, append "label rep wall_s maxrss_kb user_s sys_s exit" to runs.tsv.
timed() {
    local label="$1" rep="$2"; shift 2
    local tf="$LOGS/$label.$rep.time" rc=0
    rm -rf "${OUT:?}/$label"
    if [[ "$rep" == 1 ]]; then
        printf '%s\t%s\n' "$label" "$(printf '%q ' "$@")" >> "$WORK/commands.tsv"
    fi
    local t0 t1
    t0="$(date +%s%N)"
    if [[ "$label" == decompress || "$label" == igzip ]]; then
        /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$LOGS/$label.$rep.err" || rc=$?
    else
        /usr/bin/time -v -o "$tf" "$@" >"$LOGS/$label.$rep.out" 2>"$LOGS/$label.$rep.err" || rc=$?
    fi
    t1="$(date +%s%N)"
    # Wall time from the clock around the command (time -v only has 10 ms
    # resolution, too coarse for small inputs); RSS and CPU from time -v.
    local wall rss user sys
    wall="$(awk -v ns="$((t1 - t0))" 'BEGIN {printf "%.4f", ns / 1e9}')"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")"
    user="$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$tf")"
    sys="$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$tf")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rep" "${wall:-0}" "${rss:-0}" \
        "${user:-0}" "${sys:-0}" "$rc" >> "$WORK/runs.tsv"
    if [[ "$rc" == 0 ]]; then
        printf '   %-14s rep %s: %8.2fs  %8.0f MB\n' "$label" "$rep" "$wall" \
            "$(( ${rss:-0} / 1024 ))" >&2
    else
        FAILED=1
        printf '   %-14s rep %s: FAILED (exit %s); stderr tail:\n' "$label" "$rep" "$rc" >&2
        tail -n 5 "$LOGS/$label.$rep.err" | sed 's/^/      /' >&2
    fi
}

say "timing: $REPS repetitions, interleaved ($ROWS rows, $((GZ_BYTES / 1000000)) MB gz," \
    "$((TSV_BYTES / 1000000)) MB plain)"
for ((rep = 1; rep <= REPS; rep++)); do
    timed fmprep_gz "$rep" "$BIN" run "$GZ" --output "$OUT/fmprep_gz" --seed "$SEED"
    timed fmprep_gz_t1 "$rep" "$BIN" run "$GZ" --output "$OUT/fmprep_gz_t1" --seed "$SEED" --threads 1
    timed fmprep_tsv_t2 "$rep" "$BIN" run "$TSV" --output "$OUT/fmprep_tsv_t2" --seed "$SEED" --threads 2
    timed fmprep_tsv_t1 "$rep" "$BIN" run "$TSV" --output "$OUT/fmprep_tsv_t1" --seed "$SEED" --threads 1
    timed fmprep_dir4 "$rep" "$BIN" run "$PARTS" --output "$OUT/fmprep_dir4" --seed "$SEED"
    timed decompress "$rep" "$BIN" decompress "$GZ"
    timed igzip "$rep" igzip -dc "$GZ"
    if ((rep <= SCALE_REPS)); then
        timed fmprep_x10 "$rep" "$BIN" run "$GZ10" --output "$OUT/fmprep_x10" --seed "$SEED"
        rm -rf "${OUT:?}/fmprep_x10"
    fi
    if ((rep <= POLARS_REPS)); then
        timed polars "$rep" "$PY" "$PYDIR/polars_pipeline.py" "$GZ" "$OUT/polars" --seed "$SEED"
    fi
    if ((rep <= PANDAS_REPS)); then
        # shellcheck disable=SC2086  # PANDAS_ARGS is a list of flags
        timed pandas "$rep" "$PY" "$PYDIR/pandas_pipeline.py" "$GZ" "$OUT/pandas" --seed "$SEED" $PANDAS_ARGS
    fi
done

# --------------------------------------------------------------------------
# Checks: same ratings everywhere; same bytes as the SDK writer; fmprep output
# independent of threads and input compression
# --------------------------------------------------------------------------
say "comparing outputs"
MISMATCH=0
for other in polars pandas; do
    [[ -d "$OUT/$other" && -d "$OUT/fmprep_gz" ]] || continue
    rc=0
    "$PY" "$PYDIR/compare.py" "$OUT/fmprep_gz" "$OUT/$other" \
        > "$WORK/compare-fmprep-vs-$other.json" 2>"$LOGS/compare-$other.err" || rc=$?
    [[ "$rc" == 0 ]] || MISMATCH=1
    printf '   fmprep vs %-7s %s\n' "$other" \
        "$(cut -c1-300 "$WORK/compare-fmprep-vs-$other.json")" >&2
done

# Byte-level check: re-encode a sample of records with the SDK writer.
for d in fmprep_gz polars; do
    [[ -d "$OUT/$d" ]] || continue
    rc=0
    "$PY" "$PYDIR/sdk_check.py" "$OUT/$d" > "$WORK/sdkcheck-$d.json" 2>"$LOGS/sdkcheck-$d.err" || rc=$?
    [[ "$rc" == 0 ]] || MISMATCH=1
    printf '   %-17s %s\n' "SDK bytes $d" "$(cut -c1-120 "$WORK/sdkcheck-$d.json")" >&2
done

DETERMINISM="not checked"
if [[ -d "$OUT/fmprep_gz" && -d "$OUT/fmprep_gz_t1" && -d "$OUT/fmprep_tsv_t2" ]]; then
    DETERMINISM="identical"
    for d in fmprep_gz_t1 fmprep_tsv_t2 fmprep_tsv_t1 fmprep_dir4; do
        if ! diff -r -q -x manifest.json "$OUT/fmprep_gz" "$OUT/$d" > "$LOGS/diff-$d.txt" 2>&1; then
            DETERMINISM="DIFFERENT (see logs/diff-*.txt)"
            MISMATCH=1
        fi
    done
fi

# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
MACHINE="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')),"
MACHINE="$MACHINE $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
export MACHINE FM_VERSION SELFTEST DETERMINISM GZ TSV GZ_BYTES TSV_BYTES REPS PANDAS_REPS SEED PANDAS_ARGS
"$PY" - "$WORK/meta.json" <<'EOF'
import datetime, json, os, sys
from importlib import metadata
e = os.environ
meta = {
    "date": datetime.date.today().isoformat(),
    "machine": e["MACHINE"],
    "fmprep_version": e["FM_VERSION"],
    "threads_default": os.cpu_count(),
    "python_versions": {"python": sys.version.split()[0],
                        **{p: metadata.version(p) for p in
                           ("pandas", "numpy", "scipy", "polars", "sagemaker", "protobuf")}},
    "gz_path": e["GZ"], "gz_bytes": int(e["GZ_BYTES"]), "tsv_bytes": int(e["TSV_BYTES"]),
    "reps": int(e["REPS"]), "pandas_reps": int(e["PANDAS_REPS"]), "seed": int(e["SEED"]),
    "pandas_args": e["PANDAS_ARGS"], "selftest": e["SELFTEST"],
    "fmprep_determinism": e["DETERMINISM"],
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF

REPORT="$RESULTS_DIR/$(date +%F)-$ROWS.md"
"$PY" "$PYDIR/report.py" --work "$WORK" --rows "$ROWS" --out "$REPORT"
say "report written to $REPORT"

if [[ "$FAILED" != 0 || "$MISMATCH" != 0 || "$SELFTEST" != passed ]]; then
    echo "e2e: FAILED (failed runs: $FAILED, output mismatch: $MISMATCH, selftest: $SELFTEST)" >&2
    exit 1
fi
