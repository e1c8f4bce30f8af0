//! Side tables: per-customer or per-product attributes in their own file, joined to the ratings
//! by id.
//!
//! A side table is delimited text (TSV or CSV, plain or gzip, local, stdin or `s3://`; tab when
//! the header holds one, else comma; no quoting, like the reviews TSV) or Parquet (a file or a
//! directory, local). Its header names the id column (the one the ratings use:
//! `--customer-col` / `--product-col`) and the feature columns. Every id appears at most once. A
//! numeric value that does not parse fails the run with the file, line and column; an id of the
//! ratings absent from the table simply gets no key in that table's blocks.

use crate::error::{Error, Result};
use crate::model::KeyTable;
use crate::store::S3Options;

use super::columns::{check_field, Column, ExtraColumn};

/// A loaded side table.
#[derive(Debug)]
pub struct SideTable {
    /// The file as named.
    pub name: String,
    /// The ids, code = row of the table.
    pub ids: KeyTable,
    /// The wanted columns, one value per row.
    pub columns: Vec<Column>,
}

impl SideTable {
    /// Rows of the table.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// For each code of `keys` (the ratings' customers or products), the table row of that id,
    /// or [`super::layout::MISSING`].
    pub fn rows_of(&self, keys: &KeyTable) -> Vec<u32> {
        keys.iter()
            .map(|k| self.ids.lookup(k).unwrap_or(super::layout::MISSING))
            .collect()
    }

    fn add(&mut self, line: u64, fields: &[Option<&[u8]>]) -> Result<()> {
        let id = fields[0].unwrap_or_default();
        if id.is_empty() {
            return Err(Error::bad_input(format!(
                "{}: line {line}: empty id; every row of a side table needs its id",
                self.name
            )));
        }
        let before = self.ids.len();
        if self.ids.intern(id) as usize != before {
            return Err(Error::bad_input(format!(
                "{}: line {line}: id {:?} appears twice; a side table holds one row per id",
                self.name,
                String::from_utf8_lossy(id)
            )));
        }
        for (col, field) in self.columns.iter_mut().zip(&fields[1..]) {
            let f = field.unwrap_or_default();
            if let Some(why) = check_field(&col.spec, f) {
                return Err(Error::bad_input(format!(
                    "{}: line {line}: {why}; fix the table or leave the id out of it",
                    self.name
                )));
            }
            col.push(f);
        }
        Ok(())
    }
}

/// Load `spec` keyed by `id_col`, keeping `wanted` columns.
pub fn load(spec: &str, id_col: &str, wanted: &[ExtraColumn], s3: &S3Options) -> Result<SideTable> {
    let mut table = SideTable {
        name: spec.to_string(),
        ids: KeyTable::new(),
        columns: wanted.iter().cloned().map(Column::new).collect(),
    };
    let mut names: Vec<&str> = vec![id_col];
    names.extend(wanted.iter().map(|c| c.name.as_str()));
    let location = crate::location::Location::parse(spec)?;
    #[cfg(feature = "parquet")]
    if let Some(p) = crate::source::parquet::ParquetInput::find(&location, s3)? {
        let mut line = 1u64;
        p.read_text_columns(&names, |fields| {
            line += 1;
            table.add(line, fields)
        })?;
        return Ok(table);
    }
    let input = crate::source::decompress::open_location(&location, s3)?;
    let compression = input.compression;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, input.reader);
    let mut buf = Vec::new();
    let mut read_line = |buf: &mut Vec<u8>| -> Result<bool> {
        buf.clear();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', buf)
            .map_err(|e| crate::source::decompress::read_error(spec, compression, e))?;
        while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            buf.pop();
        }
        Ok(n > 0)
    };
    if !read_line(&mut buf)? {
        return Err(Error::bad_input(format!(
            "{spec}: empty side table; expected a header naming {}",
            names.join(", ")
        )));
    }
    let delimiter = if buf.contains(&b'\t') { b'\t' } else { b',' };
    let header: Vec<&[u8]> = buf.split(|&b| b == delimiter).collect();
    let n_fields = header.len();
    let mut at = Vec::new();
    for n in &names {
        let hits: Vec<usize> = (0..header.len()).filter(|&i| header[i] == n.as_bytes()).collect();
        match hits.as_slice() {
            [i] => at.push(*i),
            [] => {
                return Err(Error::bad_input(format!(
                    "{spec}: line 1: no column {n} (columns: {}); name the id column with \
                     --customer-col/--product-col and the features as they appear",
                    header
                        .iter()
                        .map(|h| String::from_utf8_lossy(h).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            _ => {
                return Err(Error::bad_input(format!(
                    "{spec}: line 1: column {n} appears {} times",
                    hits.len()
                )))
            }
        }
    }
    let mut line = 1u64;
    while read_line(&mut buf)? {
        line += 1;
        if buf.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = buf.split(|&b| b == delimiter).collect();
        if fields.len() != n_fields {
            return Err(Error::bad_input(format!(
                "{spec}: line {line}: {} fields, the header has {n_fields}",
                fields.len()
            )));
        }
        let picked: Vec<Option<&[u8]>> = at.iter().map(|&i| Some(fields[i])).collect();
        table.add(line, &picked)?;
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::columns::Values;
    use crate::features::Transform;

    fn wanted() -> Vec<ExtraColumn> {
        vec![
            ExtraColumn {
                name: "segment".into(),
                numeric: None,
            },
            ExtraColumn {
                name: "age".into(),
                numeric: Some(Transform::Standardize),
            },
        ]
    }

    #[test]
    fn csv_and_tsv_tables_load_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        std::fs::write(&p, "age,customer_id,segment\n30,c1,gold\n41.5,c2,silver\n\n").unwrap();
        let t = load(
            p.to_str().unwrap(),
            "customer_id",
            &wanted(),
            &S3Options::default(),
        )
        .unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.ids.get(1), b"c2");
        match &t.columns[1].values {
            Values::Numeric(v) => assert_eq!(v, &vec![30.0, 41.5]),
            _ => unreachable!(),
        }
        let mut keys = KeyTable::new();
        keys.intern(b"c2");
        keys.intern(b"zz");
        assert_eq!(t.rows_of(&keys), vec![1, super::super::layout::MISSING]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.tsv");
        let load_text = |text: &str| {
            std::fs::write(&p, text).unwrap();
            load(
                p.to_str().unwrap(),
                "customer_id",
                &wanted(),
                &S3Options::default(),
            )
            .unwrap_err()
        };
        let e = load_text("customer_id\tsegment\tage\nc1\tg\tx\n");
        assert!(e.message().contains("line 2: age \"x\" is not a number"), "{e}");
        let e = load_text("customer_id\tsegment\tage\nc1\tg\t1\nc1\tg\t2\n");
        assert!(e.message().contains("line 3: id \"c1\" appears twice"), "{e}");
        let e = load_text("customer_id\tsegment\nc1\tg\n");
        assert!(e.message().contains("no column age"), "{e}");
    }
}
