//! Reading a decompressed stream as chunks of whole lines: the header line first, then chunks
//! that end on a line boundary (a partial last line is carried into the next chunk), lines over
//! the limit skipped without being buffered whole, and the reader thread that hands chunks to
//! parse jobs on the rayon pool through a fixed pool of buffers (memory stays bounded: the thread
//! blocks when every buffer is in flight).

use std::io::Read;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use memchr::memrchr;

use super::header::Layout;
use super::scan::{parse_chunk, ParsedChunk, ParsedRow};
use crate::error::{Error, Result};
use crate::source::decompress::{read_error, Compression, Input};
use crate::source::files::NextFiles;
use crate::source::ReadOptions;

/// The name and compression of each file of the input, by file number, as the reader reaches
/// them; the merging thread reads it to word messages about a file's lines.
pub(super) type FileNames = Arc<Mutex<Vec<(String, Compression)>>>;

/// Messages from the reader thread and parse jobs to the merging thread.
/// Chunks carry the number of the file (0 for the first) whose lines they hold.
pub(super) enum Msg {
    Parsed(u64, u32, ParsedChunk),
    /// A line over the length limit was skipped at this position in the chunk sequence.
    LongLine(u64, u32, Vec<u8>),
    /// Reading failed after the chunks before this position (in this file).
    ReadFailed(u64, u32, std::io::Error),
    /// A parse job failed unexpectedly (a bug): the run stops instead of waiting for its chunk.
    Failed(Error),
    End(u64),
}

/// Reads chunks that end on line boundaries, with a bounded buffer pool.
pub(super) struct ChunkReader {
    /// The decompressed stream.
    pub reader: Box<dyn Read + Send>,
    /// Reading stops with the token's error once it is set.
    pub cancel: crate::cancel::Cancel,
    /// The input's name, for messages.
    pub name: String,
    /// How the input was compressed (decides how read errors are worded).
    pub compression: Compression,
    pub carry: Vec<u8>,
    pub eof: bool,
    bytes: u64,
    /// A read error held back while the complete lines read before it are handed out, so that
    /// the error can be reported with the number of the last good line.
    pub failed: Option<std::io::Error>,
    /// The files after this one, for a many-file input.
    next_files: Option<NextFiles>,
    /// The number of the file being read (0 for the first): the file of the chunk returned last.
    pub file: u32,
    /// Every file reached so far.
    pub files: FileNames,
    /// The first file's header, which every later file must repeat.
    first_header: Option<Vec<u8>>,
}

pub(super) enum Next {
    Chunk(Vec<u8>),
    LongLine(Vec<u8>),
    Done,
}

impl ChunkReader {
    /// Read up to `want` more bytes into `buf`. Errors are returned raw: the merging thread knows
    /// the line number to report them with.
    pub fn read_some(&mut self, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
        let old = buf.len();
        buf.resize(old + want, 0);
        // Fill all of `want`: a pipe hands out 64 KiB per read, and zeroing `want` bytes for each
        // of those would cost more than the data.
        let mut filled = old;
        let result = loop {
            if filled == buf.len() {
                break Ok(());
            }
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break Ok(());
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !self.cancel.is_cancelled() => {}
                // What was read before the error stays in `buf`.
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        self.bytes += (filled - old) as u64;
        result.map(|()| filled - old)
    }

    /// Fill `buf` with the next run of whole lines (at least `chunk_bytes` unless the input ends).
    ///
    /// `buf` keeps the length it came back with: those bytes were written before, so reads go
    /// over them and only a tail never written is zero-filled (zeroing each 2 MiB buffer anew
    /// cost 8 % of the inflating thread's time). `len` is how much of it holds this chunk.
    pub fn next(&mut self, mut buf: Vec<u8>, chunk_bytes: usize, max_line: usize) -> std::io::Result<Next> {
        if buf.capacity() > 2 * chunk_bytes {
            // A long line grew this buffer; do not keep the memory around.
            buf = Vec::with_capacity(chunk_bytes + (64 << 10));
        }
        let mut len = self.take_carry(&mut buf);
        if let Some(e) = self.failed.take() {
            buf.truncate(len);
            return self.fail_after_whole_lines(buf, e);
        }
        loop {
            self.cancel.check_io()?;
            if !self.eof && len < chunk_bytes {
                let want = (chunk_bytes - len).max(64 << 10);
                if let Err(e) = self.fill(&mut buf, &mut len, want) {
                    buf.truncate(len);
                    return self.fail_after_whole_lines(buf, e);
                }
                continue;
            }
            if self.eof {
                if len > 0 {
                    // A file's last chunk ends with it: chunks never span two files.
                    buf.truncate(len);
                    return Ok(Next::Chunk(buf));
                }
                if !self.next_file(max_line)? {
                    return Ok(Next::Done);
                }
                len = self.take_carry(&mut buf);
                if let Some(e) = self.failed.take() {
                    buf.truncate(len);
                    return self.fail_after_whole_lines(buf, e);
                }
                continue;
            }
            if let Some(i) = memrchr(b'\n', &buf[..len]) {
                self.carry.extend_from_slice(&buf[i + 1..len]);
                buf.truncate(i + 1);
                return Ok(Next::Chunk(buf));
            }
            // One line fills the whole buffer: past the limit, skip it without buffering it whole.
            if len > max_line {
                buf.truncate(len);
                self.skip_to_newline(&mut buf)?;
                return Ok(Next::LongLine(buf));
            }
            let grow = len.max(64 << 10);
            if let Err(e) = self.fill(&mut buf, &mut len, grow) {
                buf.truncate(len);
                return self.fail_after_whole_lines(buf, e);
            }
        }
    }

    /// Move the carried partial line to the front of `buf`; returns its length.
    fn take_carry(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.carry.len();
        if buf.len() < n {
            buf.resize(n, 0);
        }
        buf[..n].copy_from_slice(&self.carry);
        self.carry.clear();
        n
    }

    /// Read up to `want` more bytes into `buf` at `*len` (advancing it), over bytes written
    /// before where there are any. Errors are returned raw, as [`read_some`](Self::read_some)'s.
    fn fill(&mut self, buf: &mut Vec<u8>, len: &mut usize, want: usize) -> std::io::Result<()> {
        let (start, end) = (*len, *len + want);
        if buf.len() < end {
            buf.resize(end, 0);
        }
        let result = loop {
            if *len == end {
                break Ok(());
            }
            match self.reader.read(&mut buf[*len..end]) {
                Ok(0) => {
                    self.eof = true;
                    break Ok(());
                }
                Ok(n) => *len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && !self.cancel.is_cancelled() => {}
                // What was read before the error stays in `buf[..len]`.
                Err(e) => break Err(e),
            }
        };
        self.bytes += (*len - start) as u64;
        result
    }

    /// On a read error, hand out the complete lines of `buf` first and the error on the next call.
    fn fail_after_whole_lines(&mut self, mut buf: Vec<u8>, e: std::io::Error) -> std::io::Result<Next> {
        match memrchr(b'\n', &buf) {
            Some(i) if !self.cancel.is_cancelled() => {
                buf.truncate(i + 1);
                self.carry.clear();
                self.failed = Some(e);
                Ok(Next::Chunk(buf))
            }
            _ => Err(e),
        }
    }

    fn skip_to_newline(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        loop {
            self.cancel.check_io()?;
            buf.clear();
            self.read_some(buf, 1 << 20)?;
            if let Some(i) = memchr::memchr(b'\n', buf) {
                self.carry.extend_from_slice(&buf[i + 1..]);
                return Ok(());
            }
            if self.eof {
                return Ok(());
            }
        }
    }
}

impl ChunkReader {
    /// A reader over `reader`, the decompressed stream of the input `name`.
    pub fn new(reader: Box<dyn Read + Send>, name: String, compression: Compression) -> Self {
        ChunkReader {
            files: Arc::new(Mutex::new(vec![(name.clone(), compression)])),
            reader,
            cancel: crate::cancel::Cancel::default(),
            name,
            compression,
            carry: Vec::new(),
            eof: false,
            bytes: 0,
            failed: None,
            next_files: None,
            file: 0,
            first_header: None,
        }
    }

    /// A reader over every file of `input` in turn (one, or [several](crate::source::files)).
    pub fn for_input(input: Input) -> Self {
        match input.more {
            None => ChunkReader::new(input.reader, input.name, input.compression),
            Some(more) => {
                let mut r = ChunkReader::new(input.reader, more.first.clone(), input.compression);
                r.next_files = Some(NextFiles::new(more, input.raw_read));
                r
            }
        }
    }

    /// Whether the input is several files (messages then name the file of a line).
    pub fn is_many(&self) -> bool {
        self.next_files.is_some()
    }

    /// At the end of a file, go on to the next one: open it, check its header against the first
    /// file's and drop it. Returns `false` after the last file.
    fn next_file(&mut self, max_line: usize) -> std::io::Result<bool> {
        let Some(next) = self.next_files.as_mut() else {
            return Ok(false);
        };
        let Some(opened) = next.open_next() else {
            return Ok(false);
        };
        let opened = opened.map_err(std::io::Error::other)?;
        self.reader = opened.reader;
        self.name = opened.name;
        self.compression = opened.compression;
        self.eof = false;
        self.file += 1;
        if let Ok(mut f) = self.files.lock() {
            f.push((self.name.clone(), self.compression));
        }
        let head = self.header_line(max_line).map_err(std::io::Error::other)?;
        let first = self.first_header.as_deref().unwrap_or_default();
        let first_name = self
            .files
            .lock()
            .ok()
            .and_then(|f| f.first().map(|(n, _)| n.clone()))
            .unwrap_or_default();
        super::header::check_same(first, &first_name, &head, &self.name).map_err(std::io::Error::other)?;
        Ok(true)
    }

    /// Read the header: the bytes up to the first newline (bounded by `max_line`), the rest of
    /// what was read carried into the first chunk.
    pub fn header_line(&mut self, max_line: usize) -> Result<Vec<u8>> {
        let mut head = Vec::new();
        let header_end = loop {
            if let Some(i) = memchr::memchr(b'\n', &head) {
                break i;
            }
            if self.eof {
                break head.len();
            }
            if head.len() > max_line {
                return Err(Error::bad_input(format!(
                    "{}: line 1 (the header) is longer than {max_line} bytes; this is not a reviews TSV",
                    self.name
                )));
            }
            if let Err(e) = self.read_some(&mut head, 64 << 10) {
                // Complete lines before the error are parsed first, so that the error can name the
                // last good line.
                match memchr::memchr(b'\n', &head) {
                    Some(i) if !self.cancel.is_cancelled() => {
                        self.failed = Some(e);
                        break i;
                    }
                    _ => return Err(read_error(&self.name, self.compression, e)),
                }
            }
        };
        if head.is_empty() {
            return Err(Error::bad_input(format!(
                "{}: the input is empty; expected a header line and review rows",
                self.name
            )));
        }
        if header_end < head.len() {
            self.carry.extend_from_slice(&head[header_end + 1..]);
        }
        head.truncate(header_end);
        if self.first_header.is_none() {
            self.first_header = Some(head.clone());
        }
        Ok(head)
    }
}

/// Row vectors handed back by the merger for reuse, so parse jobs do not allocate (and fault in)
/// fresh memory for every chunk.
pub(super) type SpareRows = Arc<std::sync::Mutex<Vec<Vec<ParsedRow>>>>;

pub(super) fn spawn_reader(
    mut reader: ChunkReader,
    free_rx: Receiver<Vec<u8>>,
    spare: SpareRows,
    msg_tx: Sender<Msg>,
    pool: Arc<rayon::ThreadPool>,
    layout: Arc<Layout>,
    opts: ReadOptions,
) {
    std::thread::Builder::new()
        .name("fmprep-reader".into())
        .spawn(move || {
            let mut seq = 0u64;
            loop {
                // All buffers in flight: wait. A closed channel means the merger gave up.
                let Ok(buf) = free_rx.recv() else { return };
                let next = reader.next(buf, opts.chunk_bytes, opts.max_line_bytes);
                let file = reader.file;
                match next {
                    Ok(Next::Chunk(data)) => {
                        let (tx, layout, spare_rows) =
                            (msg_tx.clone(), Arc::clone(&layout), Arc::clone(&spare));
                        let (delimiter, max_line, keep) =
                            (opts.delimiter, opts.max_line_bytes, opts.bad_line_examples);
                        let this = seq;
                        pool.spawn_fifo(move || {
                            let rows = spare_rows
                                .lock()
                                .map(|mut v| v.pop())
                                .ok()
                                .flatten()
                                .unwrap_or_default();
                            // A panic in a spawned job would abort the process (rayon's default),
                            // or, with a handler, leave the merger waiting for this chunk forever.
                            let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                parse_chunk(data, rows, &layout, delimiter, max_line, keep)
                            }));
                            let _ = tx.send(match parsed {
                                Ok(parsed) => Msg::Parsed(this, file, parsed),
                                Err(_) => Msg::Failed(Error::new(
                                    crate::ErrorKind::Internal,
                                    "a parse job failed unexpectedly (a bug); please report it",
                                )),
                            });
                        });
                    }
                    Ok(Next::LongLine(buf)) => {
                        let _ = msg_tx.send(Msg::LongLine(seq, file, buf));
                    }
                    Ok(Next::Done) => {
                        let _ = msg_tx.send(Msg::End(seq));
                        return;
                    }
                    Err(e) => {
                        let _ = msg_tx.send(Msg::ReadFailed(seq, file, e));
                        return;
                    }
                }
                seq += 1;
            }
        })
        .expect("spawning the reader thread");
}
