//! The output location of local runs (issue 15): no stale files after `--overwrite`, clean-up of
//! a crash between commit and clean-up, `--if-exists reuse`, and the output checked before the
//! input.

use crate::util::Workdir;

fn files_under(w: &Workdir, rel: &str) -> Vec<String> {
    w.tree(rel).into_iter().map(|(p, _)| p).collect()
}

/// What the manifest lists, plus the manifest itself, sorted.
fn listed(m: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = m["files"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|g| g.as_array().unwrap().iter())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    out.push("manifest.json".into());
    out.sort();
    out
}

#[test]
fn overwrite_with_fewer_test_chunks_leaves_exactly_the_new_files() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 5_000, 3);
    let first = w
        .fmprep(&["run", "in.tsv.gz", "-o", "out", "--test-chunk", "200"])
        .ok();
    let old_tests = first["files"]["test"].as_array().unwrap().len();
    assert!(
        old_tests >= 3,
        "the first run writes several test chunks: {old_tests}"
    );
    // A file of the user's beside fmprep's is never touched.
    w.write("out/test/README.txt", "mine");
    let r = w.fmprep(&[
        "run",
        "in.tsv.gz",
        "-o",
        "out",
        "--overwrite",
        "--split",
        "0.9,0.05,0.05",
    ]);
    let second = r.ok();
    assert_eq!(second["files"]["test"].as_array().unwrap().len(), 1);
    let mut want = listed(&second);
    want.push("test/README.txt".into());
    want.sort();
    assert_eq!(files_under(&w, "out"), want);
    let err = r.stderr();
    for i in 1..old_tests {
        assert!(
            err.contains(&format!("removed out/test/test_{i}.protobuf")),
            "each removal is logged: {err}"
        );
    }
}

#[test]
fn stale_files_of_a_crash_after_commit_are_removed_by_the_next_run() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 4_000, 5);
    let m = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    // What a run killed between its commit and its clean-up leaves: a correct manifest beside
    // files of the run it replaced (a shard and a side-feature map fmprep would have written).
    w.write("out/test/test_7.protobuf", "stale");
    w.write("out/train/train_0.protobuf", "stale");
    w.write("out/maps/features/brand.tsv", "stale");
    // `reuse` of that manifest cleans up too, without running.
    let r = w.fmprep(&["run", "in.tsv.gz", "-o", "out", "--if-exists", "reuse"]);
    assert_eq!(r.ok(), m);
    assert_eq!(files_under(&w, "out"), listed(&m));
    assert!(r.stderr().contains("train_0.protobuf"), "{}", r.stderr());
    // And so does a plain run into a location without a manifest (a crash before the commit).
    std::fs::remove_file(w.path("out/manifest.json")).unwrap();
    w.write("out/test/test_9.protobuf", "stale");
    let again = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    assert_eq!(files_under(&w, "out"), listed(&again));
}

#[test]
fn reuse_returns_the_finished_run_and_refuses_a_changed_input_or_option() {
    let w = Workdir::new();
    let input = w.synth("in.tsv.gz", 4_000, 6);
    let first = w.fmprep(&["run", "in.tsv.gz", "-o", "out", "--seed", "3"]);
    let manifest_bytes = w.read("out/manifest.json");
    // The same line on stdout, the manifest untouched (its timings would differ otherwise),
    // and no input read: the log has no "reading" line.
    let r = w.fmprep(&[
        "run",
        "in.tsv.gz",
        "-o",
        "out",
        "--seed",
        "3",
        "--if-exists",
        "reuse",
        "--threads",
        "1",
    ]);
    r.ok();
    assert_eq!(r.stdout().lines().last(), first.stdout().lines().last());
    assert_eq!(w.read("out/manifest.json"), manifest_bytes);
    assert!(!r.stderr().contains("reading"), "{}", r.stderr());
    assert!(r.stderr().contains("reusing the finished run"), "{}", r.stderr());

    let err = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            "out",
            "--seed",
            "4",
            "--if-exists",
            "reuse",
        ])
        .fails(6);
    assert!(err.contains("option seed changed"), "{err}");
    let err = w
        .fmprep(&[
            "preprocess",
            "in.tsv.gz",
            "-o",
            "out",
            "--seed",
            "3",
            "--if-exists",
            "reuse",
        ])
        .fails(6);
    assert!(err.contains("`run`"), "{err}");
    // The same bytes written again: a new mtime is a changed input.
    let bytes = std::fs::read(&input).unwrap();
    let f = std::fs::File::options().write(true).open(&input).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
    let err = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            "out",
            "--seed",
            "3",
            "--if-exists",
            "reuse",
        ])
        .fails(6);
    assert!(err.contains("in.tsv.gz changed: mtime:"), "{err}");
    assert_eq!(
        w.read("out/manifest.json"),
        manifest_bytes,
        "a refusal changes nothing"
    );
    // With no run there, reuse runs.
    w.fmprep(&["run", "in.tsv.gz", "-o", "fresh", "--if-exists", "reuse"])
        .ok();
    let err = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            "out",
            "--overwrite",
            "--if-exists",
            "reuse",
        ])
        .fails(2);
    assert!(err.contains("contradicts"), "{err}");
}

#[test]
fn the_output_is_refused_before_the_input_is_opened() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 3_000, 7);
    w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    // A missing input would be exit 4: the finished run is reported first.
    let err = w.fmprep(&["run", "missing.tsv", "-o", "out"]).fails(6);
    assert!(err.contains("already holds a finished run"), "{err}");
    let err = w
        .fmprep(&["run", "missing.tsv", "-o", "out", "--dry-run"])
        .fails(6);
    assert!(err.contains("already holds a finished run"), "{err}");
    // An output that cannot be a directory fails before the input is looked at, too.
    w.write("file", "x");
    let err = w.fmprep(&["run", "missing.tsv", "-o", "file/out"]).fails(4);
    assert!(err.contains("file/out"), "{err}");
}

#[test]
fn reuse_compares_the_side_tables_too() {
    let w = Workdir::new();
    let rows: Vec<(String, String, String)> = (0..60)
        .map(|i| {
            (
                format!("c{}", i % 12),
                format!("p{}", i % 7),
                format!("{}", 1 + i % 5),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (&**a, &**b, &**c)).collect();
    w.write("in.tsv", crate::util::mini_tsv(&refs));
    let table = |seg: &str| {
        let mut t = String::from("customer_id\tsegment\n");
        for c in 0..12 {
            t += &format!("c{c}\t{seg}{}\n", c % 3);
        }
        t
    };
    w.write("c.tsv", table("gold"));
    let args = [
        "run",
        "in.tsv",
        "-o",
        "out",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
        "--categorical",
        "customer.segment",
        "--customer-features",
        "c.tsv",
        "--if-exists",
        "reuse",
    ];
    let first = w.fmprep(&args).ok();
    assert!(
        first["input_objects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "c.tsv"),
        "the side table is recorded: {first}"
    );
    assert_eq!(w.fmprep(&args).ok(), first);
    w.write("c.tsv", table("platinum"));
    let err = w.fmprep(&args).fails(6);
    assert!(err.contains("c.tsv changed"), "{err}");
}
