//! `--k-core`: the long-tail rule iterated to a fixed point on de-duplicated rows.

use crate::util::*;

fn input() -> String {
    mini_tsv(&[
        ("c1", "p1", "5"),
        ("c1", "p2", "5"),
        ("c2", "p2", "4"),
        ("c2", "p3", "4"),
        ("c3", "p1", "3"),
        ("c4", "p4", "1"),
        ("c4", "p5", "1"),
        ("c5", "p4", "2"),
        ("c5", "p5", "2"),
        ("c5", "p5", "3"), // duplicate pair: the first (2) is kept, and it is not counted twice
    ])
}

const T2: [&str; 4] = ["--min-customer-ratings", "2", "--min-product-ratings", "2"];

#[test]
fn k_core_iterates_until_every_id_meets_the_thresholds() {
    let w = Workdir::new();
    w.write("in.tsv", input());
    let mut args = vec!["run", "in.tsv", "-o", "k", "--k-core"];
    args.extend(T2);
    let m = w.fmprep(&args).ok();
    // Pass 1 drops (c2,p3) and (c3,p1); pass 2 (c1,p1) and (c2,p2); pass 3 (c1,p2); pass 4 nothing.
    assert_eq!(m["k_core_iterations"], 4);
    assert_eq!(m["counts"]["valid"], 10);
    assert_eq!(m["counts"]["after_long_tail"], 5); // raw rows of the core, duplicate included
    assert_eq!(m["counts"]["after_dedupe"], 4);
    assert_eq!(
        (m["n_customers"].as_u64(), m["n_products"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        String::from_utf8(w.read("k/maps/customers.tsv")).unwrap(),
        "customer_id\tindex\tcount\nc4\t0\t2\nc5\t1\t2\n"
    );
    let mut got: Vec<(String, String, f32)> = decoded(&w, "k")
        .into_iter()
        .map(|(_, c, p, l)| (c, p, l))
        .collect();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let want: Vec<(String, String, f32)> = [
        ("c4", "p4", 1.0),
        ("c4", "p5", 1.0),
        ("c5", "p4", 2.0),
        ("c5", "p5", 2.0),
    ]
    .iter()
    .map(|(c, p, l)| (c.to_string(), p.to_string(), *l))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn without_k_core_the_one_pass_rule_counts_raw_rows() {
    let w = Workdir::new();
    w.write("in.tsv", input());
    let mut args = vec!["run", "in.tsv", "-o", "one"];
    args.extend(T2);
    let m = w.fmprep(&args).ok();
    assert!(m.get("k_core_iterations").is_none());
    // One pass on raw counts: the rows of c3 (1 row) and p3 (1 row) go; c1 and c2 stay with rows
    // on p1/p2 that the k-core removes.
    assert_eq!(m["counts"]["after_long_tail"], 8);
    assert_eq!(m["counts"]["after_dedupe"], 7);
    assert_eq!(m["n_customers"], 4);
}

#[test]
fn k_core_on_synthetic_data_leaves_no_id_below_the_thresholds() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 30_000, 8);
    let m = w.fmprep(&["run", "in.tsv.gz", "-o", "k", "--k-core"]).ok();
    let iterations = m["k_core_iterations"].as_u64().unwrap();
    assert!(iterations >= 2, "{iterations}");
    for (file, min) in [("k/maps/customers.tsv", 5), ("k/maps/products.tsv", 10)] {
        let text = String::from_utf8(w.read(file)).unwrap();
        for line in text.lines().skip(1) {
            let count: u32 = line.split('\t').nth(2).unwrap().parse().unwrap();
            assert!(count >= min, "{file}: {line}");
        }
    }
    let one = w.fmprep(&["run", "in.tsv.gz", "-o", "one"]).ok();
    assert!(m["counts"]["after_dedupe"].as_u64() < one["counts"]["after_dedupe"].as_u64());
}
