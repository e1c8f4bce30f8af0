//! The values of single fields of a synthetic row: ids (customer, review, ASIN, parent) as fixed
//! hashes and bijections of ranks, star ratings from a latent score, dates, decimal numbers.

/// Salts that keep the per-entity hashes (bias, padding, parent, title) independent.
pub(super) const SALT_CUSTOMER_BIAS: u64 = 0x3C6E_F372_FE94_F82B;
pub(super) const SALT_CUSTOMER_PAD: u64 = 0xA54F_F53A_5F1D_36F1;
pub(super) const SALT_PRODUCT_BIAS: u64 = 0x510E_527F_ADE6_82D1;
pub(super) const SALT_PARENT: u64 = 0x9B05_688C_2B3E_6C1F;
pub(super) const SALT_TITLE: u64 = 0x1F83_D9AB_FB41_BD6B;

/// Affine bijections that scatter ranks over the id spaces; the multipliers are coprime to 10 and
/// to 36 respectively, which makes the maps one-to-one.
pub(super) const CUSTOMER_MUL: u64 = 25_214_903_917;
pub(super) const CUSTOMER_ADD: u64 = 12_190_288;
pub(super) const ASIN_MUL: u64 = 0x9E37_79B9_7F4A_7C15 % ASIN_SPACE;
pub(super) const ASIN_ADD: u64 = 1_442_695_040;
/// Seven base-36 characters follow `B00`.
pub(super) const ASIN_SPACE: u64 = 36u64.pow(7);

/// Day 0 is 2000-01-01; the last day is 2015-08-31, when the real dataset ends.
const FIRST_YEAR: u32 = 2000;
const LAST_DAY: (u32, u32, u32) = (2015, 8, 31);

/// Latent-score thresholds for 1..4 stars (standard normal quantiles of 9%, 14%, 22% and 39%).
const STAR_CUTS: [f64; 4] = [-1.341, -1.080, -0.772, -0.279];

/// Stars from a latent score: customer bias + product quality + noise, each about N(0, 1) scaled
/// so the sum has unit variance.
#[inline]
pub(super) fn star_rating(customer: u64, product: u64, noise: u64) -> u8 {
    let score = 0.45 * approx_normal(mix(customer ^ SALT_CUSTOMER_BIAS))
        + 0.45 * approx_normal(mix(product ^ SALT_PRODUCT_BIAS))
        + 0.77 * approx_normal(noise);
    1 + STAR_CUTS.iter().filter(|&&cut| score >= cut).count() as u8
}

/// An approximately standard normal number from 64 bits: the standardized sum of four 16-bit
/// uniforms (Irwin-Hall), cheaper than Box-Muller and good enough for a rating.
#[inline]
pub(super) fn approx_normal(bits: u64) -> f64 {
    let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
    (sum as f64 / 65536.0 - 2.0) * 3f64.sqrt()
}

/// A 64-bit finalizer (SplitMix64's): a fixed hash of an entity number.
#[inline]
pub(super) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `R` and 13 base-36 characters taken from the bits by multiply-shift.
#[inline]
pub(super) fn write_review_id(mut bits: u64, buf: &mut Vec<u8>) {
    buf.push(b'R');
    for _ in 0..13 {
        let m = bits as u128 * 36;
        buf.push(BASE36[(m >> 64) as usize]);
        bits = m as u64;
    }
}

/// `B00` and 7 base-36 characters of an affine bijection of the product rank.
#[inline]
pub(super) fn write_asin(product: u64, buf: &mut Vec<u8>) {
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
pub(super) fn write_u64(mut v: u64, buf: &mut Vec<u8>) {
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
pub(super) fn date_table() -> Vec<[u8; 10]> {
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
