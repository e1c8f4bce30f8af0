//! The header line: which column plays which role ([`Layout`]), found by name. The one parser
//! that both [`read_ratings`](super::read_ratings) and [`check_header`](super::check_header) use,
//! so a dry run accepts exactly the headers a run accepts, with the same messages.

use crate::error::{Error, Result};
use crate::source::ReadOptions;

/// Where the needed columns sit in a line.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub fields: usize,
    /// Per column index: which role it plays (index into a row's spans), if any.
    pub role: Vec<Option<usize>>,
    /// Whether a title column exists.
    pub has_title: bool,
    /// Whether the time column is read (then it exists).
    pub has_time: bool,
    /// Valid rating values.
    pub scale: crate::model::RatingScale,
    /// The header's column names, as given (lossy UTF-8).
    pub names: Vec<String>,
    /// Field index of each feature column, in [`ReadOptions::extra_columns`] order.
    pub extra: Vec<usize>,
    /// The feature columns.
    pub extra_specs: Vec<crate::features::columns::ExtraColumn>,
}

pub(super) const CUSTOMER: usize = 0;
pub(super) const PRODUCT: usize = 1;
pub(super) const RATING: usize = 2;
pub(super) const TITLE: usize = 3;
pub(super) const TIME: usize = 4;
/// Number of column roles: the spans of a line.
pub(super) const ROLES: usize = 5;

/// Check that `head`, the header line of the file `name`, repeats `first`, the header of the
/// first file `first_name` of the same input (a trailing `\r` aside); the error shows the first
/// column that differs.
pub(super) fn check_same(first: &[u8], first_name: &str, head: &[u8], name: &str) -> Result<()> {
    let trim = |h: &[u8]| h.strip_suffix(b"\r").unwrap_or(h).to_vec();
    if trim(first) == trim(head) {
        return Ok(());
    }
    let text = |h: &[u8]| String::from_utf8_lossy(&trim(h)).into_owned();
    let (a, b) = (text(first), text(head));
    let cols = |s: &str| s.split(['\t', ',']).map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (cols(&a), cols(&b));
    let detail = a
        .iter()
        .zip(&b)
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| format!("column {} is {y:?} here and {x:?} there", i + 1))
        .unwrap_or_else(|| format!("it has {} columns and that one {}", b.len(), a.len()));
    Err(Error::bad_input(format!(
        "{name}: the header differs from the one of {first_name} ({detail}); every input file \
         must have the same columns in the same order"
    )))
}

/// A field cut to 40 bytes and escaped, for one-line messages.
pub(super) fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    let mut s = String::from_utf8_lossy(cut).escape_debug().to_string();
    if bytes.len() > 40 {
        s.push('…');
    }
    s
}

/// Find the columns of `opts.columns` in the header `line` (without its `\n`) of `input`.
pub(super) fn parse_header(line: &[u8], opts: &ReadOptions, input: &str) -> Result<Layout> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let names: Vec<&[u8]> = line.split(|&b| b == opts.delimiter).collect();
    let mut role = vec![None; names.len()];
    let wanted = [
        (&opts.columns.customer, CUSTOMER, true),
        (&opts.columns.product, PRODUCT, true),
        (&opts.columns.rating, RATING, true),
        (&opts.columns.title, TITLE, false),
        (&opts.columns.time, TIME, opts.read_times),
    ];
    let mut missing = Vec::new();
    let mut has_title = false;
    for (name, slot, required) in wanted {
        if slot == TIME && !opts.read_times {
            continue;
        }
        let hits: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == name.as_bytes())
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [i] => {
                role[*i] = Some(slot);
                has_title |= slot == TITLE;
            }
            [] if required => missing.push(name.as_str()),
            [] => {}
            _ => {
                return Err(Error::bad_input(format!(
                    "{input}: line 1: column {name:?} appears {} times in the header; column names must be unique",
                    hits.len()
                )))
            }
        }
    }
    let mut extra = Vec::new();
    for col in &opts.extra_columns {
        let hits: Vec<usize> = (0..names.len())
            .filter(|&i| names[i] == col.name.as_bytes())
            .collect();
        match hits.as_slice() {
            [i] => extra.push(*i),
            [] => missing.push(col.name.as_str()),
            _ => {
                return Err(Error::bad_input(format!(
                "{input}: line 1: column {:?} appears {} times in the header; column names must be unique",
                col.name,
                hits.len()
            )))
            }
        }
    }
    if !missing.is_empty() {
        // Escaped and cut short: the header of a wrong file may be binary garbage, and the message
        // must stay one readable line.
        let mut shown: Vec<String> = names.iter().take(20).map(|n| excerpt(n)).collect();
        if names.len() > 20 {
            shown.push(format!("… ({} columns)", names.len()));
        }
        let delim = match opts.delimiter {
            b'\t' => "tab".to_string(),
            d => format!("{:?}", d as char),
        };
        return Err(Error::bad_input(format!(
            "{input}: line 1: header has no column {} (delimiter {delim}; header columns: {}); \
             is this the reviews TSV with its header line, and is --delimiter right?",
            missing.join(", "),
            shown.join(", ")
        )));
    }
    Ok(Layout {
        fields: names.len(),
        role,
        has_title,
        has_time: opts.read_times,
        scale: opts.rating_scale,
        names: names
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        extra,
        extra_specs: opts.extra_columns.clone(),
    })
}
