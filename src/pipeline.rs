//! The commands as library calls: [`run`] (everything in one process), [`preprocess`] (stages
//! 1-4, writing the Python pipeline's CSVs) and [`prepare`] (stages 5-6 from those CSVs).
//!
//! Data flows one way: input → [`reader`](crate::reader) → [`filter`](crate::filter) →
//! [`index`](crate::index) → [`split`](crate::split) → [`encode`](crate::encode) →
//! [`recordio`](crate::recordio) → [`store`](crate::store), then the manifest last.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::encode::{self, Encoded, Sample};
use crate::error::{Error, ErrorKind, Result};
use crate::filter::{self, FilterOptions};
use crate::index::{self, Dims, Index};
use crate::input::Input;
use crate::manifest::{self, Counts, FileEntry, Manifest};
use crate::preprocessed;
use crate::reader::{self, Rating, Ratings, ReadOptions};
use crate::recordio;
use crate::split::{self, Split, SplitFractions, DEFAULT_SEED};
use crate::store::{Source, Store, MANIFEST};

/// Options of a pipeline run.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// How the input is parsed.
    pub read: ReadOptions,
    /// Long-tail thresholds.
    pub filter: FilterOptions,
    /// Split fractions.
    pub split: SplitFractions,
    /// Seed of the split permutation.
    pub seed: u64,
    /// Records per test file.
    pub test_chunk: usize,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Replace a finished run at the output location.
    pub overwrite: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read: ReadOptions::default(),
            filter: FilterOptions::default(),
            split: SplitFractions::default(),
            seed: DEFAULT_SEED,
            test_chunk: 10_000,
            threads: 0,
            overwrite: false,
        }
    }
}

impl Options {
    /// Check option values that the types do not rule out.
    pub fn validate(&self) -> Result<()> {
        self.split.validate()?;
        if self.test_chunk == 0 {
            return Err(Error::usage("--test-chunk must be at least 1"));
        }
        if self.read.chunk_bytes < 1024 {
            return Err(Error::usage("the read chunk size must be at least 1 KiB"));
        }
        Ok(())
    }

    /// The rayon pool for this run.
    pub fn pool(&self) -> Result<Arc<rayon::ThreadPool>> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .thread_name(|i| format!("fmprep-worker-{i}"))
            .build()
            .map(Arc::new)
            .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start worker threads: {e}")))
    }
}

/// The data after stages 1-4: indexed, de-duplicated ratings and their split.
#[derive(Debug)]
pub struct Dataset {
    /// The parsed input (ids, titles, counters).
    pub ratings: Ratings,
    /// Rows left by the long-tail filter.
    pub after_long_tail: u64,
    /// The de-duplicated rows, in input order.
    pub rows: Vec<Rating>,
    /// Customer and product indices.
    pub index: Index,
    /// Row positions of each split.
    pub split: Split,
}

impl Dataset {
    /// Row counts through the stages.
    pub fn counts(&self) -> Counts {
        Counts {
            after_long_tail: Some(self.after_long_tail),
            after_dedupe: self.rows.len() as u64,
            train: self.split.train.len() as u64,
            validate: self.split.validate.len() as u64,
            test: self.split.test.len() as u64,
            ..Counts::default()
        }
        .with_read(&self.ratings.stats)
    }

    /// The samples (index space) of one split's positions.
    pub fn samples(&self, positions: &[u32]) -> Vec<Sample> {
        encode::samples(&self.rows, positions, &self.index)
    }
}

/// Records stage wall times.
#[derive(Debug, Default)]
pub struct Timer {
    start: Option<Instant>,
    stages: BTreeMap<String, f64>,
}

impl Timer {
    /// A timer started now.
    pub fn start() -> Self {
        Timer {
            start: Some(Instant::now()),
            stages: BTreeMap::new(),
        }
    }

    /// Run `f` and add its duration to stage `name`.
    pub fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        *self.stages.entry(name.to_string()).or_default() += t.elapsed().as_secs_f64();
        out
    }

    fn elapsed(&self) -> f64 {
        self.start.map(|s| s.elapsed().as_secs_f64()).unwrap_or_default()
    }
}

/// Stages 1-4: read, long-tail filter, de-duplicate, index, split.
pub fn build_dataset(
    input: Input,
    opts: &Options,
    pool: &Arc<rayon::ThreadPool>,
    timer: &mut Timer,
) -> Result<Dataset> {
    let name = input.name.clone();
    let ratings = timer.stage("read", || reader::read_ratings(input, &opts.read, pool))?;
    crate::interrupt::check()?;
    if ratings.rows.is_empty() {
        return Err(Error::bad_input(format!(
            "{name}: no valid rating rows ({} data lines, {} skipped as malformed); nothing to train on",
            ratings.stats.input_lines,
            ratings.stats.bad_lines.total()
        )));
    }
    let kept = timer.stage("filter", || filter::long_tail(&ratings, &opts.filter));
    let after_long_tail = kept.len() as u64;
    let rows = timer.stage("dedupe", || filter::dedupe(kept));
    if rows.is_empty() {
        return Err(Error::bad_input(format!(
            "{name}: no rows left after the long-tail filter ({} valid rows; none has a customer with >= {} \
             and a product with >= {} ratings); lower --min-customer-ratings / --min-product-ratings",
            ratings.stats.valid, opts.filter.min_customer_ratings, opts.filter.min_product_ratings
        )));
    }
    let index = timer.stage("index", || Index::build(&rows, &ratings));
    let split = timer.stage("split", || split::split(rows.len(), &opts.split, opts.seed));
    Ok(Dataset {
        ratings,
        after_long_tail,
        rows,
        index,
        split,
    })
}

fn write_object(
    store: &dyn Store,
    path: &str,
    records: u64,
    f: impl FnOnce(&mut (dyn std::io::Write + Send)) -> std::io::Result<()>,
) -> Result<FileEntry> {
    crate::interrupt::check()?;
    let mut w = store.create(path)?;
    if let Err(e) = f(&mut w) {
        drop(w);
        crate::interrupt::check()?;
        return Err(Error::io(
            "cannot write",
            format!("{}/{path}", store.describe()),
            e,
        ));
    }
    let bytes = w.commit()?;
    Ok(FileEntry {
        path: path.to_string(),
        records,
        bytes,
    })
}

/// Write the customer and product maps.
pub fn write_maps(store: &dyn Store, ds: &Dataset) -> Result<Vec<FileEntry>> {
    let (idx, r) = (&ds.index, &ds.ratings);
    Ok(vec![
        write_object(store, "maps/customers.tsv", idx.customers.len() as u64, |w| {
            index::write_customer_map(w, idx, r)
        })?,
        write_object(store, "maps/products.tsv", idx.products.len() as u64, |w| {
            index::write_product_map(w, idx, r)
        })?,
    ])
}

/// Stage 6 for one split: `train` and `validate` go to one file each, `test` to files of
/// `test_chunk` records named `test/test_<i>.protobuf` (none when the split is empty).
pub fn write_split(
    store: &dyn Store,
    split_name: &str,
    enc: &Encoded,
    test_chunk: usize,
    pool: &rayon::ThreadPool,
) -> Result<Vec<FileEntry>> {
    let n = enc.labels.len();
    let parts: Vec<(String, std::ops::Range<usize>)> = if split_name == "test" {
        (0..n)
            .step_by(test_chunk.max(1))
            .enumerate()
            .map(|(i, s)| (format!("test/test_{i}.protobuf"), s..(s + test_chunk).min(n)))
            .collect()
    } else {
        vec![(format!("{split_name}/{split_name}.protobuf"), 0..n)]
    };
    parts
        .into_iter()
        .map(|(path, range)| {
            let records = range.len() as u64;
            write_object(store, &path, records, |w| {
                pool.install(|| recordio::write_records(w, enc, range))
                    .map(|_| ())
            })
        })
        .collect()
}

fn split_positions(split: &Split) -> [(&'static str, &[u32]); 3] {
    [
        ("train", &split.train),
        ("validate", &split.validate),
        ("test", &split.test),
    ]
}

fn finish(store: &dyn Store, mut m: Manifest, timer: &mut Timer) -> Result<Manifest> {
    m.stage_seconds = std::mem::take(&mut timer.stages);
    m.elapsed_seconds = timer.elapsed();
    let mut json = serde_json::to_vec_pretty(&m).expect("manifest serialises");
    json.push(b'\n');
    crate::interrupt::check()?;
    store.put(MANIFEST, &json)?;
    Ok(m)
}

fn new_manifest(
    command: &str,
    input: String,
    store: &dyn Store,
    opts: &Options,
    dims: Dims,
    counts: Counts,
    files: BTreeMap<String, Vec<FileEntry>>,
) -> Manifest {
    Manifest {
        fmprep_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command.to_string(),
        input,
        output: store.describe(),
        seed: opts.seed,
        feature_dim: dims.feature_dim(),
        n_customers: dims.n_customers,
        n_products: dims.n_products,
        bad_line_examples: Vec::new(),
        counts,
        files,
        options: serde_json::to_value(opts).expect("options serialise"),
        elapsed_seconds: 0.0,
        stage_seconds: BTreeMap::new(),
        hyperparameters: manifest::hyperparameters(dims.feature_dim()),
    }
}

/// The whole pipeline: read `input`, write RecordIO-protobuf splits, maps and the manifest to
/// `store`.
pub fn run(input: Input, store: &dyn Store, opts: &Options) -> Result<Manifest> {
    opts.validate()?;
    let mut timer = Timer::start();
    let pool = opts.pool()?;
    store.begin(opts.overwrite)?;
    let input_name = input.name.clone();
    let ds = build_dataset(input, opts, &pool, &mut timer)?;
    let dims = ds.index.dims();
    let mut files = BTreeMap::new();
    files.insert(
        "maps".to_string(),
        timer.stage("write", || write_maps(store, &ds))?,
    );
    for (name, positions) in split_positions(&ds.split) {
        let enc = timer.stage("encode", || {
            pool.install(|| encode::encode(&ds.samples(positions), dims))
        })?;
        files.insert(
            name.to_string(),
            timer.stage("write", || write_split(store, name, &enc, opts.test_chunk, &pool))?,
        );
    }
    let mut m = new_manifest("run", input_name, store, opts, dims, ds.counts(), files);
    m.bad_line_examples = ds.ratings.stats.examples.clone();
    finish(store, m, &mut timer)
}

/// Stages 1-4: write the split CSVs (`customer,product,star_rating` in index space), the maps
/// and the manifest to `store`.
pub fn preprocess(input: Input, store: &dyn Store, opts: &Options) -> Result<Manifest> {
    opts.validate()?;
    let mut timer = Timer::start();
    let pool = opts.pool()?;
    store.begin(opts.overwrite)?;
    let input_name = input.name.clone();
    let ds = build_dataset(input, opts, &pool, &mut timer)?;
    let mut files = BTreeMap::new();
    files.insert(
        "maps".to_string(),
        timer.stage("write", || write_maps(store, &ds))?,
    );
    for ((name, positions), (_, path)) in split_positions(&ds.split)
        .into_iter()
        .zip(preprocessed::SPLIT_FILES)
    {
        let samples = ds.samples(positions);
        let entry = timer.stage("write", || {
            write_object(store, path, samples.len() as u64, |w| {
                preprocessed::write_csv(w, &samples).map(|_| ())
            })
        })?;
        files.insert(name.to_string(), vec![entry]);
    }
    let mut m = new_manifest(
        "preprocess",
        input_name,
        store,
        opts,
        ds.index.dims(),
        ds.counts(),
        files,
    );
    m.bad_line_examples = ds.ratings.stats.examples.clone();
    finish(store, m, &mut timer)
}

/// Options of [`prepare`] beyond the shared ones.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrepareOptions {
    /// Field separator of the CSVs.
    pub delimiter: Option<u8>,
    /// Number of customers, when the input has no manifest or maps to tell.
    pub n_customers: Option<u64>,
    /// Number of products, likewise.
    pub n_products: Option<u64>,
}

fn read_to_string(source: &dyn Source, rel: &str) -> Result<Option<String>> {
    let Some(mut r) = source.open(rel)? else {
        return Ok(None);
    };
    let mut s = String::new();
    std::io::Read::read_to_string(&mut r, &mut s)
        .map_err(|e| Error::io("cannot read", format!("{}/{rel}", source.describe()), e))?;
    Ok(Some(s))
}

/// Work out the customer/product counts of a preprocess output: its manifest, else its maps, else
/// the explicit options, else the largest index + 1 in the data. Explicit options must agree with
/// the manifest or maps.
fn resolve_dims(source: &dyn Source, popts: &PrepareOptions, splits: &[Vec<Sample>]) -> Result<Dims> {
    let where_ = source.describe();
    let mut found: Option<(Dims, String)> = None;
    if let Some(text) = read_to_string(source, MANIFEST)? {
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::bad_input(format!("{where_}/{MANIFEST}: not valid JSON ({e})")))?;
        if let (Some(c), Some(p)) = (v["n_customers"].as_u64(), v["n_products"].as_u64()) {
            found = Some((
                Dims {
                    n_customers: c,
                    n_products: p,
                },
                format!("{where_}/{MANIFEST}"),
            ));
        }
    }
    if found.is_none() {
        let lines = |rel| -> Result<Option<u64>> {
            Ok(read_to_string(source, rel)?.map(|t| t.lines().count().saturating_sub(1) as u64))
        };
        if let (Some(c), Some(p)) = (lines("maps/customers.tsv")?, lines("maps/products.tsv")?) {
            found = Some((
                Dims {
                    n_customers: c,
                    n_products: p,
                },
                format!("{where_}/maps"),
            ));
        }
    }
    let explicit = (popts.n_customers, popts.n_products);
    let dims = match (found, explicit) {
        (Some((d, from)), (c, p)) => {
            if c.is_some_and(|c| c != d.n_customers) || p.is_some_and(|p| p != d.n_products) {
                return Err(Error::usage(format!(
                    "--n-customers/--n-products ({}/{}) do not match {from} ({}/{}); drop the flags or fix the input",
                    c.map_or("-".into(), |v| v.to_string()),
                    p.map_or("-".into(), |v| v.to_string()),
                    d.n_customers,
                    d.n_products
                )));
            }
            d
        }
        (None, (c, p)) => {
            let all = || splits.iter().flatten();
            Dims {
                n_customers: c.unwrap_or_else(|| all().map(|s| s.customer as u64 + 1).max().unwrap_or(0)),
                n_products: p.unwrap_or_else(|| all().map(|s| s.product as u64 + 1).max().unwrap_or(0)),
            }
        }
    };
    Ok(dims)
}

/// Stages 5-6 from a preprocess output (or the Python pipeline's CSVs) at `source`.
pub fn prepare(
    source: &dyn Source,
    store: &dyn Store,
    opts: &Options,
    popts: &PrepareOptions,
) -> Result<Manifest> {
    opts.validate()?;
    let mut timer = Timer::start();
    let pool = opts.pool()?;
    store.begin(opts.overwrite)?;
    let delimiter = popts.delimiter.unwrap_or(b',');
    let mut splits = Vec::new();
    for (_, rel) in preprocessed::SPLIT_FILES {
        let name = format!("{}/{rel}", source.describe());
        let r = source.open(rel)?.ok_or_else(|| {
            Error::new(source.missing_kind(), format!("{name}: not found; expected the output of `fmprep preprocess` (train/, validate/, test/ CSVs)"))
        })?;
        splits.push(timer.stage("read", || preprocessed::read_csv(r, delimiter, &name))?);
    }
    let dims = resolve_dims(source, popts, &splits)?;
    if splits.iter().all(|s| s.is_empty()) {
        return Err(Error::bad_input(format!(
            "{}: the split CSVs hold no rows; nothing to train on",
            source.describe()
        )));
    }
    let mut files = BTreeMap::new();
    let names = ["train", "validate", "test"];
    for (name, samples) in names.iter().zip(&splits) {
        let enc = timer
            .stage("encode", || pool.install(|| encode::encode(samples, dims)))
            .map_err(|e| e.context(format!("{}/{name}", source.describe())))?;
        files.insert(
            name.to_string(),
            timer.stage("write", || write_split(store, name, &enc, opts.test_chunk, &pool))?,
        );
    }
    let counts = Counts {
        after_dedupe: splits.iter().map(|s| s.len() as u64).sum(),
        train: splits[0].len() as u64,
        validate: splits[1].len() as u64,
        test: splits[2].len() as u64,
        ..Counts::default()
    };
    let m = new_manifest("prepare", source.describe(), store, opts, dims, counts, files);
    finish(store, m, &mut timer)
}
