//! Parquet input (cargo feature `parquet`, on by default): a `.parquet` file or a dataset of them
//! (partitioned like `product_category=Video/part-0.snappy.parquet`), on local disk or under an
//! `s3://` prefix. Files are read in path order (component by component, the same order locally
//! and on S3), so the row order and therefore every index is deterministic. Only the needed
//! columns are decoded; the rows go through [`BatchRatings`], so the rules, counters and messages
//! are those of every other reader.
//!
//! An S3 object is fetched whole (concurrent ranged GETs, see [`crate::store::s3`]) into memory,
//! one file at a time, then decoded as a local file is.

use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::{ChunkReader, Length};

use super::arrow::{self as batches, BatchRatings};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::model::Ratings;
use crate::source::ReadOptions;
use crate::store::S3Options;

/// One file of a Parquet input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParquetFile {
    /// A local file.
    Local(PathBuf),
    /// An S3 object, as `s3://bucket/key`.
    S3(String),
}

impl ParquetFile {
    /// How the file is named in messages.
    pub fn name(&self) -> String {
        match self {
            ParquetFile::Local(p) => p.display().to_string(),
            ParquetFile::S3(u) => u.clone(),
        }
    }

    /// The last path component, as examples of skipped rows name the file.
    fn file_name(&self) -> String {
        match self {
            ParquetFile::Local(p) => p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            ParquetFile::S3(u) => u.rsplit('/').next().unwrap_or_default().to_string(),
        }
    }
}

/// A Parquet input: its files, in reading order.
#[derive(Debug, Clone)]
pub struct ParquetInput {
    /// The input as given (file, directory or `s3://` prefix), for messages and the manifest.
    pub name: String,
    /// The files, in reading order.
    pub files: Vec<ParquetFile>,
    s3: S3Options,
}

/// Whether a name is a data file of a dataset: `*.parquet`, not hidden or `_`-prefixed (such as
/// `_SUCCESS`), in no hidden or `_`-prefixed directory.
fn is_data_file(rel: &str) -> bool {
    rel.ends_with(".parquet") && !rel.split('/').any(|c| c.starts_with('.') || c.starts_with('_'))
}

/// Whether the local `path` holds Parquet input: a `.parquet` file, a file starting with the
/// `PAR1` magic, or a directory with `.parquet` files below it.
pub fn is_parquet_path(path: &Path) -> bool {
    if path.is_dir() {
        return list_files(path).map(|f| !f.is_empty()).unwrap_or(false);
    }
    if path.extension().is_some_and(|e| e == "parquet") {
        return true;
    }
    // Only a regular file may be sniffed by reading: the bytes read from a named pipe or a
    // device are gone, and the text reader would then miss the gzip magic.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|_| &magic == b"PAR1")
        .unwrap_or(false)
}

/// The Parquet files of `path`: itself, or every data file below it, sorted by path.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("cannot list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The data files under an S3 prefix (keys relative to it), in the order [`list_files`] gives
/// the same tree on disk: component by component.
#[cfg(feature = "s3")]
fn list_s3(prefix: &crate::location::S3Url, s3: &S3Options) -> Result<Vec<String>> {
    let client = crate::store::s3::S3Client::shared(s3)?;
    let source = crate::store::s3::S3Source::new(client, &prefix.to_string())?;
    let mut rels: Vec<String> = source.list()?.into_iter().filter(|k| is_data_file(k)).collect();
    rels.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    Ok(rels.into_iter().map(|r| prefix.join(&r).to_string()).collect())
}

impl ParquetInput {
    /// The Parquet input at `location`, or `None` when it holds none: a local `.parquet` file (or
    /// one with the `PAR1` magic), a local directory with `.parquet` files below it, an `s3://`
    /// object whose key ends in `.parquet`, or an `s3://` prefix with `.parquet` objects under it.
    pub fn find(location: &Location, s3: &S3Options) -> Result<Option<ParquetInput>> {
        let files = match location {
            Location::Stdin => return Ok(None),
            Location::Local(p) if !is_parquet_path(p) => return Ok(None),
            Location::Local(p) => list_files(p)?.into_iter().map(ParquetFile::Local).collect(),
            Location::S3(u) if u.key.ends_with(".parquet") => vec![ParquetFile::S3(u.to_string())],
            #[cfg(feature = "s3")]
            Location::S3(u) => {
                let files = list_s3(u, s3)?;
                if files.is_empty() {
                    return Ok(None);
                }
                files.into_iter().map(ParquetFile::S3).collect()
            }
            #[cfg(not(feature = "s3"))]
            Location::S3(_) => return Ok(None),
        };
        Ok(Some(ParquetInput {
            name: location.to_string(),
            files,
            s3: s3.clone(),
        }))
    }

    /// The Parquet input at the local `path` (a file or a directory), whatever its name.
    pub fn local(path: &Path) -> Result<ParquetInput> {
        Ok(ParquetInput {
            name: path.display().to_string(),
            files: list_files(path)?.into_iter().map(ParquetFile::Local).collect(),
            s3: S3Options::default(),
        })
    }

    /// The same input under another name (as given by the user).
    pub fn named(mut self, name: String) -> Self {
        self.name = name;
        self
    }

    fn require_files(&self) -> Result<()> {
        if self.files.is_empty() {
            return Err(Error::bad_input(format!("{}: no .parquet files", self.name)));
        }
        Ok(())
    }

    /// Check that every file has the required columns; returns the column names of the first
    /// (for `--dry-run`). Reads only the footers of local files.
    pub fn check_columns(&self, opts: &ReadOptions) -> Result<Vec<String>> {
        self.require_files()?;
        let mut first = None;
        for f in &self.files {
            let names = with_builder(f, &self.s3, |_, names| Ok(names.to_vec()))?;
            batches::check_columns(&names, opts, &f.name())?;
            first.get_or_insert(names);
        }
        Ok(first.unwrap_or_default())
    }

    /// Read the ratings of every file, in order, into one [`Ratings`].
    /// Hand every row of `columns` to `row` as text ([`batches::text_rows`]), in file then row
    /// order: for side tables.
    pub fn read_text_columns(
        &self,
        columns: &[&str],
        mut row: impl FnMut(&[Option<&[u8]>]) -> Result<()>,
    ) -> Result<()> {
        self.require_files()?;
        for f in &self.files {
            self.s3.cancel.check()?;
            with_builder(f, &self.s3, |builder, names| {
                let mut roots = Vec::new();
                for c in columns {
                    match names.iter().position(|n| n == c) {
                        Some(i) => roots.push(i),
                        None => {
                            return Err(Error::bad_input(format!(
                                "{}: no column {c} (columns: {})",
                                f.name(),
                                names.join(", ")
                            )))
                        }
                    }
                }
                let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(64 << 10)
                    .build()
                    .map_err(|e| parquet_error(f, e))?;
                for batch in reader {
                    let batch = batch.map_err(|e| parquet_error(f, e))?;
                    batches::text_rows(&batch, columns, &f.name(), &mut row)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Parse the ratings of every file with `opts`.
    pub fn read(&self, opts: &ReadOptions) -> Result<Ratings> {
        self.require_files()?;
        let mut r = BatchRatings::new(&self.name, opts);
        for f in &self.files {
            opts.cancel.check()?;
            let part = f.file_name();
            with_builder(f, &self.s3, |builder, names| {
                batches::check_columns(names, opts, &f.name())?;
                let mask = ProjectionMask::roots(builder.parquet_schema(), batches::projection(names, opts));
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(64 << 10)
                    .build()
                    .map_err(|e| parquet_error(f, e))?;
                for batch in reader {
                    let batch = batch.map_err(|e| parquet_error(f, e))?;
                    r.add(&batch, &part)?;
                }
                Ok(())
            })?;
        }
        r.finish()
    }
}

fn parquet_error(file: &ParquetFile, e: impl std::fmt::Display) -> Error {
    Error::bad_input(format!("{}: not a readable Parquet file: {e}", file.name()))
}

/// A file's bytes, on disk or fetched into memory.
enum Chunk {
    File(std::fs::File),
    Bytes(bytes::Bytes),
}

impl Length for Chunk {
    fn len(&self) -> u64 {
        match self {
            Chunk::File(f) => Length::len(f),
            Chunk::Bytes(b) => Length::len(b),
        }
    }
}

impl ChunkReader for Chunk {
    type T = Box<dyn std::io::Read>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            Chunk::File(f) => Box::new(f.get_read(start)?),
            Chunk::Bytes(b) => Box::new(b.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        match self {
            Chunk::File(f) => f.get_bytes(start, length),
            Chunk::Bytes(b) => b.get_bytes(start, length),
        }
    }
}

/// Open `file` and hand its reader builder and column names to `f`.
fn with_builder<T>(
    file: &ParquetFile,
    s3: &S3Options,
    f: impl FnOnce(ParquetRecordBatchReaderBuilder<Chunk>, &[String]) -> Result<T>,
) -> Result<T> {
    let chunk = match file {
        ParquetFile::Local(p) => {
            Chunk::File(std::fs::File::open(p).map_err(|e| Error::io("cannot open input", p, e))?)
        }
        ParquetFile::S3(url) => Chunk::Bytes(fetch_s3(url, s3)?),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(chunk).map_err(|e| parquet_error(file, e))?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|x| x.name().clone())
        .collect();
    f(builder, &names)
}

/// The whole object at `url`.
fn fetch_s3(url: &str, s3: &S3Options) -> Result<bytes::Bytes> {
    let mut raw = crate::store::s3::open_s3_object(url, s3)?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut raw, &mut buf).map_err(|e| Error::io("cannot read input", url, e))?;
    Ok(bytes::Bytes::from(buf))
}
