//! RecordIO-protobuf: SageMaker's record format, written byte for byte as the SageMaker Python
//! SDK's `write_spmatrix_to_sparse_tensor` writes it, and read back with full framing checks.
//!
//! Framing of every record: magic `0xced7230a` (little-endian u32), a little-endian u32 whose low
//! 29 bits are the payload length and top 3 bits a continuation flag (0 whole, 1 first, 2 middle,
//! 3 last), the payload, then zero padding to a multiple of 4 bytes. The payload is an
//! `aialgs.data.Record` (see `proto/record.proto`).
//!
//! The writer does not go through prost: one sparse row always has the same message shape, so it
//! is serialised directly into a reusable buffer, several times faster than building the message
//! with its two maps (see `benches/core.rs`). Tests check it against prost's encoding and the
//! SDK's bytes.

use std::io::{self, BufRead, Read, Write};

#[cfg(feature = "proto")]
use prost::Message;
use rayon::prelude::*;

use crate::error::{Error, Result};
#[cfg(feature = "proto")]
use crate::proto;
use crate::stages::encode::Encoded;

/// The RecordIO magic number.
pub const MAGIC: u32 = 0xced7_230a;
/// Largest payload a single frame can carry (29 bits).
pub const MAX_FRAME_PAYLOAD: usize = (1 << 29) - 1;
/// Rows encoded per parallel job.
const BLOCK_ROWS: usize = 8192;

#[inline]
fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Append a length-delimited field header: tag byte and varint length.
#[inline]
fn put_len_field(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    put_varint(out, len as u64);
}

const VALUES_KEY: &[u8] = b"\x0a\x06values";

/// Append one framed record for a sparse row: `features["values"]` =
/// `Float32Tensor{values, keys, shape: [feature_dim]}`, `label["values"]` =
/// `Float32Tensor{values: [label]}`.
pub fn encode_sparse_record(out: &mut Vec<u8>, keys: &[u32], values: &[f32], feature_dim: u64, label: f32) {
    debug_assert_eq!(keys.len(), values.len());
    let values_len = 4 * values.len();
    let keys_len: usize = keys.iter().map(|&k| varint_len(k as u64)).sum();
    let shape_len = varint_len(feature_dim);
    let mut tensor = 1 + varint_len(shape_len as u64) + shape_len;
    if !values.is_empty() {
        tensor += 1 + varint_len(values_len as u64) + values_len + 1 + varint_len(keys_len as u64) + keys_len;
    }
    let value = 1 + varint_len(tensor as u64) + tensor;
    let entry = VALUES_KEY.len() + 1 + varint_len(value as u64) + value;
    // The label entry is fixed: 20 bytes.
    let payload = 1 + varint_len(entry as u64) + entry + 20;
    let pad = (4 - payload % 4) % 4;
    out.reserve(8 + payload + pad);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload as u32).to_le_bytes());
    put_len_field(out, 0x0a, entry); // Record.features map entry
    out.extend_from_slice(VALUES_KEY);
    put_len_field(out, 0x12, value); // entry value: Value
    put_len_field(out, 0x12, tensor); // Value.float32_tensor
    if !values.is_empty() {
        put_len_field(out, 0x0a, values_len);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
        put_len_field(out, 0x12, keys_len);
        for &k in keys {
            put_varint(out, k as u64);
        }
    }
    put_len_field(out, 0x1a, shape_len);
    put_varint(out, feature_dim);
    // Record.label map entry {"values": Value{float32_tensor{values: [label]}}}.
    out.extend_from_slice(b"\x12\x12");
    out.extend_from_slice(VALUES_KEY);
    out.extend_from_slice(b"\x12\x08\x12\x06\x0a\x04");
    out.extend_from_slice(&label.to_le_bytes());
    out.extend_from_slice(&[0u8; 3][..pad]);
}

/// Encode rows `range` of `enc` into `out`.
fn encode_rows(out: &mut Vec<u8>, enc: &Encoded, range: std::ops::Range<usize>) {
    let dim = enc.features.cols() as u64;
    for i in range {
        let row = enc.features.outer_view(i).expect("row in range");
        encode_sparse_record(out, row.indices(), row.data(), dim, enc.labels[i]);
    }
}

/// Write rows `range` of `enc` as framed records to `out`, encoding blocks in parallel on the
/// current rayon pool and writing them in order. Returns the bytes written.
pub fn write_records<W: Write + ?Sized>(
    out: &mut W,
    enc: &Encoded,
    range: std::ops::Range<usize>,
) -> io::Result<u64> {
    write_records_counted(out, enc, range, None, &crate::cancel::Cancel::default())
}

/// [`write_records`], adding the records written to `counter` as blocks are written and stopping
/// with [`Cancel::io_error`](crate::cancel::Cancel::io_error) between batches once `cancel` is set.
pub fn write_records_counted<W: Write + ?Sized>(
    out: &mut W,
    enc: &Encoded,
    range: std::ops::Range<usize>,
    counter: Option<&std::sync::atomic::AtomicU64>,
    cancel: &crate::cancel::Cancel,
) -> io::Result<u64> {
    let batch_rows = BLOCK_ROWS * rayon::current_num_threads().max(1) * 2;
    let mut written = 0u64;
    let mut start = range.start;
    while start < range.end {
        cancel.check_io()?;
        let end = (start + batch_rows).min(range.end);
        let blocks: Vec<Vec<u8>> = (start..end)
            .step_by(BLOCK_ROWS)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|b| {
                let mut buf = Vec::with_capacity(BLOCK_ROWS * 64);
                encode_rows(&mut buf, enc, b..(b + BLOCK_ROWS).min(end));
                buf
            })
            .collect();
        for b in &blocks {
            out.write_all(b)?;
            written += b.len() as u64;
        }
        if let Some(c) = counter {
            c.fetch_add((end - start) as u64, std::sync::atomic::Ordering::Relaxed);
        }
        start = end;
    }
    Ok(written)
}

/// Frame an arbitrary payload as one whole record (flag 0), for payloads from other encoders.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) -> Result<()> {
    if payload.len() > MAX_FRAME_PAYLOAD {
        return Err(Error::bad_input(format!(
            "record of {} bytes is too large for one frame",
            payload.len()
        )));
    }
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&[0u8; 3][..(4 - payload.len() % 4) % 4]);
    Ok(())
}

/// Reads framed records and reassembles multi-frame records.
pub struct RecordReader<R> {
    inner: R,
    name: String,
    offset: u64,
    records: u64,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader over `inner`; `name` is used in error messages.
    pub fn new(inner: R, name: impl Into<String>) -> Self {
        RecordReader {
            inner,
            name: name.into(),
            offset: 0,
            records: 0,
        }
    }

    fn err(&self, at: u64, what: impl std::fmt::Display) -> Error {
        self.err_in(self.records, at, what)
    }

    fn err_in(&self, record: u64, at: u64, what: impl std::fmt::Display) -> Error {
        Error::bad_input(format!("{}: byte {at} (record {record}): {what}", self.name))
    }

    /// Read one frame: `None` at a clean end of input.
    fn frame(&mut self) -> Result<Option<(u32, Vec<u8>)>> {
        let at = self.offset;
        let mut head = [0u8; 8];
        let mut got = 0;
        while got < 8 {
            match self.inner.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("cannot read", &self.name, e)),
            }
        }
        if got == 0 {
            return Ok(None);
        }
        if got < 8 {
            return Err(self.err(
                at,
                format!("truncated frame header ({got} of 8 bytes); the file is incomplete, copy it again"),
            ));
        }
        let magic = u32::from_le_bytes(head[..4].try_into().unwrap());
        if magic != MAGIC {
            return Err(self.err(
                at,
                format!(
                    "bad magic {magic:#010x}, expected {MAGIC:#010x}; not a RecordIO-protobuf file, or \
                     damaged here"
                ),
            ));
        }
        let word = u32::from_le_bytes(head[4..].try_into().unwrap());
        let (flag, len) = (word >> 29, (word & ((1 << 29) - 1)) as usize);
        let padded = len.div_ceil(4) * 4;
        let mut payload = Vec::new();
        let n = (&mut self.inner)
            .take(padded as u64)
            .read_to_end(&mut payload)
            .map_err(|e| Error::io("cannot read", &self.name, e))?;
        if n < padded {
            return Err(self.err(
                at,
                format!(
                    "truncated record: {n} of {padded} payload bytes; the file is incomplete, copy it again"
                ),
            ));
        }
        if payload[len..].iter().any(|&b| b != 0) {
            return Err(self.err(at, "non-zero padding after the payload; the file is damaged"));
        }
        payload.truncate(len);
        self.offset += 8 + padded as u64;
        Ok(Some((flag, payload)))
    }

    /// The next whole record's payload, reassembling continuation frames.
    pub fn next_payload(&mut self) -> Result<Option<Vec<u8>>> {
        let at = self.offset;
        let Some((flag, mut payload)) = self.frame()? else {
            return Ok(None);
        };
        match flag {
            0 => {}
            1 => loop {
                let part_at = self.offset;
                match self.frame()? {
                    None => {
                        return Err(self.err(
                            part_at,
                            "the file ends inside a multi-frame record; it is incomplete, copy it again",
                        ))
                    }
                    Some((2, more)) => payload.extend_from_slice(&more),
                    Some((3, more)) => {
                        payload.extend_from_slice(&more);
                        break;
                    }
                    Some((f, _)) => {
                        return Err(self.err(
                            part_at,
                            format!("continuation flag {f} inside a multi-frame record; the file is damaged"),
                        ))
                    }
                }
            },
            f => {
                return Err(self.err(
                    at,
                    format!("continuation flag {f} without a first frame; the file is damaged"),
                ))
            }
        }
        self.records += 1;
        Ok(Some(payload))
    }

    /// The next record, decoded (feature `proto`).
    #[cfg(feature = "proto")]
    pub fn next_record(&mut self) -> Result<Option<proto::Record>> {
        let (at, record) = (self.offset, self.records);
        match self.next_payload()? {
            None => Ok(None),
            Some(p) => proto::Record::decode(p.as_slice()).map(Some).map_err(|e| {
                self.err_in(
                    record,
                    at,
                    format!("payload is not a valid Record protobuf ({e}); the file is damaged"),
                )
            }),
        }
    }
}

/// Records, decoded (feature `proto`).
#[cfg(feature = "proto")]
impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Result<proto::Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The sparse features and label of an FM record, when it has that shape (feature `proto`).
#[cfg(feature = "proto")]
#[derive(Debug, Clone, PartialEq)]
pub struct FmRecord {
    /// Feature keys (column indices).
    pub keys: Vec<u64>,
    /// Feature values.
    pub values: Vec<f32>,
    /// The declared feature_dim (the tensor shape).
    pub feature_dim: Option<u64>,
    /// The label.
    pub label: Option<f32>,
}

#[cfg(feature = "proto")]
impl FmRecord {
    /// Extract the `values` feature and label tensors of a record.
    pub fn from_record(r: &proto::Record) -> Option<FmRecord> {
        let tensor =
            |m: &std::collections::BTreeMap<String, proto::Value>| match m.get("values")?.value.as_ref()? {
                proto::value::Value::Float32Tensor(t) => Some(t.clone()),
                _ => None,
            };
        let f = tensor(&r.features)?;
        let label = tensor(&r.label).and_then(|t| t.values.first().copied());
        Some(FmRecord {
            keys: f.keys,
            values: f.values,
            feature_dim: f.shape.first().copied(),
            label,
        })
    }
}

#[cfg(all(test, feature = "proto"))]
mod tests {
    use super::*;
    use crate::stages::encode::{encode, Sample};
    use crate::stages::index::Dims;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const VECTOR_1: &str = "0a23d7ce330000000a1d0a0676616c756573121312110a080000803f0000803f120200041a010512120a0676616c756573120812060a040000a040000a23d7ce330000000a1d0a0676616c756573121312110a080000803f0000803f120202031a010512120a0676616c756573120812060a040000404000";
    const VECTOR_2: &str = "0a23d7ce390000000a230a0676616c756573121912170a080000803f0000803f1206b7c808a8f40a1a03a9f40a12120a0676616c756573120812060a040000803f000000";

    fn write(samples: &[Sample], dims: Dims) -> Vec<u8> {
        let enc = encode(samples, dims).unwrap();
        let mut out = Vec::new();
        write_records(&mut out, &enc, 0..samples.len()).unwrap();
        out
    }

    #[test]
    fn sdk_test_vector_small() {
        let dims = Dims {
            n_customers: 3,
            n_products: 2,
        };
        let bytes = write(
            &[
                Sample {
                    customer: 0,
                    product: 1,
                    label: 5.0,
                },
                Sample {
                    customer: 2,
                    product: 0,
                    label: 3.0,
                },
            ],
            dims,
        );
        assert_eq!(bytes.len(), 120);
        assert_eq!(bytes, hex(VECTOR_1));
    }

    #[test]
    fn sdk_test_vector_published_dims() {
        let dims = Dims {
            n_customers: 140_344,
            n_products: 38_385,
        };
        let bytes = write(
            &[Sample {
                customer: 140_343,
                product: 38_384,
                label: 1.0,
            }],
            dims,
        );
        assert_eq!(bytes, hex(VECTOR_2));
    }

    fn prost_payload(keys: &[u64], values: &[f32], dim: u64, label: f32) -> Vec<u8> {
        let tensor = |values: Vec<f32>, keys: Vec<u64>, shape: Vec<u64>| proto::Value {
            value: Some(proto::value::Value::Float32Tensor(proto::Float32Tensor {
                values,
                keys,
                shape,
            })),
        };
        let rec = proto::Record {
            features: [(
                "values".to_string(),
                tensor(values.to_vec(), keys.to_vec(), vec![dim]),
            )]
            .into(),
            label: [("values".to_string(), tensor(vec![label], vec![], vec![]))].into(),
            ..Default::default()
        };
        rec.encode_to_vec()
    }

    #[test]
    fn direct_encoder_matches_prost_for_varied_rows() {
        let cases: Vec<(Vec<u32>, u64)> = vec![
            (vec![], 1),
            (vec![0], 1),
            (vec![0, 127, 128, 16_383, 16_384], 20_000),
            (vec![u32::MAX - 1], u32::MAX as u64),
            (vec![5, 2_000_000], 3_000_000_000),
        ];
        for (keys, dim) in cases {
            let values: Vec<f32> = keys.iter().map(|&k| k as f32 * 0.5 + 1.0).collect();
            let mut ours = Vec::new();
            encode_sparse_record(&mut ours, &keys, &values, dim, 2.5);
            let keys64: Vec<u64> = keys.iter().map(|&k| k as u64).collect();
            let mut expected = Vec::new();
            frame(&mut expected, &prost_payload(&keys64, &values, dim, 2.5)).unwrap();
            assert_eq!(ours, expected, "keys {keys:?}");
        }
    }

    #[test]
    fn round_trip_through_reader() {
        let dims = Dims {
            n_customers: 4,
            n_products: 3,
        };
        let samples: Vec<Sample> = (0..20_000u32)
            .map(|i| Sample {
                customer: i % 4,
                product: i % 3,
                label: (i % 5 + 1) as f32,
            })
            .collect();
        let bytes = write(&samples, dims);
        let recs: Vec<FmRecord> = RecordReader::new(&bytes[..], "mem")
            .map(|r| FmRecord::from_record(&r.unwrap()).unwrap())
            .collect();
        assert_eq!(recs.len(), samples.len());
        for (r, s) in recs.iter().zip(&samples) {
            assert_eq!(r.keys, vec![s.customer as u64, 4 + s.product as u64]);
            assert_eq!(r.values, vec![1.0, 1.0]);
            assert_eq!(r.feature_dim, Some(7));
            assert_eq!(r.label, Some(s.label));
        }
    }

    #[test]
    fn reader_reassembles_continuation_frames() {
        let payload = prost_payload(&[1, 2], &[1.0, 1.0], 3, 4.0);
        let (a, rest) = payload.split_at(5);
        let (b, c) = rest.split_at(7);
        let mut bytes = Vec::new();
        for (flag, part) in [(1u32, a), (2, b), (3, c)] {
            bytes.extend_from_slice(&MAGIC.to_le_bytes());
            bytes.extend_from_slice(&((flag << 29) | part.len() as u32).to_le_bytes());
            bytes.extend_from_slice(part);
            bytes.extend_from_slice(&[0u8; 3][..(4 - part.len() % 4) % 4]);
        }
        let mut r = RecordReader::new(&bytes[..], "mem");
        assert_eq!(r.next_payload().unwrap().unwrap(), payload);
        assert!(r.next_payload().unwrap().is_none());
    }

    #[test]
    fn reader_rejects_bad_framing() {
        let good = hex(VECTOR_2);
        let check = |bytes: Vec<u8>, needle: &str| {
            let err = RecordReader::new(&bytes[..], "f")
                .map(|r| r.map(|_| ()))
                .collect::<Result<Vec<_>>>()
                .unwrap_err();
            assert!(err.message().contains(needle), "{err} should mention {needle}");
        };
        let mut bad_magic = good.clone();
        bad_magic[0] = 0;
        check(bad_magic, "bad magic");
        check(good[..good.len() - 2].to_vec(), "truncated record");
        check(good[..5].to_vec(), "truncated frame header");
        let mut pad = good.clone();
        *pad.last_mut().unwrap() = 1;
        check(pad, "non-zero padding");
        let mut flag = good.clone();
        flag[7] |= 0x60; // flag 3 without a first frame
        check(flag, "continuation flag 3");
        let mut garbage = Vec::new();
        frame(&mut garbage, &[0xff, 0xff, 0xff]).unwrap();
        check(garbage, "not a valid Record");
    }
}

#[cfg(all(test, feature = "proto"))]
mod props {
    use super::*;
    use crate::stages::encode::{encode, Sample};
    use crate::stages::index::Dims;
    use proptest::prelude::*;

    /// One sparse record as the writer takes it: (key, value) pairs, feature_dim, label.
    type Row = (Vec<(u32, f32)>, u64, f32);

    fn rows() -> impl Strategy<Value = Vec<Row>> {
        prop::collection::vec(
            (
                prop::collection::vec((any::<u32>(), any::<f32>()), 0..6),
                any::<u64>(),
                any::<f32>(),
            ),
            0..12,
        )
    }

    fn write_rows(rows: &[Row]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (kv, dim, label) in rows {
            let (keys, values): (Vec<u32>, Vec<f32>) = kv.iter().copied().unzip();
            encode_sparse_record(&mut bytes, &keys, &values, *dim, *label);
        }
        bytes
    }

    /// Read every record, stopping at the first error; never more than one record per 8 bytes.
    fn read_all(bytes: &[u8]) -> (Vec<proto::Record>, Option<Error>) {
        let mut out = Vec::new();
        for r in RecordReader::new(bytes, "p") {
            match r {
                Ok(r) => out.push(r),
                Err(e) => return (out, Some(e)),
            }
            assert!(out.len() <= bytes.len() / 8, "more records than frames can hold");
        }
        (out, None)
    }

    /// A single-bit or byte change, a cut, or an insertion somewhere in `bytes`.
    fn mutate(mut bytes: Vec<u8>, kind: u8, at: usize, byte: u8) -> Vec<u8> {
        if bytes.is_empty() {
            return vec![byte];
        }
        let at = at % bytes.len();
        match kind % 4 {
            0 => bytes[at] ^= 1 << (byte % 8),
            1 => bytes[at] = byte,
            2 => bytes.truncate(at),
            _ => bytes.insert(at, byte),
        }
        bytes
    }

    proptest! {
        /// Any keys, values, feature_dim and label come back as written (bit for bit), and the
        /// direct encoder writes what prost would.
        #[test]
        fn writer_reader_round_trip(rows in rows()) {
            let bytes = write_rows(&rows);
            let mut via_prost = Vec::new();
            for (kv, dim, label) in &rows {
                let tensor = |values: Vec<f32>, keys: Vec<u64>, shape: Vec<u64>| proto::Value {
                    value: Some(proto::value::Value::Float32Tensor(proto::Float32Tensor { values, keys, shape })),
                };
                let rec = proto::Record {
                    features: [(
                        "values".to_string(),
                        tensor(kv.iter().map(|x| x.1).collect(), kv.iter().map(|x| x.0 as u64).collect(), vec![*dim]),
                    )]
                    .into(),
                    label: [("values".to_string(), tensor(vec![*label], vec![], vec![]))].into(),
                    ..Default::default()
                };
                frame(&mut via_prost, &rec.encode_to_vec()).unwrap();
            }
            prop_assert_eq!(&bytes, &via_prost);
            prop_assert_eq!(bytes.len() % 4, 0);
            let (records, err) = read_all(&bytes);
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(records.len(), rows.len());
            for (rec, (kv, dim, label)) in records.iter().zip(&rows) {
                let fm = FmRecord::from_record(rec).unwrap();
                prop_assert_eq!(fm.keys, kv.iter().map(|x| x.0 as u64).collect::<Vec<_>>());
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&fm.values), bits(&kv.iter().map(|x| x.1).collect::<Vec<_>>()));
                prop_assert_eq!(fm.feature_dim, Some(*dim));
                prop_assert_eq!(fm.label.map(f32::to_bits), Some(label.to_bits()));
            }
        }

        /// Encoded splits of any dimensions: two ones per record, at the customer and at
        /// n_customers + product, and the label.
        #[test]
        fn encoded_samples_round_trip(
            n_customers in 1u64..5000,
            n_products in 1u64..5000,
            picks in prop::collection::vec((any::<u32>(), any::<u32>(), 1u8..=5), 0..50),
        ) {
            let dims = Dims { n_customers, n_products };
            let samples: Vec<Sample> = picks
                .iter()
                .map(|&(c, p, s)| Sample {
                    customer: c % n_customers as u32,
                    product: p % n_products as u32,
                    label: s as f32,
                })
                .collect();
            let enc = encode(&samples, dims).unwrap();
            let mut bytes = Vec::new();
            write_records(&mut bytes, &enc, 0..samples.len()).unwrap();
            let (records, err) = read_all(&bytes);
            prop_assert!(err.is_none());
            prop_assert_eq!(records.len(), samples.len());
            for (rec, s) in records.iter().zip(&samples) {
                let fm = FmRecord::from_record(rec).unwrap();
                prop_assert_eq!(fm.keys, vec![s.customer as u64, n_customers + s.product as u64]);
                prop_assert_eq!(fm.values, vec![1.0, 1.0]);
                prop_assert_eq!(fm.feature_dim, Some(n_customers + n_products));
                prop_assert_eq!(fm.label, Some(s.label));
            }
        }

        /// A record split over any number of continuation frames reads back as one.
        #[test]
        fn continuation_frames_reassemble(rows in rows(), cuts in prop::collection::vec(any::<usize>(), 0..5)) {
            let whole = write_rows(&rows);
            let mut r = RecordReader::new(&whole[..], "p");
            let payloads: Vec<Vec<u8>> = std::iter::from_fn(|| r.next_payload().unwrap()).collect();
            prop_assert_eq!(payloads.len(), rows.len());
            let mut bytes = Vec::new();
            for payload in &payloads {
                let mut points: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
                points.sort();
                points.dedup();
                let mut bounds = vec![0];
                bounds.extend(points.into_iter().filter(|&p| p > 0 && p < payload.len()));
                bounds.push(payload.len());
                let parts: Vec<&[u8]> = bounds.windows(2).map(|b| &payload[b[0]..b[1]]).collect();
                for (i, part) in parts.iter().enumerate() {
                    let flag = match (parts.len(), i) {
                        (1, _) => 0u32,
                        (_, 0) => 1,
                        (n, i) if i + 1 == n => 3,
                        _ => 2,
                    };
                    bytes.extend_from_slice(&MAGIC.to_le_bytes());
                    bytes.extend_from_slice(&((flag << 29) | part.len() as u32).to_le_bytes());
                    bytes.extend_from_slice(part);
                    bytes.resize(bytes.len() + (4 - part.len() % 4) % 4, 0);
                }
            }
            let mut r = RecordReader::new(&bytes[..], "p");
            let back: Vec<Vec<u8>> = std::iter::from_fn(|| r.next_payload().unwrap()).collect();
            prop_assert_eq!(back, payloads);
        }

        /// Arbitrary bytes: an error or records, never a panic, and the reader stops.
        #[test]
        fn reader_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_all(&bytes);
            // With a valid magic in front, the header word and payload are what is random.
            let mut framed = MAGIC.to_le_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            let _ = read_all(&framed);
        }

        /// Damaged valid files: one change anywhere gives an error naming a byte offset, or
        /// records (a change inside a float is not detectable), never a panic.
        #[test]
        fn reader_survives_damaged_files(rows in rows(), kind in any::<u8>(), at in any::<usize>(), byte in any::<u8>()) {
            let bytes = mutate(write_rows(&rows), kind, at, byte);
            let (records, err) = read_all(&bytes);
            if let Some(e) = err {
                prop_assert!(e.message().starts_with("p: byte "), "{}", e);
                prop_assert_eq!(e.kind(), crate::ErrorKind::BadInput);
            }
            for rec in &records {
                let _ = FmRecord::from_record(rec);
            }
        }
    }
}
