//! Frames in: any Python object with `__arrow_c_stream__` (the Arrow PyCapsule stream protocol:
//! polars, pyarrow, pandas >= 2.2, DuckDB...) as a [`fmprep::RatingsSource`], read batch by batch
//! by the `arrow` crate's FFI stream reader without importing any of those libraries.

use std::sync::Arc;

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};
use fmprep::source::arrow::BatchInput;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// The column the pipeline reads titles from (`ColumnNames::title`'s default).
const TITLE: &str = "product_title";

/// Take the Arrow C stream of `frame` (called `name` in messages and the manifest); with
/// `title`, that column is read as the product titles.
pub fn open(frame: &Bound<'_, PyAny>, name: &str, title: Option<&str>) -> PyResult<fmprep::RatingsSource> {
    let capsule = frame.call_method1("__arrow_c_stream__", (frame.py().None(),))?;
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|e| {
        pyo3::exceptions::PyTypeError::new_err(format!("__arrow_c_stream__ did not return a PyCapsule: {e}"))
    })?;
    // Fails unless the capsule is named as the protocol specifies.
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?.as_ptr() as *mut FFI_ArrowArrayStream;
    // SAFETY: the capsule holds a valid ArrowArrayStream (checked by name, as the protocol
    // specifies); `from_raw` moves it out and leaves a released stream behind, so the capsule's
    // destructor does not release it a second time.
    let reader = unsafe { RecordBatchStreamReader::from_raw(ptr) }.map_err(|e| {
        crate::errors::to_py(
            frame.py(),
            3,
            &format!("{name}: cannot read the Arrow stream: {e}"),
        )
    })?;
    let input = match title.filter(|t| *t != TITLE) {
        None => BatchInput::new(name, reader),
        Some(t) => BatchInput::new(name, Renamed::new(reader, t)),
    };
    Ok(fmprep::RatingsSource::Arrow(input))
}

/// A stream with the column `from` renamed to [`TITLE`] (and a column already called that
/// renamed out of the way), so that the pipeline reads `from` as the titles.
struct Renamed<R> {
    inner: R,
    schema: SchemaRef,
}

impl<R: RecordBatchReader> Renamed<R> {
    fn new(inner: R, from: &str) -> Self {
        let old = inner.schema();
        let fields: Vec<Field> = (old.fields().iter())
            .map(|f| match f.name().as_str() {
                n if n == from => f.as_ref().clone().with_name(TITLE),
                TITLE => f
                    .as_ref()
                    .clone()
                    .with_name(format!("{TITLE} (unused: title={from})")),
                _ => f.as_ref().clone(),
            })
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, old.metadata().clone()));
        Renamed { inner, schema }
    }
}

impl<R: RecordBatchReader> Iterator for Renamed<R> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(batch.and_then(|b| RecordBatch::try_new(Arc::clone(&self.schema), b.columns().to_vec())))
    }
}

impl<R: RecordBatchReader> RecordBatchReader for Renamed<R> {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{ArrayRef, Int64Array, RecordBatchIterator, StringArray};

    use super::*;

    #[test]
    fn the_title_column_is_renamed_and_the_old_one_moved_aside() {
        let batch = RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(vec!["A"])) as ArrayRef),
            (TITLE, Arc::new(StringArray::from(vec!["B"])) as ArrayRef),
            ("star_rating", Arc::new(Int64Array::from(vec![5])) as ArrayRef),
        ])
        .unwrap();
        let schema = batch.schema();
        let mut r = Renamed::new(RecordBatchIterator::new([Ok(batch)], schema), "name");
        let out = r.next().unwrap().unwrap();
        let names: Vec<String> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(
            names,
            [TITLE, "product_title (unused: title=name)", "star_rating"]
        );
        let titles = out.column_by_name(TITLE).unwrap();
        assert_eq!(
            titles.as_any().downcast_ref::<StringArray>().unwrap().value(0),
            "A"
        );
        assert!(r.next().is_none());
    }
}
