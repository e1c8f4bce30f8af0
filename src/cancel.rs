//! Cancellation as a value: [`Cancel`], the token a run polls, and [`CancellableReader`] for
//! reads that could block forever.
//!
//! A token is shared by cloning it; setting any clone cancels every run that was given one of
//! them, and nothing else. The options of each long operation carry one (`cancel` in the
//! pipeline's `Options`, the readers' `ReadOptions`, `S3Options` and the synth options); the
//! default token is never set. Long loops poll it at least once per chunk of work (a 2 MiB input chunk, a batch
//! of encoded records, a few thousand CSV lines), which keeps the reaction well under a second,
//! and unwind with [`ErrorKind::Interrupted`]: every staged file
//! is removed by the normal error path and no manifest is written.
//!
//! The library installs no signal handlers. The `fmprep` command's handlers set its one token
//! with [`Cancel::cancel_by_signal`] (an atomic store, async-signal-safe), so messages and the
//! exit code name the signal; the Python module cancels on `KeyboardInterrupt`.

use std::io::{self, Read};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

use crate::error::{Error, ErrorKind};

/// The reason stored when a caller (not a signal) cancelled.
const BY_CALLER: i32 = -1;

/// A cancel token: cheap to clone, every clone sees the same state.
///
/// ```
/// let token = fmprep::cancel::Cancel::new();
/// let for_the_run = token.clone();
/// assert!(for_the_run.check().is_ok());
/// token.cancel();
/// assert!(for_the_run.is_cancelled());
/// assert_eq!(for_the_run.check().unwrap_err().kind(), fmprep::ErrorKind::Interrupted);
/// ```
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicI32>);

impl Cancel {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Ask every run holding this token to stop. Idempotent; the first reason recorded stays.
    pub fn cancel(&self) {
        let _ = self
            .0
            .compare_exchange(0, BY_CALLER, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Record that signal `signal` (2 = SIGINT, 15 = SIGTERM) asked the run to stop; returns
    /// whether the token was already cancelled. Only an atomic swap: safe in a signal handler.
    pub fn cancel_by_signal(&self, signal: i32) -> bool {
        self.0.swap(signal, Ordering::SeqCst) != 0
    }

    /// Whether a stop was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// The signal that cancelled the token, if a signal did.
    pub fn signal(&self) -> Option<i32> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&s| s > 0)
    }

    /// `Err(Interrupted)` once a stop was requested.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(self.error())
        } else {
            Ok(())
        }
    }

    /// The error a cancelled run ends with: names the signal, or the caller.
    pub fn error(&self) -> Error {
        let by = match self.signal() {
            Some(15) => "interrupted by SIGTERM",
            Some(2) => "interrupted by SIGINT",
            Some(_) => "interrupted by a signal",
            None => "cancelled by the caller",
        };
        Error::new(
            ErrorKind::Interrupted,
            format!("{by}; no manifest was written, re-run to produce the output"),
        )
    }

    /// [`error`](Self::error) as an `io::Error`, for `Read`/`Write` implementations. Its kind is
    /// not `Interrupted`: std's `read_to_end`/`write_all` retry those forever.
    pub fn io_error(&self) -> io::Error {
        self.error().into_io()
    }

    /// `Err(io_error())` once a stop was requested.
    pub fn check_io(&self) -> io::Result<()> {
        if self.is_cancelled() {
            Err(self.io_error())
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cancel({})",
            if self.is_cancelled() { "cancelled" } else { "live" }
        )
    }
}

/// Tokens are equal when they are clones of one another.
impl PartialEq for Cancel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Cancel {}

/// How long a waiting reader sleeps between looks at its token.
const POLL: Duration = Duration::from_millis(50);

/// Wraps a source whose reads may block indefinitely (stdin, a socket) so that waiting for data
/// notices a cancelled token.
///
/// A helper thread does the blocking reads and hands over buffers through a small bounded queue;
/// [`Read::read`] waits on the queue with a timeout and returns [`Cancel::io_error`] once the
/// token is set. The helper stays blocked in its read until data arrives or the process exits,
/// which is harmless: nothing else waits for it.
pub struct CancellableReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cancel: Cancel,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl CancellableReader {
    /// Start reading `inner` on a helper thread; reads stop when `cancel` is set.
    pub fn new(mut inner: impl Read + Send + 'static, cancel: Cancel) -> io::Result<Self> {
        // Two blocks in the queue: enough to overlap the helper's reads with parsing, and a bound
        // on the memory held when the consumer is slower than the source.
        let (tx, rx) = bounded(2);
        std::thread::Builder::new()
            .name("fmprep-input".into())
            .spawn(move || loop {
                let mut block = vec![0u8; 256 << 10];
                let n = match inner.read(&mut block) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                if n == 0 {
                    return; // dropping the sender marks the end
                }
                block.truncate(n);
                if tx.send(Ok(block)).is_err() {
                    return; // the consumer is gone
                }
            })?;
        Ok(CancellableReader {
            rx,
            cancel,
            buf: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for CancellableReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.cancel.check_io()?;
            match self.rx.recv_timeout(POLL) {
                Ok(Ok(block)) => {
                    self.buf = block;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.done = true,
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_independent_and_clones_shared() {
        let (a, b) = (Cancel::new(), Cancel::new());
        let a2 = a.clone();
        a.cancel();
        assert!(a2.is_cancelled() && !b.is_cancelled());
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert!(b.check().is_ok());
        assert!(a2.error().message().starts_with("cancelled by the caller"));
    }

    #[test]
    fn a_signal_is_named_and_the_first_reason_stays() {
        let c = Cancel::new();
        assert!(!c.cancel_by_signal(15));
        c.cancel();
        assert_eq!(c.signal(), Some(15));
        assert!(c.error().message().starts_with("interrupted by SIGTERM;"));
        assert!(c.cancel_by_signal(2), "the second signal sees the first");
    }

    #[test]
    fn cancellable_reader_passes_bytes_through() {
        let data: Vec<u8> = (0..600_000u32).map(|i| i as u8).collect();
        let mut r = CancellableReader::new(io::Cursor::new(data.clone()), Cancel::new()).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn cancellable_reader_passes_errors_through() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
            }
        }
        let mut r = CancellableReader::new(Failing, Cancel::new()).unwrap();
        let err = r.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    }

    #[test]
    fn a_blocked_read_returns_once_cancelled() {
        // A pipe whose writer stays open and silent: the read would block forever.
        let (reader, _writer) = std::io::pipe().unwrap();
        let cancel = Cancel::new();
        let mut r = CancellableReader::new(reader, cancel.clone()).unwrap();
        let t = std::thread::spawn(move || r.read(&mut [0u8; 8]));
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
        let err = t.join().unwrap().unwrap_err();
        assert_eq!(Error::from_io(err).unwrap().kind(), ErrorKind::Interrupted);
    }
}
