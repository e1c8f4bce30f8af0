//! Cooperative interruption.
//!
//! The binary installs SIGINT/SIGTERM handlers that only record the signal; long loops call
//! [`check`] and unwind with [`crate::ErrorKind::Interrupted`], so every staged file is removed by
//! the normal error path and no manifest is written.

use std::sync::atomic::{AtomicI32, Ordering};

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

/// Install SIGINT and SIGTERM handlers that call [`request`]. Meant for the binary.
pub fn install_handlers() -> std::io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                SIGNAL.store(sig, Ordering::SeqCst);
            })?;
        }
    }
    Ok(())
}
