//! Rows of a synthetic file: the fixed [`Model`] of one file (populations, id spaces, vocabulary,
//! dates), blocks of rows from their own random streams, and the bad lines injected into them.

use rayon::prelude::*;

use crate::stages::split::rng::Rng;
use crate::synth::fields::{
    date_table, mix, star_rating, write_asin, write_review_id, write_u64, ASIN_SPACE, CUSTOMER_ADD,
    CUSTOMER_MUL, SALT_CUSTOMER_PAD, SALT_PARENT,
};
use crate::synth::options::SynthOptions;
use crate::synth::popularity::Popularity;
use crate::synth::text::Vocab;

/// Rows per block: the unit of parallel work and of random streams. Part of the output format.
pub(super) const BLOCK_ROWS: u64 = 4096;
/// Counters of one block.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct BlockStats {
    pub(super) rows: u64,
    pub(super) bad_lines: u64,
    pub(super) duplicates: u64,
}

/// The ways a bad line is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The tab between headline and body is a space: 14 fields.
    MissingTab,
    /// A tab inside the body: 16 fields.
    ExtraTab,
    EmptyCustomer,
    EmptyProduct,
    /// A star rating that is not 1..5.
    Star(&'static [u8]),
}

const FAULTS: [Fault; 8] = [
    Fault::MissingTab,
    Fault::ExtraTab,
    Fault::EmptyCustomer,
    Fault::EmptyProduct,
    Fault::Star(b"-"),
    Fault::Star(b"0"),
    Fault::Star(b"4.5"),
    Fault::Star(b""),
];

/// Everything that is fixed for one file: population sizes, id spaces, vocabulary, dates.
#[derive(Debug, Clone)]
pub(super) struct Model {
    popularity: Popularity,
    /// Customer ids are below this power of ten (10^8 unless the population needs more).
    customer_space: u64,
    customer_digits: usize,
    vocab: Vocab,
    /// `YYYY-MM-DD` of every day from 2000-01-01 to the last day.
    dates: Vec<[u8; 10]>,
}

impl Model {
    pub(super) fn new(rows: u64) -> Self {
        let popularity = Popularity::new(rows);
        debug_assert!(popularity.n_products() <= ASIN_SPACE);
        // Ids keep the real file's 8 digits until the population outgrows them.
        let mut customer_space = 100_000_000u64;
        let mut customer_digits = 8;
        while customer_space < popularity.n_customers() {
            customer_space *= 10;
            customer_digits += 1;
        }
        Model {
            popularity,
            customer_space,
            customer_digits,
            vocab: Vocab::new(),
            dates: date_table(),
        }
    }

    /// Blocks `first..first + buffers.len()`, in parallel, each into one of `buffers`.
    pub(super) fn write_batch(
        &self,
        opts: &SynthOptions,
        first: u64,
        buffers: Vec<Vec<u8>>,
    ) -> Vec<(Vec<u8>, BlockStats)> {
        buffers
            .into_par_iter()
            .enumerate()
            .map(|(i, mut buf)| {
                buf.clear();
                let stats = self.write_block(opts, first + i as u64, &mut buf);
                (buf, stats)
            })
            .collect()
    }

    /// Write block `block` (rows `block * BLOCK_ROWS ..`) to `buf`.
    fn write_block(&self, opts: &SynthOptions, block: u64, buf: &mut Vec<u8>) -> BlockStats {
        let first = block * BLOCK_ROWS;
        let rows = (opts.rows - first).min(BLOCK_ROWS);
        let mut rng = Rng::stream(opts.seed, block);
        let mut stats = BlockStats {
            rows,
            ..BlockStats::default()
        };
        // Valid pairs of this block, the candidates for re-rating.
        let mut pairs: Vec<(u64, u64)> = Vec::with_capacity(rows as usize);
        for _ in 0..rows {
            let fault = if rng.f64() < opts.bad_line_rate {
                Some(FAULTS[rng.below(FAULTS.len() as u64) as usize])
            } else {
                None
            };
            let (customer, product) =
                if fault.is_none() && !pairs.is_empty() && rng.f64() < opts.duplicate_rate {
                    stats.duplicates += 1;
                    pairs[rng.below(pairs.len() as u64) as usize]
                } else {
                    (
                        self.popularity.customer(&mut rng),
                        self.popularity.product(&mut rng),
                    )
                };
            match fault {
                None => pairs.push((customer, product)),
                Some(_) => stats.bad_lines += 1,
            }
            self.write_row(&mut rng, customer, product, fault, buf);
        }
        stats
    }

    /// One line, newline included.
    fn write_row(&self, rng: &mut Rng, customer: u64, product: u64, fault: Option<Fault>, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"US\t");
        if fault != Some(Fault::EmptyCustomer) {
            self.write_customer_id(customer, buf);
        }
        buf.push(b'\t');
        write_review_id(rng.next_u64(), buf);
        buf.push(b'\t');
        if fault != Some(Fault::EmptyProduct) {
            write_asin(product, buf);
        }
        buf.push(b'\t');
        let parent = 100_000_000 + mix(product ^ SALT_PARENT) % 900_000_000;
        write_u64(parent, buf);
        buf.push(b'\t');
        self.vocab.write_title(product, buf);
        buf.extend_from_slice(b"\tDigital_Video_Download\t");

        let stars = star_rating(customer, product, rng.next_u64());
        match fault {
            Some(Fault::Star(bad)) => buf.extend_from_slice(bad),
            _ => buf.push(b'0' + stars),
        }
        buf.push(b'\t');

        // Most reviews get no votes; the rest have a Pareto tail.
        let total = if rng.f64() < 0.55 {
            0
        } else {
            ((1.0 - rng.f64()).powf(-0.8) as u64).min(50_000)
        };
        let helpful = (((total + 1) as f64 * rng.f64().sqrt()) as u64).min(total);
        write_u64(helpful, buf);
        buf.push(b'\t');
        write_u64(total, buf);
        buf.push(b'\t');
        let bits = rng.next_u64();
        buf.push(if bits % 1000 < 2 { b'Y' } else { b'N' });
        buf.push(b'\t');
        buf.push(if (bits >> 16) % 100 < 83 { b'Y' } else { b'N' });
        buf.push(b'\t');

        self.vocab.write_headline(rng, stars, buf);
        buf.push(if fault == Some(Fault::MissingTab) {
            b' '
        } else {
            b'\t'
        });
        self.vocab.write_body(rng, fault == Some(Fault::ExtraTab), buf);
        buf.push(b'\t');

        // Skewed to recent years: P(day <= t * last) = t^4, so half the reviews fall after 2013.
        let last = self.dates.len() - 1;
        let day = ((last as f64) * rng.f64().powf(0.25)).round() as usize;
        buf.extend_from_slice(&self.dates[day.min(last)]);
        buf.push(b'\n');
    }

    /// Decimal customer id: an affine bijection of the rank over `0..customer_space`, so ids are
    /// unique and scattered; a quarter of the shorter ones are zero-padded to the full width.
    fn write_customer_id(&self, customer: u64, buf: &mut Vec<u8>) {
        let space = self.customer_space as u128;
        let id = ((customer as u128 * CUSTOMER_MUL as u128 + CUSTOMER_ADD as u128) % space) as u64;
        let digits = id.checked_ilog10().unwrap_or(0) as usize + 1;
        if digits < self.customer_digits && mix(customer ^ SALT_CUSTOMER_PAD).is_multiple_of(4) {
            buf.resize(buf.len() + self.customer_digits - digits, b'0');
        }
        write_u64(id, buf);
    }
}
