//! Test fixtures: a fresh working directory per test and a runner for the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const HEADER: &str = "marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\tproduct_title\tproduct_category\tstar_rating\thelpful_votes\ttotal_votes\tvine\tverified_purchase\treview_headline\treview_body\treview_date";

/// One review line in the 15-column layout.
pub fn review(customer: &str, product: &str, stars: &str) -> String {
    format!("US\t{customer}\tR{customer}{product}\t{product}\t111\tTitle \"{product}\"\tVideo\t{stars}\t0\t1\tN\tY\tok\tbody <br />text\t2015-01-02")
}

pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// The binary with `args`, run in this directory, with the environment's FMPREP_* cleared.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fmprep"));
        cmd.args(args).current_dir(self.dir.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FMPREP_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    pub fn fmprep(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("running fmprep"))
    }

    /// Generate a synthetic input with the binary's own generator.
    pub fn synth(&self, rel: &str, rows: u64, seed: u64) -> PathBuf {
        self.fmprep(&[
            "synth",
            "--rows",
            &rows.to_string(),
            "--seed",
            &seed.to_string(),
            "--output",
            rel,
        ])
        .ok();
        self.path(rel)
    }

    /// Every file under `rel` (relative paths, sorted) with its bytes.
    pub fn tree(&self, rel: &str) -> Vec<(String, Vec<u8>)> {
        let root = self.path(rel);
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read(&p).unwrap()));
        }
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Assert success and return the last stdout line parsed as JSON.
    pub fn ok(&self) -> serde_json::Value {
        assert_eq!(self.code(), 0, "fmprep failed.\nstderr:\n{}", self.stderr());
        self.json()
    }

    /// Assert success without looking at stdout.
    pub fn ok_no_json(&self) {
        assert_eq!(self.code(), 0, "fmprep failed.\nstderr:\n{}", self.stderr());
    }

    /// The last stdout line as JSON.
    pub fn json(&self) -> serde_json::Value {
        let out = self.stdout();
        let last = out
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no stdout; stderr:\n{}", self.stderr()));
        serde_json::from_str(last).unwrap_or_else(|e| panic!("last stdout line is not JSON ({e}): {last}"))
    }

    /// Assert failure with `code` and return stderr.
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "expected exit {code}.\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        assert!(
            self.stdout().trim().is_empty(),
            "stdout must be empty on failure: {}",
            self.stdout()
        );
        self.stderr()
    }
}

/// Decoded FM records of a RecordIO file: (keys, label).
pub fn records(bytes: &[u8]) -> Vec<(Vec<u64>, f32, u64)> {
    fmprep::format::recordio::RecordReader::new(bytes, "test")
        .map(|r| {
            let r = fmprep::format::recordio::FmRecord::from_record(&r.unwrap()).unwrap();
            assert_eq!(r.values, vec![1.0; r.keys.len()]);
            (r.keys, r.label.unwrap(), r.feature_dim.unwrap())
        })
        .collect()
}

/// Maps file → id per index.
pub fn map_ids(tsv: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(tsv);
    let mut ids = Vec::new();
    for (i, line) in text.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[1].parse::<usize>().unwrap(), i, "maps are in index order");
        ids.push(f[0].to_string());
    }
    ids
}

/// A small TSV with only the three required columns (and an optional date), rows as given.
pub fn mini_tsv(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from("customer_id\tproduct_id\tstar_rating\n");
    for (c, p, s) in rows {
        text += &format!("{c}\t{p}\t{s}\n");
    }
    text
}

/// Every record of an output directory's splits, mapped back to ids through its maps:
/// (split, customer_id, product_id, label), in file order.
pub fn decoded(w: &Workdir, dir: &str) -> Vec<(String, String, String, f32)> {
    let customers = map_ids(&w.read(&format!("{dir}/maps/customers.tsv")));
    let products = map_ids(&w.read(&format!("{dir}/maps/products.tsv")));
    let n_customers = customers.len() as u64;
    let mut out = Vec::new();
    for (split, files) in split_files(w, dir) {
        for f in files {
            for (keys, label, _) in records(&w.read(&format!("{dir}/{f}"))) {
                out.push((
                    split.to_string(),
                    customers[keys[0] as usize].clone(),
                    products[(keys[1] - n_customers) as usize].clone(),
                    label,
                ));
            }
        }
    }
    out
}

/// The protobuf files of each split, in order, as listed by the run's manifest.
pub fn split_files(w: &Workdir, dir: &str) -> Vec<(&'static str, Vec<String>)> {
    let m: serde_json::Value = serde_json::from_slice(&w.read(&format!("{dir}/manifest.json"))).unwrap();
    ["train", "validate", "test"]
        .into_iter()
        .map(|s| {
            let files = m["files"][s]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect();
            (s, files)
        })
        .collect()
}
