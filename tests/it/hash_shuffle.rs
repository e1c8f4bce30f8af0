//! `--shuffle hash`: rows ordered by the documented keyed hash, cut by the fractions.

use crate::util::*;

/// Every record of every split, in file order (train, validate, test), with its row key.
fn keyed(w: &Workdir, dir: &str, seed: u64) -> Vec<(String, u64)> {
    decoded(w, dir)
        .into_iter()
        .map(|(split, c, p, _)| {
            (
                split,
                fmprep::stages::split::hash::row_key(seed, c.as_bytes(), p.as_bytes()),
            )
        })
        .collect()
}

#[test]
fn splits_follow_the_key_order_and_the_cuts() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 5);
    let m = w
        .fmprep(&["run", "in.tsv.gz", "-o", "h", "--shuffle", "hash", "--seed", "7"])
        .ok();
    assert_eq!(m["options"]["shuffle"], "hash");
    let rows = keyed(&w, "h", 7);
    let n = m["counts"]["after_dedupe"].as_u64().unwrap() as usize;
    assert_eq!(rows.len(), n);
    // One ascending key sequence across train, then validate, then test.
    assert!(
        rows.windows(2).all(|p| p[0].1 <= p[1].1),
        "records are not in key order"
    );
    let count = |s: &str| rows.iter().filter(|r| r.0 == s).count();
    let (a, b) = ((0.6 * n as f64) as usize, (0.8 * n as f64) as usize);
    assert_eq!(
        (count("train"), count("validate"), count("test")),
        (a, b - a, n - b)
    );
    assert_eq!(m["counts"]["train"].as_u64(), Some(a as u64));
}

#[test]
fn same_bytes_whatever_the_threads_and_other_seeds_differ() {
    let w = Workdir::new();
    w.synth("in.tsv", 5_000, 3);
    for (dir, threads, seed) in [("t1", "1", "9"), ("t2", "2", "9"), ("s", "2", "10")] {
        w.fmprep(&[
            "run",
            "in.tsv",
            "-o",
            dir,
            "--shuffle",
            "hash",
            "--seed",
            seed,
            "--threads",
            threads,
        ])
        .ok();
    }
    let files = |d: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(d)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".protobuf"))
            .collect()
    };
    assert_eq!(files("t1"), files("t2"));
    assert_ne!(files("t1"), files("s"));
    // The default shuffle is another order of the same rows.
    w.fmprep(&["run", "in.tsv", "-o", "d", "--seed", "9"]).ok();
    assert_ne!(files("t1"), files("d"));
    let mut a: Vec<_> = decoded(&w, "t1").into_iter().map(|r| (r.1, r.2)).collect();
    let mut b: Vec<_> = decoded(&w, "d").into_iter().map(|r| (r.1, r.2)).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn holdout_last_lists_rows_in_key_order_and_by_customer_is_refused() {
    let w = Workdir::new();
    let mut text = String::from("customer_id\tproduct_id\tstar_rating\treview_date\n");
    for c in 0..6 {
        for p in 0..4 {
            text += &format!("c{c}\tp{p}\t4\t2015-01-0{}\n", p + 1);
        }
    }
    w.write("in.tsv", text);
    let all = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];
    let mut args = vec![
        "run",
        "in.tsv",
        "-o",
        "h",
        "--shuffle",
        "hash",
        "--split-mode",
        "holdout-last",
    ];
    args.extend(all);
    w.fmprep(&args).ok();
    let rows = keyed(&w, "h", 42);
    let test: Vec<_> = decoded(&w, "h")
        .into_iter()
        .filter(|r| r.0 == "test")
        .map(|r| r.2)
        .collect();
    assert_eq!(test, vec!["p3"; 6], "each customer's latest row");
    for split in ["train", "test"] {
        let keys: Vec<u64> = rows.iter().filter(|r| r.0 == split).map(|r| r.1).collect();
        assert!(keys.windows(2).all(|p| p[0] <= p[1]), "{split} not in key order");
    }
    let mut args = vec![
        "run",
        "in.tsv",
        "-o",
        "b",
        "--shuffle",
        "hash",
        "--split-mode",
        "by-customer",
    ];
    args.extend(all);
    let err = w.fmprep(&args).fails(2);
    assert!(err.contains("--shuffle hash orders rows"), "{err}");
}
