//! What a valid field value is, shared by every reader: the rating scales ([`RatingScale`]) and
//! the time formats ([`parse_time`]). The TSV scanner applies them to raw bytes, the Arrow reader
//! to string columns, so text and columnar input accept exactly the same values.

use serde::{Deserialize, Serialize};

/// The rating values a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatingScale {
    /// Exactly one digit `1`..`5` (the reviews dataset's star ratings).
    #[default]
    Stars,
    /// `0.5`..`5.0` in steps of 0.5, written `4`, `4.0`, `4.5` or `.5` (MovieLens).
    HalfStars,
}

impl std::str::FromStr for RatingScale {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "stars" | "1-5" => Ok(RatingScale::Stars),
            "half-stars" | "0.5-5" => Ok(RatingScale::HalfStars),
            _ => Err(format!(
                "invalid rating scale {s:?}: use stars (1..5) or half-stars (0.5..5.0)"
            )),
        }
    }
}

impl RatingScale {
    /// The rating as half-steps (`2 * rating`, 1..=10), or `None` when not on this scale.
    #[inline]
    pub fn parse(self, field: &[u8]) -> Option<u8> {
        match (self, field) {
            (_, [b @ b'1'..=b'5']) => Some(2 * (b - b'0')),
            (RatingScale::Stars, _) => None,
            (RatingScale::HalfStars, _) => {
                let (int, frac) = match field.iter().position(|&b| b == b'.') {
                    Some(i) => (&field[..i], &field[i + 1..]),
                    None => (field, &b""[..]),
                };
                let whole = match int {
                    [] => 0,
                    [d @ b'0'..=b'5'] => d - b'0',
                    _ => return None,
                };
                let half = match frac {
                    [] => 0,
                    [b'0', rest @ ..] if rest.iter().all(|&b| b == b'0') => 0,
                    [b'5', rest @ ..] if rest.iter().all(|&b| b == b'0') => 1,
                    _ => return None,
                };
                if int.is_empty() && frac.is_empty() {
                    return None;
                }
                let h = 2 * whole + half;
                (1..=10).contains(&h).then_some(h)
            }
        }
    }

    /// A numeric rating as half-steps, or `None` when not on this scale (for typed columns).
    #[inline]
    pub fn from_number(self, v: f64) -> Option<u8> {
        let h = v * 2.0;
        let on_grid = h.fract() == 0.0 && (1.0..=10.0).contains(&h);
        let whole = (h as u8).is_multiple_of(2) && h >= 2.0;
        match self {
            RatingScale::Stars if on_grid && whole => Some(h as u8),
            RatingScale::HalfStars if on_grid => Some(h as u8),
            _ => None,
        }
    }
}

/// Seconds since 1970-01-01 of a time field: `YYYY-MM-DD` (midnight UTC) or plain Unix seconds.
/// `None` for anything else, or outside 1970..=2106 (what a `u32` holds).
pub fn parse_time(field: &[u8]) -> Option<u32> {
    let digits = |b: &[u8]| -> Option<u64> {
        if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(b.iter().fold(0u64, |v, &d| v * 10 + (d - b'0') as u64))
    };
    if let Some(secs) = digits(field) {
        return u32::try_from(secs).ok();
    }
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *field else {
        return None;
    };
    let (y, m, d) = (
        digits(&[y0, y1, y2, y3])? as i64,
        digits(&[m0, m1])? as i64,
        digits(&[d0, d1])? as i64,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[m as usize - 1] {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm), proleptic Gregorian calendar.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u32::try_from(days * 86_400).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rating_scales() {
        let stars = RatingScale::Stars;
        assert_eq!(stars.parse(b"4"), Some(8));
        assert_eq!(stars.parse(b"4.0"), None);
        let half = RatingScale::HalfStars;
        for (text, want) in [
            (&b"4"[..], Some(8)),
            (b"4.0", Some(8)),
            (b"4.5", Some(9)),
            (b".5", Some(1)),
            (b"0.5", Some(1)),
            (b"5.00", Some(10)),
            (b"5.5", None),
            (b"0", None),
            (b"0.0", None),
            (b"4.25", None),
            (b".", None),
            (b"", None),
            (b"10", None),
        ] {
            assert_eq!(half.parse(text), want, "{:?}", String::from_utf8_lossy(text));
        }
        assert_eq!(stars.from_number(4.0), Some(8));
        assert_eq!(stars.from_number(4.5), None);
        assert_eq!(half.from_number(4.5), Some(9));
        assert_eq!(half.from_number(0.0), None);
        assert_eq!(half.from_number(5.5), None);
    }

    #[test]
    fn times_parse_as_dates_or_unix_seconds() {
        assert_eq!(parse_time(b"1970-01-01"), Some(0));
        assert_eq!(parse_time(b"2015-08-31"), Some(1_440_979_200));
        assert_eq!(parse_time(b"2000-02-29"), Some(951_782_400));
        assert_eq!(parse_time(b"1260759144"), Some(1_260_759_144));
        for bad in [
            &b"2015-02-29"[..],
            b"2015-13-01",
            b"1969-12-31",
            b"2015-8-31",
            b"",
            b"-5",
            b"99999999999",
        ] {
            assert_eq!(parse_time(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
