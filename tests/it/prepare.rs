//! `fmprep preprocess` + `fmprep prepare`.

use crate::util::*;

#[test]
fn preprocess_then_prepare_equals_run() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 30_000, 9);
    let run = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            "run",
            "--seed",
            "11",
            "--test-chunk",
            "2000",
        ])
        .ok();
    let pre = w
        .fmprep(&["preprocess", "in.tsv.gz", "-o", "pre", "--seed", "11"])
        .ok();
    assert_eq!(pre["command"], "preprocess");
    assert_eq!(pre["feature_dim"], run["feature_dim"]);
    let csv = String::from_utf8(w.read("pre/train/train.csv")).unwrap();
    assert!(csv.starts_with("customer,product,star_rating\n"));
    assert_eq!(
        csv.lines().count() as u64 - 1,
        run["counts"]["train"].as_u64().unwrap()
    );
    let prep = w
        .fmprep(&["prepare", "pre", "-o", "prep", "--test-chunk", "2000"])
        .ok();
    assert_eq!(prep["feature_dim"], run["feature_dim"]);
    let protobufs = |dir: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(dir)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".protobuf"))
            .collect()
    };
    let (a, b) = (protobufs("run"), protobufs("prep"));
    assert!(a.len() >= 4, "{:?}", a.iter().map(|x| &x.0).collect::<Vec<_>>());
    assert_eq!(a, b);
    assert_eq!(w.read("pre/maps/customers.tsv"), w.read("run/maps/customers.tsv"));
}

#[test]
fn prepare_reads_python_pipeline_csvs_without_manifest() {
    let w = Workdir::new();
    w.write(
        "py/train/train.csv",
        "customer,product,star_rating\n0,1,5\n2,0,3\n",
    );
    w.write(
        "py/validate/validate.csv",
        "customer,product,star_rating\n1,1,4\n",
    );
    w.write("py/test/test.csv", "customer,product,star_rating\n");
    let m = w.fmprep(&["prepare", "py", "-o", "out"]).ok();
    // Largest index + 1: 3 customers, 2 products.
    assert_eq!(m["feature_dim"], 5);
    assert_eq!(m["files"]["test"].as_array().unwrap().len(), 0);
    // FORMAT.md's SDK test vector, byte for byte.
    let hex = "0a23d7ce330000000a1d0a0676616c756573121312110a080000803f0000803f120200041a010512120a0676616c756573120812060a040000a040000a23d7ce330000000a1d0a0676616c756573121312110a080000803f0000803f120202031a010512120a0676616c756573120812060a040000404000";
    let want: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(w.read("out/train/train.protobuf"), want);
}

#[test]
fn prepare_rejects_bad_indices_and_mismatched_counts() {
    let w = Workdir::new();
    w.write(
        "py/train/train.csv",
        "customer,product,star_rating\n0,1,5\n-1,0,3\n",
    );
    w.write("py/validate/validate.csv", "customer,product,star_rating\n");
    w.write("py/test/test.csv", "customer,product,star_rating\n");
    let err = w.fmprep(&["prepare", "py", "-o", "out"]).fails(3);
    assert!(err.contains("train/train.csv: line 3: customer \"-1\""), "{err}");
    w.write("py/train/train.csv", "customer,product,star_rating\n0,1,5\n");
    let err = w
        .fmprep(&["prepare", "py", "-o", "out", "--n-products", "1"])
        .fails(3);
    assert!(err.contains("line 2: product index 1 is out of range"), "{err}");
    w.write("py/manifest.json", r#"{"n_customers": 1, "n_products": 2}"#);
    let err = w
        .fmprep(&["prepare", "py", "-o", "out", "--n-customers", "5"])
        .fails(2);
    assert!(err.contains("do not match"), "{err}");
    assert!(!w.path("out/manifest.json").exists());
}
