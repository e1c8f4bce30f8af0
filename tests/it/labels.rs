//! `--label rating|binary --positive-min R`: record labels and the manifest's predictor_type.

use crate::util::*;

fn input() -> String {
    // 3 customers x 2 products, all ratings 1..5 appear.
    mini_tsv(&[
        ("a", "x", "5"),
        ("a", "y", "3"),
        ("b", "x", "4"),
        ("b", "y", "1"),
        ("c", "x", "2"),
        ("c", "y", "4"),
    ])
}

const ALL: [&str; 4] = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];

#[test]
fn binary_labels_follow_the_threshold_and_predictor_type() {
    let w = Workdir::new();
    w.write("in.tsv", input());
    let mut args = vec![
        "run",
        "in.tsv",
        "-o",
        "bin",
        "--label",
        "binary",
        "--positive-min",
        "4",
    ];
    args.extend(ALL);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["hyperparameters"]["predictor_type"], "binary_classifier");
    assert_eq!(m["options"]["label"]["kind"], "binary");
    let mut got: Vec<(String, String, f32)> = decoded(&w, "bin")
        .into_iter()
        .map(|(_, c, p, l)| (c, p, l))
        .collect();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let want = [
        ("a", "x", 1.0),
        ("a", "y", 0.0),
        ("b", "x", 1.0),
        ("b", "y", 0.0),
        ("c", "x", 0.0),
        ("c", "y", 1.0),
    ];
    let want: Vec<(String, String, f32)> = want
        .iter()
        .map(|(c, p, l)| (c.to_string(), p.to_string(), *l))
        .collect();
    assert_eq!(got, want);

    // Threshold 2: only the 1-star rating is negative.
    let mut args = vec![
        "run",
        "in.tsv",
        "-o",
        "bin2",
        "--label",
        "binary",
        "--positive-min",
        "2",
    ];
    args.extend(ALL);
    w.fmprep(&args).ok();
    let negatives: Vec<(String, String)> = decoded(&w, "bin2")
        .into_iter()
        .filter(|r| r.3 == 0.0)
        .map(|r| (r.1, r.2))
        .collect();
    assert_eq!(negatives, vec![("b".to_string(), "y".to_string())]);
}

#[test]
fn rating_labels_are_the_default_and_preprocess_writes_binary_csv() {
    let w = Workdir::new();
    w.write("in.tsv", input());
    let mut args = vec!["run", "in.tsv", "-o", "r"];
    args.extend(ALL);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["hyperparameters"]["predictor_type"], "regressor");
    let mut labels: Vec<f32> = decoded(&w, "r").into_iter().map(|r| r.3).collect();
    labels.sort_by(f32::total_cmp);
    assert_eq!(labels, vec![1.0, 2.0, 3.0, 4.0, 4.0, 5.0]);

    let mut args = vec!["preprocess", "in.tsv", "-o", "pre", "--label", "binary"];
    args.extend(ALL);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["hyperparameters"]["predictor_type"], "binary_classifier");
    let mut all = String::new();
    for f in ["train/train.csv", "validate/validate.csv", "test/test.csv"] {
        let text = String::from_utf8(w.read(&format!("pre/{f}"))).unwrap();
        for line in text.lines().skip(1) {
            all.push_str(line.rsplit(',').next().unwrap());
        }
    }
    let mut digits: Vec<char> = all.chars().collect();
    digits.sort();
    assert_eq!(digits.iter().collect::<String>(), "000111");
    // prepare keeps the predictor type of the preprocess manifest.
    let m = w.fmprep(&["prepare", "pre", "-o", "prep"]).ok();
    assert_eq!(m["hyperparameters"]["predictor_type"], "binary_classifier");
}

#[test]
fn bad_label_flags_are_usage_errors() {
    let w = Workdir::new();
    w.write("in.tsv", input());
    let err = w
        .fmprep(&["run", "in.tsv", "-o", "o", "--label", "stars"])
        .fails(2);
    assert!(err.contains("use rating or binary"), "{err}");
    let err = w
        .fmprep(&[
            "run",
            "in.tsv",
            "-o",
            "o",
            "--label",
            "binary",
            "--positive-min",
            "7",
        ])
        .fails(2);
    assert!(err.contains("outside the rating range"), "{err}");
}
