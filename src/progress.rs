//! Progress counters a running pipeline updates and an observer (the CLI's progress bar or
//! periodic log line) reads. Plain atomics: updating them costs one relaxed add per chunk or per
//! file, and the pipeline never waits for the observer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The pipeline stages, in order, as reported by [`Progress::stage`].
pub const STAGES: [&str; 5] = ["read", "filter", "encode", "write", "done"];

/// Shared progress counters of one run.
#[derive(Debug, Default)]
pub struct Progress {
    stage: AtomicUsize,
    /// Raw (compressed) input bytes consumed so far.
    pub input_bytes: Arc<AtomicU64>,
    /// Raw input size, when known (0 = unknown).
    pub input_total: AtomicU64,
    /// Input lines parsed so far.
    pub lines: AtomicU64,
    /// Records (or CSV rows) written so far.
    pub records: AtomicU64,
    /// Records to write in total, once known.
    pub records_total: AtomicU64,
}

impl Progress {
    /// New counters, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// New counters that follow the raw bytes consumed from `input`.
    pub fn for_input(input: &crate::input::Input) -> Arc<Self> {
        Arc::new(Progress {
            input_bytes: Arc::clone(&input.raw_read),
            input_total: AtomicU64::new(input.raw_size.unwrap_or(0)),
            ..Progress::default()
        })
    }

    /// Enter stage `name` (one of [`STAGES`]).
    pub fn set_stage(&self, name: &str) {
        if let Some(i) = STAGES.iter().position(|s| *s == name) {
            self.stage.store(i, Ordering::Relaxed);
        }
    }

    /// The current stage.
    pub fn stage(&self) -> &'static str {
        STAGES[self.stage.load(Ordering::Relaxed).min(STAGES.len() - 1)]
    }

    /// Add `n` to a counter.
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Read a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A reader that counts the bytes passing through it into a shared counter.
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Count the bytes read from `inner` into `count`.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
