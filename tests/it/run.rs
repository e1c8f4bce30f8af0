//! `fmprep run`: semantics on hand-made fixtures, output layout, determinism, failures.

use crate::util::*;

/// Fixture of issue 2's acceptance cases: ties, duplicates with different ratings, a customer whose
/// rows drop below the threshold after the product filter, numeric-looking ids with leading zeros.
fn semantics_fixture() -> String {
    let rows = [
        ("0042", "P1", "5"),
        ("42", "P1", "1"),
        ("0042", "P2", "4"),
        ("42", "P2", "2"),
        ("0042", "P3", "3"), // P3 has one row: dropped, so 0042 keeps 2 rows (< 3) and stays
        ("42", "P1", "5"),   // duplicate of (42, P1) with another rating: the first (1) wins
        ("9", "P1", "3"),
        ("9", "P2", "3"),
        ("1", "P2", "2"), // customer 1 has one row: dropped
        ("9", "P1", "4"), // duplicate
        ("77", "P2", "5"),
        ("77", "P2", "4"), // duplicates: 77 counts 3 raw rows, keeps 1
        ("77", "P2", "3"),
    ];
    let mut text = format!("{HEADER}\n");
    for (c, p, s) in rows {
        text += &review(c, p, s);
        text.push('\n');
    }
    text
}

#[test]
fn long_tail_dedupe_and_index_semantics() {
    let w = Workdir::new();
    w.write("in.tsv", semantics_fixture());
    let m = w
        .fmprep(&[
            "run",
            "in.tsv",
            "-o",
            "out",
            "--min-customer-ratings",
            "3",
            "--min-product-ratings",
            "3",
        ])
        .ok();
    let c = &m["counts"];
    assert_eq!(c["input_lines"], 13);
    assert_eq!(c["valid"], 13);
    assert_eq!(c["after_long_tail"], 11);
    assert_eq!(c["after_dedupe"], 7);
    assert_eq!(
        (c["train"].as_u64(), c["validate"].as_u64(), c["test"].as_u64()),
        (Some(4), Some(1), Some(2))
    );
    assert_eq!(
        (
            m["n_customers"].as_u64(),
            m["n_products"].as_u64(),
            m["feature_dim"].as_u64()
        ),
        (Some(4), Some(2), Some(6))
    );
    assert_eq!(m["hyperparameters"]["feature_dim"], "6");
    assert_eq!(m["hyperparameters"]["predictor_type"], "regressor");

    // Customers tie at 2 rows: first appearance decides; 77 (1 row) last. P2 (4 rows) beats P1 (3).
    assert_eq!(
        String::from_utf8(w.read("out/maps/customers.tsv")).unwrap(),
        "customer_id\tindex\tcount\n0042\t0\t2\n42\t1\t2\n9\t2\t2\n77\t3\t1\n"
    );
    assert_eq!(
        String::from_utf8(w.read("out/maps/products.tsv")).unwrap(),
        "product_id\tindex\tcount\tproduct_title\nP2\t0\t4\tTitle \"P2\"\nP1\t1\t3\tTitle \"P1\"\n"
    );

    // The records of all splits, mapped back to ids, are exactly the de-duplicated rows.
    let customers = map_ids(&w.read("out/maps/customers.tsv"));
    let products = map_ids(&w.read("out/maps/products.tsv"));
    let mut got = Vec::new();
    for f in [
        "train/train.protobuf",
        "validate/validate.protobuf",
        "test/test_0.protobuf",
    ] {
        for (keys, label, dim) in records(&w.read(&format!("out/{f}"))) {
            assert_eq!(dim, 6);
            assert_eq!(keys.len(), 2);
            assert!(keys[0] < 4 && (4..6).contains(&keys[1]), "{keys:?}");
            got.push((
                customers[keys[0] as usize].clone(),
                products[keys[1] as usize - 4].clone(),
                label,
            ));
        }
    }
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut want: Vec<(String, String, f32)> = [
        ("0042", "P1", 5.0),
        ("42", "P1", 1.0),
        ("0042", "P2", 4.0),
        ("42", "P2", 2.0),
        ("9", "P1", 3.0),
        ("9", "P2", 3.0),
        ("77", "P2", 5.0),
    ]
    .iter()
    .map(|(c, p, l)| (c.to_string(), p.to_string(), *l))
    .collect();
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got, want);
}

#[test]
fn layout_manifest_and_stdout_contract() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 30_000, 3);
    let r = w.fmprep(&["run", "in.tsv.gz", "--output", "out", "--test-chunk", "1000"]);
    let m = r.ok();
    assert_eq!(r.stdout().lines().count(), 1, "stdout is exactly one JSON line");
    let on_disk: serde_json::Value = serde_json::from_slice(&w.read("out/manifest.json")).unwrap();
    assert_eq!(on_disk, m);
    assert_eq!(m["command"], "run");
    assert_eq!(m["seed"], 42);
    assert_eq!(m["fmprep_version"], env!("CARGO_PKG_VERSION"));
    let n = m["counts"]["after_dedupe"].as_u64().unwrap();
    let (train, validate, test) = (n * 6 / 10, n * 8 / 10 - n * 6 / 10, n - n * 8 / 10);
    assert_eq!(m["counts"]["train"], train);
    assert_eq!(m["counts"]["validate"], validate);
    assert_eq!(m["counts"]["test"], test);
    assert_eq!(
        m["feature_dim"].as_u64().unwrap(),
        m["n_customers"].as_u64().unwrap() + m["n_products"].as_u64().unwrap()
    );
    // Test split in chunks of 1000 records, last one shorter; every listed file exists with its size.
    let tests = m["files"]["test"].as_array().unwrap();
    assert_eq!(tests.len() as u64, test.div_ceil(1000));
    for (i, f) in tests.iter().enumerate() {
        assert_eq!(f["path"], format!("test/test_{i}.protobuf"));
        let bytes = w.read(&format!("out/{}", f["path"].as_str().unwrap()));
        assert_eq!(f["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let expect = if i + 1 < tests.len() {
            1000
        } else {
            test - 1000 * (tests.len() as u64 - 1)
        };
        assert_eq!(records(&bytes).len() as u64, expect);
        assert_eq!(f["records"], expect);
    }
    assert_eq!(records(&w.read("out/train/train.protobuf")).len() as u64, train);
    // The synthetic data carries malformed lines; they are counted per kind.
    let bad = &m["counts"]["bad_lines"];
    let sum: u64 = bad
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(m["counts"]["bad_lines_total"], sum);
    assert_eq!(
        m["counts"]["valid"].as_u64().unwrap() + sum,
        m["counts"]["input_lines"].as_u64().unwrap()
    );
    assert!(r.stderr().contains("feature_dim"), "human summary on stderr");
}

#[test]
fn same_bytes_for_any_thread_count_and_seed_changes_them() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 5);
    w.fmprep(&["run", "in.tsv.gz", "-o", "t1", "--threads", "1"]).ok();
    w.fmprep(&["run", "in.tsv.gz", "-o", "t4", "--threads", "4"]).ok();
    w.fmprep(&["run", "in.tsv.gz", "-o", "s7", "--seed", "7"]).ok();
    let data = |dir: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(dir)
            .into_iter()
            .filter(|(p, _)| p != "manifest.json")
            .collect()
    };
    let (a, b) = (data("t1"), data("t4"));
    assert!(a.len() >= 5, "{:?}", a.iter().map(|x| &x.0).collect::<Vec<_>>());
    assert_eq!(a, b);
    let c = data("s7");
    let train = |t: &Vec<(String, Vec<u8>)>| {
        t.iter()
            .find(|(p, _)| p == "train/train.protobuf")
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(train(&a), train(&c), "another seed gives another shuffle");
}

#[test]
fn bad_lines_of_each_kind_are_counted_and_reported() {
    let w = Workdir::new();
    let mut text = format!("{HEADER}\n");
    for i in 0..40 {
        text += &review(&format!("c{}", i % 4), &format!("p{}", i % 2), "5");
        text.push('\n');
    }
    text += "US\tc1\tR\tp1\n"; // field count
    text += &review("", "p1", "5");
    text.push('\n');
    text += &review("c1", "", "5");
    text.push('\n');
    text += &review("c1", "p1", "4.5");
    text.push('\n');
    text += &review("c1", "p1", "-");
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&review("c\u{1}", "p1", "5").replace('\u{1}', "\u{0}").into_bytes()[..0]);
    bytes.extend_from_slice(b"US\tc\xff\tR\tp1\t1\tt\tc\t5\t0\t0\tN\tY\th\tb\td\n");
    w.write("in.tsv", bytes);
    let r = w.fmprep(&["run", "in.tsv", "-o", "out", "--max-bad-lines", "10"]);
    let m = r.ok();
    let b = &m["counts"]["bad_lines"];
    assert_eq!(b["field_count"], 1);
    assert_eq!(b["empty_customer_id"], 1);
    assert_eq!(b["empty_product_id"], 1);
    assert_eq!(b["bad_star_rating"], 2);
    assert_eq!(b["invalid_utf8_id"], 1);
    assert_eq!(m["counts"]["valid"], 40);
    let err = r.stderr();
    assert!(err.contains("skipped line 42: wrong number of fields"), "{err}");
    assert_eq!(m["bad_line_examples"][0]["line"], 42);

    // The same file with a lower limit fails as bad input.
    let err = w
        .fmprep(&["run", "in.tsv", "-o", "out2", "--max-bad-lines", "5"])
        .fails(3);
    assert!(
        err.contains("6 malformed lines out of 46 exceed --max-bad-lines (5 lines)"),
        "{err}"
    );
    assert!(!w.path("out2/manifest.json").exists());
}

#[test]
fn truncated_gzip_fails_without_manifest_or_staging_files() {
    let w = Workdir::new();
    let full = w.synth("in.tsv.gz", 20_000, 2);
    let mut bytes = std::fs::read(full).unwrap();
    bytes.truncate(bytes.len() * 2 / 3);
    w.write("cut.tsv.gz", bytes);
    let err = w.fmprep(&["run", "cut.tsv.gz", "-o", "out"]).fails(3);
    assert!(
        err.contains("cut.tsv.gz: corrupt or truncated gzip data"),
        "{err}"
    );
    assert!(!w.path("out/manifest.json").exists());
    let leftovers: Vec<String> = w
        .tree("out")
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains("fmprep-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn finished_output_needs_overwrite() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 5_000, 2);
    let first = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    let err = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).fails(6);
    assert!(err.contains("pass --overwrite"), "{err}");
    let again = w.fmprep(&["run", "in.tsv.gz", "-o", "out", "--overwrite"]).ok();
    assert_eq!(first["files"], again["files"]);
}

#[test]
fn stdin_input_and_usage_errors() {
    let w = Workdir::new();
    let input = w.synth("in.tsv", 5_000, 4);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fmprep"))
        .args(["run", "-", "-o"])
        .arg(w.path("out"))
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(w.path("out/manifest.json").exists());
    let err = w
        .fmprep(&["run", "in.tsv", "-o", "x", "--split", "0.7,0.2,0.2"])
        .fails(2);
    assert!(err.contains("sum to"), "{err}");
    w.fmprep(&["run", "in.tsv", "-o", "x", "--seed", "abc"]).fails(2);
    let err = w.fmprep(&["run", "missing.tsv", "-o", "x"]).fails(4);
    assert!(err.contains("missing.tsv"), "{err}");
}

#[test]
fn nothing_left_after_filtering_is_an_error() {
    let w = Workdir::new();
    w.write(
        "in.tsv",
        format!("{HEADER}\n{}\n{}\n", review("a", "p", "5"), review("b", "q", "4")),
    );
    let err = w.fmprep(&["run", "in.tsv", "-o", "out"]).fails(3);
    assert!(err.contains("no rows left after the long-tail filter"), "{err}");
    assert!(!w.path("out/manifest.json").exists());
}

/// Every boolean FMPREP_* variable takes the same spellings (1/0, true/false, yes/no, on/off, any
/// case), FMPREP_S3_FORCE_PATH_STYLE included, and refuses others with a usage error.
#[test]
fn boolean_variables_take_the_same_spellings() {
    let w = Workdir::new();
    w.synth("in.tsv", 3000, 9);
    let vars = [
        "FMPREP_OVERWRITE",
        "FMPREP_DRY_RUN",
        "FMPREP_K_CORE",
        "FMPREP_HOLDOUT_VALIDATE",
        "FMPREP_S3_FORCE_PATH_STYLE",
        "FMPREP_EXIT_WITH_PARENT",
    ];
    for var in vars {
        for value in ["1", "0", "true", "False", "yes", "no", "ON", "off"] {
            let out = format!("out_{var}_{value}");
            // The flag would override the variable: FMPREP_DRY_RUN is tested alone.
            let dry = if var == "FMPREP_DRY_RUN" {
                "-q"
            } else {
                "--dry-run"
            };
            let r = w
                .command(&["run", "in.tsv", "-o", &out, dry])
                .env(var, value)
                .output()
                .unwrap();
            assert_eq!(
                r.status.code(),
                Some(0),
                "{var}={value}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
        }
        let r = w
            .command(&["run", "in.tsv", "-o", "x"])
            .env(var, "maybe")
            .output()
            .unwrap();
        assert_eq!(r.status.code(), Some(2), "{var}=maybe is refused");
    }
    // The values mean what they say: FMPREP_DRY_RUN=on writes nothing, =off runs.
    let dry = |value: &str, out: &str| {
        w.command(&["run", "in.tsv", "-o", out])
            .env("FMPREP_DRY_RUN", value)
            .output()
            .unwrap()
    };
    assert!(dry("on", "dry").status.success());
    assert!(!w.path("dry/manifest.json").exists());
    assert!(dry("off", "wet").status.success());
    assert!(w.path("wet/manifest.json").exists());
    let again = w
        .command(&["run", "in.tsv", "-o", "wet"])
        .env("FMPREP_OVERWRITE", "yes")
        .output()
        .unwrap();
    assert!(again.status.success(), "FMPREP_OVERWRITE=yes overwrites");
}

/// `--split 0.8,0.2` leaves the test split exactly 0 in the manifest (not -5.55e-17).
#[test]
fn a_two_way_split_records_a_test_fraction_of_exactly_zero() {
    let w = Workdir::new();
    w.synth("in.tsv", 3000, 9);
    let m = w
        .fmprep(&["run", "in.tsv", "-o", "out", "--split", "0.8,0.2"])
        .ok();
    let text = String::from_utf8(w.read("out/manifest.json")).unwrap();
    assert!(!text.contains("e-17"), "{text}");
    assert_eq!(m["options"]["split"]["test"], serde_json::json!(0.0), "{m}");
    assert_eq!(m["counts"]["test"], 0);
}
