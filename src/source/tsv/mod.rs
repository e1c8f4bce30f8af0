//! Streaming, parallel parsing of the reviews TSV into interned ratings.
//!
//! Three kinds of thread cooperate, so that decompression, parsing and interning overlap:
//!
//! 1. one **reader** thread pulls decompressed bytes into fixed-size chunks that end on a line
//!    boundary (a partial last line is carried into the next chunk);
//! 2. **parse** jobs on the rayon pool split each chunk into lines and fields with SIMD byte
//!    search, validate them, and hash the id fields;
//! 3. the calling thread **merges** parsed chunks strictly in input order, interning ids into
//!    dense codes. Order-dependent facts (codes by first appearance, bad-line numbers, the first
//!    title of a product) are therefore identical whatever the thread count or chunk size.
//!
//! Memory is bounded by a fixed pool of chunk buffers that circulates between the threads: the
//! reader blocks when all buffers are in flight. What grows is only the valid rows (8 bytes each)
//!
//! The phases, one file each, as the data flows:
//!
//! | phase | file |
//! |---|---|
//! | the header line, columns by name | `header.rs` |
//! | chunks of whole lines, the reader thread | `chunks.rs` |
//! | splitting and checking lines (SIMD), on the pool | `scan.rs` |
//! | merging chunks in order into a [`RatingsBuilder`](crate::model::RatingsBuilder) | `merge.rs` |
//! | or: rows kept apart with line numbers, for distributed jobs | [`rows`] |

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Ratings;
use crate::progress::Progress;
use crate::source::decompress::Input;
use crate::source::ReadOptions;

mod chunks;
mod header;
mod many;
mod merge;
#[cfg(test)]
mod props;
pub mod rows;
mod scan;

use chunks::ChunkReader;
use merge::Merger;

/// Parse a whole input: header first, then all data lines, in parallel on `pool`; parsed lines
/// are added to `progress` as they are merged.
///
/// Fails on a missing or duplicated required column, on a read or decompression error, and when
/// skipped lines exceed `opts.max_bad_lines`.
///
/// An input of several files is read two files at a time when the pool has two threads or more
/// (`many.rs`), one after another otherwise; the result is the same.
pub fn read_ratings(
    input: Input,
    opts: &ReadOptions,
    pool: &Arc<rayon::ThreadPool>,
    progress: Option<&Progress>,
) -> Result<Ratings> {
    if opts.delimiter == b'\n' || opts.delimiter == b'\r' {
        return Err(Error::usage("the delimiter cannot be a line break"));
    }
    if input.more.is_some() && pool.current_num_threads() > 1 {
        return many::read_many(input, opts, pool, progress);
    }
    read_one(input, opts, pool, progress, false, &|_, _| Ok(()))
}

/// Read `input` (one file, or several one after another) into ratings; `on_header` sees its
/// header line (and name) before any data line is read, and may refuse it. `part` marks a file
/// read as one part of a larger input: its bad lines then name it.
pub(super) fn read_one(
    input: Input,
    opts: &ReadOptions,
    pool: &Arc<rayon::ThreadPool>,
    progress: Option<&Progress>,
    part: bool,
    on_header: &(dyn Fn(&[u8], &str) -> Result<()> + Sync),
) -> Result<Ratings> {
    let (raw_size, compression, name) = (input.raw_size, input.compression, input.name.clone());
    let mut reader = ChunkReader::for_input(input);
    reader.cancel = opts.cancel.clone();
    let head = reader.header_line(opts.max_line_bytes)?;
    on_header(&head, &reader.name)?;
    let layout = Arc::new(header::parse_header(&head, opts, &reader.name)?);

    let mut builder = opts.builder(name);
    let many = reader.is_many() || part;
    if many {
        builder.set_file(Some(reader.name.clone()));
    }
    if let Some(size) = raw_size {
        // Reserve for the rows a file of this size can hold (gzip text shrinks ~3x; lines are
        // ~300+ bytes) so the largest vector does not grow by copying. Untouched capacity costs
        // no memory.
        let text = if compression == crate::source::decompress::Compression::Gzip {
            size * 4
        } else {
            size
        };
        let rows = (text / 256).min(1 << 31) as usize;
        builder.reserve(rows);
        // And the id tables for the ids such rows hold: on review logs about one distinct raw
        // customer per two to four rows and one product per 20 or more (the public dataset and
        // the synth data alike), so one table grows at most once and the other not at all. Capped
        // (8 M customers: a 256 MB index) because the estimate can be several times too high
        // (gzip level 1) and an index page is touched as soon as any key hashes into it.
        builder.reserve_ids((rows / 4).min(8 << 20), (rows / 32).min(1 << 20));
    }
    let merger = Merger {
        builder,
        line_base: 1,
        opts,
        progress,
        files: Arc::clone(&reader.files),
        many,
        file: 0,
    };
    if pool.current_num_threads() == 1 {
        return merge::merge_serial(reader, &layout, merger);
    }
    merge::merge_parallel(reader, layout, merger, pool)
}

/// Read and check only the header line of `input` (for `--dry-run`), with the parser
/// [`read_ratings`] uses: the required columns must be present. Returns the header's column
/// names. What follows the header is consumed in part; the input is for nothing else after this.
///
/// For an input of several files, every file is opened and its header checked against the
/// first's.
pub fn check_header(input: &mut Input, opts: &ReadOptions) -> Result<Vec<String>> {
    let stream = std::mem::replace(&mut input.reader, Box::new(std::io::empty()));
    let first = input.more.as_ref().map_or(&input.name, |m| &m.first).clone();
    let mut reader = ChunkReader::new(stream, first.clone(), input.compression);
    let head = reader.header_line(opts.max_line_bytes)?;
    let names = header::parse_header(&head, opts, &first)?.names;
    if let Some(more) = input.more.take() {
        for location in &more.locations {
            let mut next = crate::source::decompress::open_location(location, &more.s3)?;
            let stream = std::mem::replace(&mut next.reader, Box::new(std::io::empty()));
            let mut r = ChunkReader::new(stream, next.name.clone(), next.compression);
            let h = r.header_line(opts.max_line_bytes)?;
            header::check_same(&head, &first, &h, &next.name)?;
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BadKind, BadLineLimit, Ratings};

    const HEADER: &str = "marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\tproduct_title\tproduct_category\tstar_rating\thelpful_votes\ttotal_votes\tvine\tverified_purchase\treview_headline\treview_body\treview_date\n";

    pub(crate) fn line(c: &str, p: &str, stars: &str) -> String {
        format!(
            "US\t{c}\tR1\t{p}\t123\tTitle of {p}\tVideo\t{stars}\t0\t0\tN\tY\thead\tbody \"q\"\t2015-08-31\n"
        )
    }

    fn parse(text: &str, opts: &ReadOptions, threads: usize) -> Result<Ratings> {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        let input = crate::source::decompress::open_source(
            "mem".into(),
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            None,
        )?;
        read_ratings(input, opts, &pool, None)
    }

    #[test]
    fn parses_valid_rows_and_interns_in_first_appearance_order() {
        let text = format!(
            "{HEADER}{}{}{}",
            line("007", "B1", "5"),
            line("7", "B2", "3"),
            line("007", "B2", "1")
        );
        let r = parse(&text, &ReadOptions::default(), 2).unwrap();
        assert_eq!(r.stats.valid, 3);
        assert_eq!(r.customers.get(0), b"007");
        assert_eq!(r.customers.get(1), b"7");
        assert_eq!(r.titles.get(1), b"Title of B2");
        let triples: Vec<_> = r
            .rows
            .iter()
            .map(|x| (x.customer(), x.product(), x.stars()))
            .collect();
        assert_eq!(triples, vec![(0, 0, 5), (1, 1, 3), (0, 1, 1)]);
    }

    #[test]
    fn counts_each_kind_of_bad_line_with_line_numbers() {
        let mut text = HEADER.to_string();
        text += &line("1", "B1", "5"); // line 2 ok
        text += "US\t1\tR\tB1\n"; // 3: field count
        text += &line("", "B1", "5"); // 4
        text += &line("1", "", "5"); // 5
        for bad in ["0", "6", "4.5", "five", "-", " 5", ""] {
            text += &line("1", "B1", bad);
        }
        text += &line("1\u{0}\u{FFFD}", "B1", "5").replace("\u{FFFD}", "\u{0}"); // valid UTF-8, kept
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"US\t\xff\xfe\tR1\tB1\t1\tt\tc\t5\t0\t0\tN\tY\th\tb\td\n");
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(100),
            ..Default::default()
        };
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap());
        let input =
            crate::source::decompress::open_source("mem".into(), Box::new(std::io::Cursor::new(bytes)), None)
                .unwrap();
        let r = read_ratings(input, &opts, &pool, None).unwrap();
        let b = r.stats.bad_lines;
        assert_eq!(
            (
                b.field_count,
                b.empty_customer_id,
                b.empty_product_id,
                b.bad_star_rating,
                b.invalid_utf8_id
            ),
            (1, 1, 1, 7, 1)
        );
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.input_lines, 13);
        assert_eq!(r.stats.examples[0].line, 3);
        assert_eq!(r.stats.examples[0].kind, BadKind::FieldCount);
        assert_eq!(r.stats.examples[3].line, 6);
    }

    #[test]
    fn crlf_and_missing_final_newline_are_fine() {
        let text = format!(
            "{}{}{}",
            HEADER.replace('\n', "\r\n"),
            line("1", "B1", "5").replace('\n', "\r\n"),
            line("2", "B1", "4").trim_end()
        );
        let r = parse(&text, &ReadOptions::default(), 1).unwrap();
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.bad_lines.total(), 0);
    }

    #[test]
    fn rating_as_last_column_with_crlf() {
        let text = "customer_id,product_id,star_rating\r\n1,B,5\r\n2,C,4\r\n";
        let opts = ReadOptions {
            delimiter: b',',
            ..Default::default()
        };
        let r = parse(text, &opts, 1).unwrap();
        assert_eq!(r.rows.iter().map(|x| x.stars()).collect::<Vec<_>>(), vec![5, 4]);
    }

    #[test]
    fn missing_and_duplicate_columns_are_named() {
        let err = parse("customer_id\tproduct\tstar_rating\n", &ReadOptions::default(), 1).unwrap_err();
        assert!(err.message().contains("no column product_id"), "{err}");
        let err = parse(
            "customer_id\tproduct_id\tstar_rating\tproduct_id\n",
            &ReadOptions::default(),
            1,
        )
        .unwrap_err();
        assert!(err.message().contains("appears 2 times"), "{err}");
        let err = parse("", &ReadOptions::default(), 1).unwrap_err();
        assert!(err.message().contains("empty"), "{err}");
    }

    #[test]
    fn too_many_bad_lines_is_an_error() {
        let text = format!("{HEADER}{}{}", line("1", "B1", "x"), line("1", "B1", "5"));
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(0),
            ..Default::default()
        };
        let err = parse(&text, &opts, 1).unwrap_err();
        assert!(err.message().contains("exceed --max-bad-lines"), "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::BadInput);
    }

    #[test]
    fn long_lines_are_skipped_with_bounded_buffers() {
        let long = "x".repeat(300_000);
        let text = format!(
            "{HEADER}{}{}\n{}",
            line("1", "B1", "5"),
            long,
            line("2", "B2", "4")
        );
        let opts = ReadOptions {
            max_line_bytes: 100_000,
            chunk_bytes: 4096,
            max_bad_lines: BadLineLimit::Count(5),
            ..Default::default()
        };
        let r = parse(&text, &opts, 2).unwrap();
        assert_eq!(r.stats.bad_lines.line_too_long, 1);
        assert_eq!(r.stats.valid, 2);
        assert_eq!(r.stats.examples[0].line, 3);
    }

    #[test]
    fn chunking_and_threads_do_not_change_the_result() {
        let mut text = HEADER.to_string();
        for i in 0..3000 {
            text += &line(
                &(i % 97).to_string(),
                &format!("B{}", i % 31),
                &((i % 5) + 1).to_string(),
            );
            if i % 500 == 0 {
                text += "bad\tline\n";
            }
        }
        let a = parse(&text, &ReadOptions::default(), 1).unwrap();
        let small = ReadOptions {
            chunk_bytes: 1000,
            ..Default::default()
        };
        let b = parse(&text, &small, 4).unwrap();
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.stats.examples, b.stats.examples);
        assert_eq!(a.stats.bad_lines, b.stats.bad_lines);
        assert_eq!(
            a.customers.iter().collect::<Vec<_>>(),
            b.customers.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn times_are_read_only_when_asked() {
        let text = format!("{HEADER}{}{}", line("1", "B1", "5"), line("2", "B1", "4"));
        let r = parse(&text, &ReadOptions::default(), 1).unwrap();
        assert!(r.times.is_empty());
        let opts = ReadOptions {
            read_times: true,
            ..Default::default()
        };
        let r = parse(&text, &opts, 2).unwrap();
        assert_eq!(r.times, vec![1_440_979_200; 2]);
    }
}
