#!/usr/bin/env python3
"""Turn the raw measurements of benches/e2e.sh into a Markdown report.

    report.py --work WORKDIR --rows N --out FILE.md [--fmprep-version V] ...

WORKDIR is the e2e work directory: runs.tsv (one line per timed run:
label, rep, wall_s, max_rss_kb, user_s, sys_s, exit), out/<label>/ (outputs of
the last repetition), compare-*.json (compare.py verdicts) and meta.json
(written by e2e.sh: data paths and sizes, versions, machine). The report is
printed on stdout and written to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict

# label -> description, in table order
RUNS = {
    "fmprep_gz": "fmprep run, gzip input, default threads",
    "fmprep_gz_t1": "fmprep run, gzip input, --threads 1",
    "fmprep_tsv_t2": "fmprep run, plain TSV input, --threads 2",
    "fmprep_tsv_t1": "fmprep run, plain TSV input, --threads 1",
    "fmprep_dir4": "fmprep run, the same rows as 4 gzip files in a directory",
    "decompress": "fmprep decompress > /dev/null (gzip floor)",
    "igzip": "ISA-L igzip -dc > /dev/null (fastest decoder here)",
    "fmprep_x10": "fmprep run, 10 x the rows (synth --rows 10N --seed 1)",
    "polars": "polars_pipeline.py (polars + numpy encoder)",
    "pandas": "pandas_pipeline.py (pandas + scipy + SageMaker SDK writer)",
}


def load_runs(path: str) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, rep, wall, rss, user, sys_, rc = line.rstrip("\n").split("\t")
            runs[label].append({"rep": int(rep), "wall": float(wall), "rss_kb": int(rss),
                                "cpu": float(user) + float(sys_), "rc": int(rc)})
    return runs


def stats(rs: list[dict]) -> dict | None:
    ok = [r for r in rs if r["rc"] == 0]
    if not ok:
        return None
    walls = [r["wall"] for r in ok]
    return {"n": len(ok), "failed": len(rs) - len(ok), "wall": statistics.median(walls),
            "min": min(walls), "max": max(walls),
            "cpu": statistics.median(r["cpu"] for r in ok),
            "rss_mb": max(r["rss_kb"] for r in ok) / 1024}


def secs(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def read_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    meta = read_json(os.path.join(args.work, "meta.json")) or {}
    runs = load_runs(os.path.join(args.work, "runs.tsv"))
    st = {label: stats(rs) for label, rs in runs.items()}
    tsv_mb = meta.get("tsv_bytes", 0) / 1e6
    gz_mb = meta.get("gz_bytes", 0) / 1e6

    def wall(label):
        return st[label]["wall"] if st.get(label) else None

    def rss(label):
        return st[label]["rss_mb"] if st.get(label) else None

    out: list[str] = []
    w = out.append
    w(f"# fmprep end-to-end benchmark — {meta.get('date', '?')}, {args.rows:,} rows\n")
    w("Produced by `benches/e2e.sh`. Times are wall-clock medians (clock read around "
      "each command) over interleaved "
      "repetitions (each row is one command, all commands run once per repetition, "
      "in table order); RSS is the peak over repetitions (`/usr/bin/time -v`). "
      "MB/s is uncompressed input bytes / median wall time.\n")

    w("## Machine and inputs\n")
    for key, label in [("machine", "Machine"), ("fmprep_version", "fmprep"),
                       ("python_versions", "Python packages"),
                       ("threads_default", "Default threads")]:
        if meta.get(key) is not None:
            val = meta[key]
            if isinstance(val, dict):
                val = ", ".join(f"{k} {v}" for k, v in val.items())
            w(f"- {label}: {val}")
    w(f"- Data: `fmprep synth --rows {args.rows} --seed 1`, "
      f"{gz_mb:,.1f} MB gzip, {tsv_mb:,.1f} MB uncompressed "
      f"(`{meta.get('gz_path', '?')}`)")
    w(f"- Repetitions: {meta.get('reps', '?')} (pandas: {meta.get('pandas_reps', '?')}); "
      f"seed {meta.get('seed', '?')}\n")

    w("## Timings\n")
    w("| run | what | ok/runs | median wall s | min–max s | CPU s | peak RSS MB | MB/s |")
    w("|---|---|---|---:|---:|---:|---:|---:|")
    for label, what in RUNS.items():
        s = st.get(label)
        n_runs = len(runs.get(label, []))
        if n_runs == 0:
            continue
        if s is None:
            w(f"| {label} | {what} | 0/{n_runs} | FAILED | | | | |")
            continue
        w(f"| {label} | {what} | {s['n']}/{n_runs} | {secs(s['wall'])} | "
          f"{secs(s['min'])}–{secs(s['max'])} | {s['cpu']:.2f} | {s['rss_mb']:,.0f} | "
          f"{tsv_mb / s['wall']:,.0f} |")
    w("")
    if wall("fmprep_gz") is not None and wall("fmprep_gz") < 1.0:
        w("Note: runs this short are dominated by process start-up (the Python "
          "scripts spend ~0.3-1.5 s importing polars / pandas / the SageMaker SDK); "
          "use the full-size run for throughput figures.\n")

    w("## Ratios\n")
    w("| ratio | wall | peak RSS |")
    w("|---|---:|---:|")
    w(f"| pandas / fmprep (gzip, default threads) | {ratio(wall('pandas'), wall('fmprep_gz'))} "
      f"| {ratio(rss('pandas'), rss('fmprep_gz'))} |")
    w(f"| polars / fmprep (gzip, default threads) | {ratio(wall('polars'), wall('fmprep_gz'))} "
      f"| {ratio(rss('polars'), rss('fmprep_gz'))} |")
    w(f"| fmprep / decompress-only (gzip) | {ratio(wall('fmprep_gz'), wall('decompress'))} "
      f"| {ratio(rss('fmprep_gz'), rss('decompress'))} |")
    w(f"| fmprep / igzip -dc (gzip) | {ratio(wall('fmprep_gz'), wall('igzip'))} "
      f"| {ratio(rss('fmprep_gz'), rss('igzip'))} |")
    w(f"| fmprep 4-file directory / one file (gzip) | {ratio(wall('fmprep_dir4'), wall('fmprep_gz'))} "
      f"| {ratio(rss('fmprep_dir4'), rss('fmprep_gz'))} |")
    w(f"| fmprep plain TSV, 2 threads / 1 thread | {ratio(wall('fmprep_tsv_t1'), wall('fmprep_tsv_t2'))} "
      f"| {ratio(rss('fmprep_tsv_t1'), rss('fmprep_tsv_t2'))} |")
    w(f"| fmprep 10 x rows / 1 x rows (gzip) | {ratio(wall('fmprep_x10'), wall('fmprep_gz'))} "
      f"| {ratio(rss('fmprep_x10'), rss('fmprep_gz'))} |")
    w(f"| fmprep 1 thread / default threads (gzip) | "
      f"{ratio(wall('fmprep_gz_t1'), wall('fmprep_gz'))} "
      f"| {ratio(rss('fmprep_gz_t1'), rss('fmprep_gz'))} |")
    w(f"| fmprep gzip / plain TSV input (2 threads) | "
      f"{ratio(wall('fmprep_gz'), wall('fmprep_tsv_t2'))} "
      f"| {ratio(rss('fmprep_gz'), rss('fmprep_tsv_t2'))} |")
    if wall("fmprep_tsv_t2"):
        w(f"\nfmprep on uncompressed TSV, 2 threads: **{tsv_mb / wall('fmprep_tsv_t2'):,.0f} MB/s**"
          f" ({args.rows / wall('fmprep_tsv_t2') / 1e6:.2f} M rows/s).")
    if wall("decompress"):
        w(f"Gzip decompression alone: {tsv_mb / wall('decompress'):,.0f} MB/s of output.")
    w("")

    w("## Row counts\n")
    manifests = {
        "fmprep": read_json(os.path.join(args.work, "out", "fmprep_gz", "manifest.json")),
        "polars": read_json(os.path.join(args.work, "out", "polars", "summary.json")),
        "pandas": read_json(os.path.join(args.work, "out", "pandas", "summary.json")),
    }
    keys = ["input_lines", "rows_parsed", "valid", "after_long_tail", "after_dedupe",
            "train", "validate", "test"]
    present = [k for k, m in manifests.items() if m]
    if present:
        w("| count | " + " | ".join(present) + " |")
        w("|---|" + "---:|" * len(present))
        for k in ["feature_dim", "n_customers", "n_products"]:
            w(f"| {k} | " + " | ".join(f"{manifests[t].get(k, '')}" for t in present) + " |")
        for k in keys:
            vals = [manifests[t].get("counts", {}).get(k) for t in present]
            if any(v is not None for v in vals):
                w(f"| {k} | " + " | ".join("" if v is None else f"{v:,}" for v in vals) + " |")
        w("")

    w("## Output checks\n")
    for name in ("fmprep-vs-polars", "fmprep-vs-pandas"):
        c = read_json(os.path.join(args.work, f"compare-{name}.json"))
        if c is None:
            w(f"- {name}: not run")
            continue
        line = f"- {name}: **{c.get('verdict')}**"
        if c.get("verdict") in ("match", "mismatch"):
            line += (f" — {c['common']:,} common ratings; only in fmprep "
                     f"{c['side_a']['only_here']:,}, only in {name.split('-')[-1]} "
                     f"{c['side_b']['only_here']:,}; feature_dim {c['side_a']['feature_dim']} vs "
                     f"{c['side_b']['feature_dim']}; same index maps: {c['same_index_maps']}")
            if c["problems"]:
                line += f"; problems: {', '.join(c['problems'])}"
        else:
            line += f" — {c.get('error', '')}"
        w(line)
    raw = [(n, os.path.join(args.work, f"compare-{n}.json"))
           for n in ("fmprep-vs-polars", "fmprep-vs-pandas")]
    raw = [(n, p) for n, p in raw if os.path.exists(p)]
    det = meta.get("fmprep_determinism")
    if det:
        w(f"- fmprep outputs of fmprep_gz, fmprep_gz_t1, fmprep_tsv_t2, fmprep_tsv_t1 and fmprep_dir4 "
          f"(protobuf + maps, last repetition): {det}")
    for d in ("fmprep_gz", "polars"):
        c = read_json(os.path.join(args.work, f"sdkcheck-{d}.json"))
        if c:
            files = ", ".join(f"{f['file']} ({f.get('records', 0):,})" for f in c["files"])
            w(f"- {d} bytes vs the SageMaker SDK writer re-encoding the same records "
              f"(`sdk_check.py`, {c['records_checked']:,} records: {files}): **{c['verdict']}**")
    if meta.get("selftest"):
        w(f"- polars encoder vs SageMaker SDK writer (`polars_pipeline.py --selftest`): "
          f"{meta['selftest']}")
    w("")
    if raw:
        w("<details><summary>compare.py output</summary>\n")
        for n, p in raw:
            with open(p, encoding="utf-8") as f:
                w(f"{n}:\n```json\n{f.read().strip()}\n```")
        w("</details>\n")
    if meta.get("pandas_args"):
        w(f"pandas_pipeline.py ran with extra arguments: `{meta['pandas_args']}`\n")

    w("## Commands\n")
    w("```")
    try:
        with open(os.path.join(args.work, "commands.tsv"), encoding="utf-8") as f:
            for line in f:
                label, cmd = line.rstrip("\n").split("\t", 1)
                w(f"{label:14s} {cmd}{'> /dev/null' if label in ('decompress', 'igzip') else ''}")
    except OSError:
        pass
    w("```\n")

    w("## All runs\n")
    w("| run | rep | wall s | CPU s | max RSS MB | exit |")
    w("|---|---:|---:|---:|---:|---:|")
    for label in RUNS:
        for r in sorted(runs.get(label, []), key=lambda r: r["rep"]):
            w(f"| {label} | {r['rep']} | {secs(r['wall'])} | {r['cpu']:.2f} | "
              f"{r['rss_kb'] / 1024:,.0f} | {r['rc']} |")
    w("")

    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
