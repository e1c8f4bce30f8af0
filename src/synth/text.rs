//! The free text of a synthetic review: the vocabulary (common words, stock phrases, made-up
//! words, a few non-ASCII tokens) with its Zipf alias table, and the title, headline and body
//! written from it (see "Text and size" in the `synth` module doc).

use crate::stages::split::rng::Rng;
use crate::synth::fields::{mix, write_u64, SALT_TITLE};

/// Body length in words is lognormal: median `e^BODY_MU` (about 20 words), long right tail.
const BODY_MU: f64 = 3.0;
const BODY_SIGMA: f64 = 1.0;
const BODY_MAX_WORDS: f64 = 3000.0;

/// Words of the vocabulary (the rest are made from syllables).
const VOCAB_SIZE: usize = 4000;
/// Zipf exponent of word frequencies.
const WORD_EXPONENT: f64 = 1.2;

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
pub(super) struct Vocab {
    /// Words back to back; `ends[i]` is one past the end of word `i`.
    text: Vec<u8>,
    ends: Vec<u32>,
    alias: Alias,
}

impl Vocab {
    pub(super) fn new() -> Self {
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

    /// The title of a product depends on the product alone, so every review of it repeats it.
    pub(super) fn write_title(&self, product: u64, buf: &mut Vec<u8>) {
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

    pub(super) fn write_headline(&self, rng: &mut Rng, stars: u8, buf: &mut Vec<u8>) {
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
            let w = self.alias.sample(rng.next_u64());
            if i == 0 {
                self.push_capitalized(w, buf);
            } else {
                buf.extend_from_slice(self.word(w));
            }
        }
        match (bits >> 16) % 10 {
            0..=2 => buf.push(b'!'),
            3 => buf.extend_from_slice(b"..."),
            _ => {}
        }
    }

    /// Sentences of Zipf-distributed words; `extra_tab` breaks the line with a tab in the middle.
    pub(super) fn write_body(&self, rng: &mut Rng, extra_tab: bool, buf: &mut Vec<u8>) {
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
                let w = self.alias.sample(bits);
                let decoration = bits & 0xFF;
                if i == 0 {
                    self.push_capitalized(w, buf);
                } else if decoration == 0 {
                    buf.push(b'"');
                    buf.extend_from_slice(self.word(w));
                    buf.push(b'"');
                } else {
                    buf.extend_from_slice(self.word(w));
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
        buf.extend_from_slice(self.word(word));
        // Only ASCII letters change: a capitalized non-ASCII letter would need re-encoding.
        buf[start] = buf[start].to_ascii_uppercase();
    }
}
