//! Property tests of the TSV reader against a line-by-line reference model of the format rules.

use std::io::Read;
use std::sync::Arc;

use super::*;
use crate::model::{BadKind, BadLineCounts, BadLineLimit, Ratings};
use proptest::prelude::*;

/// Hands out at most `step` bytes per read, so that chunk boundaries fall anywhere.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Debug, Default, PartialEq)]
struct Model {
    input_lines: u64,
    blank: u64,
    bad: BadLineCounts,
    rows: Vec<(Vec<u8>, Vec<u8>, u8)>,
    /// (line number, kind) of the first five bad lines.
    examples: Vec<(u64, BadKind)>,
}

/// The format rules, one line at a time: the specification the parallel reader must match.
fn model(data: &[u8], max_line: usize) -> Option<Model> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop(); // the final newline ends the last line, it does not start another
    }
    let header = lines.first()?;
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    let names: Vec<&[u8]> = header.split(|&b| b == b'\t').collect();
    let find = |n: &[u8]| {
        let hits: Vec<usize> = (0..names.len()).filter(|&i| names[i] == n).collect();
        hits
    };
    let (c, p, r) = (find(b"customer_id"), find(b"product_id"), find(b"star_rating"));
    if c.len() != 1 || p.len() != 1 || r.len() != 1 || find(b"product_title").len() > 1 {
        return None;
    }
    let (c, p, r) = (c[0], p[0], r[0]);
    let mut m = Model::default();
    for (i, line) in lines.iter().enumerate().skip(1) {
        m.input_lines += 1;
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        if content.is_empty() {
            m.blank += 1;
            continue;
        }
        let fields: Vec<&[u8]> = content.split(|&b| b == b'\t').collect();
        let kind = if line.len() > max_line {
            Some(BadKind::LineTooLong)
        } else if fields.len() != names.len() {
            Some(BadKind::FieldCount)
        } else if fields[c].is_empty() {
            Some(BadKind::EmptyCustomerId)
        } else if fields[p].is_empty() {
            Some(BadKind::EmptyProductId)
        } else if std::str::from_utf8(fields[c]).is_err() || std::str::from_utf8(fields[p]).is_err() {
            Some(BadKind::InvalidUtf8Id)
        } else if !matches!(fields[r], [b'1'..=b'5']) {
            Some(BadKind::BadStarRating)
        } else {
            None
        };
        match kind {
            Some(kind) => {
                m.bad.add(kind);
                if m.examples.len() < 5 {
                    m.examples.push((i as u64 + 1, kind));
                }
            }
            None => m
                .rows
                .push((fields[c].to_vec(), fields[p].to_vec(), fields[r][0] - b'0')),
        }
    }
    Some(m)
}

fn observed(r: &Ratings) -> Model {
    Model {
        input_lines: r.stats.input_lines,
        blank: r.stats.blank_lines,
        bad: r.stats.bad_lines,
        rows: r
            .rows
            .iter()
            .map(|x| {
                (
                    r.customers.get(x.customer()).to_vec(),
                    r.products.get(x.product()).to_vec(),
                    x.stars(),
                )
            })
            .collect(),
        examples: r.stats.examples.iter().map(|b| (b.line, b.kind)).collect(),
    }
}

fn field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(vec![
            &b""[..], b"1", b"3", b"5", b"0", b"6", b"c1", b"c2", b"p1", b"p2", b" 5", b"5 ",
            b"4.5", b"\r", b"\xff", b"\xc3\x28", b"\0", b"\"q\"", b"\xc3\xa9",
        ])
        .prop_map(|f| f.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
        1 => (0usize..120).prop_map(|n| vec![b'x'; n]),
    ]
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let good = prop::sample::select(vec![&b"c1"[..], b"c2", b"p1", b"1", b"2", b"4", b"5"]);
    prop_oneof![
        // Four plain values: mostly valid rows, whatever the column order.
        4 => prop::collection::vec(good, 4).prop_map(|f| f.join(&b'\t')),
        4 => prop::collection::vec(field(), 2..6).prop_map(|f| f.join(&b'\t')),
        1 => prop::collection::vec(any::<u8>(), 0..60),
    ]
}

/// A header with the four known columns in any order (sometimes one missing or doubled),
/// then lines with LF or CRLF ends, the last one possibly without.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let names = prop_oneof![
        // Mostly a valid header: the model then has lines to compare.
        4 => Just(vec!["customer_id", "product_id", "star_rating", "product_title"]).prop_shuffle(),
        1 => prop::sample::subsequence(
            vec!["customer_id", "product_id", "star_rating", "product_title", "star_rating"],
            3..=4,
        )
        .prop_shuffle(),
    ];
    (
        names,
        any::<bool>(),
        prop::collection::vec((line(), prop::sample::select(vec![&b"\n"[..], b"\r\n"])), 0..40),
        any::<bool>(),
    )
        .prop_map(|(names, crlf, lines, final_newline)| {
            let mut out = names.join("\t").into_bytes();
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            let n = lines.len();
            for (i, (l, end)) in lines.into_iter().enumerate() {
                out.extend_from_slice(&l);
                if i + 1 < n || final_newline {
                    out.extend_from_slice(end);
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the chunk size, read size, thread count and line limit, the parallel reader
    /// agrees with the model line for line, and its counts add up.
    #[test]
    fn reader_matches_the_line_model(
        data in input(),
        chunk_bytes in 1usize..300,
        step in 1usize..100,
        threads in 1usize..4,
        max_line in 20usize..200,
    ) {
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap());
        let opts = ReadOptions {
            delimiter: b'\t',
            max_bad_lines: BadLineLimit::Fraction(1.0),
            max_line_bytes: max_line,
            chunk_bytes,
            ..ReadOptions::default()
        };
        let raw = Trickle { data: data.clone(), pos: 0, step };
        let input = crate::source::decompress::open_source("mem".into(), Box::new(raw), None).unwrap();
        let got = read_ratings(input, &opts, &pool, None);
        // Header lines longer than the limit are refused only when their end is not in the
        // first read; the model does not know reads, so such headers are not compared.
        let header_len = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        match (model(&data, max_line), got) {
            (Some(want), Ok(r)) => {
                let s = &r.stats;
                prop_assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
                prop_assert_eq!(s.valid, r.rows.len() as u64);
                prop_assert_eq!(observed(&r), want);
            }
            (None, Err(e)) => prop_assert_eq!(e.kind(), crate::ErrorKind::BadInput),
            (Some(_), Err(e)) if header_len > max_line => {
                prop_assert!(e.message().contains("(the header) is longer"), "{}", e);
            }
            (want, got) => prop_assert!(false, "model {:?} vs reader {:?}", want, got.map(|r| observed(&r))),
        }
    }

    /// Arbitrary bytes: never a panic or a hang, and when the input is accepted the counts
    /// add up.
    #[test]
    fn reader_survives_arbitrary_bytes(
        data in prop::collection::vec(any::<u8>(), 0..600),
        with_header in any::<bool>(),
        chunk_bytes in 1usize..200,
        max_line in 1usize..100,
    ) {
        let mut bytes = if with_header { b"customer_id\tproduct_id\tstar_rating\n".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&data);
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap());
        let opts = ReadOptions {
            max_bad_lines: BadLineLimit::Count(u64::MAX),
            max_line_bytes: max_line,
            chunk_bytes,
            ..ReadOptions::default()
        };
        let input = crate::source::decompress::open_source("mem".into(), Box::new(std::io::Cursor::new(bytes)), None).unwrap();
        if let Ok(r) = read_ratings(input, &opts, &pool, None) {
            let s = &r.stats;
            prop_assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
        }
    }
}
