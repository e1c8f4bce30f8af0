//! `--customer-col/--product-col/--rating-col/--time-col` and `--rating-scale` on a MovieLens-style
//! `ratings.csv`.

use crate::util::*;

const MOVIELENS: &str = "userId,movieId,rating,timestamp
1,31,2.5,1260759144
1,1029,3.0,1260759179
1,1061,3.0,1260759182
2,31,4.5,1260759200
2,1029,.5,1260759300
2,1061,5,1260759100
3,31,1.0,1260759000
";

const FLAGS: [&str; 12] = [
    "--delimiter",
    ",",
    "--customer-col",
    "userId",
    "--product-col",
    "movieId",
    "--rating-col",
    "rating",
    "--min-customer-ratings",
    "1",
    "--min-product-ratings",
    "1",
];

#[test]
fn movielens_half_star_ratings_with_named_columns() {
    let w = Workdir::new();
    w.write("ratings.csv", MOVIELENS);
    let mut args = vec!["run", "ratings.csv", "-o", "ml", "--rating-scale", "half-stars"];
    args.extend(FLAGS);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["counts"]["valid"], 7);
    assert_eq!(
        (m["n_customers"].as_u64(), m["n_products"].as_u64()),
        (Some(3), Some(3))
    );
    let mut got: Vec<(String, String, f32)> = decoded(&w, "ml")
        .into_iter()
        .map(|(_, c, p, l)| (c, p, l))
        .collect();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let want: Vec<(String, String, f32)> = [
        ("1", "1029", 3.0),
        ("1", "1061", 3.0),
        ("1", "31", 2.5),
        ("2", "1029", 0.5),
        ("2", "1061", 5.0),
        ("2", "31", 4.5),
        ("3", "31", 1.0),
    ]
    .iter()
    .map(|(c, p, l)| (c.to_string(), p.to_string(), *l))
    .collect();
    assert_eq!(got, want);

    // preprocess writes half stars as decimals, whole stars as integers.
    let mut args = vec![
        "preprocess",
        "ratings.csv",
        "-o",
        "pre",
        "--rating-scale",
        "half-stars",
    ];
    args.extend(FLAGS);
    w.fmprep(&args).ok();
    let mut ratings = Vec::new();
    for f in ["train/train.csv", "validate/validate.csv", "test/test.csv"] {
        let text = String::from_utf8(w.read(&format!("pre/{f}"))).unwrap();
        ratings.extend(
            text.lines()
                .skip(1)
                .map(|l| l.rsplit(',').next().unwrap().to_string()),
        );
    }
    ratings.sort();
    assert_eq!(ratings, ["0.5", "1", "2.5", "3", "3", "4.5", "5"]);
}

#[test]
fn movielens_holdout_last_by_unix_timestamp() {
    let w = Workdir::new();
    w.write("ratings.csv", MOVIELENS);
    let mut args = vec![
        "run",
        "ratings.csv",
        "-o",
        "ml",
        "--rating-scale",
        "half-stars",
        "--split-mode",
        "holdout-last",
        "--time-col",
        "timestamp",
    ];
    args.extend(FLAGS);
    w.fmprep(&args).ok();
    let mut test: Vec<(String, String)> = decoded(&w, "ml")
        .into_iter()
        .filter(|r| r.0 == "test")
        .map(|r| (r.1, r.2))
        .collect();
    test.sort();
    // User 1's latest is 1061 (…182), user 2's is 1029 (…300); user 3 has a single rating.
    assert_eq!(test, [("1".into(), "1061".into()), ("2".into(), "1029".into())]);
}

#[test]
fn the_default_scale_rejects_half_stars_by_name() {
    let w = Workdir::new();
    w.write("ratings.csv", MOVIELENS);
    let mut args = vec!["run", "ratings.csv", "-o", "ml"];
    args.extend(FLAGS);
    let err = w.fmprep(&args).fails(3);
    assert!(err.contains("malformed lines"), "{err}");
    assert!(err.contains("star_rating \"2.5\""), "{err}");
    let err = w
        .fmprep(&["run", "ratings.csv", "-o", "x", "--delimiter", ","])
        .fails(3);
    assert!(
        err.contains("no column customer_id, product_id, star_rating"),
        "{err}"
    );
    let mut args = vec!["run", "ratings.csv", "-o", "ml", "--rating-scale", "tenths"];
    args.extend(FLAGS);
    w.fmprep(&args).fails(2);
}
