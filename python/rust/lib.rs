//! `fmprep._native`, the compiled half of the `fmprep` Python package (PyO3, abi3): the command
//! line in-process, the pipeline commands as calls, Arrow streams in (frames) and out (records).
//!
//! The Python half (`python/src/fmprep/`) owns the API users see: keyword options turned into
//! the CLI's flags, docstrings, the exception hierarchy and stubs. This module only moves data
//! and control across the boundary: it releases the GIL while fmprep works, turns a
//! [`fmprep::Error`] into the matching Python exception, and cancels a run when Python asks.

mod errors;
mod frame;
mod records;
mod runner;
mod spark;

use std::ffi::OsString;
use std::sync::Arc;

use pyo3::prelude::*;

/// The `fmprep` command line on `argv` (`argv[0]` is the program name), in this process: what
/// the console script runs. Returns the exit code. The GIL is released: fmprep's own signal
/// handlers (installed by the command) stop the run on SIGINT/SIGTERM.
#[pyfunction]
fn main(py: Python<'_>, argv: Vec<OsString>) -> i32 {
    py.detach(|| fmprep::cli::main_with_args(argv))
}

/// Run the fmprep command `argv` (without the program name) as a call: the work on its own
/// thread with the GIL released, log lines to `logger`, cancelled through `cancel` or by an
/// exception from a Python signal handler ([`runner::watched`]). With `frame` (an object with
/// `__arrow_c_stream__`), its rows are the input. Returns the command's last stdout line.
#[pyfunction]
#[pyo3(signature = (argv, cancel, logger, *, progress = false, frame = None, frame_name = String::from("frame"), title = None))]
#[allow(clippy::too_many_arguments)] // the Python keyword arguments, one each
fn command(
    py: Python<'_>,
    argv: Vec<String>,
    cancel: PyRef<'_, runner::CancelToken>,
    logger: Bound<'_, PyAny>,
    progress: bool,
    frame: Option<Bound<'_, PyAny>>,
    frame_name: String,
    title: Option<String>,
) -> PyResult<String> {
    let frame = match frame {
        Some(f) => Some(frame::open(&f, &frame_name, title.as_deref())?),
        None => None,
    };
    let token = cancel.inner.clone();
    let hooks_token = token.clone();
    let result = runner::watched(py, &token, &logger, move |logs| {
        let log: fmprep::cli::LogSink = Arc::new(move |level, msg| {
            let _ = logs.send((level, msg.to_string()));
        });
        let hooks = fmprep::cli::Hooks {
            log,
            progress,
            cancel: hooks_token,
            frame,
        };
        let args = std::iter::once(OsString::from("fmprep")).chain(argv.into_iter().map(OsString::from));
        // A panic is a bug: it becomes InternalError (exit code 1), as the command reports it,
        // instead of tearing down the watching thread.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fmprep::cli::execute_with(args.collect(), hooks)
        }))
        .unwrap_or_else(|panic| {
            let what = (panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(fmprep::cli::Failure {
                code: 1,
                message: format!(
                    "internal error (a bug, please report it): {}",
                    what.replace('\n', " ")
                ),
                kind: Some(fmprep::ErrorKind::Internal),
            })
        })
    })?;
    match result {
        Ok(line) => Ok(line.unwrap_or_else(|| "null".into())),
        // --help and --version (code 0) print to stdout in the command; here they are the text.
        Err(f) if f.code == 0 => Ok(serde_json::Value::String(f.message).to_string()),
        Err(f) => Err(errors::to_py(py, f.code, &f.message)),
    }
}

/// Decode the RecordIO-protobuf records at `path` (a file, a directory, an `s3://` key or
/// prefix); the GIL is released while decoding.
#[pyfunction]
#[pyo3(signature = (path, region = None, endpoint_url = None))]
fn read_recordio(
    py: Python<'_>,
    path: String,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> PyResult<records::Records> {
    let s3 = fmprep::S3Options {
        region,
        endpoint_url,
        ..fmprep::S3Options::default()
    };
    let (files, batches) = py
        .detach(|| records::read(&path, &s3))
        .map_err(|e| errors::from_lib(py, &e))?;
    Ok(records::Records::new(files, batches))
}

/// The module: functions and classes listed in `python/src/fmprep/_native.pyi`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(command, m)?)?;
    m.add_function(wrap_pyfunction!(read_recordio, m)?)?;
    m.add_class::<records::Records>()?;
    m.add_class::<runner::CancelToken>()?;
    spark::register(m)?;
    Ok(())
}
