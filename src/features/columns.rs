//! The raw values of feature columns, one per row of the table they were read from (the valid
//! rows of the ratings input, or the rows of a side table), before any indexing.

use crate::model::KeyTable;

use super::Transform;

/// A column to capture: its header name and, for a numeric column, its transform (which decides
/// the values it accepts).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtraColumn {
    /// Header name.
    pub name: String,
    /// `None` for a categorical column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<Transform>,
}

/// The values of one column, per row.
#[derive(Debug)]
pub enum Values {
    /// Categorical: the distinct values (code = order of first appearance) and each row's code.
    Categorical {
        /// Distinct values.
        table: KeyTable,
        /// Per row, the code of its value.
        codes: Vec<u32>,
    },
    /// Numeric: each row's value as parsed (before the transform).
    Numeric(Vec<f64>),
}

/// One captured column.
#[derive(Debug)]
pub struct Column {
    /// What was asked for.
    pub spec: ExtraColumn,
    /// The values.
    pub values: Values,
}

impl Column {
    /// An empty column for `spec`.
    pub fn new(spec: ExtraColumn) -> Self {
        let values = match spec.numeric {
            None => Values::Categorical {
                table: KeyTable::new(),
                codes: Vec::new(),
            },
            Some(_) => Values::Numeric(Vec::new()),
        };
        Column { spec, values }
    }

    /// Append one row's field, already checked with [`check_field`].
    pub fn push(&mut self, field: &[u8]) {
        match &mut self.values {
            Values::Categorical { table, codes } => codes.push(table.intern(field)),
            Values::Numeric(v) => v.push(parse_number(field).unwrap_or(f64::NAN)),
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Categorical { codes, .. } => codes.len(),
            Values::Numeric(v) => v.len(),
        }
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A number as a numeric feature column writes it: decimal or scientific notation, surrounding
/// spaces allowed; `None` for anything else (empty, text, `nan`, `inf`).
#[inline]
pub fn parse_number(field: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(field).ok()?.trim();
    // Rust's parser also takes "inf" and "NaN": a number column holding those is broken.
    if !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Why a field is refused, or `None` when the column accepts it.
#[inline]
pub fn check_field(spec: &ExtraColumn, field: &[u8]) -> Option<String> {
    let t = spec.numeric?;
    match parse_number(field) {
        Some(v) if t.accepts(v) => None,
        Some(_) => Some(format!(
            "{} \"{}\" is not above -1, as log1p needs",
            spec.name,
            String::from_utf8_lossy(field).escape_debug()
        )),
        None => Some(format!(
            "{} \"{}\" is not a number",
            spec.name,
            String::from_utf8_lossy(&field[..field.len().min(40)]).escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"3"), Some(3.0));
        assert_eq!(parse_number(b" -2.5e1 "), Some(-25.0));
        for bad in [&b""[..], b"x", b"nan", b"inf", b"1e999", b"1,5"] {
            assert_eq!(parse_number(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        let spec = ExtraColumn {
            name: "v".into(),
            numeric: Some(Transform::Log1p),
        };
        assert!(check_field(&spec, b"-1").unwrap().contains("above -1"));
        assert!(check_field(&spec, b"").unwrap().contains("not a number"));
        assert_eq!(check_field(&spec, b"0"), None);
    }

    #[test]
    fn columns_collect_codes_and_values() {
        let mut c = Column::new(ExtraColumn {
            name: "vine".into(),
            numeric: None,
        });
        for v in [&b"N"[..], b"Y", b"N"] {
            c.push(v);
        }
        match &c.values {
            Values::Categorical { table, codes } => {
                assert_eq!(codes, &vec![0, 1, 0]);
                assert_eq!(table.get(1), b"Y");
            }
            _ => unreachable!(),
        }
    }
}
