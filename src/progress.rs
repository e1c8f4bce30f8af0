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
    /// Things done to the output location that the observer should log (stale files removed).
    notes: std::sync::Mutex<Vec<String>>,
}

impl Progress {
    /// New counters, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// New counters whose input bytes are `input_bytes` (a reader's count of the raw bytes it
    /// consumed), out of `input_total` when known.
    pub fn following(input_bytes: Arc<AtomicU64>, input_total: Option<u64>) -> Arc<Self> {
        Arc::new(Progress {
            input_bytes,
            input_total: AtomicU64::new(input_total.unwrap_or(0)),
            ..Progress::default()
        })
    }

    /// Note something done to the output location, for the observer to log.
    pub fn note(&self, note: String) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(note);
    }

    /// The notes so far, in order, emptying the list.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()))
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
