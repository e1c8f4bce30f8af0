//! `fmprep inspect`.

use crate::util::*;

#[test]
fn inspect_summarises_a_run_and_prints_head_records() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 1);
    let m = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    let r = w.fmprep(&["inspect", "out", "--head", "3"]);
    let s = r.ok();
    let lines: Vec<String> = r.stdout().lines().map(String::from).collect();
    assert_eq!(lines.len(), 4, "3 records then the summary");
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["values"], serde_json::json!([1.0, 1.0]));
    assert_eq!(first["feature_dim"], m["feature_dim"]);
    let total = &s["total"];
    assert_eq!(total["records"], m["counts"]["after_dedupe"]);
    let fd = m["feature_dim"].to_string();
    assert_eq!(total["feature_dims"][&fd], m["counts"]["after_dedupe"]);
    assert_eq!(total["nnz"]["2"], m["counts"]["after_dedupe"]);
    let labels: u64 = total["labels"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(labels, m["counts"]["after_dedupe"].as_u64().unwrap());
}

#[test]
fn inspect_reports_framing_errors() {
    let w = Workdir::new();
    w.write("bad.protobuf", b"\x00\x01\x02\x03\x04\x05\x06\x07");
    let r = w.fmprep(&["inspect", "bad.protobuf"]);
    assert_eq!(r.code(), 3);
    assert!(r.stderr().contains("bad magic"), "{}", r.stderr());
}
