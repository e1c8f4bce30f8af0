//! Everything that reads ratings input, and the one decision of how to read it.
//!
//! | piece | file | what it reads |
//! |---|---|---|
//! | [`open_ratings`], [`RatingsSource`] | `mod.rs` | a [`Location`]: text or Parquet, local, stdin or S3 |
//! | [`ReadOptions`], [`ColumnNames`] | `options.rs` | what every reader is told |
//! | [`decompress`] | `decompress.rs` | a byte stream, gzip detected from its bytes |
//! | [`inflate`] | `inflate.rs` | gzip members: ISA-L (feature `isal`) or zlib-rs |
//! | [`files`] | `files.rs` | several text files as one input: directories, globs, S3 prefixes |
//! | [`tsv`] | `tsv/` | delimited text, in parallel, by phase |
//! | [`arrow`] | `arrow.rs` | Arrow record batches, columns by name (feature `arrow`) |
//! | [`parquet`] | `parquet.rs` | Parquet files and datasets (feature `parquet`) |
//!
//! All readers produce [`Ratings`] through [`crate::model::RatingsBuilder`], so the rules,
//! counters and messages are the same whatever the format.

use std::sync::Arc;

use serde::Serialize;

use crate::error::Result;
use crate::location::Location;
use crate::model::Ratings;
use crate::progress::Progress;
use crate::store::S3Options;

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod decompress;
pub mod files;
pub mod inflate;
mod mapped;
mod options;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod tsv;

pub use decompress::{Compression, Input};
pub use options::{ColumnNames, ReadOptions};

/// Where the ratings are read from, once [`open_ratings`] has decided.
pub enum RatingsSource {
    /// Delimited text (the reviews TSV, a CSV), plain or gzip, from a file, stdin or S3.
    Text(Input),
    /// A Parquet file or dataset, local or on S3 ([`parquet`]).
    #[cfg(feature = "parquet")]
    Parquet(parquet::ParquetInput),
    /// Arrow record batches already in memory or streamed by another library (a DataFrame
    /// handed over through the Arrow C stream interface), read batch by batch ([`arrow`]).
    #[cfg(feature = "arrow")]
    Arrow(arrow::BatchInput),
}

impl From<Input> for RatingsSource {
    fn from(input: Input) -> Self {
        RatingsSource::Text(input)
    }
}

/// What a dry run found out about an input without reading its data.
#[derive(Debug, Clone, Serialize)]
pub struct InputCheck {
    /// The input as named in messages and the manifest.
    pub input: String,
    /// `parquet` for Parquet input; absent for text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The compression detected (text input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<Compression>,
    /// The raw size when known (text input; `null` for stdin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<Option<u64>>,
    /// The number of files (Parquet input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// The column names of the header (or of the first Parquet file).
    pub columns: Vec<String>,
}

impl RatingsSource {
    /// The input as named in messages and the manifest.
    pub fn name(&self) -> String {
        match self {
            RatingsSource::Text(i) => i.name.clone(),
            #[cfg(feature = "parquet")]
            RatingsSource::Parquet(p) => p.name.clone(),
            #[cfg(feature = "arrow")]
            RatingsSource::Arrow(b) => b.name.clone(),
        }
    }

    /// A short description for logs: the compression of text, `Parquet` otherwise.
    pub fn kind(&self) -> String {
        match self {
            RatingsSource::Text(i) => format!("{:?}", i.compression),
            #[cfg(feature = "parquet")]
            RatingsSource::Parquet(_) => "Parquet".to_string(),
            #[cfg(feature = "arrow")]
            RatingsSource::Arrow(_) => "Arrow batches".to_string(),
        }
    }

    /// New progress counters for reading it (following the raw bytes of text input).
    pub fn progress(&self) -> Arc<Progress> {
        match self {
            RatingsSource::Text(i) => i.progress(),
            #[cfg(feature = "parquet")]
            RatingsSource::Parquet(_) => Progress::new(),
            #[cfg(feature = "arrow")]
            RatingsSource::Arrow(_) => Progress::new(),
        }
    }

    /// Check, for `--dry-run`, that the input can be read with `read` options: the header (or
    /// every Parquet file's schema) has the required columns. The data is not read; a text input
    /// is used up afterwards.
    pub fn check(&mut self, read: &ReadOptions) -> Result<InputCheck> {
        match self {
            RatingsSource::Text(input) => {
                let columns = tsv::check_header(input, read)?;
                Ok(InputCheck {
                    input: input.name.clone(),
                    format: None,
                    compression: Some(input.compression),
                    input_bytes: Some(input.raw_size),
                    files: None,
                    columns,
                })
            }
            #[cfg(feature = "parquet")]
            RatingsSource::Parquet(p) => Ok(InputCheck {
                input: p.name.clone(),
                format: Some("parquet"),
                compression: None,
                input_bytes: None,
                files: Some(p.files.len()),
                columns: p.check_columns(read)?,
            }),
            #[cfg(feature = "arrow")]
            RatingsSource::Arrow(b) => {
                let columns = b.columns();
                arrow::check_columns(&columns, read, &b.name)?;
                Ok(InputCheck {
                    input: b.name.clone(),
                    format: Some("arrow"),
                    compression: None,
                    input_bytes: None,
                    files: None,
                    columns,
                })
            }
        }
    }

    /// Parse it into ratings with `read` options (text in parallel on `pool`, its lines counted
    /// into `progress`).
    pub fn read(
        self,
        read: &ReadOptions,
        pool: &Arc<rayon::ThreadPool>,
        progress: Option<&Progress>,
    ) -> Result<Ratings> {
        match self {
            RatingsSource::Text(input) => tsv::read_ratings(input, read, pool, progress),
            #[cfg(feature = "parquet")]
            RatingsSource::Parquet(p) => p.read(read),
            #[cfg(feature = "arrow")]
            RatingsSource::Arrow(b) => b.read(read, progress),
        }
    }
}

/// Open the directory (or `s3://` prefix) at `location` for reading files by relative path: a
/// preprocess output for `prepare`, a run's maps for `encode`. Stdin has no files under it.
pub fn open_dir(location: &Location, s3: &S3Options) -> Result<Box<dyn crate::store::Source>> {
    match location {
        Location::Stdin => Err(crate::Error::usage(
            "`-` (stdin) names a stream, not a directory; give a directory or s3://bucket/prefix",
        )),
        Location::Local(p) => Ok(Box::new(crate::store::LocalSource::new(p))),
        Location::S3(u) => crate::store::open_source_with(&u.to_string(), s3),
    }
}

/// Open the file at `location` as raw bytes (no decompression), e.g. a RecordIO file for
/// `inspect`; returns its name for messages and the stream.
pub fn open_raw(location: &Location, s3: &S3Options) -> Result<(String, Box<dyn std::io::Read + Send>)> {
    let name = location.name();
    let raw: Box<dyn std::io::Read + Send> = match location {
        Location::Stdin => Box::new(std::io::stdin()),
        Location::Local(p) => {
            Box::new(std::fs::File::open(p).map_err(|e| crate::Error::io("cannot open", p, e))?)
        }
        Location::S3(u) => crate::store::s3::open_s3_object(&u.to_string(), s3)?,
    };
    Ok((name, raw))
}

/// Open the ratings at `locations`, read in order as one input ([`files`]): one location is read
/// as [`open_ratings`] reads it; several are text files (each may be a directory, a glob or an
/// `s3://` prefix of text files). S3 is reached with `s3`.
pub fn open_ratings_all(locations: &[Location], s3: &S3Options) -> Result<RatingsSource> {
    match locations {
        [] => Err(crate::Error::usage("no input given")),
        [one] => open_ratings(one, s3),
        many => {
            let files = files::expand_all(many, s3)?;
            if let Some(p) = files.iter().find(|l| l.name().ends_with(".parquet")) {
                return Err(crate::Error::usage(format!(
                    "{}: several inputs are read as text files; give a Parquet dataset as one \
                     directory or s3:// prefix instead",
                    p.name()
                )));
            }
            let name = many.iter().map(Location::name).collect::<Vec<_>>().join(" ");
            Ok(RatingsSource::Text(files::open_text_files(name, &files, s3)?))
        }
    }
}

/// Open the ratings at `location`, deciding how to read them: Parquet when the location is a
/// `.parquet` file (or starts with the `PAR1` magic, locally), a directory or `s3://` prefix
/// holding `.parquet` files, or an `s3://` key with `.parquet` objects under it; delimited text
/// (plain or gzip) otherwise: a file or stream, or the text files of a directory, glob or `s3://`
/// prefix ([`files`]). S3 is reached with `s3`.
pub fn open_ratings(location: &Location, s3: &S3Options) -> Result<RatingsSource> {
    #[cfg(feature = "parquet")]
    match location {
        // An object key is tried as text first: a run on a TSV object costs no listing.
        Location::S3(u) if !(u.key.is_empty() || u.key.ends_with('/') || u.key.ends_with(".parquet")) => {
            return match decompress::open_location(location, s3) {
                Ok(input) => Ok(RatingsSource::Text(input)),
                Err(e) => match parquet::ParquetInput::find(&location.join(""), s3) {
                    Ok(Some(p)) => Ok(RatingsSource::Parquet(p.named(location.to_string()))),
                    _ => Err(e),
                },
            };
        }
        _ => {
            if let Some(p) = parquet::ParquetInput::find(location, s3)? {
                return Ok(RatingsSource::Parquet(p));
            }
        }
    }
    let files = files::expand(location, s3)?;
    let mut input = files::open_text_files(location.name(), &files, s3)?;
    if files.len() == 1 && &files[0] != location {
        // A directory or pattern that holds one file is still named as given.
        input.name = location.name();
    }
    Ok(RatingsSource::Text(input))
}
