//! Human logs on stderr. stdout is reserved for the final JSON line.

use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(2);

/// 0 = errors only (-q), 1 = warnings, 2 = info (default), 3 = debug (-v).
pub fn init(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

fn emit(level: u8, tag: &str, msg: &str) {
    if LEVEL.load(Ordering::Relaxed) >= level {
        eprintln!("fmprep: {tag}{msg}");
    }
}

/// An error line (always shown).
pub fn error(msg: &str) {
    emit(0, "error: ", msg);
}

/// A warning.
pub fn warn(msg: &str) {
    emit(1, "warning: ", msg);
}

/// Progress and results.
pub fn info(msg: &str) {
    emit(2, "", msg);
}

/// Details for -v.
pub fn debug(msg: &str) {
    emit(3, "", msg);
}
