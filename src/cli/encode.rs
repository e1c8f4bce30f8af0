//! `fmprep encode`: (customer_id, product_id) pairs → inference records, with a run's maps.

use std::io::Write;

use crate::tools::infer::{self, EncodeOptions, Format, Maps, UnknownPolicy};
use anyhow::Context;
use clap::Args;

use super::{parse_delimiter, ui, S3Args};

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// CSV or TSV of pairs with a header line (`-` = stdin; gzip detected).
    #[arg(default_value = "-")]
    pub input: String,
    /// The output directory of `fmprep run`/`preprocess` (or its maps/ folder), local or
    /// s3://bucket/prefix.
    #[arg(long, env = "FMPREP_MAPS")]
    pub maps: String,
    /// Output file, local or s3://bucket/key; `-` writes to stdout (then no JSON summary is
    /// printed).
    #[arg(short, long, default_value = "-")]
    pub output: String,
    /// `recordio` (RecordIO-protobuf, features only, for batch transform) or `json` (FM endpoint
    /// request bodies, one per line).
    #[arg(long, default_value = "recordio")]
    pub format: Format,
    /// Rows whose customer or product is not in the maps: `error` (exit 3, nothing written),
    /// `skip` (leave the row out) or `omit` (keep the row without the unknown id's feature).
    #[arg(long, default_value = "error")]
    pub unknown: UnknownPolicy,
    /// Header name of the customer id column.
    #[arg(long, default_value = "customer_id")]
    pub customer_col: String,
    /// Header name of the product id column.
    #[arg(long, default_value = "product_id")]
    pub product_col: String,
    /// Field separator (default: tab if the header has one, else comma).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// JSON: instances per request body (0 = all in one body). Endpoints take up to 6 MB a request.
    #[arg(long, default_value_t = 0)]
    pub batch: usize,
    /// The run's customer side table, when it has `customer.COL` features (looked up by id).
    #[arg(long, value_name = "FILE")]
    pub customer_features: Option<String>,
    /// The run's product side table, when it has `product.COL` features.
    #[arg(long, value_name = "FILE")]
    pub product_features: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

pub fn run(a: EncodeArgs, cancel: &crate::cancel::Cancel) -> anyhow::Result<Option<String>> {
    let s3 = a.s3.options(cancel);
    let mut maps = Maps::open(&crate::Location::parse(&a.maps)?, &s3)
        .with_context(|| format!("loading maps from {}", a.maps))?;
    if let Some(f) = maps.features_mut() {
        f.attach_tables(
            a.customer_features.as_deref(),
            a.product_features.as_deref(),
            (&a.customer_col, &a.product_col),
            &s3,
        )?;
        ui::info(&format!(
            "side features: {}",
            f.layout()
                .blocks
                .iter()
                .skip(2)
                .map(|b| format!("{} ({} keys from {})", b.name, b.size, b.offset))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    ui::info(&format!(
        "maps: {} customers, {} products, feature_dim {}",
        maps.n_customers(),
        maps.n_products(),
        maps.feature_dim()
    ));
    let input = crate::source::decompress::open_input_with(&a.input, &s3)
        .with_context(|| format!("opening input {}", a.input))?;
    let opts = EncodeOptions {
        customer_col: a.customer_col,
        product_col: a.product_col,
        delimiter: a.delimiter,
        unknown: a.unknown,
        format: a.format,
        batch: a.batch,
        ..EncodeOptions::default()
    };
    let name = input.name.clone();
    let stats = if a.output == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        infer::encode_pairs(&maps, input.reader, &name, &mut lock, &opts)?
    } else {
        // Staged and committed on success, like every fmprep output file, locally or on S3.
        let mut w = crate::store::create_file(&a.output, &s3)?;
        let stats = infer::encode_pairs(&maps, input.reader, &name, &mut w, &opts)?;
        w.flush().ok();
        w.commit()?;
        stats
    };
    if stats.unknown_rows > 0 {
        let first: Vec<String> = stats.unknown_examples.iter().map(|u| u.to_string()).collect();
        let what = match opts.unknown {
            UnknownPolicy::Skip => "skipped",
            _ => "encoded without the unknown feature",
        };
        ui::warn(&format!(
            "{} of {} rows have ids not in the maps ({} unknown customers, {} unknown products), {what}; first: {}",
            stats.unknown_rows,
            stats.rows,
            stats.unknown_customers,
            stats.unknown_products,
            first.join(", ")
        ));
    }
    if !stats.side.is_zero() {
        ui::warn(&format!(
            "side features: {} unseen categories encoded as __other__, {} left out (no __other__ slot); \
             {} ids absent from their side table",
            stats.side.unseen_to_other, stats.side.unseen_omitted, stats.side.side_ids_missing
        ));
    }
    ui::info(&format!(
        "encoded {} of {} rows ({} bytes)",
        stats.written, stats.rows, stats.bytes
    ));
    if a.output == "-" {
        return Ok(None);
    }
    let summary = serde_json::json!({
        "command": "encode",
        "input": a.input,
        "output": a.output,
        "format": opts.format,
        "unknown": opts.unknown,
        "stats": stats,
    });
    Ok(Some(serde_json::to_string(&summary)?))
}
