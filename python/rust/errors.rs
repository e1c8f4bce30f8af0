//! fmprep failures as Python exceptions: one class per exit code of the command line, defined in
//! Python (`fmprep/_errors.py`, where they get docstrings and stubs) and instantiated here with
//! the CLI's exit code and message.

use pyo3::prelude::*;

/// The name of the Python class in `fmprep._errors` for a failure with the CLI's `exit_code`.
fn class_name(exit_code: i32) -> &'static str {
    match exit_code {
        2 => "UsageError",
        3 => "BadInputError",
        4 => "LocalIOError",
        5 => "S3Error",
        6 => "OutputExistsError",
        130 | 143 => "InterruptedRunError",
        _ => "InternalError",
    }
}

/// The exception for a failure with `message` whose CLI exit code is `exit_code`. Falls back to
/// the import error when `fmprep._errors` cannot be imported (a broken install).
pub fn to_py(py: Python<'_>, exit_code: i32, message: &str) -> PyErr {
    let made = py
        .import("fmprep._errors")
        .and_then(|m| m.getattr(class_name(exit_code)))
        .and_then(|cls| cls.call1((message, exit_code)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The exception for a library error (its kind's exit code and its message).
pub fn from_lib(py: Python<'_>, e: &fmprep::Error) -> PyErr {
    to_py(py, e.kind().exit_code(), e.message())
}
