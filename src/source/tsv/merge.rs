//! Folding parsed chunks into the [`RatingsBuilder`], strictly in input order, so that codes by
//! first appearance, bad-line numbers and first titles are the same whatever the thread count or
//! chunk size. Two drivers: on one thread (read, parse and merge in turn) and with the reader
//! thread and parse jobs on the pool (chunks reordered by sequence number as they complete).

use std::collections::BTreeMap;
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded};

use super::chunks::{spawn_reader, ChunkReader, Msg, Next, SpareRows};
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
}

impl Merger<'_> {
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

    fn read_failed(&self, name: &str, compression: Compression, err: std::io::Error) -> Error {
        read_error_at(name, compression, err, Some(self.line_base))
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
    let examples = chunk.examples.iter().map(|(rel, kind, detail)| BadLine {
        line: line_base + 1 + rel,
        kind: *kind,
        detail: detail.clone(),
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
        let next = reader
            .next(buf, opts.chunk_bytes, opts.max_line_bytes)
            .map_err(|e| merger.read_failed(&reader.name, reader.compression, e))?;
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
    let (name, compression) = (reader.name.clone(), reader.compression);
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
            Ok(Msg::Parsed(seq, chunk)) => {
                pending.insert(seq, Some(chunk));
            }
            Ok(Msg::LongLine(seq, buf)) => {
                pending.insert(seq, None);
                let _ = free_tx.send(buf);
            }
            // Merge what came before the failure first, so the message can say where it happened.
            Ok(Msg::ReadFailed(n, err)) => {
                end = Some(n);
                failure = Some(err);
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
        while let Some(item) = pending.remove(&next_seq) {
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
    if let Some(err) = failure {
        return Err(merger.read_failed(&name, compression, err));
    }
    merger.builder.finish()
}
