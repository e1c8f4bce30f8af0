//! Cooperative interruption: the process-wide stop request ([`request`], [`check`]), the signal
//! handlers that set it, and [`InterruptibleReader`] for reads that could block forever.
//!
//! The binary installs SIGINT/SIGTERM handlers that only record the signal; long loops call
//! [`check`] and unwind with [`crate::ErrorKind::Interrupted`], so every staged file is removed by
//! the normal error path and no manifest is written. Loops poll at least once per chunk of work
//! (a 2 MiB input chunk, a batch of encoded records, a few thousand CSV lines), which keeps the
//! reaction well under a second.
//!
//! A read that blocks forever (stdin with a writer that sends nothing) cannot poll, and the
//! handlers restart interrupted system calls (`SA_RESTART`). Such sources are wrapped in
//! [`InterruptibleReader`], which reads on a helper thread, so the pipeline thread only ever waits
//! with a timeout and notices the signal. A second signal ends the process at once with the same
//! exit code: the escape hatch when a run does not stop by itself; staged files it leaves carry the
//! `.fmprep-tmp` suffix and the next run removes them.

use std::io::{self, Read};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Record that `signal` (e.g. 2 for SIGINT, 15 for SIGTERM) asked the run to stop.
pub fn request(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    SIGNAL.load(Ordering::Relaxed) != 0
}

/// `Err(Interrupted)` once a stop was requested.
pub fn check() -> crate::Result<()> {
    if requested() {
        Err(crate::Error::interrupted())
    } else {
        Ok(())
    }
}

/// The conventional exit code for the received signal: 128 + signal number (130 when none).
pub fn exit_code() -> i32 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 130,
        s => 128 + s,
    }
}

/// A short name of the received signal for messages.
pub fn signal_name() -> &'static str {
    match SIGNAL.load(Ordering::SeqCst) {
        15 => "SIGTERM",
        _ => "SIGINT",
    }
}

/// Install SIGINT and SIGTERM handlers that call [`request`]; a second signal exits the process at
/// once with 128 + its number. Meant for the binary.
pub fn install_handlers() -> io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls `_exit`, both async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if SIGNAL.swap(sig, Ordering::SeqCst) != 0 {
                    signal_hook::low_level::exit(128 + sig);
                }
            })?;
        }
    }
    Ok(())
}

/// The error an [`InterruptibleReader`] returns once a stop was requested. Its kind is `Other`,
/// not `Interrupted`: std's `read_to_end`/`read_exact` retry `Interrupted` errors forever.
pub fn io_error() -> io::Error {
    io::Error::other(format!("interrupted by {}", signal_name()))
}

/// How long a waiting reader sleeps between looks at the interrupt flag.
const POLL: Duration = Duration::from_millis(50);

/// Wraps a source whose reads may block indefinitely (stdin, a socket) so that waiting for data
/// notices [`requested`].
///
/// A helper thread does the blocking reads and hands over buffers through a small bounded queue;
/// [`Read::read`] waits on the queue with a timeout and returns [`io_error`] once a stop was
/// requested. The helper stays blocked in its read until data arrives or the process exits, which
/// is harmless: nothing else waits for it.
pub struct InterruptibleReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl InterruptibleReader {
    /// Start reading `inner` on a helper thread.
    pub fn new(mut inner: impl Read + Send + 'static) -> io::Result<Self> {
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
        Ok(InterruptibleReader {
            rx,
            buf: Vec::new(),
            pos: 0,
            done: false,
        })
    }
}

impl Read for InterruptibleReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            if requested() {
                return Err(io_error());
            }
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
    fn interruptible_reader_passes_bytes_through() {
        let data: Vec<u8> = (0..600_000u32).map(|i| i as u8).collect();
        let mut r = InterruptibleReader::new(io::Cursor::new(data.clone())).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn interruptible_reader_passes_errors_through() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
            }
        }
        let mut r = InterruptibleReader::new(Failing).unwrap();
        let err = r.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
    }
}
