//! Two pipeline runs at once from Rust, each with its own cancel token: the first finishes, the
//! second is cancelled from another thread and leaves no manifest (and no staged file).
//!
//! `cargo run --release --example cancel -- [ROWS]` (default 400,000 synthetic rows)

use std::time::Duration;

use fmprep::cancel::Cancel;
use fmprep::store::{LocalStore, Store, MANIFEST};

fn main() -> fmprep::Result<()> {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400_000);
    let dir = std::env::temp_dir().join(format!("fmprep-cancel-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| fmprep::Error::io("cannot create", &dir, e))?;
    let input = dir.join("reviews.tsv");
    let synth = fmprep::synth::SynthOptions {
        rows,
        ..Default::default()
    };
    let file = std::fs::File::create(&input).map_err(|e| fmprep::Error::io("cannot create", &input, e))?;
    fmprep::synth::write_synth(&synth, std::io::BufWriter::new(file))
        .map_err(|e| fmprep::Error::io("cannot write", &input, e))?;

    let run = |name: &str, cancel: Cancel| {
        let (input, out) = (input.clone(), dir.join(name));
        std::thread::spawn(move || -> fmprep::Result<fmprep::format::manifest::Manifest> {
            let s3 = fmprep::S3Options {
                cancel: cancel.clone(),
                ..Default::default()
            };
            let source = fmprep::open_ratings(&fmprep::Location::Local(input), &s3)?;
            let opts = fmprep::Options {
                overwrite: true,
                ..Default::default()
            }
            .with_cancel(&cancel);
            fmprep::pipeline::run(source, &LocalStore::new(out), &opts)
        })
    };
    let (keep, stop) = (Cancel::new(), Cancel::new());
    let first = run("first", keep);
    let second = run("second", stop.clone());
    // Another thread decides to stop the second run while both are working.
    std::thread::sleep(Duration::from_millis(50));
    stop.cancel();

    let first = first.join().expect("first run thread")?;
    println!(
        "first run: {} training records, feature_dim {}",
        first.counts.train, first.feature_dim
    );
    match second.join().expect("second run thread") {
        Err(e) if e.kind() == fmprep::ErrorKind::Interrupted => println!("second run: {e}"),
        Err(e) => return Err(e),
        Ok(_) => println!("second run: finished before the cancel arrived (try more ROWS)"),
    }
    let second_store = LocalStore::new(dir.join("second"));
    let left = second_store.read(MANIFEST)?.is_some();
    println!("second run left a manifest: {left}");
    std::fs::remove_dir_all(&dir).map_err(|e| fmprep::Error::io("cannot remove", &dir, e))?;
    Ok(())
}
