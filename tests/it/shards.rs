//! `--train-shards N`: near-equal training shards and SageMaker manifest files.

use crate::util::*;

#[test]
fn shards_concatenate_to_the_single_train_file_and_manifests_list_them() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 6);
    let out = w.path("sharded");
    let out_s = out.to_str().unwrap();
    let single = w
        .fmprep(&["run", "in.tsv.gz", "-o", "single", "--test-chunk", "1000"])
        .ok();
    let m = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "-o",
            out_s,
            "--train-shards",
            "3",
            "--test-chunk",
            "1000",
        ])
        .ok();
    let train = m["counts"]["train"].as_u64().unwrap();
    assert_eq!(train, single["counts"]["train"].as_u64().unwrap());
    let files = m["files"]["train"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    let mut joined = Vec::new();
    let mut counts = Vec::new();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f["path"], format!("train/train_{i}.protobuf"));
        let bytes = w.read(&format!("sharded/train/train_{i}.protobuf"));
        assert_eq!(records(&bytes).len() as u64, f["records"].as_u64().unwrap());
        counts.push(f["records"].as_u64().unwrap());
        joined.extend_from_slice(&bytes);
    }
    // Near-equal: the first train % 3 shards hold one more record.
    let base = train / 3;
    let want: Vec<u64> = (0..3).map(|i| base + u64::from(i < train % 3)).collect();
    assert_eq!(counts, want);
    assert_eq!(joined, w.read("single/train/train.protobuf"));
    assert!(!w.path("sharded/train/train.protobuf").exists());

    let manifest = |rel: &str| -> serde_json::Value { serde_json::from_slice(&w.read(rel)).unwrap() };
    assert_eq!(
        manifest("sharded/train/train.manifest"),
        serde_json::json!([{"prefix": format!("{out_s}/train/")}, "train_0.protobuf", "train_1.protobuf", "train_2.protobuf"])
    );
    assert_eq!(
        manifest("sharded/validate/validate.manifest"),
        serde_json::json!([{"prefix": format!("{out_s}/validate/")}, "validate.protobuf"])
    );
    let test = manifest("sharded/test/test.manifest");
    let n_test = m["files"]["test"].as_array().unwrap().len();
    assert_eq!(test.as_array().unwrap().len(), n_test + 1);
    assert_eq!(test[n_test], format!("test_{}.protobuf", n_test - 1));
    let listed: Vec<&str> = m["files"]["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "train/train.manifest",
            "validate/validate.manifest",
            "test/test.manifest"
        ]
    );
    // Validate and test files are unchanged by sharding.
    assert_eq!(
        w.read("sharded/validate/validate.protobuf"),
        w.read("single/validate/validate.protobuf")
    );
}

#[test]
fn more_shards_than_records_and_bad_values() {
    let w = Workdir::new();
    w.write(
        "in.tsv",
        mini_tsv(&[
            ("a", "x", "5"),
            ("b", "x", "4"),
            ("c", "y", "3"),
            ("d", "y", "2"),
            ("e", "z", "1"),
        ]),
    );
    let all = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];
    let mut args = vec!["run", "in.tsv", "-o", "o", "--train-shards", "4"];
    args.extend(all);
    let m = w.fmprep(&args).ok();
    // 5 rows: 3 train rows in 4 shards -> 1,1,1,0 (an empty file is still a valid RecordIO file).
    let counts: Vec<u64> = m["files"]["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["records"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1, 1, 0]);
    let mut args = vec!["run", "in.tsv", "-o", "o2", "--train-shards", "0"];
    args.extend(all);
    w.fmprep(&args).fails(2);
    let mut args = vec!["preprocess", "in.tsv", "-o", "o3", "--train-shards", "2"];
    args.extend(all);
    let err = w.fmprep(&args).fails(2);
    assert!(err.contains("not to preprocess"), "{err}");
}
