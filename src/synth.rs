//! Synthetic Amazon Customer Reviews TSV, the generator behind `fmprep synth`.
//!
//! The real video file cannot ship with the project, so benchmarks and tests regenerate a file with
//! the same layout, a similar size and compressibility, and — the part that matters for fmprep —
//! the same long-tail shape, so that the "customers with >= 5 rows AND products with >= 10 rows"
//! rule keeps about as much as it does on the real data.
//!
//! # Layout
//!
//! A header line, then `rows` lines of the 15 tab-separated columns of the Amazon Customer Reviews
//! TSV (no quoting: `"` is a plain character; text never contains a tab or a newline). Values look
//! like the real ones: `US`; customer ids of up to 8 decimal digits, a few of them zero-padded to 8
//! (`00412345`), which a pipeline must keep as string keys (see below); review ids `R` + 13 uppercase
//! alphanumerics; ASINs `B00` + 7 uppercase alphanumerics; 9-digit product parents; a title fixed
//! per product; category `Digital_Video_Download`; 1..5 stars skewed towards 5; helpful and total
//! votes (mostly 0, long tail); rare vine `Y`; mostly verified purchases; short headlines (a third
//! are Amazon's automatic `Five Stars`-style ones); a word-soup body of lognormal length with
//! sentences, `<br /><br />` paragraph breaks, quotes and occasional non-ASCII UTF-8; a
//! `YYYY-MM-DD` date from 2000-01-01 to 2015-08-31, skewed towards recent years.
//!
//! Customer ids are an affine bijection of the customer's rank over `0..10^8` (one more digit
//! each time the population outgrows the space, from about 16.9 million rows on); a quarter of
//! the ids shorter than 8 digits are zero-padded, about 2.5% of rows. ASINs, product parents and
//! titles are fixed hashes of the product's rank, the same for every seed.
//!
//! # Popularity model
//!
//! Each row picks its customer and its product independently (a customer's choice of product does
//! not depend on who they are), each by inverse CDF from a continuous power law floored to a rank:
//! density `(x + shift)^-exponent` on `[0, n)`, so a sample costs one `powf` and no table.
//!
//! * Customers are a mixture. With probability 0.49 the row comes from a *casual* reviewer drawn
//!   uniformly from a pool 12 times larger than the casual rows, so nearly every casual customer
//!   reviews once. Otherwise it comes from one of `0.0392 * rows` *regular* reviewers with
//!   power-law popularity (exponent 0.6, shift 100). Review logs look like this: most customers
//!   review once and a small core reviews a lot. A single power law cannot give both "over 2
//!   million customers" and 140 thousand customers with 5+ rows out of 4 million rows: fitted to
//!   one, it misses the other by a fifth or more.
//! * Products follow one power law over `0.045 * rows` products (exponent 1.05, shift 10).
//!
//! Population sizes are proportional to `rows` while the head shifts are fixed ranks, so the
//! distinct counts grow linearly with `rows` and the most popular customer and product keep a
//! bounded share of rows at any size (about 1.2% of rows for the top product at full size, 2% at
//! 40 thousand rows). The constants were fitted with a harness that parses the output and applies
//! the pipeline's rule (customers with >= 5 and products with >= 10 valid rows, both counted once
//! on all valid rows, then de-duplication of (customer, product) keeping the first). With the
//! default rates:
//!
//! | rows | distinct customers / products | customers >= 5 rows | products >= 9 rows | kept customers / products / rows |
//! |---|---|---|---|---|
//! | 4,057,147 (seed 1) | 2,066,887 / 173,610 | 6.8% | 24.7% | 139,976 / 38,387 / 1,706,891 |
//! | published, real file | "over 2 million" / "over 160,000" | "about 5%" | "about 25%" | 140,344 / 38,385 / ~1.71 million |
//! | 405,715 | 207,084 / 17,884 | 7.0% | 32.6% | 14,457 / 5,207 / 168,885 |
//! | 40,571 | 20,704 / 1,822 | 7.4% | 47.3% | 1,531 / 769 / 16,966 |
//!
//! (The real "about 5%" cannot hold exactly: 140,344 kept customers out of just over 2 million
//! is already 7%.)
//!
//! # Text and size
//!
//! Headlines and bodies are word soup over a 4,000-token vocabulary with Zipf frequencies
//! (exponent 1.2): about 380 common words of video reviews, 60 stock phrases ("can't wait for the
//! next season") that real reviews repeat and that make the file compress like the real one, then
//! made-up syllable words, and a few non-ASCII tokens (`don’t`, `café`, `—`, `東京`, an emoji). Body
//! length in words is lognormal (median 20, sigma 1, capped at 3,000). At full size this gives
//! about 359 bytes per line, 1.46 GB, and 510 MB gzip'd at level 6, a ratio of 0.35 (the real
//! file: 1.48 GB, 511 MB gzip'd).
//!
//! Ratings come from a latent score: a per-customer bias plus a per-product quality plus per-row
//! noise, cut at thresholds that give about 61% five stars, 17% four, 8% three, 5% two and 9% one.
//! A re-rating of the same pair may therefore get a different star.
//!
//! # Duplicates and bad lines
//!
//! With probability `duplicate_rate` a row re-emits the (customer, product) pair of an earlier valid
//! row of the same block with a fresh review id, rating, date and text: the exact duplicate pairs
//! the pipeline must drop. (Independent sampling also repeats some pairs of busy customers and
//! popular products by chance; [`SynthStats::duplicates`] counts only the injected ones.)
//!
//! With probability `bad_line_rate` a row is malformed, in one of eight ways: a missing tab (14
//! fields), an extra tab (16 fields), an empty customer id, an empty product id, or a star rating of
//! `-`, `0`, `4.5` or empty. Bad lines count towards `rows` and are never the source of a duplicate.
//!
//! # Determinism and speed
//!
//! Rows are generated in fixed blocks of 4,096, block `b` from `Rng::stream(seed, b)`, in parallel
//! with rayon, and written in order by the calling thread while the next batch is being generated.
//! The output is therefore byte-identical for a given (rows, seed, rates) whatever the number of
//! threads. (Sampling uses `powf`, `ln` and `cos` from the platform's math library, so another
//! platform or libm may, rarely, round a value across a boundary and change a row.) Text is
//! written into reused per-block buffers, and words come from an alias table (one random draw per
//! word): the full-size file takes under 2 seconds on 2 idle cores, about 3.5 CPU-seconds.

use std::io::{self, Write};

use rayon::prelude::*;

use crate::split::rng::Rng;

/// Options for the synthetic reviews generator.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of data lines to write after the header (bad lines included).
    pub rows: u64,
    /// Seed of the whole file: the same options give the same bytes.
    pub seed: u64,
    /// Share of malformed lines (default 1e-5, about 40 in the full-size file, like the handful
    /// the real file has). Values outside `0..=1` behave as if clamped.
    pub bad_line_rate: f64,
    /// Share of rows that re-rate an earlier (customer, product) pair exactly (default 1e-3).
    /// Values outside `0..=1` behave as if clamped.
    pub duplicate_rate: f64,
}

impl Default for SynthOptions {
    /// The size of the real video file (4,057,147 reviews), seed 1.
    fn default() -> Self {
        SynthOptions {
            rows: 4_057_147,
            seed: 1,
            bad_line_rate: 1e-5,
            duplicate_rate: 1e-3,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthStats {
    /// Data lines written (the header excluded, bad lines included).
    pub rows: u64,
    /// Malformed lines among them.
    pub bad_lines: u64,
    /// Rows that deliberately repeat an earlier (customer, product) pair.
    pub duplicates: u64,
    /// Bytes written, header included.
    pub bytes: u64,
}

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
        if crate::interrupt::requested() {
            return Err(crate::interrupt::io_error());
        }
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
const HEADER: &str = "marketplace\tcustomer_id\treview_id\tproduct_id\tproduct_parent\t\
product_title\tproduct_category\tstar_rating\thelpful_votes\ttotal_votes\tvine\t\
verified_purchase\treview_headline\treview_body\treview_date\n";

/// Rows per block: the unit of parallel work and of random streams. Part of the output format.
const BLOCK_ROWS: u64 = 4096;
/// Blocks generated per batch; bounds memory at two batches (about 25 MB).
const BLOCKS_PER_BATCH: u64 = 8;

/// Share of rows written by casual (mostly one-time) reviewers.
const CASUAL_SHARE: f64 = 0.49;
/// Casual pool size per casual row: large, so that few casual customers review twice.
const CASUAL_POOL_PER_ROW: f64 = 12.0;
/// Regular reviewers per row of the file.
const REGULARS_PER_ROW: f64 = 0.0392;
/// Power-law exponent of regular reviewers' popularity.
const REGULAR_EXPONENT: f64 = 0.6;
/// Head shift (in ranks) of regular reviewers: flattens the very top so no single customer
/// dominates.
const REGULAR_SHIFT: f64 = 100.0;
/// Products per row of the file.
const PRODUCTS_PER_ROW: f64 = 0.045;
/// Power-law exponent of product popularity.
const PRODUCT_EXPONENT: f64 = 1.05;
/// Head shift (in ranks) of product popularity.
const PRODUCT_SHIFT: f64 = 10.0;

/// Latent-score thresholds for 1..4 stars (standard normal quantiles of 9%, 14%, 22% and 39%).
const STAR_CUTS: [f64; 4] = [-1.341, -1.080, -0.772, -0.279];

/// Body length in words is lognormal: median `e^BODY_MU` (about 20 words), long right tail.
const BODY_MU: f64 = 3.0;
const BODY_SIGMA: f64 = 1.0;
const BODY_MAX_WORDS: f64 = 3000.0;

/// Day 0 is 2000-01-01; the last day is 2015-08-31, when the real dataset ends.
const FIRST_YEAR: u32 = 2000;
const LAST_DAY: (u32, u32, u32) = (2015, 8, 31);

/// Words of the vocabulary (the rest are made from syllables).
const VOCAB_SIZE: usize = 4000;
/// Zipf exponent of word frequencies.
const WORD_EXPONENT: f64 = 1.2;

/// Salts that keep the per-entity hashes (bias, padding, parent, title) independent.
const SALT_CUSTOMER_BIAS: u64 = 0x3C6E_F372_FE94_F82B;
const SALT_CUSTOMER_PAD: u64 = 0xA54F_F53A_5F1D_36F1;
const SALT_PRODUCT_BIAS: u64 = 0x510E_527F_ADE6_82D1;
const SALT_PARENT: u64 = 0x9B05_688C_2B3E_6C1F;
const SALT_TITLE: u64 = 0x1F83_D9AB_FB41_BD6B;

/// Affine bijections that scatter ranks over the id spaces; the multipliers are coprime to 10 and
/// to 36 respectively, which makes the maps one-to-one.
const CUSTOMER_MUL: u64 = 25_214_903_917;
const CUSTOMER_ADD: u64 = 12_190_288;
const ASIN_MUL: u64 = 0x9E37_79B9_7F4A_7C15 % ASIN_SPACE;
const ASIN_ADD: u64 = 1_442_695_040;
/// Seven base-36 characters follow `B00`.
const ASIN_SPACE: u64 = 36u64.pow(7);

/// Counters of one block.
#[derive(Debug, Default, Clone, Copy)]
struct BlockStats {
    rows: u64,
    bad_lines: u64,
    duplicates: u64,
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

/// A continuous power law with density proportional to `(x + shift)^-exponent` on `[0, n)`,
/// sampled by inverse CDF and floored to a rank in `0..n`.
#[derive(Debug, Clone)]
struct PowerLaw {
    n: u64,
    shift: f64,
    lo: f64,
    span: f64,
    inv: f64,
}

impl PowerLaw {
    fn new(n: u64, exponent: f64, shift: f64) -> Self {
        debug_assert!(n > 0 && shift > 0.0 && exponent != 1.0);
        let e = 1.0 - exponent;
        let lo = shift.powf(e);
        let hi = (n as f64 + shift).powf(e);
        PowerLaw {
            n,
            shift,
            lo,
            span: hi - lo,
            inv: 1.0 / e,
        }
    }

    #[inline]
    fn sample(&self, u: f64) -> u64 {
        let x = (self.lo + u * self.span).powf(self.inv) - self.shift;
        // `as` saturates a tiny negative rounding error to 0.
        (x as u64).min(self.n - 1)
    }
}

/// Walker/Vose alias table over word ranks: one 64-bit draw per word.
#[derive(Debug, Clone)]
struct Alias {
    /// Keep `i` when the 24-bit coin is below `keep[i]`, else take `alias[i]`.
    keep: Vec<u32>,
    alias: Vec<u32>,
}

impl Alias {
    fn new(weights: &[f64]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut keep = vec![1u32 << 24; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = (scaled[s] * (1u32 << 24) as f64) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Alias { keep, alias }
    }

    /// A rank from 64 random bits: the top 32 pick a slot, the next 24 flip the coin; the low
    /// 8 bits are left for the caller.
    #[inline]
    fn sample(&self, bits: u64) -> usize {
        let slot = (((bits >> 32) * self.keep.len() as u64) >> 32) as usize;
        let coin = ((bits >> 8) & 0xFF_FFFF) as u32;
        if coin < self.keep[slot] {
            slot
        } else {
            self.alias[slot] as usize
        }
    }
}

/// Common words of video reviews in rough frequency order; the vocabulary starts with them. A few
/// carry non-ASCII letters or the typographic apostrophe, as real reviews do.
const COMMON_WORDS: &str = "the and a to of i it is this movie was in that but for with not you \
my film so on as great have be very one are good all just story like it's an love if series \
show watch he they at really season from his more there time what well acting about we would \
out will or can by characters had first were no some much see her she episode up who their when \
been best only enjoyed watching because even movies think also other has than could get did \
don't make then me them how way plot people end too character made any story's little into two \
which after these most never again real life better funny do still over many family bad loved 5 \
actors kids wait interesting new those excellent recommend fun while show's amazing years back \
lot thought nice series' ever through every episodes things cast seasons where enough last year \
should old watched found know being thing seen feel pretty down both us off man before world \
find makes same each worth few something going does beautiful another scenes enjoy part want \
highly times bit though shows liked say may performance long around quality hope wonderful \
between music original next action written director always young star whole work fan \
entertaining job yet actually without why prime instant video hd streaming amazon rent bought \
price dvd picture sound download kindle tv free minutes hours awesome boring terrible \
definitely season's history drama comedy documentary war children classic woman women men \
father mother friends school town truth heart true human don’t it’s can’t didn’t i’m that’s \
café naïve déjà vu über señor pokémon amélie résumé fiancée — …";

/// Stock phrases of video reviews. Real reviews repeat them a lot, which is much of why the real
/// file compresses as well as it does; they enter the vocabulary as single tokens.
/// Separated by `|`.
const PHRASES: &str =
    "i love this show|this is a great movie|can't wait for the next season|highly recommend it|\
one of the best|i would recommend this|the acting was great|a must see|waste of time|\
the story line|not worth the money|i really enjoyed it|great movie|good movie|loved it|\
my wife and i|the whole family|could not stop watching|the first season|well worth watching|\
i was disappointed|i don't know why|it was a little slow|five stars|a lot of fun|\
at the end of the movie|if you like|the special effects|keeps you on the edge of your seat|\
this movie is|the characters are|i have watched it|what a great show|on amazon prime|\
i can't wait|the best movie i've seen|great acting and a good story|worth the watch|\
the plot was|i highly recommend|for the kids|i bought this movie|a great cast|\
the picture quality|it is a must|all of the episodes|i'm hooked|the writing is excellent|\
too much violence|at the same time|this series is|we enjoyed it|in the middle of|\
it's a good movie|one of my favorite|i will watch it again|a good story|great show|\
very well done|not my cup of tea";

/// Syllables for the made-up tail of the vocabulary.
const SYLLABLES: [&str; 40] = [
    "ka", "lo", "mi", "ran", "tes", "vo", "der", "pla", "ston", "qui", "bel", "mor", "fen", "tra", "gli",
    "sen", "dor", "vak", "rin", "sha", "po", "lu", "ber", "cal", "en", "ti", "nor", "ux", "ma", "ry", "ste",
    "gan", "wil", "o", "ba", "ze", "thi", "ca", "na", "le",
];

/// The word list and its frequency table.
#[derive(Debug, Clone)]
struct Vocab {
    /// Words back to back; `ends[i]` is one past the end of word `i`.
    text: Vec<u8>,
    ends: Vec<u32>,
    alias: Alias,
}

impl Vocab {
    fn new() -> Self {
        let mut text = Vec::new();
        let mut ends = Vec::with_capacity(VOCAB_SIZE);
        // Phrases take every fifth rank from 5 on, among the common words.
        let mut phrases = PHRASES.split('|');
        for w in COMMON_WORDS.split_whitespace() {
            if ends.len() % 5 == 4 {
                if let Some(p) = phrases.next() {
                    text.extend_from_slice(p.as_bytes());
                    ends.push(text.len() as u32);
                }
            }
            text.extend_from_slice(w.as_bytes());
            ends.push(text.len() as u32);
        }
        // The tail is made up, deterministically: it only has to look like words and compress
        // like a real vocabulary would.
        let mut rng = Rng::new(0x0076_6F63_6162);
        while ends.len() < VOCAB_SIZE - 4 {
            let syllables = 2 + rng.below(3);
            for _ in 0..syllables {
                let s = SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize];
                text.extend_from_slice(s.as_bytes());
            }
            ends.push(text.len() as u32);
        }
        // The rarest words: other scripts and an emoji.
        for w in ["東京", "Москва", "😀", "™"] {
            text.extend_from_slice(w.as_bytes());
            ends.push(text.len() as u32);
        }
        let weights: Vec<f64> = (0..ends.len())
            .map(|r| (r as f64 + 1.0).powf(-WORD_EXPONENT))
            .collect();
        let alias = Alias::new(&weights);
        Vocab { text, ends, alias }
    }

    #[inline]
    fn word(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// Everything that is fixed for one file: population sizes, id spaces, vocabulary, dates.
#[derive(Debug, Clone)]
struct Model {
    regulars: PowerLaw,
    casual_pool: u64,
    products: PowerLaw,
    /// Customer ids are below this power of ten (10^8 unless the population needs more).
    customer_space: u64,
    customer_digits: usize,
    vocab: Vocab,
    /// `YYYY-MM-DD` of every day from 2000-01-01 to the last day.
    dates: Vec<[u8; 10]>,
}

impl Model {
    fn new(rows: u64) -> Self {
        let scaled = |per_row: f64| ((rows as f64 * per_row).ceil() as u64).max(1);
        let n_regulars = scaled(REGULARS_PER_ROW);
        let casual_pool = scaled(CASUAL_SHARE * CASUAL_POOL_PER_ROW);
        let n_products = scaled(PRODUCTS_PER_ROW);
        debug_assert!(n_products <= ASIN_SPACE);
        // Ids keep the real file's 8 digits until the population outgrows them.
        let mut customer_space = 100_000_000u64;
        let mut customer_digits = 8;
        while customer_space < n_regulars + casual_pool {
            customer_space *= 10;
            customer_digits += 1;
        }
        Model {
            regulars: PowerLaw::new(n_regulars, REGULAR_EXPONENT, REGULAR_SHIFT),
            casual_pool,
            products: PowerLaw::new(n_products, PRODUCT_EXPONENT, PRODUCT_SHIFT),
            customer_space,
            customer_digits,
            vocab: Vocab::new(),
            dates: date_table(),
        }
    }

    /// A customer rank: regulars are `0..n_regulars`, casual reviewers follow.
    #[inline]
    fn customer(&self, rng: &mut Rng) -> u64 {
        if rng.f64() < CASUAL_SHARE {
            self.regulars.n + rng.below(self.casual_pool)
        } else {
            self.regulars.sample(rng.f64())
        }
    }

    #[inline]
    fn product(&self, rng: &mut Rng) -> u64 {
        self.products.sample(rng.f64())
    }

    /// Blocks `first..first + buffers.len()`, in parallel, each into one of `buffers`.
    fn write_batch(
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
                    (self.customer(&mut rng), self.product(&mut rng))
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
        self.write_title(product, buf);
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

        self.write_headline(rng, stars, buf);
        buf.push(if fault == Some(Fault::MissingTab) {
            b' '
        } else {
            b'\t'
        });
        self.write_body(rng, fault == Some(Fault::ExtraTab), buf);
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

    /// The title of a product depends on the product alone, so every review of it repeats it.
    fn write_title(&self, product: u64, buf: &mut Vec<u8>) {
        let mut r = Rng::new(mix(product ^ SALT_TITLE));
        let style = r.below(100);
        // Titles use content words: skip the function words at the top of the vocabulary.
        let content = |r: &mut Rng| 40 + r.below(1500) as usize;
        if style < 30 {
            buf.extend_from_slice(b"The ");
        }
        let words = 1 + r.below(4);
        for i in 0..words {
            if i > 0 {
                buf.push(b' ');
            }
            self.push_capitalized(content(&mut r), buf);
        }
        match style {
            0..=24 => {
                buf.extend_from_slice(if style < 12 { b": Season " } else { b" Season " });
                write_u64(1 + r.below(12), buf);
            }
            25..=34 => buf.extend_from_slice(b" [HD]"),
            35..=44 => {
                buf.extend_from_slice(b": \"");
                self.push_capitalized(content(&mut r), buf);
                buf.push(b' ');
                self.push_capitalized(content(&mut r), buf);
                buf.push(b'"');
            }
            45..=49 => buf.extend_from_slice(b" (Subtitled)"),
            50..=54 => {
                buf.extend_from_slice(b" & ");
                self.push_capitalized(content(&mut r), buf);
            }
            55..=59 => {
                buf.extend_from_slice(b" - Episode ");
                write_u64(1 + r.below(24), buf);
            }
            _ => {}
        }
    }

    fn write_headline(&self, rng: &mut Rng, stars: u8, buf: &mut Vec<u8>) {
        let bits = rng.next_u64();
        // Amazon filled empty headlines with the rating in words.
        if bits % 100 < 33 {
            let auto: &[u8] = match stars {
                1 => b"One Star",
                2 => b"Two Stars",
                3 => b"Three Stars",
                4 => b"Four Stars",
                _ => b"Five Stars",
            };
            buf.extend_from_slice(auto);
            return;
        }
        let words = 1 + (bits >> 8) % 6;
        for i in 0..words {
            if i > 0 {
                buf.push(b' ');
            }
            let w = self.vocab.alias.sample(rng.next_u64());
            if i == 0 {
                self.push_capitalized(w, buf);
            } else {
                buf.extend_from_slice(self.vocab.word(w));
            }
        }
        match (bits >> 16) % 10 {
            0..=2 => buf.push(b'!'),
            3 => buf.extend_from_slice(b"..."),
            _ => {}
        }
    }

    /// Sentences of Zipf-distributed words; `extra_tab` breaks the line with a tab in the middle.
    fn write_body(&self, rng: &mut Rng, extra_tab: bool, buf: &mut Vec<u8>) {
        // Lognormal length by Box-Muller: many short reviews, a few very long ones.
        let (u1, u2) = (rng.f64(), rng.f64());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let words = (BODY_MU + BODY_SIGMA * z).exp().ceil().clamp(1.0, BODY_MAX_WORDS) as u64;
        let tab_at = if extra_tab { words / 2 } else { u64::MAX };

        let mut written = 0;
        while written < words {
            let sentence = (3 + rng.below(12)).min(words - written);
            for i in 0..sentence {
                if i > 0 {
                    buf.push(b' ');
                }
                if written == tab_at {
                    buf.push(b'\t');
                }
                let bits = rng.next_u64();
                let w = self.vocab.alias.sample(bits);
                let decoration = bits & 0xFF;
                if i == 0 {
                    self.push_capitalized(w, buf);
                } else if decoration == 0 {
                    buf.push(b'"');
                    buf.extend_from_slice(self.vocab.word(w));
                    buf.push(b'"');
                } else {
                    buf.extend_from_slice(self.vocab.word(w));
                }
                if decoration >= 236 && i + 1 < sentence {
                    buf.push(b',');
                }
                written += 1;
            }
            let bits = rng.next_u64();
            buf.extend_from_slice(match bits % 20 {
                0..=15 => b".",
                16..=17 => b"!",
                18 => b"?",
                _ => b"...",
            });
            if written < words {
                if (bits >> 8) % 100 < 8 {
                    buf.extend_from_slice(b"<br /><br />");
                } else {
                    buf.push(b' ');
                }
            }
        }
    }

    fn push_capitalized(&self, word: usize, buf: &mut Vec<u8>) {
        let start = buf.len();
        buf.extend_from_slice(self.vocab.word(word));
        // Only ASCII letters change: a capitalized non-ASCII letter would need re-encoding.
        buf[start] = buf[start].to_ascii_uppercase();
    }
}

/// Stars from a latent score: customer bias + product quality + noise, each about N(0, 1) scaled
/// so the sum has unit variance.
#[inline]
fn star_rating(customer: u64, product: u64, noise: u64) -> u8 {
    let score = 0.45 * approx_normal(mix(customer ^ SALT_CUSTOMER_BIAS))
        + 0.45 * approx_normal(mix(product ^ SALT_PRODUCT_BIAS))
        + 0.77 * approx_normal(noise);
    1 + STAR_CUTS.iter().filter(|&&cut| score >= cut).count() as u8
}

/// An approximately standard normal number from 64 bits: the standardized sum of four 16-bit
/// uniforms (Irwin-Hall), cheaper than Box-Muller and good enough for a rating.
#[inline]
fn approx_normal(bits: u64) -> f64 {
    let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
    (sum as f64 / 65536.0 - 2.0) * 3f64.sqrt()
}

/// A 64-bit finalizer (SplitMix64's): a fixed hash of an entity number.
#[inline]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `R` and 13 base-36 characters taken from the bits by multiply-shift.
#[inline]
fn write_review_id(mut bits: u64, buf: &mut Vec<u8>) {
    buf.push(b'R');
    for _ in 0..13 {
        let m = bits as u128 * 36;
        buf.push(BASE36[(m >> 64) as usize]);
        bits = m as u64;
    }
}

/// `B00` and 7 base-36 characters of an affine bijection of the product rank.
#[inline]
fn write_asin(product: u64, buf: &mut Vec<u8>) {
    let mut v = ((product as u128 * ASIN_MUL as u128 + ASIN_ADD as u128) % ASIN_SPACE as u128) as u64;
    let mut chars = [b'0'; 7];
    for c in chars.iter_mut().rev() {
        *c = BASE36[(v % 36) as usize];
        v /= 36;
    }
    buf.extend_from_slice(b"B00");
    buf.extend_from_slice(&chars);
}

/// Decimal digits of `v`, without allocating.
#[inline]
fn write_u64(mut v: u64, buf: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// `YYYY-MM-DD` for every day from 2000-01-01 to [`LAST_DAY`].
fn date_table() -> Vec<[u8; 10]> {
    let mut dates = Vec::with_capacity(5_800);
    for year in FIRST_YEAR..=LAST_DAY.0 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        for month in 1..=12u32 {
            let days = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            for day in 1..=days {
                if (year, month, day) > LAST_DAY {
                    return dates;
                }
                let mut d = *b"0000-00-00";
                d[0] = b'0' + (year / 1000) as u8;
                d[1] = b'0' + (year / 100 % 10) as u8;
                d[2] = b'0' + (year / 10 % 10) as u8;
                d[3] = b'0' + (year % 10) as u8;
                d[5] = b'0' + (month / 10) as u8;
                d[6] = b'0' + (month % 10) as u8;
                d[8] = b'0' + (day / 10) as u8;
                d[9] = b'0' + (day % 10) as u8;
                dates.push(d);
            }
        }
    }
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(rows: u64, seed: u64, bad: f64) -> (Vec<u8>, SynthStats) {
        let opts = SynthOptions {
            rows,
            seed,
            bad_line_rate: bad,
            ..SynthOptions::default()
        };
        let mut out = Vec::new();
        let stats = write_synth(&opts, &mut out).unwrap();
        (out, stats)
    }

    /// Whether a line would be accepted: 15 fields, both ids present, stars 1..5.
    fn is_valid(line: &[u8]) -> bool {
        let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        fields.len() == 15
            && !fields[1].is_empty()
            && !fields[3].is_empty()
            && matches!(fields[7], [b'1'..=b'5'])
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let (a, sa) = generate(5_000, 7, 1e-3);
        let (b, _) = generate(5_000, 7, 1e-3);
        let (c, _) = generate(5_000, 8, 1e-3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(sa.bytes, a.len() as u64);
    }

    #[test]
    fn thread_count_does_not_change_output() {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| generate(2 * BLOCK_ROWS + 17, 3, 1e-3).0)
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn header_and_good_lines() {
        let (out, stats) = generate(6_000, 1, 0.0);
        let text = std::str::from_utf8(&out).expect("UTF-8");
        let mut lines = text.split_terminator('\n');
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        assert_eq!(header.len(), 15);
        assert_eq!(header[0], "marketplace");
        assert_eq!(header[1], "customer_id");
        assert_eq!(header[14], "review_date");
        let mut n = 0;
        for line in lines {
            n += 1;
            assert!(is_valid(line.as_bytes()), "{line}");
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f[0], "US");
            assert!(
                f[1].len() <= 8 && f[1].bytes().all(|b| b.is_ascii_digit()),
                "{}",
                f[1]
            );
            assert!(f[2].len() == 14 && f[2].starts_with('R'), "{}", f[2]);
            assert!(f[3].len() == 10 && f[3].starts_with("B00"), "{}", f[3]);
            assert_eq!(f[4].len(), 9);
            assert_eq!(f[6], "Digital_Video_Download");
            let (helpful, total): (u64, u64) = (f[8].parse().unwrap(), f[9].parse().unwrap());
            assert!(helpful <= total);
            assert!(f[14].len() == 10 && ("2000-01-01"..="2015-08-31").contains(&f[14]));
        }
        assert_eq!(n, stats.rows);
        assert_eq!(stats.bad_lines, 0);
    }

    #[test]
    fn titles_are_fixed_per_product() {
        let (out, _) = generate(5_000, 2, 0.0);
        let mut titles = std::collections::HashMap::new();
        for line in out.split(|&b| b == b'\n').skip(1).filter(|l| !l.is_empty()) {
            let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            assert_eq!(*titles.entry(f[3]).or_insert(f[5]), f[5]);
        }
        assert!(titles.len() > 50);
    }

    #[test]
    fn bad_line_share_roughly_as_configured() {
        let (out, stats) = generate(20_000, 5, 0.01);
        let bad = out
            .split(|&b| b == b'\n')
            .skip(1)
            .filter(|l| !l.is_empty() && !is_valid(l))
            .count() as u64;
        assert_eq!(bad, stats.bad_lines);
        assert!((120..=280).contains(&bad), "{bad}");
    }

    #[test]
    fn every_bad_line_is_rejected_and_all_kinds_occur() {
        let (out, stats) = generate(2_000, 9, 1.0);
        assert_eq!(stats.bad_lines, 2_000);
        let mut field_counts = std::collections::BTreeSet::new();
        let mut stars = std::collections::BTreeSet::new();
        for line in out.split(|&b| b == b'\n').skip(1).filter(|l| !l.is_empty()) {
            assert!(!is_valid(line), "{}", String::from_utf8_lossy(line));
            let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            field_counts.insert(f.len());
            if f.len() == 15 {
                stars.insert(f[7].to_vec());
            }
        }
        assert_eq!(field_counts.into_iter().collect::<Vec<_>>(), [14, 15, 16]);
        for bad in [&b"-"[..], b"0", b"4.5", b""] {
            assert!(stars.contains(bad), "{bad:?}");
        }
    }

    #[test]
    fn write_errors_are_returned() {
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 > HEADER.len() {
                    return Err(io::Error::other("disk full"));
                }
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let opts = SynthOptions {
            rows: BLOCKS_PER_BATCH * BLOCK_ROWS + 1,
            ..SynthOptions::default()
        };
        assert!(write_synth(&opts, Failing(0)).is_err());
    }

    #[test]
    fn duplicates_are_injected() {
        let opts = SynthOptions {
            rows: 10_000,
            duplicate_rate: 0.01,
            ..SynthOptions::default()
        };
        let stats = write_synth(&opts, io::sink()).unwrap();
        assert!((50..=150).contains(&stats.duplicates), "{}", stats.duplicates);
    }

    #[test]
    fn empty_file_is_just_the_header() {
        let (out, stats) = generate(0, 1, 0.0);
        assert_eq!(out, HEADER.as_bytes());
        assert_eq!(stats.rows, 0);
    }

    #[test]
    fn id_maps_are_one_to_one() {
        fn gcd(a: u64, b: u64) -> u64 {
            if b == 0 {
                a
            } else {
                gcd(b, a % b)
            }
        }
        assert_eq!(gcd(CUSTOMER_MUL, 10), 1);
        assert_eq!(gcd(ASIN_MUL, 36), 1);
    }
}
