//! The subprocess contract orchestrators rely on: stdout, JSON logs, environment variables,
//! config file, dry run, completions and man page.

use std::process::Command;

use crate::util::*;

fn fmprep_env(w: &Workdir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fmprep"));
    cmd.args(args).current_dir(w.path(""));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run(cmd.output().unwrap())
}

#[test]
fn json_logs_are_one_object_per_line() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 1);
    let r = fmprep_env(
        &w,
        &[
            "--log-format",
            "json",
            "run",
            "in.tsv.gz",
            "-o",
            "out",
            "--threads",
            "1",
        ],
        &[("FMPREP_PROGRESS_SECONDS", "0.001")],
    );
    r.ok();
    let lines: Vec<serde_json::Value> = r
        .stderr()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 4, "{}", r.stderr());
    for l in &lines {
        for key in ["ts", "level", "stage", "message"] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert!(l["ts"].as_str().unwrap().ends_with('Z'));
    }
    assert!(lines
        .iter()
        .any(|l| l["message"].as_str().unwrap().contains("feature_dim")));
    assert!(
        lines
            .iter()
            .any(|l| l["counters"]["records_total"].as_u64().unwrap_or(0) > 0),
        "periodic progress lines carry counters: {}",
        r.stderr()
    );
    // Errors are JSON too, and stdout stays empty.
    let r = fmprep_env(
        &w,
        &["--log-format", "json", "run", "missing.tsv", "-o", "x"],
        &[],
    );
    assert_eq!(r.code(), 4);
    assert!(r.stdout().is_empty());
    let last: serde_json::Value = serde_json::from_str(r.stderr().lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["message"].as_str().unwrap().contains("missing.tsv"));
}

#[test]
fn environment_variables_mirror_flags() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 10_000, 1);
    let env = [
        ("FMPREP_SEED", "123"),
        ("FMPREP_OUTPUT", "envout"),
        ("FMPREP_TEST_CHUNK", "500"),
        ("FMPREP_THREADS", "1"),
    ];
    let m = fmprep_env(&w, &["run", "in.tsv.gz"], &env).ok();
    assert_eq!(m["seed"], 123);
    assert_eq!(m["options"]["test_chunk"], 500);
    assert!(w.path("envout/manifest.json").exists());
    // A flag overrides the variable.
    let m = fmprep_env(&w, &["run", "in.tsv.gz", "--seed", "5", "-o", "o2"], &env).ok();
    assert_eq!(m["seed"], 5);
    // Boolean variables accept 1/true/yes.
    let m = fmprep_env(
        &w,
        &["run", "in.tsv.gz"],
        &[("FMPREP_OUTPUT", "envout"), ("FMPREP_OVERWRITE", "1")],
    )
    .ok();
    assert_eq!(m["options"]["overwrite"], true);
}

#[test]
fn config_file_sets_defaults_that_flags_override() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 10_000, 1);
    w.write(
        "fmprep.toml",
        "seed = 7\nmin-product-ratings = 2\n[run]\ntest_chunk = 250\n",
    );
    let m = w
        .fmprep(&["run", "in.tsv.gz", "-o", "a", "--config", "fmprep.toml"])
        .ok();
    assert_eq!(m["seed"], 7);
    assert_eq!(m["options"]["filter"]["min_product_ratings"], 2);
    assert_eq!(m["options"]["test_chunk"], 250);
    let m = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            "b",
            "--config",
            "fmprep.toml",
            "--seed",
            "8",
        ])
        .ok();
    assert_eq!(m["seed"], 8);
    w.write("bad.toml", "sed = 1\n");
    let err = w
        .fmprep(&["run", "in.tsv.gz", "-o", "c", "--config", "bad.toml"])
        .fails(2);
    assert!(err.contains("unknown option \"sed\""), "{err}");
}

#[test]
fn dry_run_checks_without_writing() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 2_000, 1);
    let r = w.fmprep(&["run", "in.tsv.gz", "-o", "out", "--dry-run"]);
    let j = r.ok();
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["compression"], "gzip");
    assert!(!w.path("out").exists(), "dry run created the output");
    w.write("wrong.tsv", "a\tb\n1\t2\n");
    let err = w.fmprep(&["run", "wrong.tsv", "-o", "out", "--dry-run"]).fails(3);
    assert!(err.contains("no column customer_id"), "{err}");
    w.fmprep(&["run", "in.tsv.gz", "-o", "done"]).ok();
    w.fmprep(&["run", "in.tsv.gz", "-o", "done", "--dry-run"])
        .fails(6);
    w.fmprep(&["preprocess", "in.tsv.gz", "-o", "pre"]).ok();
    w.fmprep(&["prepare", "pre", "-o", "prep", "--dry-run"]).ok();
    assert!(!w.path("prep").exists());
}

#[test]
fn completions_and_man_page() {
    let w = Workdir::new();
    let r = w.fmprep(&["completions", "bash"]);
    assert_eq!(r.code(), 0);
    assert!(r.stdout().contains("_fmprep()"));
    let r = w.fmprep(&["man"]);
    assert!(
        r.stdout().starts_with(".ie") || r.stdout().contains(".TH fmprep"),
        "{}",
        &r.stdout()[..100]
    );
    let help = w.fmprep(&["run", "--help"]).stdout();
    for flag in [
        "--min-customer-ratings",
        "--dry-run",
        "--max-bad-lines",
        "FMPREP_SEED",
        "Example",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
}
