//! Using fmprep as a library, without the CLI: ratings from memory through every stage to
//! RecordIO-protobuf bytes, then a whole file-to-directory run.
//!
//! `cargo run --example library -- [REVIEWS.tsv.gz OUTPUT_DIR]`

use fmprep::format::recordio;
use fmprep::stages::{encode, filter, index::Index, split};

fn main() -> fmprep::Result<()> {
    // 1. Stages on in-memory data: (customer_id, product_id, stars).
    let ratings = fmprep::model::Ratings::from_triples([
        ("alice", "B001", 5),
        ("alice", "B002", 3),
        ("bob", "B001", 4),
        ("bob", "B002", 2),
        ("carol", "B001", 1),
    ]);
    let thresholds = filter::FilterOptions {
        min_customer_ratings: 1,
        min_product_ratings: 2,
    };
    let rows = filter::dedupe(filter::long_tail(&ratings, &thresholds));
    let index = Index::build(&rows, &ratings);
    let parts = split::split(rows.len(), &split::SplitFractions::default(), 42);
    let train = encode::encode(&encode::samples(&rows, &parts.train, &index), index.dims())?;
    let mut bytes = Vec::new();
    recordio::write_records(&mut bytes, &train, 0..train.labels.len())
        .map_err(|e| fmprep::Error::io("encoding", "memory", e))?;
    println!(
        "{} rows, feature_dim {}, {} training records in {} bytes",
        rows.len(),
        index.dims().feature_dim(),
        train.labels.len(),
        bytes.len()
    );

    // 2. A whole run, file to directory, as `fmprep run` does it.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [input, output] = args.as_slice() {
        let input = fmprep::source::decompress::open_input(input)?;
        let store = fmprep::store::LocalStore::new(output);
        let opts = fmprep::Options {
            overwrite: true,
            ..Default::default()
        };
        let manifest = fmprep::pipeline::run(input, &store, &opts)?;
        println!(
            "feature_dim {} written to {}",
            manifest.feature_dim, manifest.output
        );
    }
    Ok(())
}
