//! [`write_synth`]: the file, block batches generated on the rayon pool while the calling thread
//! writes the previous batch in order.

use std::io::{self, Write};

use crate::synth::options::{SynthOptions, SynthStats};
use crate::synth::rows::{BlockStats, Model, BLOCK_ROWS};

/// Write a header line and `rows` data lines (bad lines count toward rows) to `out` (uncompressed
/// text; the caller wraps it in a gzip encoder when needed).
///
/// Blocks are generated on the current rayon pool (the global one, or the one this is called from
/// via `install`) while this thread writes the previous batch, so a slow `out` such as a gzip
/// encoder overlaps with generation. `out` is flushed at the end.
pub fn write_synth<W: Write>(opts: &SynthOptions, mut out: W) -> io::Result<SynthStats> {
    let model = Model::new(opts.rows);
    let mut stats = SynthStats {
        bytes: HEADER.len() as u64,
        ..SynthStats::default()
    };
    out.write_all(HEADER.as_bytes())?;

    let n_blocks = opts.rows.div_ceil(BLOCK_ROWS);
    let mut next_block = 0;
    // Generated and waiting to be written; buffers already written, for reuse.
    let mut ready: Vec<(Vec<u8>, BlockStats)> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    while next_block < n_blocks || !ready.is_empty() {
        opts.cancel.check_io()?;
        let blocks = next_block..(next_block + BLOCKS_PER_BATCH).min(n_blocks);
        next_block = blocks.end;
        let buffers: Vec<Vec<u8>> = blocks.clone().map(|_| spare.pop().unwrap_or_default()).collect();
        let mut generated = Vec::new();
        let mut written = Ok(());
        // `in_place_scope` runs the writing here, without needing `W: Send`, while the spawned
        // generation goes to the pool; on a pool thread the scope's end runs the spawned work
        // itself if no other thread took it, so a one-thread pool cannot deadlock.
        rayon::in_place_scope(|scope| {
            if !blocks.is_empty() {
                let generated = &mut generated;
                let model = &model;
                scope.spawn(move |_| *generated = model.write_batch(opts, blocks.start, buffers));
            }
            for (buf, block) in ready.drain(..) {
                if written.is_ok() {
                    written = out.write_all(&buf);
                    stats.rows += block.rows;
                    stats.bad_lines += block.bad_lines;
                    stats.duplicates += block.duplicates;
                    stats.bytes += buf.len() as u64;
                }
                spare.push(buf);
            }
        });
        written?;
        ready = generated;
    }
    out.flush()?;
    Ok(stats)
}

/// The header line of the Amazon Customer Reviews TSV.
pub(super) const HEADER: &str = "marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\t\
product_title\tproduct_category\tstar_rating\thelpful_votes\ttotal_votes\tvine\t\
verified_purchase\treview_headline\treview_body\treview_date\n";

/// Blocks generated per batch; bounds memory at two batches (about 25 MB).
pub(super) const BLOCKS_PER_BATCH: u64 = 8;
