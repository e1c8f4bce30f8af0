//! `--split-mode holdout-last|by-customer`: exact membership of every split.

use std::collections::BTreeSet;

use crate::util::*;

type Members = BTreeSet<(String, String)>;

fn members(w: &Workdir, dir: &str, split: &str) -> Members {
    decoded(w, dir)
        .into_iter()
        .filter(|r| r.0 == split)
        .map(|r| (r.1, r.2))
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> Members {
    pairs
        .iter()
        .map(|(c, p)| (c.to_string(), p.to_string()))
        .collect()
}

fn dated(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from("customer_id\tproduct_id\tstar_rating\treview_date\n");
    for (c, p, d) in rows {
        text += &format!("{c}\t{p}\t4\t{d}\n");
    }
    text
}

const ALL: [&str; 4] = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];

fn holdout_input() -> String {
    dated(&[
        ("a", "p1", "2015-01-01"),
        ("a", "p2", "2015-03-01"),
        ("a", "p3", "2015-03-01"), // same day as (a,p2) but later in the input: a's latest
        ("a", "p4", "2014-12-31"),
        ("b", "p1", "2016-01-01"),
        ("b", "p2", "2015-01-01"),
        ("c", "p1", "2010-05-05"), // c's only row stays in train
        ("d", "p1", "2012-01-01"),
        ("d", "p2", "2013-01-01"),
        ("d", "p3", "2011-01-01"),
        ("d", "p3", "2020-01-01"), // duplicate pair: dropped, (d,p3) keeps its first date
        ("e", "p1", "yesterday"),  // not a date: skipped as bad_time
    ])
}

#[test]
fn holdout_last_holds_out_each_customers_latest_rows() {
    let w = Workdir::new();
    w.write("in.tsv", holdout_input());
    let base = [
        "run",
        "in.tsv",
        "--split-mode",
        "holdout-last",
        "--max-bad-lines",
        "1",
    ];
    let mut args = base.to_vec();
    args.extend(["-o", "hv", "--holdout-validate"]);
    args.extend(ALL);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["counts"]["bad_lines"]["bad_time"], 1);
    assert_eq!(m["options"]["split_mode"], "holdout-last");
    assert_eq!(
        members(&w, "hv", "test"),
        set(&[("a", "p3"), ("b", "p1"), ("d", "p2")])
    );
    assert_eq!(members(&w, "hv", "validate"), set(&[("a", "p2"), ("d", "p1")]));
    assert_eq!(
        members(&w, "hv", "train"),
        set(&[("a", "p1"), ("a", "p4"), ("b", "p2"), ("c", "p1"), ("d", "p3")])
    );
    assert_eq!(
        (
            m["counts"]["train"].as_u64(),
            m["counts"]["validate"].as_u64(),
            m["counts"]["test"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );

    // Without --holdout-validate the next latest rows stay in train.
    let mut args = base.to_vec();
    args.extend(["-o", "h"]);
    args.extend(ALL);
    w.fmprep(&args).ok();
    assert_eq!(
        members(&w, "h", "test"),
        set(&[("a", "p3"), ("b", "p1"), ("d", "p2")])
    );
    assert!(members(&w, "h", "validate").is_empty());
    assert_eq!(members(&w, "h", "train").len(), 7);
}

#[test]
fn holdout_last_needs_the_time_column() {
    let w = Workdir::new();
    w.write("in.tsv", mini_tsv(&[("a", "x", "5")]));
    let err = w
        .fmprep(&["run", "in.tsv", "-o", "o", "--split-mode", "holdout-last"])
        .fails(3);
    assert!(err.contains("no column review_date"), "{err}");
    // Without holdout-last, the time column is neither required nor parsed.
    let mut args = vec!["run", "in.tsv", "-o", "o"];
    args.extend(ALL);
    w.fmprep(&args).ok();
}

#[test]
fn by_customer_assigns_whole_customers_by_numpys_customer_permutation() {
    let w = Workdir::new();
    // Ten customers with two rows each: all tie, so customer index i = c<i> (first appearance).
    let mut rows = Vec::new();
    let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    for n in &names {
        rows.push((n.as_str(), "x", "5"));
        rows.push((n.as_str(), "y", "3"));
    }
    w.write("in.tsv", mini_tsv(&rows));
    let mut args = vec![
        "run",
        "in.tsv",
        "-o",
        "bc",
        "--split-mode",
        "by-customer",
        "--shuffle",
        "numpy",
    ];
    args.extend(ALL);
    let m = w.fmprep(&args).ok();
    // numpy: RandomState(42).permutation(10); 10 customers cut at 6 and 8.
    let order = fmprep::stages::split::numpy::permutation(42, 10);
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/numpy_permutations.json")).unwrap();
    let case = fixture["permutations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["seed"] == 42 && c["n"] == 10)
        .unwrap();
    let numpy: Vec<u32> = case["permutation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(order, numpy);
    let customers = |ranks: std::ops::Range<usize>| -> BTreeSet<String> {
        order[ranks].iter().map(|&i| format!("c{i}")).collect()
    };
    let got =
        |split: &str| -> BTreeSet<String> { members(&w, "bc", split).into_iter().map(|p| p.0).collect() };
    assert_eq!(got("train"), customers(0..6));
    assert_eq!(got("validate"), customers(6..8));
    assert_eq!(got("test"), customers(8..10));
    // Every row follows its customer: 2 rows per customer.
    assert_eq!(
        (
            m["counts"]["train"].as_u64(),
            m["counts"]["validate"].as_u64(),
            m["counts"]["test"].as_u64()
        ),
        (Some(12), Some(4), Some(4))
    );
}

#[test]
fn by_customer_on_synthetic_data_is_a_partition_by_customer() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 12);
    let m = w
        .fmprep(&["run", "in.tsv.gz", "-o", "bc", "--split-mode", "by-customer"])
        .ok();
    let rows = decoded(&w, "bc");
    let of =
        |s: &str| -> BTreeSet<String> { rows.iter().filter(|r| r.0 == s).map(|r| r.1.clone()).collect() };
    let (a, b, c) = (of("train"), of("validate"), of("test"));
    assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
    let n = m["n_customers"].as_u64().unwrap() as usize;
    assert_eq!(a.len() + b.len() + c.len(), n);
    assert_eq!(a.len(), n * 6 / 10);
    assert_eq!(rows.len() as u64, m["counts"]["after_dedupe"].as_u64().unwrap());
}
