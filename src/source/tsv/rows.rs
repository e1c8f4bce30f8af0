//! The lines of one text file as rows kept apart, each with its line number, instead of interned
//! into [`Ratings`](crate::model::Ratings): what the parse tasks of a distributed job need
//! (`fmprep::distributed`), where an engine (Spark) groups the ids itself.
//!
//! The same chunk reader, header parser and line checks as [`read_ratings`](super::read_ratings)
//! run here, on one thread, so the kinds and counts of skipped lines and their line numbers are the
//! ones a single-machine run reports for the same file.

use super::chunks::{ChunkReader, Next};
use super::header::parse_header;
use super::scan::parse_chunk;
use crate::error::{Error, Result};
use crate::model::{BadKind, BadLine, ReadStats};
use crate::source::decompress::{read_error_at, Input};
use crate::source::ReadOptions;

/// One valid row: byte spans into [`RowChunk::data`] and its place in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRow {
    /// `start..end` of the customer id.
    pub customer: (u32, u32),
    /// `start..end` of the product id.
    pub product: (u32, u32),
    /// `start..end` of the product title (empty without a title column).
    pub title: (u32, u32),
    /// The rating in half-steps (`2 * rating`).
    pub half_steps: u8,
    /// 1-based line number in the decompressed file (the header is line 1).
    pub line: u64,
}

/// The valid rows of a run of whole lines of the file.
#[derive(Debug, Default)]
pub struct RowChunk {
    /// The lines' bytes, which the spans of [`rows`](Self::rows) point into.
    pub data: Vec<u8>,
    /// The valid rows, in line order.
    pub rows: Vec<SpanRow>,
}

impl RowChunk {
    /// The bytes of `span` in this chunk.
    pub fn bytes(&self, span: (u32, u32)) -> &[u8] {
        &self.data[span.0 as usize..span.1 as usize]
    }
}

/// What reading one file found besides its rows.
#[derive(Debug, Clone)]
pub struct FileRows {
    /// The header line (without its line end).
    pub header: Vec<u8>,
    /// Lines, blank lines, skipped lines per kind, valid rows and bytes; `examples` are the first
    /// [`ReadOptions::bad_line_examples`] skipped lines of this file, each naming it.
    pub stats: ReadStats,
}

/// Read every line of `input` (one file: [`Input::more`] must be `None`) and hand its valid rows
/// to `each`, a chunk at a time, in line order. The bad-line limit is not applied: it is a limit
/// on the whole input, which the caller adds up over files.
///
/// Fails on a missing required column, on a read or decompression error (naming the last good
/// line), and with what `each` returns.
pub fn read_rows(
    input: Input,
    opts: &ReadOptions,
    each: &mut dyn FnMut(&RowChunk) -> Result<()>,
) -> Result<FileRows> {
    if input.more.is_some() {
        return Err(Error::usage(
            "read_rows reads one file; give the files one at a time",
        ));
    }
    if opts.read_times || !opts.extra_columns.is_empty() {
        return Err(Error::usage(
            "the row reader reads ids, ratings and titles only (no time or feature columns)",
        ));
    }
    let mut reader = ChunkReader::for_input(input);
    reader.cancel = opts.cancel.clone();
    let header = reader.header_line(opts.max_line_bytes)?;
    let layout = parse_header(&header, opts, &reader.name)?;
    let name = reader.name.clone();
    let mut stats = ReadStats::default();
    let example = |stats: &mut ReadStats, line: u64, kind: BadKind, detail: String| {
        if stats.examples.len() < opts.bad_line_examples {
            stats.examples.push(BadLine {
                line,
                kind,
                detail,
                file: Some(name.clone()),
            });
        }
    };
    // Line number of the last line read (the header is line 1).
    let mut line_base = 1u64;
    let mut buf = Vec::with_capacity(opts.chunk_bytes + (64 << 10));
    loop {
        let next = reader
            .next(buf, opts.chunk_bytes, opts.max_line_bytes)
            .map_err(|e| read_error_at(&reader.name, reader.compression, e, Some(line_base)))?;
        match next {
            Next::Chunk(data) => {
                let chunk = parse_chunk(
                    data,
                    Vec::new(),
                    &layout,
                    opts.delimiter,
                    opts.max_line_bytes,
                    opts.bad_line_examples,
                );
                stats.input_lines += chunk.lines;
                stats.blank_lines += chunk.blank;
                stats.bad_lines.merge(&chunk.bad);
                stats.valid += chunk.rows.len() as u64;
                stats.bytes += chunk.data.len() as u64;
                for (rel, kind, detail) in &chunk.examples {
                    example(&mut stats, line_base + 1 + rel, *kind, detail.clone());
                }
                // Parse jobs do not record line numbers (the single-machine merge never needs
                // them per row); count the newlines between consecutive rows instead, one pass
                // over the chunk.
                let data = chunk.data;
                let mut rows = Vec::with_capacity(chunk.rows.len());
                let (mut at, mut line) = (0usize, line_base + 1);
                for r in &chunk.rows {
                    let start = r.customer.0.min(r.product.0) as usize;
                    line += memchr::memchr_iter(b'\n', &data[at..start]).count() as u64;
                    at = start;
                    rows.push(SpanRow {
                        customer: r.customer,
                        product: r.product,
                        title: r.title,
                        half_steps: r.stars,
                        line,
                    });
                }
                line_base += chunk.lines;
                let chunk = RowChunk { data, rows };
                each(&chunk)?;
                buf = chunk.data;
            }
            Next::LongLine(b) => {
                line_base += 1;
                stats.input_lines += 1;
                stats.bad_lines.add(BadKind::LineTooLong);
                let max = opts.max_line_bytes;
                example(
                    &mut stats,
                    line_base,
                    BadKind::LineTooLong,
                    format!("over {max} bytes"),
                );
                buf = b;
            }
            Next::Done => break,
        }
    }
    Ok(FileRows { header, stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decompress::open_source;

    /// (customer, product, half-steps, line, title) of a row.
    type Row = (String, String, u8, u64, String);

    fn read(text: &[u8], opts: &ReadOptions) -> (Vec<Row>, FileRows) {
        let input = open_source(
            "f.tsv".into(),
            Box::new(std::io::Cursor::new(text.to_vec())),
            None,
        )
        .unwrap();
        let mut got = Vec::new();
        let file = read_rows(input, opts, &mut |c| {
            for r in &c.rows {
                let s = |span| String::from_utf8_lossy(c.bytes(span)).into_owned();
                got.push((s(r.customer), s(r.product), r.half_steps, r.line, s(r.title)));
            }
            Ok(())
        })
        .unwrap();
        (got, file)
    }

    #[test]
    fn rows_carry_line_numbers_and_bad_lines_are_counted() {
        let text = b"customer_id\tproduct_id\tstar_rating\tproduct_title\n\
            c1\tp1\t5\tT1\n\
            \n\
            c2\tp2\t7\tT2\n\
            c3\tp3\t4\n\
            \tp4\t3\tT4\r\n\
            c5\tp5\t1\tT5";
        let (rows, file) = read(text, &ReadOptions::default());
        assert_eq!(
            rows,
            vec![
                ("c1".into(), "p1".into(), 10, 2, "T1".into()),
                ("c5".into(), "p5".into(), 2, 7, "T5".into()),
            ]
        );
        let s = &file.stats;
        assert_eq!((s.input_lines, s.blank_lines, s.valid), (6, 1, 2));
        assert_eq!(s.bad_lines.bad_star_rating, 1);
        assert_eq!(s.bad_lines.field_count, 1);
        assert_eq!(s.bad_lines.empty_customer_id, 1);
        let lines: Vec<u64> = s.examples.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![4, 5, 6]);
        assert_eq!(s.examples[0].file.as_deref(), Some("f.tsv"));
        assert_eq!(
            file.header,
            b"customer_id\tproduct_id\tstar_rating\tproduct_title"
        );
    }

    #[test]
    fn small_chunks_give_the_same_rows_and_lines() {
        let mut text = b"customer_id\tproduct_id\tstar_rating\n".to_vec();
        for i in 0..5000 {
            if i % 97 == 0 {
                text.extend_from_slice(b"bad line\n");
            } else {
                text.extend_from_slice(format!("c{}\tp{}\t{}\n", i % 31, i, 1 + i % 5).as_bytes());
            }
        }
        let whole = read(&text, &ReadOptions::default());
        let small = ReadOptions {
            chunk_bytes: 1000,
            ..ReadOptions::default()
        };
        let cut = read(&text, &small);
        assert_eq!(whole.0, cut.0);
        assert_eq!(whole.1.stats.bad_lines, cut.1.stats.bad_lines);
        assert_eq!(whole.0.len(), 5000 - 52);
        // Line i of the data (0-based) is line i + 2 of the file.
        assert!(whole
            .0
            .iter()
            .all(|r| r.1[1..].parse::<u64>().unwrap() + 2 == r.3));
    }
}
