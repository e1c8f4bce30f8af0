//! `--shuffle numpy`: numpy's legacy `RandomState(seed).permutation(n)`, checked against
//! permutations numpy itself produced (`tests/fixtures/numpy_permutations.json`, written by
//! `scripts/gen_numpy_fixtures.py`).

use crate::util::*;
use fmprep::stages::split::numpy::{permutation, Mt19937};

fn fixtures() -> serde_json::Value {
    serde_json::from_str(include_str!("../fixtures/numpy_permutations.json")).unwrap()
}

fn as_u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn weighted_sum(p: &[u32]) -> u64 {
    p.iter().enumerate().fold(0u64, |s, (i, &v)| {
        s.wrapping_add((i as u64).wrapping_mul(v as u64))
    })
}

/// Check a permutation against one fixture case (whole, or head + tail + weighted sum).
fn check_case(case: &serde_json::Value, p: &[u32]) {
    let (seed, n) = (case["seed"].as_u64().unwrap(), case["n"].as_u64().unwrap());
    assert_eq!(p.len() as u64, n);
    let ctx = format!("seed={seed} n={n}");
    if let Some(whole) = case.get("permutation") {
        assert_eq!(p, as_u32s(whole), "{ctx}");
    } else {
        let head = as_u32s(&case["head"]);
        let tail = as_u32s(&case["tail"]);
        assert_eq!(&p[..head.len()], head, "{ctx}");
        assert_eq!(&p[p.len() - tail.len()..], tail, "{ctx}");
    }
    assert_eq!(weighted_sum(p), case["weighted_sum"].as_u64().unwrap(), "{ctx}");
}

#[test]
fn numpy_permutations_match_numpy_for_every_fixture() {
    let f = fixtures();
    let cases = f["permutations"].as_array().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in cases {
        let p = permutation(
            case["seed"].as_u64().unwrap() as u32,
            case["n"].as_u64().unwrap() as usize,
        );
        check_case(case, &p);
    }
    assert_eq!(f["pandas_sample_equals_permutation"], true);
}

#[test]
fn numpy_bounded_ints_64_bit_branch_matches_numpy() {
    for case in fixtures()["interval64"].as_array().unwrap() {
        let mut mt = Mt19937::new(case["seed"].as_u64().unwrap() as u32);
        let max = case["max"].as_u64().unwrap();
        let draws: Vec<u64> = (0..16).map(|_| mt.interval(max)).collect();
        let want: Vec<u64> = case["draws"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(draws, want, "seed {} max {max}", case["seed"]);
    }
}

/// Rows with unique customers and products: the index is the input order, so the concatenated
/// splits of `preprocess` spell out the permutation.
fn unique_rows(n: usize) -> String {
    let mut text = String::with_capacity(n * 24);
    text.push_str("customer_id\tproduct_id\tstar_rating\n");
    for i in 0..n {
        text.push_str(&format!("c{i}\tp{i}\t{}\n", i % 5 + 1));
    }
    text
}

fn split_order(w: &Workdir, dir: &str) -> Vec<u32> {
    let mut order = Vec::new();
    for f in ["train/train.csv", "validate/validate.csv", "test/test.csv"] {
        let text = String::from_utf8(w.read(&format!("{dir}/{f}"))).unwrap();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields[0], fields[1]);
            order.push(fields[0].parse().unwrap());
        }
    }
    order
}

#[test]
fn shuffle_numpy_gives_the_pandas_sample_order_through_the_binary() {
    let w = Workdir::new();
    let f = fixtures();
    for (seed, n) in [(42u64, 1000u64), (2024, 70_000)] {
        let case = f["permutations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["seed"] == seed && c["n"] == n)
            .unwrap()
            .clone();
        let input = format!("in{n}.tsv");
        w.write(&input, unique_rows(n as usize));
        let out = format!("pre{n}");
        let m = w
            .fmprep(&[
                "preprocess",
                &input,
                "-o",
                &out,
                "--shuffle",
                "numpy",
                "--seed",
                &seed.to_string(),
                "--min-customer-ratings",
                "1",
                "--min-product-ratings",
                "1",
            ])
            .ok();
        assert_eq!(m["options"]["shuffle"], "numpy");
        assert_eq!(m["counts"]["train"], n * 6 / 10);
        check_case(&case, &split_order(&w, &out));
    }
}

#[test]
fn shuffle_fmprep_is_the_default_and_differs() {
    let w = Workdir::new();
    w.write("in.tsv", unique_rows(1000));
    let thresholds = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];
    let mut args = vec!["preprocess", "in.tsv", "-o", "a"];
    args.extend(thresholds);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["options"]["shuffle"], "fmprep");
    let numpy42 = permutation(42, 1000);
    assert_ne!(split_order(&w, "a"), numpy42);
}

#[test]
fn shuffle_numpy_refuses_seeds_numpy_refuses() {
    let w = Workdir::new();
    w.write("in.tsv", unique_rows(10));
    let err = w
        .fmprep(&[
            "run",
            "in.tsv",
            "-o",
            "o",
            "--shuffle",
            "numpy",
            "--seed",
            "4294967296",
        ])
        .fails(2);
    assert!(err.contains("between 0 and 4294967295"), "{err}");
    let err = w
        .fmprep(&["run", "in.tsv", "-o", "o", "--shuffle", "pandas"])
        .fails(2);
    assert!(err.contains("use fmprep, numpy or hash"), "{err}");
}
