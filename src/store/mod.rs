//! Where outputs go: a local directory or (with the S3 store) an S3 prefix.
//!
//! Every output file is staged and becomes visible under its final name only when complete
//! ([`ObjectWriter::commit`]); a writer dropped without commit discards its data. `manifest.json`
//! is written last by the pipeline, so a location without it holds no finished run.

use std::io::Write;

use crate::error::Result;

pub mod local;
pub mod s3;

pub use local::LocalStore;
pub use s3::S3Options;

/// Name of the file that marks a finished run ([`crate::format::names::MANIFEST`]).
pub use crate::format::names::MANIFEST;

/// An output location.
pub trait Store: Send + Sync {
    /// How the location is named in messages and the manifest (a path or `s3://bucket/prefix`).
    fn describe(&self) -> String;

    /// Prepare the location for a new run: refuse when a finished run is there and `overwrite` is
    /// false; otherwise remove the old manifest (so a failure half-way cannot look finished) and
    /// leftovers of interrupted runs.
    fn begin(&self, overwrite: bool) -> Result<()>;

    /// Check, without writing anything, that a run could write here: the location is usable and
    /// holds no finished run unless `overwrite` (for `--dry-run`).
    fn check(&self, overwrite: bool) -> Result<()>;

    /// Start writing `rel_path` (e.g. `train/train.protobuf`).
    fn create(&self, rel_path: &str) -> Result<Box<dyn ObjectWriter>>;

    /// The files under the directory `dir` of the location (e.g. `test`), recursively, as
    /// `/`-separated paths relative to the location, sorted; none when `dir` does not exist.
    /// Staging files of unfinished writes are not listed.
    fn list(&self, dir: &str) -> Result<Vec<String>>;

    /// Remove the file `rel_path`; a file that is already gone is not an error.
    fn remove(&self, rel_path: &str) -> Result<()>;

    /// The whole content of a small file (the manifest); `None` when it does not exist.
    fn read(&self, rel_path: &str) -> Result<Option<Vec<u8>>>;

    /// Prove that files can be written here, before any input is read: create a small staged
    /// object and delete it. The location's directory may be created on the way.
    fn probe(&self) -> Result<()>;

    /// Abort the multipart uploads left open under the location by killed runs, those whose
    /// relative path `ours` accepts (fmprep's own file names); returns the paths aborted. A
    /// location without multipart uploads (a local directory) has none.
    fn abort_orphaned_uploads(&self, ours: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        let _ = ours;
        Ok(Vec::new())
    }

    /// Write a small file in one go (used for the manifest, last).
    fn put(&self, rel_path: &str, bytes: &[u8]) -> Result<()> {
        let mut w = self.create(rel_path)?;
        w.write_all(bytes)
            .map_err(|e| crate::Error::io("cannot write", rel_path, e))?;
        w.commit()?;
        Ok(())
    }
}

/// A file being written. Data becomes visible only through [`ObjectWriter::commit`].
pub trait ObjectWriter: Write + Send {
    /// Flush, make the file visible under its final name, and return its size in bytes.
    fn commit(self: Box<Self>) -> Result<u64>;
}

/// Open the store for an output spec: a local directory path or `s3://bucket/prefix` (with
/// default [`S3Options`]; see [`open_store_with`]).
pub fn open_store(spec: &str) -> Result<Box<dyn Store>> {
    open_store_with(spec, &S3Options::default())
}

/// Open the store for an output spec, S3 locations with `opts`.
pub fn open_store_with(spec: &str, opts: &S3Options) -> Result<Box<dyn Store>> {
    if s3::is_s3_url(spec) {
        s3::parse_s3_url(spec)?;
        #[cfg(feature = "s3")]
        return Ok(Box::new(s3::S3Store::new(s3::S3Client::shared(opts)?, spec)?));
        #[cfg(not(feature = "s3"))]
        return Err(s3::not_built(spec, opts));
    }
    Ok(Box::new(LocalStore::new(spec)))
}

/// Start writing the single file `spec` (a local path or `s3://bucket/key`, S3 with `opts`):
/// staged beside its final name and visible only on [`ObjectWriter::commit`], like every file of
/// a run. For the one-file outputs: `encode --output`, `explore --plot`, `synth --output`.
/// Refuses `-` (stdout is not a file) and names that end in `/`.
pub fn create_file(spec: &str, opts: &S3Options) -> Result<Box<dyn ObjectWriter>> {
    let location = crate::Location::parse(spec)?;
    let not_a_file = || {
        crate::Error::usage(format!(
            "{spec}: names a directory or prefix, not a file; give the file's full name"
        ))
    };
    match &location {
        crate::Location::Stdin => Err(crate::Error::usage("`-` (stdout) is not a file location")),
        crate::Location::S3(u) => {
            let (dir, name) = match u.key.rsplit_once('/') {
                Some((d, n)) => (d, n),
                None => ("", u.key.as_str()),
            };
            if name.is_empty() {
                return Err(not_a_file());
            }
            let store = open_store_with(&format!("s3://{}/{dir}", u.bucket), opts)?;
            store.create(name)
        }
        crate::Location::Local(path) => {
            if spec.ends_with('/') || path.is_dir() {
                return Err(not_a_file());
            }
            let name = path
                .file_name()
                .ok_or_else(not_a_file)?
                .to_string_lossy()
                .into_owned();
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            LocalStore::new(dir).create(&name)
        }
    }
}

/// A location that files are read from by relative path (the output of `preprocess`).
pub trait Source: Send + Sync {
    /// How the location is named in messages.
    fn describe(&self) -> String;

    /// Open `rel_path` for reading; `Ok(None)` when it does not exist.
    fn open(&self, rel_path: &str) -> Result<Option<Box<dyn std::io::Read + Send>>>;

    /// The kind of error for a required file that [`Source::open`] did not find (it decides the
    /// exit code: a missing local file is an I/O error, a missing S3 key a remote one).
    fn missing_kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Io
    }
}

/// A local directory as a [`Source`].
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: std::path::PathBuf,
}

impl LocalSource {
    /// Read files under `root`.
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        LocalSource { root: root.into() }
    }
}

impl Source for LocalSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn open(&self, rel_path: &str) -> Result<Option<Box<dyn std::io::Read + Send>>> {
        let path = self.root.join(rel_path);
        match std::fs::File::open(&path) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.root.is_dir() {
                    return Err(crate::Error::io("cannot open", &self.root, e));
                }
                Ok(None)
            }
            Err(e) => Err(crate::Error::io("cannot open", &path, e)),
        }
    }
}

/// Open a [`Source`] for a spec: a local directory or `s3://bucket/prefix` (with default
/// [`S3Options`]; see [`open_source_with`]).
pub fn open_source(spec: &str) -> Result<Box<dyn Source>> {
    open_source_with(spec, &S3Options::default())
}

/// Open a [`Source`] for a spec, S3 locations with `opts`.
pub fn open_source_with(spec: &str, opts: &S3Options) -> Result<Box<dyn Source>> {
    if s3::is_s3_url(spec) {
        s3::parse_s3_url(spec)?;
        #[cfg(feature = "s3")]
        return Ok(Box::new(s3::S3Source::new(s3::S3Client::shared(opts)?, spec)?));
        #[cfg(not(feature = "s3"))]
        return Err(s3::not_built(spec, opts));
    }
    Ok(Box::new(LocalSource::new(spec)))
}
