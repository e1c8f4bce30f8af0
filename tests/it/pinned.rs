//! Output bytes pinned across refactors: the SHA-256 of every file that `run`, `preprocess` and
//! `prepare` write for the committed sample under several option sets. The expected digests in
//! `tests/fixtures/pinned_outputs.txt` were computed before the library redesign (issue 10); a
//! change to any output byte fails here. `FMPREP_BLESS=1` rewrites the file (only for a change
//! of output that is intended and explained).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::util::Workdir;

/// Option sets for `run` (each also feeds `preprocess` and then `prepare`).
const CASES: &[(&str, &[&str])] = &[
    ("default", &[]),
    (
        "small-tail",
        &[
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
            "--seed",
            "7",
            "--split",
            "0.7,0.2,0.1",
            "--test-chunk",
            "100",
        ],
    ),
    (
        "numpy-binary",
        &[
            "--min-customer-ratings",
            "2",
            "--min-product-ratings",
            "3",
            "--shuffle",
            "numpy",
            "--label",
            "binary",
        ],
    ),
    (
        "kcore-holdout",
        &[
            "--min-customer-ratings",
            "2",
            "--min-product-ratings",
            "2",
            "--k-core",
            "--split-mode",
            "holdout-last",
            "--holdout-validate",
        ],
    ),
    (
        "by-customer",
        &[
            "--min-customer-ratings",
            "2",
            "--min-product-ratings",
            "2",
            "--split-mode",
            "by-customer",
            "--threads",
            "1",
        ],
    ),
];

/// Manifest fields that change from one run to the next (timings, paths of the temporary
/// directory) are left out of its digest; everything else in it is pinned.
const VOLATILE: &[&str] = &[
    "elapsed_seconds",
    "stage_seconds",
    "output",
    "input",
    "input_objects",
    "fmprep_version",
];

fn manifest_digest(bytes: &[u8]) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).expect("manifest is JSON");
    if let Some(obj) = v.as_object_mut() {
        for key in VOLATILE {
            obj.remove(*key);
        }
    }
    hex(&Sha256::digest(v.to_string().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn digests(wd: &Workdir, label: &str, rel: &str, out: &mut BTreeMap<String, String>) {
    for (path, bytes) in wd.tree(rel) {
        let digest = if path.ends_with("manifest.json") {
            manifest_digest(&bytes)
        } else {
            hex(&Sha256::digest(&bytes))
        };
        out.insert(format!("{label}/{path}"), digest);
    }
}

fn render(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{v}  {k}\n")).collect()
}

#[test]
fn output_bytes_are_pinned() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/reviews_sample.tsv.gz");
    let wd = Workdir::new();
    let mut got = BTreeMap::new();
    for (name, flags) in CASES {
        let run_out = format!("{name}/run");
        let mut args = vec!["run", sample, "--output", &run_out];
        args.extend_from_slice(flags);
        wd.fmprep(&args).ok();
        digests(&wd, &run_out, &run_out, &mut got);

        let pre_out = format!("{name}/pre");
        let mut args = vec!["preprocess", sample, "--output", &pre_out];
        args.extend_from_slice(flags);
        wd.fmprep(&args).ok();
        digests(&wd, &pre_out, &pre_out, &mut got);

        let prep_out = format!("{name}/prep");
        let pre_path = wd.path(&pre_out);
        wd.fmprep(&["prepare", pre_path.to_str().unwrap(), "--output", &prep_out])
            .ok();
        digests(&wd, &prep_out, &prep_out, &mut got);
    }
    #[cfg(feature = "parquet")]
    {
        let pre_out = "parquet/pre";
        wd.fmprep(&["preprocess", sample, "--output", pre_out, "--format", "parquet"])
            .ok();
        digests(&wd, pre_out, pre_out, &mut got);
        let pre_path = wd.path(pre_out);
        wd.fmprep(&["prepare", pre_path.to_str().unwrap(), "--output", "parquet/prep"])
            .ok();
        digests(&wd, "parquet/prep", "parquet/prep", &mut got);
    }
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pinned_outputs.txt");
    let rendered = render(&got);
    if std::env::var_os("FMPREP_BLESS").is_some() {
        std::fs::write(&fixture, &rendered).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&fixture).expect("tests/fixtures/pinned_outputs.txt");
    // Parquet tables are pinned only in builds with the feature.
    let want: String = want
        .lines()
        .filter(|l| cfg!(feature = "parquet") || !l.contains("  parquet/"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(got.len() > 40, "too few output files: {}", got.len());
    assert_eq!(rendered, want, "output bytes changed");
}
