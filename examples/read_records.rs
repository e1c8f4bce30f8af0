//! Reading RecordIO-protobuf back, as `fmprep inspect` does: records as sparse (keys, values) plus
//! label, and a summary.
//!
//! `cargo run --example read_records -- out/train/train.protobuf`

use std::io::BufReader;

use fmprep::format::recordio::{FmRecord, RecordReader};

fn main() -> fmprep::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: read_records FILE.protobuf");
        std::process::exit(2);
    });
    let file = std::fs::File::open(&path).map_err(|e| fmprep::Error::io("cannot open", &path, e))?;
    let (mut records, mut label_sum) = (0u64, 0f64);
    for record in RecordReader::new(BufReader::new(file), path.clone()) {
        let Some(fm) = FmRecord::from_record(&record?) else {
            continue;
        };
        if records < 3 {
            println!(
                "keys {:?} values {:?} feature_dim {:?} label {:?}",
                fm.keys, fm.values, fm.feature_dim, fm.label
            );
        }
        records += 1;
        label_sum += fm.label.unwrap_or(0.0) as f64;
    }
    println!(
        "{records} records, mean label {:.3}",
        label_sum / records.max(1) as f64
    );
    Ok(())
}
