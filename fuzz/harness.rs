//! The checks of the fuzz targets, shared with the regression test that replays the corpus in the
//! normal test suite (`tests/it/regression.rs`), so that CI runs every committed input without
//! libFuzzer.
//!
//! `tsv_reader`: the TSV reader against a line-by-line model of the format rules (the same model as
//! the `source::tsv` property tests). The first three bytes choose the chunk size, the
//! line-length limit and how many bytes each read hands out, so that chunk boundaries and long-line
//! skips land anywhere; the rest is the input (gzip when it starts with the gzip magic).
//!
//! `recordio_reader`: every input ends in records or one error naming a byte offset, never a
//! panic, a hang or an allocation beyond the input's size.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use fmprep::format::recordio::{FmRecord, RecordReader};
use fmprep::model::BadLineLimit;
use fmprep::source::{tsv::read_ratings, ReadOptions};

/// Hands out at most `step` bytes per read.
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
    bad: u64,
    rows: Vec<(Vec<u8>, Vec<u8>, u8)>,
}

/// The format rules one line at a time; `None` when the header lacks a required column.
fn model(data: &[u8], max_line: usize) -> Option<Model> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let header = lines.first()?;
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    let names: Vec<&[u8]> = header.split(|&b| b == b'\t').collect();
    let find = |n: &[u8]| (0..names.len()).filter(|&i| names[i] == n).collect::<Vec<_>>();
    let (c, p, r) = (find(b"customer_id"), find(b"product_id"), find(b"star_rating"));
    if c.len() != 1 || p.len() != 1 || r.len() != 1 || find(b"product_title").len() > 1 {
        return None;
    }
    let (c, p, r) = (c[0], p[0], r[0]);
    let mut m = Model::default();
    for line in &lines[1..] {
        m.input_lines += 1;
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        if content.is_empty() {
            m.blank += 1;
            continue;
        }
        let f: Vec<&[u8]> = content.split(|&b| b == b'\t').collect();
        let ok = line.len() <= max_line
            && f.len() == names.len()
            && !f[c].is_empty()
            && !f[p].is_empty()
            && std::str::from_utf8(f[c]).is_ok()
            && std::str::from_utf8(f[p]).is_ok()
            && matches!(f[r], [b'1'..=b'5']);
        if ok {
            m.rows.push((f[c].to_vec(), f[p].to_vec(), f[r][0] - b'0'));
        } else {
            m.bad += 1;
        }
    }
    Some(m)
}

/// The `tsv_reader` target: parse `data` (3 knob bytes, then the input) and check it.
pub fn tsv_reader(data: &[u8]) {
    // One worker runs everything on the calling thread, two take the pipelined path with a reader
    // thread and parse jobs; the low bit of the step byte picks one. (Run the fuzzer pinned to
    // one core: the threads then take turns.)
    static POOLS: OnceLock<[Arc<rayon::ThreadPool>; 2]> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        [1, 2].map(|n| Arc::new(rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()))
    });
    let [a, b, step, body @ ..] = data else { return };
    let pool = &pools[usize::from(*step & 1)];
    let opts = ReadOptions {
        max_bad_lines: BadLineLimit::Count(u64::MAX),
        chunk_bytes: 1 + *a as usize * 8,
        max_line_bytes: 1 + *b as usize * 2,
        ..ReadOptions::default()
    };
    let raw = Trickle {
        data: body.to_vec(),
        pos: 0,
        step: 1 + *step as usize * 16,
    };
    let Ok(input) = fmprep::source::decompress::open_source("fuzz".into(), Box::new(raw), None) else {
        return;
    };
    let gzip = input.compression != fmprep::source::Compression::None;
    match read_ratings(input, &opts, pool, None) {
        Ok(r) => {
            let s = &r.stats;
            assert_eq!(s.valid + s.bad_lines.total() + s.blank_lines, s.input_lines);
            assert_eq!(s.valid, r.rows.len() as u64);
            if !gzip {
                let want = model(body, opts.max_line_bytes).expect("accepted a header the model refuses");
                let got = Model {
                    input_lines: s.input_lines,
                    blank: s.blank_lines,
                    bad: s.bad_lines.total(),
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
                };
                assert_eq!(got, want);
            }
        }
        Err(e) => {
            assert!(e.message().starts_with("fuzz"), "{e}");
            if !gzip && e.kind() == fmprep::ErrorKind::BadInput && model(body, opts.max_line_bytes).is_some()
            {
                // Only an over-long header may be refused while the model accepts the file.
                assert!(e.message().contains("(the header) is longer"), "{e}");
            }
        }
    }
}

/// The `recordio_reader` target: read every record of `data`.
pub fn recordio_reader(data: &[u8]) {
    let mut records = 0usize;
    for r in RecordReader::new(data, "fuzz") {
        match r {
            Ok(rec) => {
                let _ = FmRecord::from_record(&rec);
                records += 1;
                // Every record takes at least one 8-byte frame header.
                assert!(records <= data.len() / 8);
            }
            Err(e) => {
                assert!(e.message().starts_with("fuzz: byte "), "{e}");
                assert_eq!(e.kind(), fmprep::ErrorKind::BadInput);
                break;
            }
        }
    }
}
