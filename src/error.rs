//! The library's error type: [`Error`] (a kind and a message), [`ErrorKind`] and the [`Result`]
//! alias every fallible library call returns.
//!
//! Every failure carries a [`ErrorKind`] (what class of problem, which decides the process exit
//! code) and a message that says what was wrong, where, and what to do about it.

use std::fmt;
use std::path::Path;

/// The class of a failure. New kinds may be added, so match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option value is invalid (thresholds, split fractions, ...). Exit code 2.
    Usage,
    /// The input data is unusable: malformed beyond the limit, corrupt or truncated compression,
    /// missing columns, nothing left after filtering. Exit code 3.
    BadInput,
    /// A local file could not be read or written. Exit code 4.
    Io,
    /// A remote store (S3) failed: credentials, missing bucket/key, network. Exit code 5.
    Remote,
    /// The output location already holds a finished run and overwriting was not asked for. Exit code 6.
    OutputExists,
    /// The run was cancelled: its cancel token (`fmprep::cancel::Cancel`) was set, by the caller
    /// or by the command's signal handler. Exit code 130 (the command uses 128 + the signal
    /// number, e.g. 143 for SIGTERM).
    Interrupted,
    /// A bug or an unexpected condition. Exit code 1.
    Internal,
}

impl ErrorKind {
    /// The process exit code documented for this kind of failure.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::BadInput => 3,
            ErrorKind::Io => 4,
            ErrorKind::Remote => 5,
            ErrorKind::OutputExists => 6,
            ErrorKind::Interrupted => 130,
            ErrorKind::Internal => 1,
        }
    }
}

/// A failure of an fmprep operation.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A usage error (invalid option value).
    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    /// A bad-input error.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadInput, message)
    }

    /// An I/O error while doing `what` on `path`, with a hint chosen from the OS error.
    ///
    /// An `io::Error` that carries an [`Error`] (see [`Error::into_io`]) is unwrapped instead, so
    /// that a failure of a remote store behind a `Read`/`Write` keeps its kind and message.
    pub fn io(what: &str, path: impl AsRef<Path>, err: std::io::Error) -> Self {
        let err = match Error::from_io(err) {
            Ok(inner) => return inner,
            Err(err) => err,
        };
        let path = path.as_ref().display();
        let hint = match err.kind() {
            std::io::ErrorKind::NotFound => "; check the path",
            std::io::ErrorKind::PermissionDenied => "; check the file permissions",
            std::io::ErrorKind::StorageFull => "; free some disk space",
            std::io::ErrorKind::QuotaExceeded => "; the disk quota is used up, free some space",
            std::io::ErrorKind::ReadOnlyFilesystem => {
                "; the file system is read-only, choose another location"
            }
            std::io::ErrorKind::NotADirectory => "; a parent of this path is a regular file, not a directory",
            std::io::ErrorKind::IsADirectory => "; this is a directory, give a file path",
            // EFBIG: the process file-size limit (RLIMIT_FSIZE, `ulimit -f`) or the file system's
            // largest file size; std maps it to FileTooLarge.
            std::io::ErrorKind::FileTooLarge => {
                "; the file size limit was hit (ulimit -f) or the disk is full"
            }
            _ => "",
        };
        Error::new(ErrorKind::Io, format!("{what} {path}: {err}{hint}")).with_source(err)
    }

    /// Wrap this error in an `io::Error`, to pass it through `Read`/`Write`.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }

    /// The [`Error`] an `io::Error` carries (see [`Error::into_io`]), or the `io::Error` back.
    pub fn from_io(err: std::io::Error) -> std::result::Result<Error, std::io::Error> {
        if !err.get_ref().is_some_and(|e| e.is::<Error>()) {
            return Err(err);
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(e)) => Ok(*e),
            Some(Err(other)) => Err(std::io::Error::new(kind, other)),
            None => Err(std::io::Error::from(kind)),
        }
    }

    /// Prefix the message with where it happened, keeping kind and source.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}
