//! Folding parsed chunks into the [`RatingsBuilder`], strictly in input order, so that codes by
//! first appearance, bad-line numbers and first titles are the same whatever the thread count or
//! chunk size. Two drivers: on one thread (read, parse and merge in turn) and with the reader
//! thread and parse jobs on the pool (chunks reordered by sequence number as they complete).

use std::collections::BTreeMap;
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded};

use super::chunks::{spawn_reader, ChunkReader, FileNames, Msg, Next, SpareRows};
use super::header::Layout;
use super::scan::{parse_chunk, ParsedChunk};
use crate::error::{Error, Result};
use crate::model::{BadKind, BadLine, KeyRef, Ratings, RatingsBuilder};
use crate::progress::Progress;
use crate::source::decompress::{read_error_at, Compression};
use crate::source::ReadOptions;

/// Folds parsed chunks, strictly in input order, into the builder.
pub(super) struct Merger<'a> {
    pub builder: RatingsBuilder,
    /// Line number of the last line merged (the header is line 1).
    pub line_base: u64,
    pub opts: &'a ReadOptions,
    pub progress: Option<&'a Progress>,
    /// The files of the input by number, and whether there are several (messages then name them).
    pub files: FileNames,
    pub many: bool,
    /// The file whose lines are merged now.
    pub file: u32,
}

impl Merger<'_> {
    /// Merge the lines of file `file` from now on: line numbers restart after its header.
    fn enter(&mut self, file: u32) {
        if file != self.file {
            self.file = file;
            self.line_base = 1;
            if self.many {
                self.builder.set_file(Some(self.file_info(file).0));
            }
        }
    }

    fn file_info(&self, file: u32) -> (String, Compression) {
        self.files
            .lock()
            .ok()
            .and_then(|f| f.get(file as usize).cloned())
            .unwrap_or_default()
    }

    fn chunk(&mut self, chunk: &ParsedChunk) -> Result<()> {
        merge_chunk(&mut self.builder, chunk, self.line_base)?;
        self.line_base += chunk.lines;
        if let Some(p) = self.progress {
            Progress::add(&p.lines, chunk.lines);
        }
        self.builder.check_limit()
    }

    fn long_line(&mut self) -> Result<()> {
        self.line_base += 1;
        let max = self.opts.max_line_bytes;
        self.builder.push_bad(self.line_base, BadKind::LineTooLong, || {
            format!("over {max} bytes")
        });
        self.builder.check_limit()
    }

    /// The error for a read that failed in file `file` after the lines merged so far: the
    /// library's own error when the reader made one (a later file's header), else a read error
    /// that names the file and its last good line.
    fn read_failed(&mut self, file: u32, err: std::io::Error) -> Error {
        if err.get_ref().is_some_and(|e| e.is::<Error>()) {
            if let Some(Ok(e)) = err.into_inner().map(|e| e.downcast::<Error>()) {
                return *e;
            }
            return Error::new(crate::ErrorKind::Internal, "a reader error was lost (a bug)");
        }
        self.enter(file);
        let (name, compression) = self.file_info(file);
        read_error_at(&name, compression, err, Some(self.line_base))
    }
}

fn merge_chunk(b: &mut RatingsBuilder, chunk: &ParsedChunk, line_base: u64) -> Result<()> {
    let data = &chunk.data;
    let span = |s: (u32, u32)| &data[s.0 as usize..s.1 as usize];
    b.reserve(chunk.rows.len());
    // Table slots are random memory accesses: ask for the slots of a row a few rows ahead so
    // their cache misses overlap with the work on this one.
    const AHEAD: usize = 8;
    // Feature fields per row (0 without feature columns).
    let side = if b.has_side() {
        chunk.extra.len() / chunk.rows.len().max(1)
    } else {
        0
    };
    for (i, row) in chunk.rows.iter().enumerate() {
        if let Some(next) = chunk.rows.get(i + AHEAD) {
            b.prefetch(next.customer_hash, next.product_hash);
        }
        let ckey = KeyRef {
            bytes: span(row.customer),
            hash: row.customer_hash,
            small: row.customer_small,
        };
        let pkey = KeyRef {
            bytes: span(row.product),
            hash: row.product_hash,
            small: row.product_small,
        };
        b.push(&ckey, &pkey, span(row.title), row.stars, row.time)?;
        if side > 0 {
            b.push_side(chunk.extra[i * side..(i + 1) * side].iter().map(|&s| span(s)));
        }
    }
    b.push_blank(chunk.blank);
    b.add_bytes(data.len() as u64);
    let file = b.file().map(str::to_string);
    let examples = chunk.examples.iter().map(|(rel, kind, detail)| BadLine {
        line: line_base + 1 + rel,
        kind: *kind,
        detail: detail.clone(),
        file: file.clone(),
    });
    b.push_counted(&chunk.bad, examples);
    Ok(())
}

/// Read, parse and merge on the calling thread, no helpers (one thread asked for).
pub(super) fn merge_serial(
    mut reader: ChunkReader,
    layout: &Layout,
    mut merger: Merger<'_>,
) -> Result<Ratings> {
    let opts = merger.opts;
    let mut buf = Vec::with_capacity(opts.chunk_bytes + (64 << 10));
    let mut rows = Vec::new();
    loop {
        let next = match reader.next(buf, opts.chunk_bytes, opts.max_line_bytes) {
            Ok(next) => next,
            Err(e) => return Err(merger.read_failed(reader.file, e)),
        };
        merger.enter(reader.file);
        match next {
            Next::Chunk(data) => {
                let chunk = parse_chunk(
                    data,
                    rows,
                    layout,
                    opts.delimiter,
                    opts.max_line_bytes,
                    opts.bad_line_examples,
                );
                merger.chunk(&chunk)?;
                (buf, rows) = (chunk.data, chunk.rows);
            }
            Next::LongLine(b) => {
                merger.long_line()?;
                buf = b;
            }
            Next::Done => break,
        }
    }
    merger.builder.finish()
}

/// Read on a thread of its own, parse on `pool`, merge on the calling thread in input order.
pub(super) fn merge_parallel(
    reader: ChunkReader,
    layout: Arc<Layout>,
    mut merger: Merger<'_>,
    pool: &Arc<rayon::ThreadPool>,
) -> Result<Ratings> {
    let opts = merger.opts;
    let in_flight = pool.current_num_threads() * 2 + 2;
    let (free_tx, free_rx) = bounded::<Vec<u8>>(in_flight);
    for _ in 0..in_flight {
        free_tx
            .send(Vec::with_capacity(opts.chunk_bytes + (64 << 10)))
            .expect("fresh channel");
    }
    let (msg_tx, msg_rx) = unbounded::<Msg>();
    let spare: SpareRows = Arc::default();
    spawn_reader(
        reader,
        free_rx,
        Arc::clone(&spare),
        msg_tx,
        Arc::clone(pool),
        layout,
        opts.clone(),
    );

    let mut next_seq = 0u64;
    let mut end = None;
    let mut failure = None;
    let mut pending = BTreeMap::new();
    while end.is_none_or(|e| next_seq < e) {
        match msg_rx.recv() {
            Ok(Msg::Parsed(seq, file, chunk)) => {
                pending.insert(seq, (file, Some(chunk)));
            }
            Ok(Msg::LongLine(seq, file, buf)) => {
                pending.insert(seq, (file, None));
                let _ = free_tx.send(buf);
            }
            // Merge what came before the failure first, so the message can say where it happened.
            Ok(Msg::ReadFailed(n, file, err)) => {
                end = Some(n);
                failure = Some((file, err));
            }
            Ok(Msg::Failed(err)) => return Err(err),
            Ok(Msg::End(n)) => end = Some(n),
            Err(_) => {
                return Err(Error::new(
                    crate::ErrorKind::Internal,
                    "reader thread stopped unexpectedly",
                ))
            }
        }
        while let Some((file, item)) = pending.remove(&next_seq) {
            merger.enter(file);
            match item {
                Some(chunk) => {
                    merger.chunk(&chunk)?;
                    let _ = free_tx.send(chunk.data);
                    if let Ok(mut v) = spare.lock() {
                        v.push(chunk.rows);
                    }
                }
                None => merger.long_line()?,
            }
            next_seq += 1;
        }
    }
    if let Some((file, err)) = failure {
        return Err(merger.read_failed(file, err));
    }
    merger.builder.finish()
}
