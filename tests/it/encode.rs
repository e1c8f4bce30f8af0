//! `fmprep encode --maps DIR`: inference pairs → the same feature keys as training.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::*;

/// The (customer_id, product_id, keys) of the first `n` test records of a run.
fn test_pairs(w: &Workdir, dir: &str, n: usize) -> Vec<(String, String, Vec<u64>)> {
    let customers = map_ids(&w.read(&format!("{dir}/maps/customers.tsv")));
    let products = map_ids(&w.read(&format!("{dir}/maps/products.tsv")));
    let nc = customers.len() as u64;
    records(&w.read(&format!("{dir}/test/test_0.protobuf")))
        .into_iter()
        .take(n)
        .map(|(k, _, _)| {
            (
                customers[k[0] as usize].clone(),
                products[(k[1] - nc) as usize].clone(),
                k,
            )
        })
        .collect()
}

fn label_less(bytes: &[u8]) -> Vec<(Vec<u64>, Option<u64>)> {
    fmprep::format::recordio::RecordReader::new(bytes, "t")
        .map(|r| {
            let r = fmprep::format::recordio::FmRecord::from_record(&r.unwrap()).unwrap();
            assert_eq!(r.label, None, "inference records carry no label");
            assert_eq!(r.values, vec![1.0; r.keys.len()]);
            (r.keys, r.feature_dim)
        })
        .collect()
}

#[test]
fn encode_reproduces_the_training_keys_in_recordio_and_json() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 4);
    let m = w.fmprep(&["run", "in.tsv.gz", "-o", "out"]).ok();
    let dim = m["feature_dim"].as_u64().unwrap();
    let pairs = test_pairs(&w, "out", 50);
    // Columns in another order, plus an extra column: found by header name.
    let mut csv = String::from("product_id,extra,customer_id\n");
    for (c, p, _) in &pairs {
        csv += &format!("{p},x,{c}\n");
    }
    w.write("pairs.csv", &csv);
    let s = w
        .fmprep(&["encode", "pairs.csv", "--maps", "out", "-o", "pairs.rec"])
        .ok();
    assert_eq!(s["command"], "encode");
    assert_eq!(s["stats"]["rows"], 50);
    assert_eq!(s["stats"]["written"], 50);
    assert_eq!(s["stats"]["feature_dim"], dim);
    let got = label_less(&w.read("pairs.rec"));
    let want: Vec<(Vec<u64>, Option<u64>)> = pairs.iter().map(|(_, _, k)| (k.clone(), Some(dim))).collect();
    assert_eq!(got, want);
    assert_eq!(s["stats"]["bytes"], w.read("pairs.rec").len() as u64);

    // JSON request bodies from stdin (TSV), two instances per body: stdout is the data only.
    let mut tsv = String::from("customer_id\tproduct_id\n");
    for (c, p, _) in pairs.iter().take(3) {
        tsv += &format!("{c}\t{p}\n");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_fmprep"))
        .args(["encode", "--maps"])
        .arg(w.path("out/maps"))
        .args(["--format", "json", "--batch", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(tsv.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let bodies: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["instances"].as_array().unwrap().len(), 2);
    assert_eq!(bodies[1]["instances"].as_array().unwrap().len(), 1);
    assert_eq!(
        bodies[0]["instances"][1],
        serde_json::json!({"data": {"features": {"keys": pairs[1].2, "shape": [dim], "values": [1.0, 1.0]}}})
    );
}

#[test]
fn unknown_ids_are_reported_never_dropped_silently() {
    let w = Workdir::new();
    w.write(
        "in.tsv",
        mini_tsv(&[("a", "x", "5"), ("a", "y", "4"), ("b", "x", "3"), ("b", "y", "2")]),
    );
    w.fmprep(&[
        "run",
        "in.tsv",
        "-o",
        "out",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
    ])
    .ok();
    w.write("pairs.csv", "customer_id,product_id\na,x\nzz,x\nb,qq\nb,y\n");
    let err = w
        .fmprep(&["encode", "pairs.csv", "--maps", "out", "-o", "e.rec"])
        .fails(3);
    assert!(
        err.contains("2 of 4 rows have ids not in the maps (1 unknown customers, 1 unknown products)"),
        "{err}"
    );
    assert!(
        err.contains("line 3: customer \"zz\", line 4: product \"qq\""),
        "{err}"
    );
    assert!(!w.path("e.rec").exists(), "nothing is written on error");

    let r = w.fmprep(&[
        "encode",
        "pairs.csv",
        "--maps",
        "out",
        "-o",
        "s.rec",
        "--unknown",
        "skip",
    ]);
    let s = r.ok();
    assert_eq!(
        (s["stats"]["written"].as_u64(), s["stats"]["skipped"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(s["stats"]["unknown_examples"][0]["line"], 3);
    assert!(
        r.stderr().contains("skipped; first: line 3: customer \"zz\""),
        "{}",
        r.stderr()
    );
    // a=0, b=1 (tie, first appearance); x=2, y=3.
    assert_eq!(
        label_less(&w.read("s.rec"))
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![vec![0, 2], vec![1, 3]]
    );

    let s = w
        .fmprep(&[
            "encode",
            "pairs.csv",
            "--maps",
            "out",
            "-o",
            "o.rec",
            "--unknown",
            "omit",
        ])
        .ok();
    assert_eq!(s["stats"]["written"], 4);
    assert_eq!(
        label_less(&w.read("o.rec"))
            .into_iter()
            .map(|r| r.0)
            .collect::<Vec<_>>(),
        vec![vec![0, 2], vec![2], vec![1], vec![1, 3]]
    );

    w.write("bad.csv", "user,item\na,x\n");
    let err = w.fmprep(&["encode", "bad.csv", "--maps", "out"]).fails(3);
    assert!(err.contains("lacks column customer_id or product_id"), "{err}");
    let err = w.fmprep(&["encode", "pairs.csv", "--maps", "nowhere"]).fails(4);
    assert!(err.contains("nowhere"), "{err}");
}
