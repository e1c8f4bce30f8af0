//! Text inputs of several files: what the user named (INPUT given several times, a directory, a
//! quoted glob, an `s3://bucket/prefix/`) expanded into one ordered list of files, and the files
//! after the first decoded ahead of the parser.
//!
//! The files are read as one input: rows in file order, then line order, every header dropped
//! after it is checked against the first (the columns must be the same, in the same order), so the
//! result is the one of the files' concatenation. Line numbers count within each file, and a
//! skipped line names its file.
//!
//! While the parser works on one file, the next two files are opened and inflated on
//! threads of their own into bounded block queues: memory does not grow with the number of
//! files, and an S3 file's first bytes are already there when the parser reaches it.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::error::{Error, ErrorKind, Result};
use crate::location::Location;
pub use crate::source::decompress::MoreFiles;
use crate::source::decompress::{open_location, open_location_counting, Compression, Input};
use crate::store::S3Options;

/// How many files past the one being parsed are decoded ahead.
const AHEAD: usize = 2;
/// Size of one decoded block handed from a decoding thread to the parser.
const BLOCK: usize = 1 << 20;
/// Blocks queued per file decoded ahead (so at most `AHEAD * QUEUED * BLOCK` bytes wait).
const QUEUED: usize = 8;

/// Whether a local file name is taken from a directory: `.tsv`, `.tsv.gz` or `.gz`, not hidden.
fn is_text_input_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".tsv") || name.ends_with(".gz"))
}

/// Whether an object under an S3 prefix is taken: not a folder marker, and not a hidden or
/// bookkeeping object (`.name`, `_SUCCESS`, `_metadata`), as Hadoop tools skip them.
fn is_listed_object(rel_key: &str) -> bool {
    let base = rel_key.rsplit('/').next().unwrap_or(rel_key);
    !(rel_key.ends_with('/') || base.is_empty() || base.starts_with('.') || base.starts_with('_'))
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files that `location` names, in the order they are read: a directory's text files by name
/// (see the module docs), a glob's matches in name order, every object under an `s3://` prefix (a
/// URL that ends with `/`, or a bucket) in key order, or the location itself.
pub fn expand(location: &Location, s3: &S3Options) -> Result<Vec<Location>> {
    match location {
        Location::Stdin => Ok(vec![Location::Stdin]),
        Location::S3(u) if u.key.is_empty() || u.key.ends_with('/') => {
            let url = u.to_string();
            let keys = crate::store::s3::list_s3_objects(&url, s3)?;
            let files: Vec<Location> = keys
                .iter()
                .filter(|k| is_listed_object(k))
                .map(|k| Location::S3(u.join(k)))
                .collect();
            if files.is_empty() {
                return Err(Error::new(
                    ErrorKind::Remote,
                    format!(
                        "{}: no objects under this prefix; give the prefix that holds the reviews files",
                        u.location()
                    ),
                ));
            }
            Ok(files)
        }
        Location::S3(_) => Ok(vec![location.clone()]),
        Location::Local(path) => {
            if path.is_dir() {
                return list_dir(path);
            }
            let spec = path.to_string_lossy();
            if !path.exists() && has_glob_chars(&spec) {
                return glob_files(&spec);
            }
            Ok(vec![location.clone()])
        }
    }
}

/// Every location of `specs` expanded ([`expand`]), in order.
pub fn expand_all(locations: &[Location], s3: &S3Options) -> Result<Vec<Location>> {
    let mut out = Vec::new();
    for l in locations {
        out.extend(expand(l, s3)?);
    }
    if out.iter().filter(|l| matches!(l, Location::Stdin)).count() > 0 && out.len() > 1 {
        return Err(Error::usage(
            "`-` (stdin) cannot be combined with other inputs; give files, or one stream",
        ));
    }
    Ok(out)
}

fn list_dir(dir: &Path) -> Result<Vec<Location>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list input directory", dir, e))?;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list input directory", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // `metadata` follows symbolic links, as a mounted dataset may use them.
        let regular = std::fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false);
        if regular && is_text_input_name(&name) {
            names.push((name, path));
        }
    }
    if names.is_empty() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
            "cannot open input {}: no input files in this directory (fmprep reads its regular files named *.tsv, \
             *.tsv.gz or *.gz, hidden ones skipped); give the files themselves or another directory",
            dir.display()
        )));
    }
    names.sort();
    Ok(names.into_iter().map(|(_, p)| Location::Local(p)).collect())
}

fn glob_files(pattern: &str) -> Result<Vec<Location>> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, options)
        .map_err(|e| Error::usage(format!("input pattern {pattern:?} is not a valid glob: {e}")))?;
    let mut files = Vec::new();
    for p in paths {
        let p = p.map_err(|e| Error::io("cannot read", e.path(), io::Error::other(e.to_string())))?;
        if p.is_file() {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(Error::new(
            ErrorKind::Io,
            format!("cannot open input {pattern}: no file matches this pattern"),
        ));
    }
    files.sort();
    Ok(files.into_iter().map(Location::Local).collect())
}

/// Open the text files `files` (non-empty, already [expanded](expand)) as one input named `name`:
/// the first is opened now, the others when the parser reaches them (decoded ahead).
pub fn open_text_files(name: String, files: &[Location], s3: &S3Options) -> Result<Input> {
    let (first, rest) = files.split_first().expect("at least one input file");
    let mut input = open_location(first, s3)?;
    if rest.is_empty() {
        return Ok(input);
    }
    // Progress over the raw size of every file, when each is local (S3 sizes are known only
    // when an object is opened).
    let sizes: Option<Vec<u64>> = files
        .iter()
        .map(|l| {
            l.local_path()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .collect();
    input.raw_size = sizes.map(|s| s.iter().sum());
    input.more = Some(MoreFiles {
        first: std::mem::replace(&mut input.name, name),
        locations: rest.to_vec(),
        s3: s3.clone(),
    });
    Ok(input)
}

/// What a decoding thread sends, in order: the opened file (or why it could not be opened), its
/// decoded blocks, then the end or a read error.
enum Block {
    Opened(String, Compression),
    OpenFailed(Error),
    Data(Vec<u8>),
    Failed(io::Error),
    End,
}

/// The files after the first of a many-file input, opened in turn, the next few decoded ahead.
pub(crate) struct NextFiles {
    waiting: VecDeque<Location>,
    started: VecDeque<Receiver<Block>>,
    s3: S3Options,
    raw_read: Arc<AtomicU64>,
}

/// A file opened by [`NextFiles::open_next`]: its name, compression and decoded bytes.
pub(crate) struct OpenedFile {
    pub name: String,
    pub compression: Compression,
    pub reader: Box<dyn Read + Send>,
}

impl NextFiles {
    /// The files of `more`, their raw bytes counted into `raw_read`; decoding of the first few
    /// starts now.
    pub fn new(more: MoreFiles, raw_read: Arc<AtomicU64>) -> Self {
        let mut next = NextFiles {
            waiting: more.locations.into(),
            started: VecDeque::new(),
            s3: more.s3,
            raw_read,
        };
        next.top_up();
        next
    }

    fn top_up(&mut self) {
        while self.started.len() < AHEAD {
            let Some(location) = self.waiting.pop_front() else {
                return;
            };
            let (tx, rx) = bounded(QUEUED);
            let (s3, raw_read) = (self.s3.clone(), Arc::clone(&self.raw_read));
            let spawned = std::thread::Builder::new()
                .name("fmprep-decode".into())
                .spawn(move || decode_ahead(&location, &s3, raw_read, &tx));
            if let Err(e) = spawned {
                let (tx, rx) = bounded(1);
                let _ = tx.send(Block::OpenFailed(Error::new(
                    ErrorKind::Internal,
                    format!("cannot start a decoding thread: {e}"),
                )));
                self.started.push_back(rx);
                return;
            }
            self.started.push_back(rx);
        }
    }

    /// The next file, or `None` after the last one.
    pub fn open_next(&mut self) -> Option<Result<OpenedFile>> {
        let rx = self.started.pop_front()?;
        self.top_up();
        Some(match rx.recv() {
            Ok(Block::Opened(name, compression)) => Ok(OpenedFile {
                name,
                compression,
                reader: Box::new(BlockReader {
                    rx,
                    block: Vec::new(),
                    pos: 0,
                    done: false,
                }),
            }),
            Ok(Block::OpenFailed(e)) => Err(e),
            _ => Err(Error::new(
                ErrorKind::Internal,
                "a decoding thread stopped before opening its file (a bug); please report it",
            )),
        })
    }
}

/// Open `location` and send its decoded bytes in blocks until the end, an error, or the parser
/// hanging up.
fn decode_ahead(location: &Location, s3: &S3Options, raw_read: Arc<AtomicU64>, tx: &Sender<Block>) {
    // Its raw bytes count into the input's counter as they are read.
    let mut input = match open_location_counting(location, s3, raw_read) {
        Ok(i) => i,
        Err(e) => {
            let _ = tx.send(Block::OpenFailed(e));
            return;
        }
    };
    if tx
        .send(Block::Opened(input.name.clone(), input.compression))
        .is_err()
    {
        return;
    }
    loop {
        if s3.cancel.is_cancelled() {
            let _ = tx.send(Block::Failed(s3.cancel.io_error()));
            return;
        }
        let mut block = vec![0u8; BLOCK];
        let mut filled = 0;
        let mut end = false;
        let mut failed = None;
        while filled < BLOCK {
            match input.reader.read(&mut block[filled..]) {
                Ok(0) => {
                    end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        block.truncate(filled);
        if !block.is_empty() && tx.send(Block::Data(block)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = tx.send(Block::Failed(e));
            return;
        }
        if end {
            let _ = tx.send(Block::End);
            return;
        }
    }
}

/// The decoded bytes of a file decoded ahead, read from its block queue.
struct BlockReader {
    rx: Receiver<Block>,
    block: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.block.len() {
                let n = buf.len().min(self.block.len() - self.pos);
                buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Block::Data(b)) => (self.block, self.pos) = (b, 0),
                Ok(Block::End) => self.done = true,
                Ok(Block::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                _ => {
                    self.done = true;
                    return Err(io::Error::other("the decoding thread stopped unexpectedly"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_taken() {
        assert!(is_text_input_name("part-0.tsv.gz"));
        assert!(is_text_input_name("a.tsv"));
        assert!(is_text_input_name("a.gz"));
        assert!(!is_text_input_name(".hidden.tsv.gz"));
        assert!(!is_text_input_name("README.md"));
        assert!(!is_text_input_name("a.parquet"));
    }

    #[test]
    fn listed_objects_skip_markers_and_bookkeeping() {
        assert!(is_listed_object("a/b.tsv.gz"));
        assert!(is_listed_object("x"));
        assert!(!is_listed_object("dir/"));
        assert!(!is_listed_object("_SUCCESS"));
        assert!(!is_listed_object("p/.tmp"));
    }

    #[test]
    fn a_directory_lists_in_name_order_and_stdin_stands_alone() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.tsv.gz", "a.tsv", ".c.tsv", "notes.txt", "c.gz"] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.tsv")).unwrap();
        let got = expand(&Location::Local(dir.path().into()), &S3Options::default()).unwrap();
        let names: Vec<_> = got
            .iter()
            .map(|l| l.name().rsplit('/').next().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.tsv", "b.tsv.gz", "c.gz"]);
        let glob = Location::Local(dir.path().join("*.gz"));
        assert_eq!(expand(&glob, &S3Options::default()).unwrap().len(), 2);
        let err = expand_all(&[Location::Stdin, glob], &S3Options::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        let empty = tempfile::tempdir().unwrap();
        let err = expand(&Location::Local(empty.path().into()), &S3Options::default()).unwrap_err();
        assert!(err.message().contains("no input files"), "{err}");
    }
}
