//! Byte streams of an input: a local file, `-` for stdin, or an `s3://` object (its raw bytes from
//! the S3 store), decompressed.
//!
//! Compression is detected from the first bytes, never from the name: gzip (one or several
//! members) is decoded in-process as a stream; other compressions are refused with a clear message
//! rather than parsed as garbage. A truncated or corrupt gzip stream surfaces as a read error, so a
//! shorter dataset is never produced silently.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::location::Location;
use crate::progress::Progress;
use crate::store::S3Options;

/// Buffer size between the raw source and the decompressor.
const RAW_BUFFER: usize = 1 << 20;

/// An opened input stream, already decompressed.
pub struct Input {
    /// How the input is named in messages (path, `stdin`, or `s3://bucket/key`).
    pub name: String,
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// Size of the raw (possibly compressed) source when known.
    pub raw_size: Option<u64>,
    /// The compression detected.
    pub compression: Compression,
    /// Raw bytes consumed so far (for progress reporting; of every file of a many-file input).
    pub raw_read: Arc<AtomicU64>,
    /// The files read after this one, in order, when the input is several files
    /// (see `source::files`); `None` for a single file or stream.
    pub more: Option<MoreFiles>,
}

impl Input {
    /// New progress counters that follow the raw bytes consumed from this input.
    pub fn progress(&self) -> Arc<Progress> {
        Progress::following(Arc::clone(&self.raw_read), self.raw_size)
    }

    /// Copy the decompressed bytes to the end into `sink` in large blocks and return their count
    /// (`fmprep decompress`, and the decompress-only benchmark).
    pub fn drain(mut self, mut sink: impl std::io::Write) -> Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = match self.reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(&self.name, self.compression, e)),
            };
            total += n as u64;
            sink.write_all(&buf[..n])
                .map_err(|e| Error::io("cannot write", "stdout", e))?;
        }
    }
}

/// The files of a many-file input after the first one, which [`Input::reader`] reads (see `source::files`).
#[derive(Clone)]
pub struct MoreFiles {
    /// The name of the first file, for messages about its lines ([`Input::name`] names the input
    /// as a whole).
    pub first: String,
    /// The files after the first, in order.
    pub locations: Vec<Location>,
    /// How S3 files are reached.
    pub s3: S3Options,
}

impl std::fmt::Debug for MoreFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MoreFiles")
            .field("first", &self.first)
            .field("locations", &self.locations)
            .finish()
    }
}

/// A reader that counts the bytes passing through it into a shared counter.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Compression formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain text.
    #[default]
    None,
    /// gzip, possibly several concatenated members.
    Gzip,
    /// zstd (refused).
    Zstd,
    /// bzip2 (refused).
    Bzip2,
    /// xz (refused).
    Xz,
}

impl Compression {
    /// Detect the compression from the first bytes of a stream.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Open `spec` for reading: `-` is stdin, `s3://bucket/key` an S3 object (with default
/// [`S3Options`]; see [`open_input_with`]), anything else a local path.
/// Use [`open_source`] to wrap an already opened raw stream.
pub fn open_input(spec: &str) -> Result<Input> {
    open_input_with(spec, &S3Options::default())
}

/// Open `spec` for reading as [`open_input`] does, S3 objects with `opts`.
pub fn open_input_with(spec: &str, opts: &S3Options) -> Result<Input> {
    open_location(&Location::parse(spec)?, opts)
}

/// Open the input at `location` (an S3 object with `opts`), decompressed.
pub fn open_location(location: &Location, opts: &S3Options) -> Result<Input> {
    open_location_counting(location, opts, Arc::new(AtomicU64::new(0)))
}

/// [`open_location`], its raw bytes counted into `raw_read` (shared by the files of one input).
pub fn open_location_counting(
    location: &Location,
    opts: &S3Options,
    raw_read: Arc<AtomicU64>,
) -> Result<Input> {
    let path = match location {
        Location::Stdin => {
            // A pipe whose writer sends nothing would block the read forever, signals or not.
            let stdin = crate::cancel::CancellableReader::new(io::stdin(), opts.cancel.clone())
                .map_err(|e| Error::io("cannot read input", "stdin", e))?;
            return open_source_counting("stdin".to_string(), Box::new(stdin), None, raw_read);
        }
        Location::S3(u) => {
            let url = u.to_string();
            let (raw, size) = crate::store::s3::open_s3_object_sized(&url, opts)?;
            return open_source_counting(url, raw, Some(size), raw_read);
        }
        Location::Local(path) => path,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot open input", path, e))?;
    if meta.is_dir() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot open input {}: it is a directory; give the reviews file itself",
                path.display()
            ),
        ));
    }
    let file = File::open(path).map_err(|e| Error::io("cannot open input", path, e))?;
    let name = path.display().to_string();
    if meta.is_file() {
        // Mapped: the inflater and the chunk reader take the page cache's bytes without the copy
        // a `read` makes (source::mapped). A file that cannot be mapped is read as before.
        let raw_file = file
            .try_clone()
            .map_err(|e| Error::io("cannot open input", path, e))?;
        if let Ok(mapped) = super::mapped::MappedFile::new(raw_file, meta.len(), Arc::clone(&raw_read)) {
            return open_buffered(name, Box::new(mapped), Some(meta.len()), raw_read);
        }
    }
    open_source_counting(name, Box::new(file), Some(meta.len()), raw_read)
}

/// Wrap a raw byte stream: sniff its compression and return the decoded stream.
pub fn open_source(name: String, raw: Box<dyn Read + Send>, raw_size: Option<u64>) -> Result<Input> {
    open_source_counting(name, raw, raw_size, Arc::new(AtomicU64::new(0)))
}

fn open_source_counting(
    name: String,
    raw: Box<dyn Read + Send>,
    raw_size: Option<u64>,
    raw_read: Arc<AtomicU64>,
) -> Result<Input> {
    let raw = CountingReader {
        inner: raw,
        count: Arc::clone(&raw_read),
    };
    open_buffered(
        name,
        Box::new(BufReader::with_capacity(RAW_BUFFER, raw)),
        raw_size,
        raw_read,
    )
}

/// [`open_source_counting`] over a stream that buffers (and counts) its raw bytes itself.
fn open_buffered(
    name: String,
    mut buffered: Box<dyn BufRead + Send>,
    raw_size: Option<u64>,
    raw_read: Arc<AtomicU64>,
) -> Result<Input> {
    let head = buffered
        .fill_buf()
        .map_err(|e| read_error(&name, Compression::None, e))?;
    let compression = Compression::sniff(head);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => super::inflate::gzip_decoder(buffered),
        other => {
            let tool = match other {
                Compression::Zstd => "zstd",
                Compression::Bzip2 => "bzip2",
                _ => "xz",
            };
            return Err(Error::bad_input(format!(
                "{name}: unsupported compression {tool} (detected from the first bytes); fmprep reads \
                 plain text or gzip: decompress it first, e.g. `{tool} -dc {name} | fmprep run - ...`"
            )));
        }
    };
    Ok(Input {
        name,
        reader,
        raw_size,
        compression,
        raw_read,
        more: None,
    })
}

/// Turn an error from reading the decoded stream into a message that names the input and says
/// whether the compressed data was at fault.
pub fn read_error(input_name: &str, compression: Compression, err: io::Error) -> Error {
    read_error_at(input_name, compression, err, None)
}

/// [`read_error`] for a failure found after `line` complete lines of decompressed data, which the
/// message reports so that a person can tell how much of the file was readable.
pub fn read_error_at(input_name: &str, compression: Compression, err: io::Error, line: Option<u64>) -> Error {
    // A cancelled read (or a remote store's failure) carries its own error: keep its kind.
    let err = match Error::from_io(err) {
        Ok(inner) => return inner,
        Err(err) => err,
    };
    if compression == Compression::Gzip
        && matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
        )
    {
        let at = line.map(|l| format!(" after line {l}")).unwrap_or_default();
        return Error::bad_input(format!(
            "{input_name}: corrupt or truncated gzip data{at} ({err}); the file is damaged or was not \
             fully downloaded, fetch it again"
        ))
        .with_source(err);
    }
    Error::io("cannot read input", input_name, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, Error> {
        let mut input = open_source("mem".into(), Box::new(io::Cursor::new(bytes)), None)?;
        let mut out = Vec::new();
        input
            .reader
            .read_to_end(&mut out)
            .map_err(|e| read_error("mem", input.compression, e))?;
        Ok(out)
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(read_all(b"a\tb\n".to_vec()).unwrap(), b"a\tb\n");
    }

    #[test]
    fn gzip_detected_by_magic_and_multi_member_decoded() {
        let mut bytes = gzip(b"first\n");
        bytes.extend(gzip(b"second\n"));
        assert_eq!(read_all(bytes).unwrap(), b"first\nsecond\n");
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut bytes = gzip(&data);
        bytes.truncate(bytes.len() / 2);
        let err = read_all(bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert!(err.message().contains("truncated gzip"), "{err}");
    }

    #[test]
    fn corrupt_crc_is_an_error() {
        let mut bytes = gzip(b"hello world\n");
        let n = bytes.len();
        bytes[n - 8] ^= 0xff; // CRC32 lives in the trailer's first four bytes
        assert_eq!(read_all(bytes).unwrap_err().kind(), ErrorKind::BadInput);
    }

    #[test]
    fn zstd_is_refused_by_name() {
        let err = read_all(vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap_err();
        assert!(err.message().contains("unsupported compression zstd"), "{err}");
        assert!(err.message().contains("`zstd -dc mem |"), "{err}");
        let err = read_all(b"BZh91AY&SY".to_vec()).unwrap_err();
        assert!(err.message().contains("unsupported compression bzip2"), "{err}");
        assert!(err.message().contains("`bzip2 -dc mem |"), "{err}");
    }
}
