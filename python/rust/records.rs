//! `fmprep.read_recordio`: the records of RecordIO-protobuf files as Arrow record batches
//! (`label`, `keys`, `values`), handed to Python through the Arrow PyCapsule stream protocol.
//!
//! The records are decoded once, when the object is made, into batches of [`BATCH_RECORDS`]; each
//! `__arrow_c_stream__` call exports a new stream over the same (reference-counted) batches, so
//! `pl.DataFrame(x)` and `pa.table(x)` can both be called on one object.

use std::io::BufReader;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, UInt64Builder};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchIterator};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use fmprep::format::recordio::{FmRecord, RecordReader};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Records per Arrow batch: large enough that per-batch overhead does not matter, small enough
/// that a consumer streaming the batches holds little at a time.
const BATCH_RECORDS: usize = 64 * 1024;

/// The schema of the batches: the label (null for a record without one), the feature keys and
/// their values (both lists of the same length per record).
fn schema() -> SchemaRef {
    let item_u64 = Arc::new(Field::new("item", DataType::UInt64, false));
    let item_f32 = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("label", DataType::Float32, true),
        Field::new("keys", DataType::List(item_u64), false),
        Field::new("values", DataType::List(item_f32), false),
    ]))
}

/// Collects records into batches of [`BATCH_RECORDS`].
struct Batches {
    schema: SchemaRef,
    done: Vec<RecordBatch>,
    label: Float32Builder,
    keys: ListBuilder<UInt64Builder>,
    values: ListBuilder<Float32Builder>,
    rows: usize,
}

impl Batches {
    fn new() -> Self {
        let schema = schema();
        let list_field = |i: usize| match schema.field(i).data_type() {
            DataType::List(f) => Arc::clone(f),
            _ => unreachable!("keys and values are lists"),
        };
        Batches {
            keys: ListBuilder::new(UInt64Builder::new()).with_field(list_field(1)),
            values: ListBuilder::new(Float32Builder::new()).with_field(list_field(2)),
            label: Float32Builder::new(),
            schema,
            done: Vec::new(),
            rows: 0,
        }
    }

    fn push(&mut self, r: &FmRecord) -> fmprep::Result<()> {
        self.label.append_option(r.label);
        self.keys.values().append_slice(&r.keys);
        self.keys.append(true);
        self.values.values().append_slice(&r.values);
        self.values.append(true);
        self.rows += 1;
        if self.rows == BATCH_RECORDS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> fmprep::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.label.finish()),
            Arc::new(self.keys.finish()),
            Arc::new(self.values.finish()),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| fmprep::Error::new(fmprep::ErrorKind::Internal, e.to_string()))?;
        self.done.push(batch);
        self.rows = 0;
        Ok(())
    }
}

/// Decode every record of the RecordIO files at `path` (a file, a directory of `*.protobuf`
/// files, an `s3://` key or prefix, as `fmprep inspect` finds them), in file order.
pub fn read(path: &str, s3: &fmprep::S3Options) -> fmprep::Result<(Vec<String>, Vec<RecordBatch>)> {
    let files = fmprep::tools::inspect::list_locations(&fmprep::Location::parse(path)?, s3)?;
    let mut names = Vec::with_capacity(files.len());
    let mut out = Batches::new();
    for f in &files {
        let (name, raw) = fmprep::source::open_raw(f, s3)?;
        for (i, record) in RecordReader::new(BufReader::with_capacity(1 << 20, raw), name.clone()).enumerate()
        {
            let record = record?;
            let fm = FmRecord::from_record(&record).ok_or_else(|| {
                fmprep::Error::bad_input(format!(
                    "{name}: record {i} has no Float32 `values` tensor; not a Factorization Machines record"
                ))
            })?;
            out.push(&fm)?;
        }
        names.push(name);
    }
    out.flush()?;
    Ok((names, out.done))
}

/// The records of RecordIO-protobuf files as an Arrow stream: columns `label` (float32, null when
/// a record has none), `keys` (list of uint64) and `values` (list of float32). Pass it to
/// `pl.DataFrame(...)`, `pa.table(...)` or anything that reads `__arrow_c_stream__`.
#[pyclass(module = "fmprep._native", name = "Records", frozen)]
pub struct Records {
    files: Vec<String>,
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
}

impl Records {
    /// Records already decoded, from `files`.
    pub fn new(files: Vec<String>, batches: Vec<RecordBatch>) -> Self {
        Records {
            files,
            batches,
            schema: schema(),
        }
    }
}

/// `batches` (of `schema`) as an Arrow C stream in a PyCapsule: what `__arrow_c_stream__` returns
/// for every Arrow-exporting object of the module.
pub(crate) fn arrow_stream_capsule<'py>(
    py: Python<'py>,
    batches: &[RecordBatch],
    schema: &SchemaRef,
) -> PyResult<Bound<'py, PyCapsule>> {
    let batches: Vec<Result<RecordBatch, arrow_schema::ArrowError>> =
        batches.iter().cloned().map(Ok).collect();
    let reader = RecordBatchIterator::new(batches, Arc::clone(schema));
    let stream = FFI_ArrowArrayStream::new(Box::new(reader));
    // The consumer moves the stream out and marks it released; an unconsumed stream is released
    // when the capsule is collected (FFI_ArrowArrayStream's Drop).
    PyCapsule::new(py, stream, Some(c"arrow_array_stream".to_owned()))
}

#[pymethods]
impl Records {
    /// Export the records as an Arrow C stream (the Arrow PyCapsule interface). A requested
    /// schema is ignored, as the protocol allows: the columns have one natural type each.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        arrow_stream_capsule(py, &self.batches, &self.schema)
    }

    /// The number of records.
    fn __len__(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The files the records were read from, in order.
    #[getter]
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<fmprep.Records: {} records from {} files>",
            self.__len__(),
            self.files.len()
        )
    }
}
