//! The kernels of the Spark job (`fmprep.spark`), as small calls the executors make on Arrow
//! data: list the input files as fmprep does, parse one file into Arrow batches of valid rows
//! ([`fmprep::distributed::parse_file`]), encode and write a partition's rows as RecordIO files
//! ([`fmprep::distributed::encode_batch`]), and write one object from byte chunks (the maps, from
//! the driver). The job's logic (what Spark computes, the commit of the winning attempts) is in
//! Python; nothing here keeps state between calls.

use std::io::Write;

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use fmprep::distributed;
use fmprep::source::ReadOptions;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};

use crate::errors;

fn s3_options(region: Option<String>, endpoint_url: Option<String>) -> fmprep::S3Options {
    fmprep::S3Options {
        region,
        endpoint_url,
        ..fmprep::S3Options::default()
    }
}

/// Valid rows of one file as an Arrow stream (`__arrow_c_stream__`), in line order.
#[pyclass(module = "fmprep._native", name = "ParsedRows", frozen)]
pub struct ParsedRows {
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
}

#[pymethods]
impl ParsedRows {
    /// Export the rows as an Arrow C stream (the Arrow PyCapsule interface); a requested schema
    /// is ignored, as the protocol allows.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        crate::records::arrow_stream_capsule(py, &self.batches, &self.schema)
    }

    /// The number of rows.
    fn __len__(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// The files of `specs` (files, directories, globs, `s3://` prefixes) in the order
/// `fmprep run` reads them.
#[pyfunction]
#[pyo3(signature = (specs, region = None, endpoint_url = None))]
fn spark_input_files(
    py: Python<'_>,
    specs: Vec<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> PyResult<Vec<String>> {
    let s3 = s3_options(region, endpoint_url);
    py.detach(|| {
        let locations = specs
            .iter()
            .map(|s| fmprep::Location::parse(s))
            .collect::<fmprep::Result<Vec<_>>>()?;
        fmprep::source::files::expand_all(&locations, &s3)
    })
    .map(|files| files.iter().map(ToString::to_string).collect())
    .map_err(|e| errors::from_lib(py, &e))
}

/// The reader options the job passes as JSON: `delimiter` (one character), `max_line_bytes`,
/// `bad_line_examples`, `rating_scale`, and the column names `customer`, `product`, `rating`,
/// `title`. Absent keys keep fmprep's defaults.
fn read_options(json: &str) -> fmprep::Result<ReadOptions> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| fmprep::Error::usage(format!("reader options: {e}")))?;
    let mut o = ReadOptions::default();
    let bad = |k: &str| fmprep::Error::usage(format!("reader option {k}: wrong type or value"));
    if let Some(d) = v.get("delimiter") {
        let d = d
            .as_str()
            .filter(|d| d.len() == 1)
            .ok_or_else(|| bad("delimiter"))?;
        o.delimiter = d.as_bytes()[0];
    }
    if let Some(n) = v.get("max_line_bytes") {
        o.max_line_bytes = n.as_u64().ok_or_else(|| bad("max_line_bytes"))? as usize;
    }
    if let Some(n) = v.get("bad_line_examples") {
        o.bad_line_examples = n.as_u64().ok_or_else(|| bad("bad_line_examples"))? as usize;
    }
    if let Some(s) = v.get("rating_scale") {
        o.rating_scale = s
            .as_str()
            .ok_or_else(|| bad("rating_scale"))?
            .parse()
            .map_err(fmprep::Error::usage)?;
    }
    for (key, slot) in [
        ("customer", &mut o.columns.customer),
        ("product", &mut o.columns.product),
        ("rating", &mut o.columns.rating),
        ("title", &mut o.columns.title),
    ] {
        if let Some(s) = v.get(key) {
            *slot = s.as_str().ok_or_else(|| bad(key))?.to_string();
        }
    }
    Ok(o)
}

/// Parse the text file `path` (number `file` of the input) with fmprep's reader, split keys for
/// `seed` (`--shuffle hash`). Returns the
/// valid rows ([`ParsedRows`], schema of [`distributed::rows_schema`]) and the file's counters
/// as JSON: `header`, `input_lines`, `blank_lines`, `bad_lines` (per kind), `valid` and
/// `examples` (the first bad lines, each with `line`, `kind`, `detail`, `file`).
#[pyfunction]
#[pyo3(signature = (path, file, seed, options = String::from("{}"), batch_rows = 65536, region = None, endpoint_url = None))]
#[allow(clippy::too_many_arguments)] // the Python keyword arguments, one each
fn spark_parse_file(
    py: Python<'_>,
    path: String,
    file: u32,
    seed: u64,
    options: String,
    batch_rows: usize,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> PyResult<(ParsedRows, String)> {
    let s3 = s3_options(region, endpoint_url);
    let run = || -> fmprep::Result<(Vec<RecordBatch>, String)> {
        let opts = read_options(&options)?;
        let input = fmprep::open_input_spec(&path, &s3)?;
        let mut batches = Vec::new();
        let read = distributed::parse_file(input, file, seed, &opts, batch_rows, &mut |b| {
            batches.push(b);
            Ok(())
        })?;
        let s = &read.stats;
        let stats = serde_json::json!({
            "header": String::from_utf8_lossy(&read.header),
            "input_lines": s.input_lines,
            "blank_lines": s.blank_lines,
            "bad_lines": s.bad_lines,
            "valid": s.valid,
            "examples": s.examples,
        });
        Ok((batches, stats.to_string()))
    };
    let (batches, stats) = py.detach(run).map_err(|e| errors::from_lib(py, &e))?;
    Ok((
        ParsedRows {
            batches,
            schema: distributed::rows_schema(),
        },
        stats,
    ))
}

/// Take the Arrow C stream of `obj` (anything with `__arrow_c_stream__`).
fn stream_of(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    let capsule = obj.call_method1("__arrow_c_stream__", (obj.py().None(),))?;
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|e| {
        pyo3::exceptions::PyTypeError::new_err(format!("__arrow_c_stream__ did not return a PyCapsule: {e}"))
    })?;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?.as_ptr() as *mut FFI_ArrowArrayStream;
    // SAFETY: the capsule holds a valid ArrowArrayStream (checked by name, as the protocol
    // specifies); `from_raw` moves it out and leaves a released stream behind, so the capsule's
    // destructor does not release it a second time.
    unsafe { RecordBatchStreamReader::from_raw(ptr) }
        .map_err(|e| errors::to_py(obj.py(), 3, &format!("cannot read the Arrow stream: {e}")))
}

/// Encode the rows of `stream` (columns `customer`, `product`: indices; `label`: float) as
/// framed RecordIO-protobuf records for `n_customers x n_products` and write them, in stream
/// order, to `path_template` with `{}` replaced by the file number: one file for every
/// `chunk_records` records (all in file 0 when 0). An empty stream writes nothing. Each file is
/// staged and appears whole (fmprep's store). Returns `(path, records, bytes)` per file.
#[pyfunction]
#[pyo3(signature = (stream, n_customers, n_products, path_template, chunk_records = 0, region = None, endpoint_url = None))]
#[allow(clippy::too_many_arguments)] // the Python keyword arguments, one each
fn spark_write_records(
    py: Python<'_>,
    stream: Bound<'_, PyAny>,
    n_customers: u64,
    n_products: u64,
    path_template: String,
    chunk_records: u64,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> PyResult<Vec<(String, u64, u64)>> {
    let s3 = s3_options(region, endpoint_url);
    let dims = fmprep::stages::index::Dims {
        n_customers,
        n_products,
    };
    if !path_template.contains("{}") {
        return Err(errors::to_py(
            py,
            2,
            "path_template needs a {} for the file number",
        ));
    }
    let fail = |py: Python<'_>, e: fmprep::Error| errors::from_lib(py, &e);
    // Batches come from the Python iterator behind the stream, which needs the GIL; encoding is
    // cheap next to the shuffle that produced them, so the GIL is kept throughout.
    let reader = stream_of(&stream)?;
    let mut files = Vec::new();
    let mut current: Option<(String, Box<dyn fmprep::store::ObjectWriter>, u64)> = None;
    let mut buf = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| errors::to_py(py, 3, &format!("reading the rows: {e}")))?;
        let mut start = 0usize;
        while start < batch.num_rows() {
            if current.is_none() {
                let path = path_template.replace("{}", &files.len().to_string());
                let w = fmprep::store::create_file(&path, &s3).map_err(|e| fail(py, e))?;
                current = Some((path, w, 0));
            }
            let (_, w, n) = current.as_mut().expect("opened above");
            let room = if chunk_records == 0 {
                usize::MAX
            } else {
                (chunk_records - *n) as usize
            };
            let len = room.min(batch.num_rows() - start);
            buf.clear();
            distributed::encode_batch(&batch.slice(start, len), dims, &mut buf).map_err(|e| fail(py, e))?;
            w.write_all(&buf).map_err(|e| {
                fail(
                    py,
                    fmprep::Error::new(fmprep::ErrorKind::Io, format!("writing records: {e}")),
                )
            })?;
            *n += len as u64;
            start += len;
            if chunk_records > 0 && *n == chunk_records {
                let (path, w, n) = current.take().expect("open");
                let bytes = w.commit().map_err(|e| fail(py, e))?;
                files.push((path, n, bytes));
            }
        }
    }
    if let Some((path, w, n)) = current.take() {
        let bytes = w.commit().map_err(|e| fail(py, e))?;
        files.push((path, n, bytes));
    }
    Ok(files)
}

/// Write the object `path` (local or `s3://`) from the byte strings of `chunks` (an iterable),
/// staged and appearing whole. Returns the bytes written.
#[pyfunction]
#[pyo3(signature = (path, chunks, region = None, endpoint_url = None))]
fn spark_write_object(
    py: Python<'_>,
    path: String,
    chunks: Bound<'_, PyAny>,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> PyResult<u64> {
    let s3 = s3_options(region, endpoint_url);
    let mut w = fmprep::store::create_file(&path, &s3).map_err(|e| errors::from_lib(py, &e))?;
    for chunk in chunks.try_iter()? {
        let chunk = chunk?;
        let bytes = chunk.cast::<PyBytes>()?;
        w.write_all(bytes.as_bytes()).map_err(|e| {
            errors::from_lib(
                py,
                &fmprep::Error::new(fmprep::ErrorKind::Io, format!("writing {path}: {e}")),
            )
        })?;
    }
    w.commit().map_err(|e| errors::from_lib(py, &e))
}

/// Add the Spark kernels to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ParsedRows>()?;
    m.add_function(wrap_pyfunction!(spark_input_files, m)?)?;
    m.add_function(wrap_pyfunction!(spark_parse_file, m)?)?;
    m.add_function(wrap_pyfunction!(spark_write_records, m)?)?;
    m.add_function(wrap_pyfunction!(spark_write_object, m)?)?;
    Ok(())
}
