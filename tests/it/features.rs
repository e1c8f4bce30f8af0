//! `--categorical`, `--numeric`, side tables and inference with side features, checked against
//! an independent implementation of the block layout written here.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crate::util::{map_ids, Workdir};

/// One decoded record: keys, values as bit patterns (exact comparison), label bits.
type Rec = (Vec<u64>, Vec<u32>, Option<u32>);

fn decode(bytes: &[u8]) -> Vec<Rec> {
    fmprep::format::recordio::RecordReader::new(bytes, "test")
        .map(|r| {
            let r = fmprep::format::recordio::FmRecord::from_record(&r.unwrap()).unwrap();
            (
                r.keys,
                r.values.iter().map(|v| v.to_bits()).collect(),
                r.label.map(f32::to_bits),
            )
        })
        .collect()
}

/// All records of a run's splits, sorted (a multiset).
fn all_records(w: &Workdir, dir: &str, manifest: &serde_json::Value) -> Vec<Rec> {
    let mut out = Vec::new();
    for group in ["train", "validate", "test"] {
        for f in manifest["files"][group].as_array().unwrap() {
            out.extend(decode(&w.read(&format!("{dir}/{}", f["path"].as_str().unwrap()))));
        }
    }
    out.sort();
    out
}

/// The rows of a reviews TSV, plain or gzip: header names → fields.
fn read_tsv(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    let mut text = String::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8(bytes).unwrap();
    }
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split('\t').map(String::from).collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() == header.len())
        .map(|f| {
            header
                .iter()
                .cloned()
                .zip(f.into_iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Index values by descending count, ties by first appearance.
fn index_by_count(values: &[String]) -> Vec<String> {
    let mut first: Vec<String> = Vec::new();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for v in values {
        if !count.contains_key(v.as_str()) {
            first.push(v.clone());
        }
        *count.entry(v).or_default() += 1;
    }
    let mut order = first.clone();
    order.sort_by_key(|v| {
        (
            std::cmp::Reverse(count[v.as_str()]),
            first.iter().position(|x| x == v),
        )
    });
    order
}

/// The valid rows that survive the long-tail rule (counted on raw valid rows) and
/// de-duplication (first row of a pair), in input order.
fn kept_rows(rows: &[HashMap<String, String>], min_c: usize, min_p: usize) -> Vec<&HashMap<String, String>> {
    let valid: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| matches!(r["star_rating"].as_str(), "1" | "2" | "3" | "4" | "5"))
        .collect();
    let mut nc: HashMap<&str, usize> = HashMap::new();
    let mut np: HashMap<&str, usize> = HashMap::new();
    for r in &valid {
        *nc.entry(&r["customer_id"]).or_default() += 1;
        *np.entry(&r["product_id"]).or_default() += 1;
    }
    let mut seen = std::collections::HashSet::new();
    valid
        .into_iter()
        .filter(|r| nc[r["customer_id"].as_str()] >= min_c && np[r["product_id"].as_str()] >= min_p)
        .filter(|r| seen.insert((r["customer_id"].clone(), r["product_id"].clone())))
        .collect()
}

/// A kept row as the model sees it: ids, label, each categorical and numeric value (`None`: no
/// value, e.g. an id absent from its side table).
struct Row {
    customer: String,
    product: String,
    label: f32,
    cats: Vec<Option<String>>,
    nums: Vec<Option<f64>>,
}

/// The independent model of the layout: ids numbered by the run's maps, then one block per
/// categorical column (values by descending count on the kept rows, ties by first appearance),
/// one key per numeric column (`log1p`, `raw`, or `standardize` with the mean and population
/// deviation of the `train` rows, summed in input order), zeros left out.
fn model(
    kept: &[Row],
    customers: &[String],
    products: &[String],
    transforms: &[&str],
    train: &std::collections::HashSet<(String, String)>,
) -> (u64, Vec<Rec>) {
    let ci: HashMap<&str, u64> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u64))
        .collect();
    let pi: HashMap<&str, u64> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i as u64))
        .collect();
    let mut offset = (customers.len() + products.len()) as u64;
    let mut blocks = Vec::new();
    let n_cats = kept.first().map_or(0, |r| r.cats.len());
    for k in 0..n_cats {
        let values: Vec<String> = kept.iter().filter_map(|r| r.cats[k].clone()).collect();
        let order = index_by_count(&values);
        let index: HashMap<String, u64> = order
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), i as u64))
            .collect();
        blocks.push((offset, index));
        offset += order.len() as u64;
    }
    let numeric_at = offset;
    let dim = offset + transforms.len() as u64;
    let stats: Vec<(f64, f64)> = (0..transforms.len())
        .map(|k| {
            let xs: Vec<f64> = kept
                .iter()
                .filter(|r| train.contains(&(r.customer.clone(), r.product.clone())))
                .filter_map(|r| r.nums[k])
                .collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
            (mean, var.sqrt())
        })
        .collect();
    let mut recs: Vec<Rec> = kept
        .iter()
        .map(|r| {
            let mut keys = vec![
                ci[r.customer.as_str()],
                customers.len() as u64 + pi[r.product.as_str()],
            ];
            let mut values = vec![1f32.to_bits(); 2];
            for ((off, index), v) in blocks.iter().zip(&r.cats) {
                if let Some(v) = v {
                    keys.push(off + index[v]);
                    values.push(1f32.to_bits());
                }
            }
            for (k, t) in transforms.iter().enumerate() {
                let Some(x) = r.nums[k] else { continue };
                let y = match *t {
                    "log1p" => x.ln_1p(),
                    "raw" => x,
                    "standardize" => (x - stats[k].0) / stats[k].1,
                    _ => unreachable!(),
                } as f32;
                if y != 0.0 {
                    keys.push(numeric_at + k as u64);
                    values.push(y.to_bits());
                }
            }
            (keys, values, Some(r.label.to_bits()))
        })
        .collect();
    recs.sort();
    (dim, recs)
}

/// The (customer_id, product_id) pairs of a run's train split.
fn train_pairs(
    w: &Workdir,
    dir: &str,
    customers: &[String],
    products: &[String],
) -> std::collections::HashSet<(String, String)> {
    decode(&w.read(&format!("{dir}/train/train.protobuf")))
        .into_iter()
        .map(|(k, _, _)| {
            (
                customers[k[0] as usize].clone(),
                products[(k[1] as usize) - customers.len()].clone(),
            )
        })
        .collect()
}

const ARGS: &[&str] = &[
    "--categorical",
    "verified_purchase,vine",
    "--numeric",
    "helpful_votes:log1p",
];

#[test]
fn synth_file_matches_the_independent_layout() {
    let w = Workdir::new();
    let input = w.synth("in.tsv.gz", 6000, 17);
    let mut args = vec!["run", "in.tsv.gz", "--output", "out"];
    args.extend_from_slice(ARGS);
    let m = w.fmprep(&args).ok();
    let customers = map_ids(&w.read("out/maps/customers.tsv"));
    let products = map_ids(&w.read("out/maps/products.tsv"));
    let rows = read_tsv(&input);
    let kept: Vec<Row> = kept_rows(&rows, 5, 10)
        .into_iter()
        .map(|r| Row {
            customer: r["customer_id"].clone(),
            product: r["product_id"].clone(),
            label: r["star_rating"].parse().unwrap(),
            cats: vec![Some(r["verified_purchase"].clone()), Some(r["vine"].clone())],
            nums: vec![Some(r["helpful_votes"].parse().unwrap())],
        })
        .collect();
    let (dim, want) = model(&kept, &customers, &products, &["log1p"], &Default::default());
    let distinct = |col: &str| {
        let kept: std::collections::BTreeSet<String> = w
            .read(&format!("out/maps/features/{col}.tsv"))
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| String::from_utf8_lossy(l).split('\t').next().unwrap().to_string())
            .collect();
        kept.len() as u64
    };
    assert_eq!(m["feature_dim"].as_u64().unwrap(), dim);
    assert_eq!(
        dim,
        customers.len() as u64 + products.len() as u64 + distinct("verified_purchase") + distinct("vine") + 1
    );
    assert_eq!(m["hyperparameters"]["feature_dim"], dim.to_string());
    let blocks = m["blocks"].as_array().unwrap();
    let names: Vec<&str> = blocks.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "customer",
            "product",
            "verified_purchase",
            "vine",
            "helpful_votes"
        ]
    );
    assert_eq!(blocks[4]["transform"], "log1p");
    assert_eq!(all_records(&w, "out", &m), want);
}

const HAND: &str = "customer_id\tproduct_id\tstar_rating\tcolor\tvotes\n\
                    a\tx\t5\tred\t0\n\
                    b\tx\t4\tblue\t1\n\
                    a\ty\t3\tred\t3\n\
                    c\ty\t2\tgreen\tnope\n\
                    c\tx\t1\tblue\t-1\n\
                    a\tx\t2\tgreen\t7\n";

fn rec(keys: &[u64], values: &[f32], label: f32) -> Rec {
    (
        keys.to_vec(),
        values.iter().map(|v| v.to_bits()).collect(),
        Some(label.to_bits()),
    )
}

/// A hand-made input whose records are worked out by hand: lines 5 and 6 are bad numbers (text,
/// and -1 outside log1p's domain), line 7 repeats the pair (a, x); green only occurs on dropped
/// rows, so the color block is red (2 rows), blue (1 row).
#[test]
fn hand_made_fixture_has_known_records() {
    let w = Workdir::new();
    w.write("in.tsv", HAND);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "in.tsv",
            "--output",
            "out",
            "--overwrite",
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
            "--categorical",
            "color",
            "--numeric",
            "votes:log1p",
        ];
        args.extend_from_slice(extra);
        w.fmprep(&args)
    };
    let err = run(&["--max-bad-lines", "1"]).fails(3);
    assert!(err.contains("exceed --max-bad-lines"), "{err}");
    let m = run(&["--max-bad-lines", "2"]).ok();
    assert_eq!(m["counts"]["bad_lines"]["bad_number"], 2, "{m}");
    let ex = &m["bad_line_examples"];
    assert_eq!(
        (ex[0]["line"].as_u64(), ex[1]["line"].as_u64()),
        (Some(5), Some(6))
    );
    assert_eq!(ex[0]["kind"], "bad_number");
    assert_eq!(m["feature_dim"], 7);
    assert_eq!(m["n_customers"], 2);
    let mut want = vec![
        rec(&[0, 2, 4], &[1.0, 1.0, 1.0], 5.0),
        rec(&[1, 2, 5, 6], &[1.0, 1.0, 1.0, 2f64.ln() as f32], 4.0),
        rec(&[0, 3, 4, 6], &[1.0, 1.0, 1.0, 4f64.ln() as f32], 3.0),
    ];
    want.sort();
    assert_eq!(all_records(&w, "out", &m), want);
    assert_eq!(
        String::from_utf8(w.read("out/maps/features/color.tsv")).unwrap(),
        "value\tindex\tcount\nred\t0\t2\nblue\t1\t1\n"
    );
    let b = &m["blocks"][2];
    assert_eq!((b["offset"].as_u64(), b["size"].as_u64()), (Some(4), Some(2)));
    assert_eq!(b["map"], "maps/features/color.tsv");

    // inspect names the block of every key, the layout found from the run's manifest.
    let r = w.fmprep(&["inspect", "out", "--head", "3"]);
    let summary = r.ok();
    let heads: Vec<serde_json::Value> = r
        .stdout()
        .lines()
        .take(3)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for h in &heads {
        let names: Vec<&str> = h["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(&names[..3], ["customer", "product", "color"], "{h}");
        assert!(names.len() == 3 || names[3] == "votes");
    }
    let per_block: Vec<(String, u64)> = summary["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["keys"].as_u64().unwrap(),
            )
        })
        .collect();
    let names = ["customer", "product", "color", "votes"].map(String::from);
    assert_eq!(per_block, names.into_iter().zip([3, 3, 3, 2]).collect::<Vec<_>>());

    // Blue has 1 kept row: with --min-category-count 2 it becomes __other__, same key.
    let m = run(&["--max-bad-lines", "2", "--min-category-count", "2"]).ok();
    assert_eq!(all_records(&w, "out", &m), want);
    assert_eq!(m["blocks"][2]["other"], 1);
    assert_eq!(
        String::from_utf8(w.read("out/maps/features/color.tsv")).unwrap(),
        "value\tindex\tcount\nred\t0\t2\n__other__\t1\t1\n"
    );
}

#[test]
fn missing_feature_column_is_named() {
    let w = Workdir::new();
    w.write("in.tsv", HAND);
    let err = w
        .fmprep(&["run", "in.tsv", "--output", "out", "--categorical", "shape"])
        .fails(3);
    assert!(err.contains("no column shape"), "{err}");
    let err = w
        .fmprep(&[
            "run",
            "in.tsv",
            "--output",
            "out",
            "--categorical",
            "customer.age",
        ])
        .fails(2);
    assert!(err.contains("--customer-features"), "{err}");
}

/// Write a Parquet side table: `id_col` strings, `brand` strings, `price` doubles.
#[cfg(feature = "parquet")]
fn write_parquet(path: &std::path::Path, id_col: &str, rows: &[(String, String, f64)]) {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str())));
    let brands: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1.as_str())));
    let prices: ArrayRef = Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2)));
    let batch = RecordBatch::try_from_iter([(id_col, ids), ("brand", brands), ("price", prices)]).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Side tables (customers as TSV, products as Parquet) joined by id, some ids absent; then
/// `encode` of every kept pair gives its training record without the label.
#[cfg(feature = "parquet")]
#[test]
fn side_tables_join_by_id_and_encode_round_trips() {
    let w = Workdir::new();
    let input = w.synth("in.tsv.gz", 6000, 23);
    let rows = read_tsv(&input);
    let mut customer_ids: Vec<String> = Vec::new();
    let mut product_ids: Vec<String> = Vec::new();
    for r in &rows {
        if !customer_ids.contains(&r["customer_id"]) {
            customer_ids.push(r["customer_id"].clone());
        }
        if !product_ids.contains(&r["product_id"]) {
            product_ids.push(r["product_id"].clone());
        }
    }
    // Every 5th customer and every 4th product is absent from its table.
    let segments = ["gold", "silver", "bronze", "tin"];
    let mut seg: HashMap<String, String> = HashMap::new();
    let mut age: HashMap<String, f64> = HashMap::new();
    let mut table = String::from("segment\tcustomer_id\tage\tunused\n");
    for (i, c) in customer_ids.iter().enumerate().filter(|(i, _)| i % 5 != 4) {
        let (s, a) = (segments[(i * 7) % 4], 18.0 + ((i * 13) % 50) as f64);
        table += &format!("{s}\t{c}\t{a}\tz\n");
        seg.insert(c.clone(), s.to_string());
        age.insert(c.clone(), a);
    }
    w.write("c.tsv", table);
    let mut brand: HashMap<String, String> = HashMap::new();
    let mut price: HashMap<String, f64> = HashMap::new();
    let mut prow = Vec::new();
    for (i, p) in product_ids.iter().enumerate().filter(|(i, _)| i % 4 != 3) {
        let (b, x) = (format!("b{}", (i * 3) % 5), (i % 7) as f64 * 1.25);
        prow.push((p.clone(), b.clone(), x));
        brand.insert(p.clone(), b);
        price.insert(p.clone(), x);
    }
    write_parquet(&w.path("p.parquet"), "product_id", &prow);
    let m = w
        .fmprep(&[
            "run",
            "in.tsv.gz",
            "--output",
            "out",
            "--categorical",
            "vine,customer.segment,product.brand",
            "--numeric",
            "customer.age:standardize,product.price,helpful_votes:log1p",
            "--customer-features",
            "c.tsv",
            "--product-features",
            "p.parquet",
        ])
        .ok();
    // The same product table as TSV gives the same files: Parquet and text tables join alike.
    let mut ptsv = String::from("product_id\tbrand\tprice\n");
    for (p, b, x) in &prow {
        ptsv += &format!("{p}\t{b}\t{x}\n");
    }
    w.write("p.tsv", ptsv);
    let args = [
        "run",
        "in.tsv.gz",
        "--output",
        "out_tsv",
        "--categorical",
        "vine,customer.segment,product.brand",
        "--numeric",
        "customer.age:standardize,product.price,helpful_votes:log1p",
        "--customer-features",
        "c.tsv",
        "--product-features",
        "p.tsv",
    ];
    let m_tsv = w.fmprep(&args).ok();
    for k in ["rows", "ids_missing", "rows_missing"] {
        assert_eq!(
            m_tsv["side_tables"]["product"][k], m["side_tables"]["product"][k],
            "{k}"
        );
    }
    let data = |dir: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(dir)
            .into_iter()
            .filter(|(p, _)| p != "manifest.json")
            .collect()
    };
    assert_eq!(data("out_tsv"), data("out"));

    let customers = map_ids(&w.read("out/maps/customers.tsv"));
    let products = map_ids(&w.read("out/maps/products.tsv"));
    let kept_raw = kept_rows(&rows, 5, 10);
    let kept: Vec<Row> = kept_raw
        .iter()
        .map(|r| {
            let (c, p) = (&r["customer_id"], &r["product_id"]);
            Row {
                customer: c.clone(),
                product: p.clone(),
                label: r["star_rating"].parse().unwrap(),
                cats: vec![
                    Some(r["vine"].clone()),
                    seg.get(c).cloned(),
                    brand.get(p).cloned(),
                ],
                nums: vec![
                    age.get(c).copied(),
                    price.get(p).copied(),
                    Some(r["helpful_votes"].parse().unwrap()),
                ],
            }
        })
        .collect();
    let train = train_pairs(&w, "out", &customers, &products);
    let (dim, want) = model(
        &kept,
        &customers,
        &products,
        &["standardize", "raw", "log1p"],
        &train,
    );
    assert_eq!(m["feature_dim"].as_u64().unwrap(), dim);
    let got = all_records(&w, "out", &m);
    assert_eq!(got, want);

    // Missing ids, counted.
    let missing_c: Vec<&String> = customers.iter().filter(|c| !seg.contains_key(*c)).collect();
    let missing_rows = kept.iter().filter(|r| !seg.contains_key(&r.customer)).count();
    assert!(!missing_c.is_empty() && missing_rows > 0);
    let st = &m["side_tables"]["customer"];
    assert_eq!(
        st["ids_missing"].as_u64().unwrap(),
        missing_c.len() as u64,
        "{st}"
    );
    assert_eq!(st["rows_missing"].as_u64().unwrap(), missing_rows as u64);
    assert_eq!(st["rows"].as_u64().unwrap(), seg.len() as u64);
    let sp = &m["side_tables"]["product"];
    let missing_p = kept.iter().filter(|r| !brand.contains_key(&r.product)).count();
    assert_eq!(sp["rows_missing"].as_u64().unwrap(), missing_p as u64);
    assert_eq!(
        m["blocks"][3]["missing_rows"].as_u64().unwrap(),
        missing_rows as u64
    );
    let age_block = &m["blocks"][5];
    assert_eq!(age_block["name"], "customer.age");
    assert!(age_block["mean"].as_f64().unwrap() > 18.0 && age_block["std"].as_f64().unwrap() > 0.0);

    // Inference: every kept pair, with its input column, through the maps and the side tables.
    let mut pairs = String::from("product_id,vine,customer_id,helpful_votes\n");
    for r in &kept_raw {
        pairs += &format!(
            "{},{},{},{}\n",
            r["product_id"], r["vine"], r["customer_id"], r["helpful_votes"]
        );
    }
    w.write("pairs.csv", pairs);
    w.fmprep(&[
        "encode",
        "pairs.csv",
        "--maps",
        "out",
        "--output",
        "pairs.rio",
        "--customer-features",
        "c.tsv",
        "--product-features",
        "p.parquet",
    ])
    .ok();
    let inferred = decode(&w.read("pairs.rio"));
    assert_eq!(inferred.len(), kept.len());
    let training: BTreeMap<(u64, u64), Rec> = got.iter().map(|r| ((r.0[0], r.0[1]), r.clone())).collect();
    for (rec, row) in inferred.iter().zip(&kept) {
        let key = (
            customers.iter().position(|c| *c == row.customer).unwrap() as u64,
            customers.len() as u64 + products.iter().position(|p| *p == row.product).unwrap() as u64,
        );
        let mut train_rec = training[&key].clone();
        train_rec.2 = None;
        assert_eq!(rec, &train_rec);
    }
    let err = w
        .fmprep(&["encode", "pairs.csv", "--maps", "out", "--output", "x.rio"])
        .fails(2);
    assert!(err.contains("--customer-features"), "{err}");
}

#[test]
fn explore_shows_candidate_column_cardinalities() {
    let w = Workdir::new();
    w.write("in.tsv", HAND);
    let m = w
        .fmprep(&[
            "explore",
            "in.tsv",
            "--json",
            "--cardinality",
            "color,votes",
            "--max-bad-lines",
            "10",
        ])
        .ok();
    let cols = m["columns"].as_array().unwrap();
    assert_eq!(cols[0]["name"], "color");
    assert_eq!(cols[0]["distinct"], 3);
    assert_eq!(cols[0]["numeric"], false);
    assert_eq!(cols[0]["top"][0], serde_json::json!(["red", 2]));
    assert_eq!(cols[1]["name"], "votes");
    assert_eq!(cols[1]["numeric"], false, "'nope' is not a number");
    let text = w
        .fmprep(&["explore", "in.tsv", "--cardinality", "color"])
        .stdout();
    assert!(text.contains("color: 3 distinct"), "{text}");
}

/// `preprocess` keeps the side blocks in its tables (CSV and Parquet) and `prepare` encodes them:
/// the same records, file for file, as `run`.
#[test]
fn preprocess_then_prepare_equals_run() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 5000, 29);
    let mut args: Vec<&str> = ARGS.to_vec();
    args[3] = "helpful_votes:log1p,total_votes:standardize";
    let with = |head: &[&str]| {
        let mut a = head.to_vec();
        a.extend_from_slice(&args);
        w.fmprep(&a).ok()
    };
    let run = with(&["run", "in.tsv.gz", "--output", "run"]);
    let protobufs = |dir: &str| -> Vec<(String, Vec<u8>)> {
        w.tree(dir)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".protobuf"))
            .collect()
    };
    let want = protobufs("run");
    assert_eq!(want.len(), 3, "train, validate and one test file");
    let formats: &[&str] = if cfg!(feature = "parquet") {
        &["csv", "parquet"]
    } else {
        &["csv"]
    };
    for format in formats {
        let (pre_dir, prep_dir) = (format!("pre_{format}"), format!("prep_{format}"));
        let pre = with(&[
            "preprocess",
            "in.tsv.gz",
            "--output",
            &pre_dir,
            "--format",
            format,
        ]);
        assert_eq!(pre["blocks"], run["blocks"]);
        let table = format!("{pre_dir}/train/train.{format}");
        assert_eq!(pre["files"]["train"][0]["path"], format!("train/train.{format}"));
        if *format == "csv" {
            let header = String::from_utf8(w.read(&table)).unwrap();
            assert!(
                header.starts_with(
                    "customer,product,star_rating,verified_purchase,vine,helpful_votes,total_votes\n"
                ),
                "{}",
                &header[..200]
            );
        }
        let prep = w.fmprep(&["prepare", &pre_dir, "--output", &prep_dir]).ok();
        assert_eq!(prep["feature_dim"], run["feature_dim"], "{format}");
        assert_eq!(prep["blocks"], run["blocks"], "{format}");
        assert_eq!(protobufs(&prep_dir), want, "{format}");
    }
}

/// The Parquet tables hold the side blocks as typed columns: an index per categorical block, the
/// stored `f32` per numeric block, null where a row has no key.
#[cfg(feature = "parquet")]
#[test]
fn parquet_tables_hold_the_side_columns() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int64Type};
    use arrow_array::Array;
    let w = Workdir::new();
    w.write("in.tsv", HAND);
    let mut args = vec![
        "preprocess",
        "in.tsv",
        "--output",
        "pre",
        "--format",
        "parquet",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
        "--max-bad-lines",
        "2",
        "--categorical",
        "color",
        "--numeric",
        "votes:log1p",
    ];
    let m = w.fmprep(&args).ok();
    let mut rows = Vec::new();
    for group in ["train", "validate", "test"] {
        for f in m["files"][group].as_array().unwrap() {
            let bytes = bytes::Bytes::from(w.read(&format!("pre/{}", f["path"].as_str().unwrap())));
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let b = batch.unwrap();
                let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
                assert_eq!(names, ["customer", "product", "star_rating", "color", "votes"]);
                let color = b.column(3).as_primitive::<Int64Type>();
                let votes = b.column(4).as_primitive::<Float32Type>();
                let stars = b.column(2).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    rows.push((
                        stars.value(i),
                        color.value(i),
                        votes.is_valid(i).then(|| votes.value(i)),
                    ));
                }
            }
        }
    }
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // (a,x,5,red,0): votes 0 is no key; (b,x,4,blue,1) and (a,y,3,red,3) as hand_made_fixture's.
    let want = vec![
        (3, 0, Some(4f64.ln() as f32)),
        (4, 1, Some(2f64.ln() as f32)),
        (5, 0, None),
    ];
    assert_eq!(rows, want);
    // prepare encodes them as run does.
    w.fmprep(&["prepare", "pre", "--output", "prep"]).ok();
    args[0] = "run";
    args[3] = "run";
    args.drain(4..6);
    let run = w.fmprep(&args).ok();
    let prep: serde_json::Value = serde_json::from_slice(&w.read("prep/manifest.json")).unwrap();
    assert_eq!(prep["feature_dim"], 7);
    assert_eq!(all_records(&w, "prep", &prep), all_records(&w, "run", &run));
}
