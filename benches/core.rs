//! Criterion benchmarks of the core loops on synthetic data (`fmprep::synth`).
//!
//! `cargo bench --bench core` ; a group name per pipeline stage.

use std::io::{Cursor, Write};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fmprep::format::recordio;
use fmprep::source::{tsv, ReadOptions};
use fmprep::stages::encode::{self, Sample};
use fmprep::stages::filter::{self, FilterOptions};
use fmprep::stages::index::{Dims, Index};
use prost::Message;

const ROWS: u64 = 200_000;

fn tsv() -> Vec<u8> {
    let mut out = Vec::new();
    let opts = fmprep::synth::SynthOptions {
        rows: ROWS,
        seed: 1,
        ..Default::default()
    };
    fmprep::synth::write_synth(&opts, &mut out).unwrap();
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn parse(data: &[u8], pool: &Arc<rayon::ThreadPool>) -> fmprep::model::Ratings {
    let input =
        fmprep::source::decompress::open_source("bench".into(), Box::new(Cursor::new(data.to_vec())), None)
            .unwrap();
    tsv::read_ratings(input, &ReadOptions::default(), pool, None).unwrap()
}

fn benches(c: &mut Criterion) {
    let text = tsv();
    let gz = gzip(&text);
    let pool1 = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap());
    let pool = Arc::new(rayon::ThreadPoolBuilder::new().build().unwrap());

    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    g.bench_function("parse_1_thread", |b| b.iter(|| parse(&text, &pool1)));
    g.bench_function("parse_all_threads", |b| b.iter(|| parse(&text, &pool)));
    g.bench_function("decompress_only", |b| {
        b.iter(|| {
            let input =
                fmprep::source::decompress::open_source("gz".into(), Box::new(Cursor::new(gz.clone())), None)
                    .unwrap();
            input.drain(std::io::sink()).unwrap()
        })
    });
    g.bench_function("gunzip_and_parse", |b| b.iter(|| parse(&gz, &pool)));
    g.finish();

    // The inflater choice (issue 13): fmprep's default (ISA-L with the `isal` feature) against
    // flate2's zlib-rs, both draining the same gzip member through a 1 MiB buffered reader.
    let mut g = c.benchmark_group("inflate");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    let drain = |mut r: Box<dyn std::io::Read + Send>| std::io::copy(&mut r, &mut std::io::sink()).unwrap();
    g.bench_function(fmprep::source::inflate::INFLATER, |b| {
        b.iter(|| {
            let raw = std::io::BufReader::with_capacity(1 << 20, Cursor::new(gz.clone()));
            drain(fmprep::source::inflate::gzip_decoder(raw))
        })
    });
    g.bench_function("zlib-rs", |b| {
        b.iter(|| {
            let raw = std::io::BufReader::with_capacity(1 << 20, Cursor::new(gz.clone()));
            drain(Box::new(flate2::bufread::MultiGzDecoder::new(raw)))
        })
    });
    g.finish();

    let ratings = parse(&text, &pool);
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(ratings.rows.len() as u64));
    let f = FilterOptions::default();
    g.bench_function("count_and_filter", |b| b.iter(|| filter::long_tail(&ratings, &f)));
    let kept = filter::long_tail(&ratings, &f);
    g.bench_function("dedupe", |b| {
        b.iter_batched(|| kept.clone(), filter::dedupe, BatchSize::LargeInput)
    });
    let rows = filter::dedupe(kept);
    g.bench_function("index", |b| b.iter(|| Index::build(&rows, &ratings)));
    let index = Index::build(&rows, &ratings);
    let parts = fmprep::stages::split::split(rows.len(), &Default::default(), 42);
    g.bench_function("split", |b| {
        b.iter(|| fmprep::stages::split::split(rows.len(), &Default::default(), 42))
    });
    let samples = encode::samples(&rows, &parts.train, &index);
    g.bench_function("csr_build", |b| {
        b.iter(|| encode::encode(&samples, index.dims()).unwrap())
    });
    g.finish();

    // RecordIO encoding: the direct encoder against building prost messages, on the
    // published dimensions so keys need 3-byte varints as in production.
    let dims = Dims {
        n_customers: 140_344,
        n_products: 38_385,
    };
    let n = 100_000u32;
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            customer: ((i as u64 * 7919) % 140_344) as u32,
            product: ((i as u64 * 104_729) % 38_385) as u32,
            label: (i % 5 + 1) as f32,
        })
        .collect();
    let enc = encode::encode(&samples, dims).unwrap();
    let mut g = c.benchmark_group("recordio");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("direct_encoder_parallel", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(n as usize * 72);
            pool.install(|| recordio::write_records(&mut out, &enc, 0..n as usize))
                .unwrap();
            out
        })
    });
    g.bench_function("direct_encoder_1_thread", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(n as usize * 72);
            pool1
                .install(|| recordio::write_records(&mut out, &enc, 0..n as usize))
                .unwrap();
            out
        })
    });
    g.bench_function("prost_messages_1_thread", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(n as usize * 72);
            for s in &samples {
                let t = |values: Vec<f32>, keys: Vec<u64>, shape: Vec<u64>| fmprep::proto::Value {
                    value: Some(fmprep::proto::value::Value::Float32Tensor(
                        fmprep::proto::Float32Tensor { values, keys, shape },
                    )),
                };
                let rec = fmprep::proto::Record {
                    features: [(
                        "values".to_string(),
                        t(
                            vec![1.0, 1.0],
                            vec![s.customer as u64, dims.n_customers + s.product as u64],
                            vec![dims.feature_dim()],
                        ),
                    )]
                    .into(),
                    label: [("values".to_string(), t(vec![s.label], vec![], vec![]))].into(),
                    ..Default::default()
                };
                recordio::frame(&mut out, &rec.encode_to_vec()).unwrap();
            }
            out
        })
    });
    g.finish();

    side_features(c, &text, &pool);
}

/// The cost of each extra block (`--categorical verified_purchase,vine --numeric
/// helpful_votes:log1p`, one more each step): in the parse (the columns captured per line) and in
/// CSR + RecordIO encoding of the training split.
fn side_features(c: &mut Criterion, text: &[u8], pool: &Arc<rayon::ThreadPool>) {
    use fmprep::features::{self, FeatureOptions};
    let steps: Vec<(&str, FeatureOptions)> = (0..=3)
        .map(|n| {
            let cats = ["verified_purchase", "vine"];
            let o = FeatureOptions {
                categorical: features::parse_categorical(&cats[..n.min(2)].join(",")).unwrap(),
                numeric: if n == 3 {
                    features::parse_numeric("helpful_votes:log1p").unwrap()
                } else {
                    Vec::new()
                },
                ..FeatureOptions::default()
            };
            (["0_blocks", "1_block", "2_blocks", "3_blocks"][n], o)
        })
        .collect();
    let read_with = |o: &FeatureOptions| {
        let read = ReadOptions {
            extra_columns: o.input_columns(),
            ..ReadOptions::default()
        };
        let input = fmprep::source::decompress::open_source(
            "bench".into(),
            Box::new(Cursor::new(text.to_vec())),
            None,
        )
        .unwrap();
        tsv::read_ratings(input, &read, pool, None).unwrap()
    };
    let mut g = c.benchmark_group("side_features_parse");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(20);
    for (name, o) in &steps {
        g.bench_function(*name, |b| b.iter(|| read_with(o)));
    }
    g.finish();

    let ratings = read_with(&steps[3].1);
    let rows = filter::dedupe(filter::long_tail(&ratings, &FilterOptions::default()));
    let index = Index::build(&rows, &ratings);
    let parts = fmprep::stages::split::split(rows.len(), &Default::default(), 42);
    let samples = encode::samples(&rows, &parts.train, &index);
    let mut g = c.benchmark_group("side_features_encode");
    g.throughput(Throughput::Elements(samples.len() as u64));
    for (name, o) in &steps {
        let fitted = features::gather::build(o, &ratings, (None, None), &rows, &parts.train, index.dims())
            .unwrap()
            .map(|f| f.fitted);
        g.bench_function(*name, |b| {
            b.iter(|| {
                let enc = match &fitted {
                    None => encode::encode(&samples, index.dims()).unwrap(),
                    Some(f) => f.encode(&samples, &parts.train, index.dims()).unwrap(),
                };
                let mut out = Vec::with_capacity(samples.len() * 96);
                pool.install(|| recordio::write_records(&mut out, &enc, 0..samples.len()))
                    .unwrap();
                out
            })
        });
    }
    g.finish();
}

/// Interning alone, keys shaped like the full-size file's (8-digit customer ids, about one distinct
/// id per two rows; 10-byte product ids, one per 23 rows), at 1/8 of its 4 M rows: growing the
/// index from empty against sizing it up front.
fn interning(c: &mut Criterion) {
    use fmprep::model::{KeyRef, KeyTable};
    const N: u64 = 500_000;
    let mut state = 7u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let customers: Vec<Vec<u8>> = (0..N)
        .map(|_| format!("{:08}", next() % (N / 2)).into_bytes())
        .collect();
    let products: Vec<Vec<u8>> = (0..N)
        .map(|_| format!("B{:09}", next() % (N / 23)).into_bytes())
        .collect();
    let prepared = |keys: &[Vec<u8>]| -> Vec<(u64, fmprep::model::SmallKey)> {
        keys.iter()
            .map(|k| (KeyRef::new(k).hash, KeyRef::new(k).small))
            .collect()
    };
    let (ch, ph) = (prepared(&customers), prepared(&products));
    let run = |mut t: KeyTable, keys: &[Vec<u8>], pre: &[(u64, fmprep::model::SmallKey)]| {
        for (k, &(hash, small)) in keys.iter().zip(pre) {
            t.intern_ref(&KeyRef {
                bytes: k,
                hash,
                small,
            });
        }
        t.len()
    };
    let mut g = c.benchmark_group("intern");
    g.throughput(Throughput::Elements(N));
    g.bench_function("customers_growing", |b| {
        b.iter(|| run(KeyTable::new(), &customers, &ch))
    });
    g.bench_function("customers_sized_up_front", |b| {
        b.iter(|| {
            run(
                KeyTable::with_capacity(N as usize / 2, N as usize * 4),
                &customers,
                &ch,
            )
        })
    });
    g.bench_function("products_growing", |b| {
        b.iter(|| run(KeyTable::new(), &products, &ph))
    });
    g.finish();
}

criterion_group!(core, benches, interning);
criterion_main!(core);
