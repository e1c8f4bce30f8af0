//! The commands as library calls: [`run`] (everything in one process), [`preprocess`] (stages
//! 1-4, writing the Python pipeline's CSVs) and [`prepare`] (stages 5-6 from those CSVs).
//!
//! Data flows one way: input → [`source`](crate::source) → [`filter`] → [`index`] → [`split`] →
//! [`encode`] → [`recordio`](crate::format::recordio) → [`write`](crate::format::write) → [`store`](crate::store),
//! then the manifest last.

use std::collections::BTreeMap;

use rayon::prelude::*;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::features::{gather, FeatureOptions};
use crate::format::manifest::{self, Counts, FileEntry, Manifest};
use crate::format::preprocessed;
pub use crate::format::preprocessed::read::PrepareOptions;
use crate::format::preprocessed::read::{declared_dims, predictor_type_of, read_bytes, read_table};
use crate::format::shards;
use crate::format::write::{write_object, write_split};
use crate::model::{Rating, Ratings};
use crate::outputs::lifecycle::{self, Replaced};
use crate::progress::Progress;
pub use crate::source::RatingsSource;
use crate::source::ReadOptions;
use crate::stages::encode::{self, Encoded, Sample};
use crate::stages::filter::{self, FilterOptions};
use crate::stages::index::{self, Dims, Index};
use crate::stages::kcore;
use crate::stages::label::LabelOptions;
use crate::stages::split::{self, Shuffle, Split, SplitFractions, SplitMode, SplitOptions, DEFAULT_SEED};
use crate::store::{Source, Store, MANIFEST};
pub use crate::timer::Timer;

/// Largest accepted `--max-line-bytes`.
pub const MAX_LINE_LIMIT: usize = 1 << 30;
/// Largest accepted `--threads`.
pub const MAX_THREADS: usize = 1024;

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
    /// How rows are assigned to the splits.
    pub split_mode: SplitMode,
    /// holdout-last: also hold out each customer's next latest row for validation.
    pub holdout_validate: bool,
    /// The generator of the shuffles (fmprep's, or numpy's for the migration check).
    pub shuffle: Shuffle,
    /// What the record labels are.
    pub label: LabelOptions,
    /// Repeat the long-tail rule (on de-duplicated rows) until nothing changes.
    pub k_core: bool,
    /// Write the training split as this many `train/train_<i>.protobuf` shards, plus a SageMaker
    /// manifest file per split; `None` writes the single `train/train.protobuf`.
    pub train_shards: Option<usize>,
    /// Format of the split tables `preprocess` writes.
    pub tables: TableFormat,
    /// Side features: categorical and numeric columns, side tables (none by default).
    #[serde(skip_serializing_if = "FeatureOptions::is_empty")]
    pub features: FeatureOptions,
    /// How side tables on S3 are reached.
    #[serde(skip)]
    pub side_s3: crate::store::S3Options,
    /// Counters to report progress into (e.g. [`RatingsSource::progress`]).
    #[serde(skip)]
    pub progress: Option<Arc<Progress>>,
    /// The input's objects, recorded in the manifest for reuse (see `outputs::input_objects`).
    #[serde(skip)]
    pub input_objects: Vec<manifest::InputObject>,
    /// The run stops with [`ErrorKind::Interrupted`] (no manifest, nothing staged left) soon after
    /// this token is set; the run's readers poll it too (it replaces `read.cancel`). The input
    /// and the store poll the token of the `S3Options` they were opened with, so give them the
    /// same one ([`Options::with_cancel`] sets it for the side tables).
    #[serde(skip)]
    pub cancel: crate::cancel::Cancel,
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
            split_mode: SplitMode::Random,
            holdout_validate: false,
            shuffle: Shuffle::Fmprep,
            label: LabelOptions::default(),
            k_core: false,
            train_shards: None,
            tables: TableFormat::Csv,
            features: FeatureOptions::default(),
            side_s3: crate::store::S3Options::default(),
            progress: None,
            input_objects: Vec::new(),
            cancel: crate::cancel::Cancel::default(),
        }
    }
}

impl Options {
    /// These options with `cancel` as the token of the run, its readers and its side tables' S3
    /// reads. (The input and the store take theirs from the `S3Options` they are opened with.)
    pub fn with_cancel(mut self, cancel: &crate::cancel::Cancel) -> Self {
        self.cancel = cancel.clone();
        self.side_s3.cancel = cancel.clone();
        self
    }

    /// Check option values that the types do not rule out.
    pub fn validate(&self) -> Result<()> {
        self.split.validate()?;
        if self.test_chunk == 0 {
            return Err(Error::usage("--test-chunk must be at least 1"));
        }
        if self.read.chunk_bytes < 1024 {
            return Err(Error::usage("the read chunk size must be at least 1 KiB"));
        }
        // Spans within a chunk are 32-bit, and a chunk may hold about two lines of this length.
        if self.read.max_line_bytes > MAX_LINE_LIMIT {
            return Err(Error::usage(format!(
                "--max-line-bytes {} is over the largest supported value {MAX_LINE_LIMIT} (1 GiB)",
                self.read.max_line_bytes
            )));
        }
        // Threads are created up front: a typo like 10000 must not start ten thousand of them.
        if self.threads > MAX_THREADS {
            return Err(Error::usage(format!(
                "--threads {} is over {MAX_THREADS}; use 0 for one per core",
                self.threads
            )));
        }
        if self.train_shards == Some(0) {
            return Err(Error::usage("--train-shards must be at least 1"));
        }
        if self.shuffle == Shuffle::Numpy {
            crate::stages::split::numpy::Mt19937::from_seed(self.seed)?;
        }
        if self.shuffle == Shuffle::Hash && self.split_mode == SplitMode::ByCustomer {
            return Err(crate::stages::split::hash::unsupported_mode());
        }
        self.features.validate()?;
        self.label.validate()
    }

    /// The split settings.
    pub fn split_options(&self) -> SplitOptions {
        SplitOptions {
            mode: self.split_mode,
            fractions: self.split,
            shuffle: self.shuffle,
            seed: self.seed,
            holdout_validate: self.holdout_validate,
        }
    }

    fn set_stage(&self, name: &str) {
        if let Some(p) = &self.progress {
            p.set_stage(name);
        }
    }

    fn add_records_total(&self, n: u64) {
        if let Some(p) = &self.progress {
            Progress::add(&p.records_total, n);
        }
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

/// Format of the split tables written by `preprocess` (and read by `prepare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// `train/train.csv` etc.: the Python pipeline's CSVs.
    #[default]
    Csv,
    /// `train/train.parquet` etc. (columns `customer`, `product`, `star_rating`).
    Parquet,
}

impl std::str::FromStr for TableFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "csv" => Ok(TableFormat::Csv),
            "parquet" if cfg!(feature = "parquet") => Ok(TableFormat::Parquet),
            "parquet" => Err("this build has no Parquet support (cargo feature `parquet`)".to_string()),
            _ => Err(format!("invalid table format {s:?}: use csv or parquet")),
        }
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
    /// How labels are made.
    pub label: LabelOptions,
    /// Passes of the k-core filter, when it ran.
    pub k_core_iterations: Option<u32>,
    /// The side-feature blocks, with `--categorical`/`--numeric`.
    pub features: Option<gather::Features>,
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
        encode::samples_labeled(&self.rows, positions, &self.index, &self.label)
    }

    /// Width of the feature vectors, side blocks included.
    pub fn feature_dim(&self) -> u64 {
        match &self.features {
            Some(f) => f.fitted.feature_dim(),
            None => self.index.dims().feature_dim(),
        }
    }

    /// The CSR features and labels of one split's positions, side blocks included.
    pub fn encode(&self, positions: &[u32]) -> Result<Encoded> {
        let samples = self.samples(positions);
        match &self.features {
            None => encode::encode(&samples, self.index.dims()),
            Some(f) => f.fitted.encode(&samples, positions, self.index.dims()),
        }
    }
}

/// Stages 1-4: read, long-tail filter, de-duplicate, index, split.
pub fn build_dataset(
    input: impl Into<RatingsSource>,
    opts: &Options,
    pool: &Arc<rayon::ThreadPool>,
    timer: &mut Timer,
) -> Result<Dataset> {
    let input = input.into();
    let name = input.name();
    let mut read = opts.read.clone();
    // The run's token stops the readers too, whatever `opts.read` carried.
    read.cancel = opts.cancel.clone();
    read.read_times |= opts.split_mode == SplitMode::HoldoutLast;
    read.extra_columns = opts.features.input_columns();
    // Side tables first: a wrong table fails before the long read.
    let tables = timer.stage("side", || {
        gather::load_tables(
            &opts.features,
            &read.columns.customer,
            &read.columns.product,
            &opts.side_s3,
        )
    })?;
    opts.set_stage("read");
    let ratings = timer.stage("read", || input.read(&read, pool, opts.progress.as_deref()))?;
    opts.cancel.check()?;
    let stats = &ratings.stats;
    if stats.input_lines == stats.blank_lines {
        return Err(Error::bad_input(format!(
            "{name}: the header is followed by no review rows; is the file complete?"
        )));
    }
    if ratings.rows.is_empty() {
        let first = stats
            .examples
            .first()
            .map(|b| format!("; first: {b}"))
            .unwrap_or_default();
        return Err(Error::bad_input(format!(
            "{name}: no valid rating rows ({} data lines, {} skipped as malformed{first}); nothing to \
             train on, check the file and --delimiter",
            stats.input_lines,
            stats.bad_lines.total()
        )));
    }
    opts.set_stage("filter");
    let (rows, after_long_tail, k_core_iterations) = if opts.k_core {
        let k = timer.stage("filter", || kcore::k_core(&ratings, &opts.filter));
        (k.rows, k.after_long_tail, Some(k.iterations))
    } else {
        let kept = timer.stage("filter", || filter::long_tail(&ratings, &opts.filter));
        let after_long_tail = kept.len() as u64;
        opts.cancel.check()?;
        (
            timer.stage("dedupe", || filter::dedupe(kept)),
            after_long_tail,
            None,
        )
    };
    opts.cancel.check()?;
    if rows.is_empty() {
        return Err(Error::bad_input(format!(
            "{name}: no rows left after the long-tail filter ({} valid rows; none has a customer with >= {} \
             and a product with >= {} ratings); lower --min-customer-ratings / --min-product-ratings",
            ratings.stats.valid, opts.filter.min_customer_ratings, opts.filter.min_product_ratings
        )));
    }
    let index = timer.stage("index", || Index::build(&rows, &ratings));
    opts.cancel.check()?;
    let split = timer.stage("split", || {
        let times = (!ratings.times.is_empty()).then(|| split::times_of(&rows, &ratings));
        split::split_rows(
            &rows,
            &ratings,
            times.as_deref(),
            &index.customers.index_of,
            &opts.split_options(),
        )
    })?;
    let features = timer.stage("features", || {
        gather::build(
            &opts.features,
            &ratings,
            tables,
            &rows,
            &split.train,
            index.dims(),
        )
    })?;
    Ok(Dataset {
        ratings,
        after_long_tail,
        rows,
        index,
        split,
        label: opts.label,
        k_core_iterations,
        features,
    })
}

/// Write the customer and product maps.
/// Stops before each file once `cancel` is set.
pub fn write_maps(store: &dyn Store, ds: &Dataset, cancel: &crate::cancel::Cancel) -> Result<Vec<FileEntry>> {
    let (idx, r) = (&ds.index, &ds.ratings);
    let mut files = vec![
        write_object(
            store,
            cancel,
            crate::format::names::CUSTOMER_MAP,
            idx.customers.len() as u64,
            |w| index::write_customer_map(w, idx, r),
        )?,
        write_object(
            store,
            cancel,
            crate::format::names::PRODUCT_MAP,
            idx.products.len() as u64,
            |w| index::write_product_map(w, idx, r),
        )?,
    ];
    if let Some(f) = &ds.features {
        for m in f.fitted.category_maps(&f.layout) {
            files.push(write_object(store, cancel, &m.path, m.index.size(), |w| {
                m.index.write_map(w)
            })?);
        }
    }
    Ok(files)
}

/// [`write_split`], or the training shards when `opts.train_shards` asks for them.
fn write_split_opts(
    store: &dyn Store,
    split_name: &str,
    enc: &Encoded,
    opts: &Options,
    pool: &rayon::ThreadPool,
) -> Result<Vec<FileEntry>> {
    match (split_name, opts.train_shards) {
        ("train", Some(n)) => {
            shards::write_train(store, enc, n, pool, opts.progress.as_deref(), &opts.cancel)
        }
        _ => write_split(
            store,
            split_name,
            enc,
            opts.test_chunk,
            pool,
            opts.progress.as_deref(),
            &opts.cancel,
        ),
    }
}

/// With `--train-shards`, the SageMaker manifest files of the splits, as a `manifests` group.
fn add_manifests(
    store: &dyn Store,
    opts: &Options,
    files: &mut BTreeMap<String, Vec<FileEntry>>,
) -> Result<()> {
    if opts.train_shards.is_some() {
        let entries = shards::write_manifests(store, &opts.cancel, files)?;
        files.insert("manifests".to_string(), entries);
    }
    Ok(())
}

/// The files of each group, or the first error in group order.
fn collect_groups(groups: Vec<(String, Result<Vec<FileEntry>>)>) -> Result<BTreeMap<String, Vec<FileEntry>>> {
    groups
        .into_iter()
        .map(|(name, files)| files.map(|f| (name, f)))
        .collect()
}

fn split_positions(split: &Split) -> [(&'static str, &[u32]); 3] {
    [
        ("train", &split.train),
        ("validate", &split.validate),
        ("test", &split.test),
    ]
}

fn finish(
    store: &dyn Store,
    mut m: Manifest,
    timer: &mut Timer,
    opts: &Options,
    r: &Replaced,
) -> Result<Manifest> {
    opts.set_stage("done");
    m.stage_seconds = timer.take_stages();
    m.elapsed_seconds = timer.elapsed();
    let json = m.to_json();
    opts.cancel.check()?;
    lifecycle::commit(store, &json, r, opts.progress.as_deref())?;
    Ok(m)
}

/// The side-feature facts of `ds` in `m`: blocks, side tables and the full feature_dim.
fn add_features(m: &mut Manifest, ds: &Dataset, opts: &Options) {
    if let Some(f) = &ds.features {
        m.feature_dim = ds.feature_dim();
        m.hyperparameters = manifest::hyperparameters_for(m.feature_dim, opts.label.predictor_type());
        m.blocks = f.layout.blocks.clone();
        m.side_tables = f.side_tables.clone();
    }
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
        input_objects: opts.input_objects.clone(),
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
        hyperparameters: manifest::hyperparameters_for(dims.feature_dim(), opts.label.predictor_type()),
        k_core_iterations: None,
        blocks: Vec::new(),
        side_tables: BTreeMap::new(),
    }
}

/// What a pipeline run writes for each split: the one thing `run` and `preprocess` differ in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// RecordIO-protobuf files (`run`): the training data itself.
    RecordIo,
    /// The split tables in index space (`preprocess`), for `prepare` or the Python pipeline.
    Tables,
}

impl Sink {
    /// The command that writes this sink, as the manifest names it.
    pub fn command(self) -> &'static str {
        match self {
            Sink::RecordIo => "run",
            Sink::Tables => "preprocess",
        }
    }
}

/// The whole pipeline: read `input`, write RecordIO-protobuf splits, maps and the manifest to
/// `store`.
pub fn run(input: impl Into<RatingsSource>, store: &dyn Store, opts: &Options) -> Result<Manifest> {
    run_to(Sink::RecordIo, input.into(), store, opts)
}

/// Stages 1-4: write the split CSVs (`customer,product,star_rating` in index space), the maps
/// and the manifest to `store`.
pub fn preprocess(input: impl Into<RatingsSource>, store: &dyn Store, opts: &Options) -> Result<Manifest> {
    run_to(Sink::Tables, input.into(), store, opts)
}

/// The pipeline skeleton `run` and `preprocess` share: check the options, prepare the location,
/// build the dataset, write the maps and the splits into `sink` concurrently, then the manifest.
pub fn run_to(sink: Sink, input: RatingsSource, store: &dyn Store, opts: &Options) -> Result<Manifest> {
    opts.validate()?;
    let mut timer = Timer::start();
    let pool = opts.pool()?;
    let replaced = lifecycle::begin(store, opts.overwrite)?;
    let input_name = input.name();
    let ds = build_dataset(input, opts, &pool, &mut timer)?;
    opts.set_stage("write");
    if sink == Sink::RecordIo {
        opts.add_records_total(ds.rows.len() as u64);
    }
    // The maps and the three splits are independent: write them concurrently (each split's
    // records are also encoded in parallel), so file I/O overlaps with encoding.
    let groups = timer.stage("write", || {
        pool.install(|| {
            ["maps", "train", "validate", "test"]
                .into_par_iter()
                .map(|group| {
                    let files = match split_positions(&ds.split).iter().find(|(n, _)| *n == group) {
                        None => write_maps(store, &ds, &opts.cancel),
                        Some((name, positions)) => match sink {
                            Sink::RecordIo => ds
                                .encode(positions)
                                .and_then(|enc| write_split_opts(store, name, &enc, opts, &pool)),
                            Sink::Tables => {
                                write_split_table(store, &ds, name, positions, opts).map(|e| vec![e])
                            }
                        },
                    };
                    (group.to_string(), files)
                })
                .collect::<Vec<_>>()
        })
    });
    let mut files = collect_groups(groups)?;
    if sink == Sink::RecordIo {
        timer.stage("write", || add_manifests(store, opts, &mut files))?;
    }
    let mut m = new_manifest(
        sink.command(),
        input_name,
        store,
        opts,
        ds.index.dims(),
        ds.counts(),
        files,
    );
    add_features(&mut m, &ds, opts);
    m.bad_line_examples = ds.ratings.stats.examples.clone();
    m.k_core_iterations = ds.k_core_iterations;
    finish(store, m, &mut timer, opts, &replaced)
}

/// The table of split `name` (rows `positions` of `ds`) for `preprocess`: CSV or Parquet, with
/// the side columns when the run has side features.
fn write_split_table(
    store: &dyn Store,
    ds: &Dataset,
    name: &str,
    positions: &[u32],
    opts: &Options,
) -> Result<FileEntry> {
    let samples = ds.samples(positions);
    let pq = opts.tables == TableFormat::Parquet;
    let path = crate::format::names::split_table(name, false);
    match &ds.features {
        None => write_table(store, &opts.cancel, &path, &samples, opts.tables),
        Some(f) => {
            let side = crate::features::tables::SideRows::of(&f.fitted, positions);
            let path = crate::features::tables::table_path(&path, pq);
            write_object(store, &opts.cancel, &path, samples.len() as u64, |w| {
                crate::features::tables::write(w, &samples, &side, &f.layout, pq)
            })
        }
    }
}

/// Write one split table at `csv_path` (`train/train.csv`), or next to it as `.parquet`.
fn write_table(
    store: &dyn Store,
    cancel: &crate::cancel::Cancel,
    csv_path: &str,
    samples: &[Sample],
    format: TableFormat,
) -> Result<FileEntry> {
    let n = samples.len() as u64;
    match format {
        TableFormat::Csv => write_object(store, cancel, csv_path, n, |w| {
            preprocessed::write_csv(w, samples).map(|_| ())
        }),
        #[cfg(feature = "parquet")]
        TableFormat::Parquet => {
            let path = csv_path.replace(".csv", ".parquet");
            write_object(store, cancel, &path, n, |w| {
                crate::format::preprocessed::parquet::write_samples(w, samples).map(|_| ())
            })
        }
        #[cfg(not(feature = "parquet"))]
        TableFormat::Parquet => Err(Error::usage("this build has no Parquet support")),
    }
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
    let replaced = lifecycle::begin(store, opts.overwrite)?;
    let delimiter = popts.delimiter.unwrap_or(b',');
    let (n_customers, n_products, declared_by) = declared_dims(source, popts)?;
    let bounds = (n_customers.is_some() || n_products.is_some()).then(|| {
        let dims = Dims {
            n_customers: n_customers.unwrap_or(u64::MAX),
            n_products: n_products.unwrap_or(u64::MAX),
        };
        (dims, declared_by.as_str())
    });
    // Side features: the preprocess manifest lists the blocks, the tables hold their columns.
    let layout = match read_bytes(source, MANIFEST)? {
        Some(b) => {
            crate::features::maps::layout_of_manifest(&b, &format!("{}/{MANIFEST}", source.describe()))?
        }
        None => None,
    };
    let mut splits = Vec::new();
    let mut sides = Vec::new();
    for (_, rel) in preprocessed::SPLIT_FILES {
        let Some(layout) = &layout else {
            splits.push(timer.stage("read", || {
                read_table(source, rel, delimiter, bounds, &opts.cancel)
            })?);
            continue;
        };
        let (samples, side) = timer.stage("read", || {
            crate::features::tables::read_split(source, rel, delimiter, layout, bounds, &opts.cancel)
        })?;
        splits.push(samples);
        sides.push(side);
    }
    let all = || splits.iter().flatten();
    let dims = Dims {
        n_customers: n_customers.unwrap_or_else(|| all().map(|s| s.customer as u64 + 1).max().unwrap_or(0)),
        n_products: n_products.unwrap_or_else(|| all().map(|s| s.product as u64 + 1).max().unwrap_or(0)),
    };
    opts.set_stage("write");
    opts.add_records_total(splits.iter().map(|s| s.len() as u64).sum());
    if splits.iter().all(|s| s.is_empty()) {
        return Err(Error::bad_input(format!(
            "{}: the split CSVs hold no rows; nothing to train on",
            source.describe()
        )));
    }
    let groups = timer.stage("write", || {
        pool.install(|| {
            crate::format::names::SPLITS
                .into_par_iter()
                .zip(splits.par_iter())
                .enumerate()
                .map(|(i, (name, samples))| {
                    let enc = match &layout {
                        None => encode::encode(samples, dims),
                        Some(l) => crate::features::tables::encode(samples, &sides[i], dims, l.feature_dim()),
                    };
                    let files = enc
                        .map_err(|e| e.context(format!("{}/{name}", source.describe())))
                        .and_then(|enc| write_split_opts(store, name, &enc, opts, &pool));
                    (name.to_string(), files)
                })
                .collect::<Vec<_>>()
        })
    });
    let mut files = collect_groups(groups)?;
    timer.stage("write", || add_manifests(store, opts, &mut files))?;
    let counts = Counts {
        after_dedupe: splits.iter().map(|s| s.len() as u64).sum(),
        train: splits[0].len() as u64,
        validate: splits[1].len() as u64,
        test: splits[2].len() as u64,
        ..Counts::default()
    };
    let mut m = new_manifest("prepare", source.describe(), store, opts, dims, counts, files);
    if let Some(l) = layout {
        m.feature_dim = l.feature_dim();
        m.hyperparameters = manifest::hyperparameters_for(m.feature_dim, opts.label.predictor_type());
        m.blocks = l.blocks;
    }
    if let Some(pt) = predictor_type_of(source)? {
        // Labels come from the CSVs: keep what preprocess said they are (e.g. binary).
        m.hyperparameters.insert("predictor_type".to_string(), pt);
    }
    finish(store, m, &mut timer, opts, &replaced)
}

/// Invariants of stages 2-5 (filter, de-duplicate, index, split, encode) on arbitrary small rating
/// sets, checked against direct definitions.
#[cfg(test)]
mod props {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use crate::model::{Rating, Ratings};
    use crate::stages::encode::{self, Sample};
    use crate::stages::filter::{self, FilterOptions};
    use crate::stages::index::{Index, Numbering, NO_INDEX};
    use crate::stages::split::{self, SplitFractions};

    /// Up to 80 ratings over 8 customers and 6 products, so that ids repeat and thresholds bite.
    fn triples() -> impl Strategy<Value = Vec<(String, String, u8)>> {
        prop::collection::vec((0u8..8, 0u8..6, 1u8..=5), 0..80).prop_map(|v| {
            v.into_iter()
                .map(|(c, p, s)| (format!("c{c}"), format!("p{p}"), s))
                .collect()
        })
    }

    fn fractions() -> impl Strategy<Value = SplitFractions> {
        (0.0f64..=1.0, 0.0f64..=1.0).prop_map(|(a, b)| {
            let validate = b * (1.0 - a);
            SplitFractions {
                train: a,
                validate,
                test: 1.0 - a - validate,
            }
        })
    }

    /// A numbering must be a permutation of the codes present in `rows`, by descending count,
    /// ties by first appearance in `rows`, with the counts of `rows`.
    fn check_numbering(
        n: &Numbering,
        rows: &[Rating],
        code: impl Fn(Rating) -> u32,
    ) -> Result<(), TestCaseError> {
        let mut first = Vec::new();
        let mut count: HashMap<u32, u32> = HashMap::new();
        for &r in rows {
            let c = code(r);
            if !count.contains_key(&c) {
                first.push(c);
            }
            *count.entry(c).or_default() += 1;
        }
        prop_assert_eq!(n.len(), first.len());
        let mut indices: Vec<u32> = first.iter().map(|&c| n.index_of[c as usize]).collect();
        indices.sort_unstable();
        prop_assert_eq!(indices, (0..first.len() as u32).collect::<Vec<_>>());
        for (c, &i) in n.index_of.iter().enumerate() {
            if count.contains_key(&(c as u32)) {
                prop_assert_eq!(n.code_of[i as usize], c as u32);
            } else {
                prop_assert_eq!(i, NO_INDEX);
            }
        }
        for (i, &c) in n.code_of.iter().enumerate() {
            prop_assert_eq!(n.count_of[i], count[&c]);
        }
        let appearance = |c: u32| first.iter().position(|&x| x == c).unwrap();
        for w in n.code_of.windows(2) {
            let (a, b) = (w[0], w[1]);
            prop_assert!(
                count[&a] > count[&b] || (count[&a] == count[&b] && appearance(a) < appearance(b)),
                "order of codes {} and {}",
                a,
                b
            );
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn filter_dedupe_index_split_encode(
            triples in triples(),
            min_c in 0u32..5,
            min_p in 0u32..6,
            fractions in fractions(),
            seed in any::<u64>(),
        ) {
            let ratings = Ratings::from_triples(triples.iter().map(|(c, p, s)| (c.as_str(), p.as_str(), *s)));
            prop_assert_eq!(ratings.rows.len(), triples.len());
            let opts = FilterOptions { min_customer_ratings: min_c, min_product_ratings: min_p };

            // Long tail: exactly the raw rows whose customer and product reach the thresholds,
            // counted once on all raw rows, in input order.
            let mut raw_c: HashMap<&str, u32> = HashMap::new();
            let mut raw_p: HashMap<&str, u32> = HashMap::new();
            for (c, p, _) in &triples {
                *raw_c.entry(c).or_default() += 1;
                *raw_p.entry(p).or_default() += 1;
            }
            let kept = filter::long_tail(&ratings, &opts);
            let want: Vec<Rating> = ratings
                .rows
                .iter()
                .zip(&triples)
                .filter(|(_, (c, p, _))| raw_c[c.as_str()] >= min_c && raw_p[p.as_str()] >= min_p)
                .map(|(r, _)| *r)
                .collect();
            prop_assert_eq!(&kept, &want);

            // De-duplication: no pair twice, the first occurrence kept, order unchanged.
            let deduped = filter::dedupe(kept.clone());
            let mut seen = HashSet::new();
            let want: Vec<Rating> = kept.iter().copied().filter(|r| seen.insert(r.pair())).collect();
            prop_assert_eq!(&deduped, &want);

            // Indices.
            let index = Index::build(&deduped, &ratings);
            check_numbering(&index.customers, &deduped, Rating::customer)?;
            check_numbering(&index.products, &deduped, Rating::product)?;
            let dims = index.dims();

            // Split: exact sizes, a partition of the rows.
            let n = deduped.len();
            let s = split::split(n, &fractions, seed);
            let a = ((fractions.train * n as f64).floor() as usize).min(n);
            let b = (((fractions.train + fractions.validate) * n as f64).floor() as usize).clamp(a, n);
            prop_assert_eq!((s.train.len(), s.validate.len(), s.test.len()), (a, b - a, n - b));
            let mut all: Vec<u32> = s.train.iter().chain(&s.validate).chain(&s.test).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..n as u32).collect::<Vec<_>>());

            // CSR: two ones per row, at the customer and at n_customers + product.
            for positions in [&s.train, &s.validate, &s.test] {
                let samples: Vec<Sample> = encode::samples(&deduped, positions, &index);
                let enc = encode::encode(&samples, dims).unwrap();
                prop_assert_eq!(enc.features.shape(), (positions.len(), dims.feature_dim() as usize));
                for (row, &pos) in enc.features.outer_iterator().zip(positions.iter()) {
                    let r = deduped[pos as usize];
                    let c = index.customers.index_of[r.customer() as usize] as usize;
                    let p = index.products.index_of[r.product() as usize] as usize;
                    let entries: Vec<(usize, f32)> = row.iter().map(|(col, &v)| (col, v)).collect();
                    prop_assert_eq!(entries, vec![(c, 1.0), (dims.n_customers as usize + p, 1.0)]);
                }
                let labels: Vec<f32> = positions.iter().map(|&p| deduped[p as usize].stars() as f32).collect();
                prop_assert_eq!(enc.labels, labels);
            }
        }

        /// Split sizes for any n with the default fractions: Python's int(.6 * n), int(.8 * n).
        #[test]
        fn split_sizes_for_any_n(n in 0usize..3_000_000, seed in any::<u64>()) {
            let (a, b) = SplitFractions::default().cuts(n);
            prop_assert_eq!((a, b), ((0.6 * n as f64) as usize, (0.8 * n as f64) as usize));
            if n <= 20_000 {
                let s = split::split(n, &SplitFractions::default(), seed);
                prop_assert_eq!((s.train.len(), s.validate.len(), s.test.len()), (a, b - a, n - b));
            }
        }
    }
}
