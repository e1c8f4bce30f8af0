//! Parquet input (a pyarrow-written partitioned dataset) and `preprocess --format parquet`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use parquet::arrow::ArrowWriter;

use crate::util::*;

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parquet/reviews");
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/reviews_sample.tsv.gz");

/// The data files of an output directory (everything but the manifest).
fn data_files(w: &Workdir, dir: &str) -> Vec<(String, Vec<u8>)> {
    w.tree(dir)
        .into_iter()
        .filter(|(p, _)| p != "manifest.json")
        .collect()
}

#[test]
fn partitioned_parquet_dataset_gives_the_same_files_as_the_tsv() {
    let w = Workdir::new();
    let m = w.fmprep(&["run", DATASET, "-o", "pq"]).ok();
    w.fmprep(&["run", SAMPLE, "-o", "tsv"]).ok();
    let (a, b) = (data_files(&w, "pq"), data_files(&w, "tsv"));
    assert_eq!(a.len(), 5);
    assert_eq!(
        a, b,
        "same rows in the same order: same indices, splits and bytes"
    );
    // The three malformed rows at the end of the last file are counted per kind and skipped.
    let c = &m["counts"];
    assert_eq!(c["valid"], 4986);
    assert_eq!(c["input_lines"], 4989);
    assert_eq!(c["bad_lines"]["empty_customer_id"], 1);
    assert_eq!(c["bad_lines"]["empty_product_id"], 1);
    assert_eq!(c["bad_lines"]["bad_star_rating"], 1);
    assert_eq!(m["bad_line_examples"][1]["line"], 4988);
    assert!(
        m["bad_line_examples"][1]["detail"]
            .as_str()
            .unwrap()
            .starts_with("part-00002.snappy.parquet row"),
        "{}",
        m["bad_line_examples"]
    );

    // Dates come from a date32 column: holdout-last agrees with the TSV's text dates.
    let hold = ["--split-mode", "holdout-last", "--holdout-validate"];
    let mut args = vec!["run", DATASET, "-o", "pq_last"];
    args.extend(hold);
    w.fmprep(&args).ok();
    let mut args = vec!["run", SAMPLE, "-o", "tsv_last"];
    args.extend(hold);
    w.fmprep(&args).ok();
    assert_eq!(data_files(&w, "pq_last"), data_files(&w, "tsv_last"));

    // explore reads Parquet too, with the same numbers.
    let e1 = w.fmprep(&["explore", DATASET, "--json"]).ok();
    let e2 = w.fmprep(&["explore", SAMPLE, "--json"]).ok();
    assert_eq!(e1["sweep"], e2["sweep"]);
    assert_eq!(e1["customers"], e2["customers"]);
}

#[test]
fn preprocess_writes_parquet_tables_that_prepare_reads() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 13);
    let pre = w
        .fmprep(&["preprocess", "in.tsv.gz", "-o", "pre", "--format", "parquet"])
        .ok();
    let train = &pre["files"]["train"][0];
    assert_eq!(train["path"], "train/train.parquet");
    let bytes = w.read("pre/train/train.parquet");
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(train["bytes"], bytes.len() as u64);
    // The same rows as the CSV edition.
    w.fmprep(&["preprocess", "in.tsv.gz", "-o", "csv"]).ok();
    let from_parquet =
        fmprep::format::preprocessed::parquet::read_samples(bytes.into(), "train.parquet").unwrap();
    let csv = w.read("csv/train/train.csv");
    let from_csv = fmprep::format::preprocessed::read_csv(&csv[..], b',', "train.csv").unwrap();
    assert_eq!(from_parquet, from_csv);
    assert_eq!(from_parquet.len() as u64, train["records"].as_u64().unwrap());
    // The dry run accepts what prepare accepts: the Parquet tables, schema only.
    let dry = w.fmprep(&["prepare", "pre", "-o", "prep", "--dry-run"]).ok();
    assert_eq!(dry["dry_run"], true);
    let formats: Vec<&str> = dry["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["parquet"; 3]);
    assert!(!w.path("prep").exists(), "a dry run writes nothing");
    // prepare on the Parquet tables writes what run writes.
    w.fmprep(&["prepare", "pre", "-o", "prep"]).ok();
    w.fmprep(&["run", "in.tsv.gz", "-o", "run"]).ok();
    let protobufs = |dir: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(dir)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".protobuf"))
            .collect()
    };
    assert_eq!(protobufs("prep"), protobufs("run"));

    let err = w
        .fmprep(&["run", "in.tsv.gz", "-o", "x", "--format", "parquet"])
        .fails(2);
    assert!(err.contains("--format applies to preprocess"), "{err}");
}

#[test]
fn movielens_style_parquet_with_integer_ids_float_ratings_and_timestamps() {
    let w = Workdir::new();
    let col = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let batch = RecordBatch::try_from_iter([
        ("userId", col(vec![1, 1, 1, 2, 2, 3])),
        ("movieId", col(vec![31, 1029, 1061, 31, 1029, 31])),
        (
            "rating",
            Arc::new(Float64Array::from(vec![2.5, 3.0, 4.0, 4.5, 0.5, 5.5])) as ArrayRef,
        ),
        ("timestamp", col(vec![100, 300, 200, 50, 60, 70])),
    ])
    .unwrap();
    let file = std::fs::File::create(w.path("ratings.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let m = w
        .fmprep(&[
            "run",
            "ratings.parquet",
            "-o",
            "ml",
            "--customer-col",
            "userId",
            "--product-col",
            "movieId",
            "--rating-col",
            "rating",
            "--time-col",
            "timestamp",
            "--rating-scale",
            "half-stars",
            "--split-mode",
            "holdout-last",
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
            "--max-bad-lines",
            "1",
        ])
        .ok();
    // 5.5 is off the half-star scale: one malformed row.
    assert_eq!(m["counts"]["bad_lines"]["bad_star_rating"], 1);
    let mut got: Vec<(String, String, String, f32)> = decoded(&w, "ml");
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let want: Vec<(String, String, String, f32)> = [
        ("test", "1", "1029", 3.0), // user 1's latest (t=300)
        ("test", "2", "1029", 0.5), // user 2's latest (t=60)
        ("train", "1", "1061", 4.0),
        ("train", "1", "31", 2.5),
        ("train", "2", "31", 4.5),
    ]
    .iter()
    .map(|(s, c, p, l)| (s.to_string(), c.to_string(), p.to_string(), *l))
    .collect();
    assert_eq!(got, want);

    let err = w.fmprep(&["run", "ratings.parquet", "-o", "x"]).fails(3);
    assert!(
        err.contains("no column customer_id, product_id, star_rating"),
        "{err}"
    );
}

/// Feature columns read from a Parquet ratings input as from the TSV of the same rows: typed
/// columns (integers, floats, strings, nulls) give the same values, bad lines and bytes.
#[test]
fn parquet_feature_columns_give_the_bytes_of_the_tsv() {
    use arrow_array::StringArray;
    let w = Workdir::new();
    let input = w.synth("in.tsv.gz", 6000, 41);
    let text = {
        let mut s = String::new();
        let f = std::fs::File::open(&input).unwrap();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(f), &mut s).unwrap();
        s
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let names = [
        "customer_id",
        "product_id",
        "star_rating",
        "vine",
        "verified_purchase",
        "helpful_votes",
        "total_votes",
    ];
    let at: Vec<usize> = names.iter().map(|n| col(n)).collect();
    let mut rows: Vec<Vec<String>> = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() == header.len())
        .map(|f| at.iter().map(|&i| f[i].to_string()).collect())
        .collect();
    // Holes: an empty vine (an empty category; null in Parquet), an empty helpful_votes (a bad
    // number either way), a fractional total_votes.
    rows[3][3] = String::new();
    rows[7][5] = String::new();
    rows[11][6] = "2.5".into();
    let mut tsv = names.join("\t") + "\n";
    for r in &rows {
        tsv += &(r.join("\t") + "\n");
    }
    w.write("same.tsv", tsv);
    let strings = |k: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| (!r[k].is_empty()).then(|| r[k].clone())),
        ))
    };
    let ints = |k: usize| -> ArrayRef {
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r[k].parse::<i64>().ok()),
        ))
    };
    let floats = |k: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r[k].parse::<f64>().ok()),
        ))
    };
    let batch = RecordBatch::try_from_iter([
        (names[0], strings(0)),
        (names[1], strings(1)),
        (names[2], ints(2)),
        (names[3], strings(3)),
        (names[4], strings(4)),
        (names[5], ints(5)),
        (names[6], floats(6)),
    ])
    .unwrap();
    let file = std::fs::File::create(w.path("same.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let run = |input: &str, out: &str| {
        w.fmprep(&[
            "run",
            input,
            "-o",
            out,
            "--categorical",
            "vine,verified_purchase",
            "--numeric",
            "helpful_votes:log1p,total_votes:standardize",
            "--max-bad-lines",
            "5",
        ])
        .ok()
    };
    let (a, b) = (run("same.parquet", "pq"), run("same.tsv", "tsv"));
    assert_eq!(a["counts"], b["counts"]);
    assert_eq!(a["counts"]["bad_lines"]["bad_number"], 1, "{}", a["counts"]);
    assert_eq!(a["blocks"], b["blocks"]);
    assert!(a["blocks"][2]["size"].as_u64().unwrap() >= 2);
    let (fa, fb) = (data_files(&w, "pq"), data_files(&w, "tsv"));
    assert!(fa.iter().any(|(p, _)| p == "maps/features/vine.tsv"));
    assert_eq!(fa, fb);

    // explore shows the same cardinalities of the candidate columns.
    let explore = |input: &str| {
        w.fmprep(&[
            "explore",
            input,
            "--json",
            "--cardinality",
            "vine,verified_purchase,helpful_votes,total_votes",
            "--max-bad-lines",
            "5",
        ])
        .ok()["columns"]
            .clone()
    };
    let cols = explore("same.parquet");
    assert_eq!(cols, explore("same.tsv"));
    assert_eq!(cols[0]["name"], "vine");
    assert!(cols[0]["distinct"].as_u64().unwrap() >= 2, "{cols}");

    // A missing feature column is named, as for the TSV.
    let err = w
        .fmprep(&["run", "same.parquet", "-o", "x", "--categorical", "shape"])
        .fails(3);
    assert!(err.contains("no column shape"), "{err}");
    assert!(err.contains("--categorical/--numeric"), "{err}");
}
