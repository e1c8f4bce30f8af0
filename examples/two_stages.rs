//! The Python pipeline's two Airflow tasks as library calls: `preprocess` writes the split CSVs
//! and maps, `prepare` turns them into RecordIO-protobuf; the result equals a one-shot `run`.
//! Outputs may be local directories or `s3://bucket/prefix` (credentials from the AWS chain).
//!
//! `cargo run --example two_stages -- data-samples/reviews_sample.tsv.gz /tmp/pre /tmp/prepared`

use fmprep::pipeline::{self, PrepareOptions};
use fmprep::store::{open_source, open_store};

fn main() -> fmprep::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pre, prepared] = args.as_slice() else {
        eprintln!("usage: two_stages INPUT PREPROCESS_OUT PREPARE_OUT");
        std::process::exit(2);
    };
    let opts = fmprep::Options {
        overwrite: true,
        seed: 7,
        ..Default::default()
    };

    let pre_manifest = pipeline::preprocess(
        fmprep::source::decompress::open_input(input)?,
        open_store(pre)?.as_ref(),
        &opts,
    )?;
    println!(
        "preprocess: {} rows after de-duplication",
        pre_manifest.counts.after_dedupe
    );

    let manifest = pipeline::prepare(
        open_source(pre)?.as_ref(),
        open_store(prepared)?.as_ref(),
        &opts,
        &PrepareOptions::default(),
    )?;
    println!(
        "prepare: feature_dim {} for the FM training job",
        manifest.hyperparameters["feature_dim"]
    );
    Ok(())
}
