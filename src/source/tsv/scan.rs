//! Scanning a chunk of whole lines: the SIMD field splitter (`separator_masks`), the per-line
//! checks (`check_line`) and `parse_chunk`, which runs on the rayon pool and turns a chunk into
//! row spans with their ids hashed for interning, bad-line counts and examples.

use super::header::{excerpt, Layout, CUSTOMER, PRODUCT, RATING, ROLES, TIME, TITLE};
use crate::model::{parse_time, BadKind, BadLineCounts, KeyRef, SmallKey};

/// A row as found by a parse job: spans into the chunk plus the keys prepared for interning
/// (hash and packed form are computed here, in parallel, not in the serial merge).
pub(super) struct ParsedRow {
    pub customer: (u32, u32),
    pub product: (u32, u32),
    pub title: (u32, u32),
    /// The rating in half-steps.
    pub stars: u8,
    /// Seconds since 1970; 0 when times are not read.
    pub time: u32,
    pub customer_hash: u64,
    pub product_hash: u64,
    pub customer_small: SmallKey,
    pub product_small: SmallKey,
}

/// The result of parsing one chunk.
pub(super) struct ParsedChunk {
    pub data: Vec<u8>,
    pub lines: u64,
    pub blank: u64,
    pub rows: Vec<ParsedRow>,
    pub bad: BadLineCounts,
    /// (line index within the chunk, kind, detail) of the first few bad lines.
    pub examples: Vec<(u64, BadKind, String)>,
    /// The feature columns' spans, `layout.extra.len()` per row (empty without feature columns).
    pub extra: Vec<(u32, u32)>,
}

/// Append the spans of the feature columns of `line` (starting at `base` in the chunk) to `out`,
/// and check the numeric ones. Only called when feature columns are asked for, so the default
/// parse loop never pays for it.
fn capture_extra(
    line: &[u8],
    base: usize,
    delimiter: u8,
    layout: &Layout,
    out: &mut Vec<(u32, u32)>,
) -> std::result::Result<(), String> {
    let start = out.len();
    out.resize(start + layout.extra.len(), (0, 0));
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut field_start = 0usize;
    let ends = memchr::memchr_iter(delimiter, line).chain(std::iter::once(line.len()));
    for (i, end) in ends.enumerate() {
        for (k, &f) in layout.extra.iter().enumerate() {
            if f == i {
                out[start + k] = ((base + field_start) as u32, (base + end) as u32);
            }
        }
        field_start = end + 1;
    }
    for (k, spec) in layout.extra_specs.iter().enumerate() {
        let (a, b) = out[start + k];
        if let Some(why) =
            crate::features::columns::check_field(spec, &line[a as usize - base..b as usize - base])
        {
            out.truncate(start);
            return Err(why);
        }
    }
    Ok(())
}

fn is_utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

/// Validate one line's fields; returns the rating in half-steps and the time (0 unless read).
fn check_line(
    data: &[u8],
    line_len: usize,
    fields: usize,
    layout: &Layout,
    spans: &[(u32, u32); ROLES],
    max_line: usize,
) -> std::result::Result<(u8, u32), (BadKind, String)> {
    // The chunk reader skips a line over the limit only when it cannot find its end within its
    // buffer; one that arrived whole in a chunk is judged here, so the count does not depend on
    // where chunks happen to end.
    if line_len > max_line {
        // The same words as for a line skipped unread, which has no known length.
        return Err((BadKind::LineTooLong, format!("over {max_line} bytes")));
    }
    if fields != layout.fields {
        return Err((
            BadKind::FieldCount,
            format!("{fields} fields, header has {}", layout.fields),
        ));
    }
    let field = |role: usize| &data[spans[role].0 as usize..spans[role].1 as usize];
    let (customer, product, rating) = (field(CUSTOMER), field(PRODUCT), field(RATING));
    if customer.is_empty() {
        return Err((BadKind::EmptyCustomerId, String::new()));
    }
    if product.is_empty() {
        return Err((BadKind::EmptyProductId, String::new()));
    }
    if !is_utf8(customer) || !is_utf8(product) {
        return Err((
            BadKind::InvalidUtf8Id,
            excerpt(if is_utf8(customer) { product } else { customer }),
        ));
    }
    let Some(stars) = layout.scale.parse(rating) else {
        return Err((
            BadKind::BadStarRating,
            // `excerpt` escapes already; `{:?}` would escape the escapes.
            format!("star_rating \"{}\"", excerpt(rating)),
        ));
    };
    if !layout.has_time {
        return Ok((stars, 0));
    }
    let time = field(TIME);
    match parse_time(time) {
        Some(t) => Ok((stars, t)),
        None => Err((BadKind::BadTime, format!("time \"{}\"", excerpt(time)))),
    }
}

/// Bit masks of the separators in the first 64 bytes of `block`: bit i of the first mask is set
/// when byte i is the delimiter or a newline, of the second when it is a newline.
///
/// Fields are short and dense (14 tabs in ~360 bytes), so finding them with a byte-search call per
/// hit costs more than comparing whole 64-byte blocks at once and walking the set bits.
#[inline]
fn separator_masks(block: &[u8], delimiter: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    if block.len() >= 64 {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the four 16-byte loads are within the 64
        // bytes checked above.
        unsafe {
            let d = _mm_set1_epi8(delimiter as i8);
            let n = _mm_set1_epi8(b'\n' as i8);
            let (mut any, mut nl) = (0u64, 0u64);
            for i in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * i) as *const __m128i);
                let is_nl = _mm_movemask_epi8(_mm_cmpeq_epi8(v, n)) as u16 as u64;
                let is_d = _mm_movemask_epi8(_mm_cmpeq_epi8(v, d)) as u16 as u64;
                any |= (is_nl | is_d) << (16 * i);
                nl |= is_nl << (16 * i);
            }
            return (any, nl);
        }
    }
    let (mut any, mut nl) = (0u64, 0u64);
    for (i, &b) in block.iter().take(64).enumerate() {
        if b == b'\n' {
            nl |= 1 << i;
            any |= 1 << i;
        } else if b == delimiter {
            any |= 1 << i;
        }
    }
    (any, nl)
}

pub(super) fn parse_chunk(
    data: Vec<u8>,
    mut rows: Vec<ParsedRow>,
    layout: &Layout,
    delimiter: u8,
    max_line: usize,
    keep_examples: usize,
) -> ParsedChunk {
    rows.clear();
    let mut out = ParsedChunk {
        data: Vec::new(),
        lines: 0,
        blank: 0,
        rows,
        bad: BadLineCounts::default(),
        examples: Vec::new(),
        extra: Vec::new(),
    };
    let mut spans = [(0u32, 0u32); ROLES];
    let mut field = 0usize;
    let mut field_start = 0usize;
    let mut line_start = 0usize;
    let finish_line = |line_start: usize,
                       end: usize,
                       field: usize,
                       spans: &mut [(u32, u32); ROLES],
                       out: &mut ParsedChunk| {
        out.lines += 1;
        // A CRLF line: the '\r' belongs to the last field, whichever role it plays.
        if end > line_start && data[end - 1] == b'\r' {
            for s in spans.iter_mut() {
                if s.1 as usize == end {
                    s.1 -= 1;
                }
            }
            if end - 1 == line_start {
                out.blank += 1;
                return;
            }
        }
        if end == line_start {
            out.blank += 1;
            return;
        }
        let checked = check_line(&data, end - line_start, field, layout, spans, max_line).and_then(|ok| {
            if layout.extra.is_empty() {
                return Ok(ok);
            }
            capture_extra(
                &data[line_start..end],
                line_start,
                delimiter,
                layout,
                &mut out.extra,
            )
            .map(|()| ok)
            .map_err(|why| (BadKind::BadNumber, why))
        });
        match checked {
            Ok((stars, time)) => {
                let title = if layout.has_title { spans[TITLE] } else { (0, 0) };
                let key = |s: (u32, u32)| KeyRef::new(&data[s.0 as usize..s.1 as usize]);
                let (c, p) = (key(spans[CUSTOMER]), key(spans[PRODUCT]));
                out.rows.push(ParsedRow {
                    customer: spans[CUSTOMER],
                    product: spans[PRODUCT],
                    title,
                    stars,
                    time,
                    customer_hash: c.hash,
                    product_hash: p.hash,
                    customer_small: c.small,
                    product_small: p.small,
                });
            }
            Err((kind, detail)) => {
                out.bad.add(kind);
                if out.examples.len() < keep_examples {
                    out.examples.push((out.lines - 1, kind, detail));
                }
            }
        }
    };
    let mut base = 0usize;
    while base < data.len() {
        let (any, newlines) = separator_masks(&data[base..], delimiter);
        let mut m = any;
        while m != 0 {
            let bit = m.trailing_zeros();
            m &= m - 1;
            let pos = base + bit as usize;
            if let Some(Some(role)) = layout.role.get(field) {
                spans[*role] = (field_start as u32, pos as u32);
            }
            field += 1;
            field_start = pos + 1;
            if (newlines >> bit) & 1 != 0 {
                finish_line(line_start, pos, field, &mut spans, &mut out);
                field = 0;
                line_start = pos + 1;
            }
        }
        base += 64;
    }
    // The last line of the input may lack its newline.
    if line_start < data.len() {
        if let Some(Some(role)) = layout.role.get(field) {
            spans[*role] = (field_start as u32, data.len() as u32);
        }
        finish_line(line_start, data.len(), field + 1, &mut spans, &mut out);
    }
    out.data = data;
    out
}
