//! SIGINT and SIGTERM for the command: each sets the run's [`Cancel`] token, so the library stops
//! cooperatively (staged files removed, no manifest); a second signal ends the process at once
//! with 128 + its number, the escape hatch when a run does not stop by itself (staged files it
//! leaves carry the `.fmprep-tmp` suffix and the next run removes them).

use crate::cancel::Cancel;

/// Install the handlers; they set `cancel`. Only commands that stage files install them: the
/// others keep the default action, dying at once.
pub fn install(cancel: &Cancel) -> std::io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let cancel = cancel.clone();
        // SAFETY: the handler only does an atomic swap and calls `_exit`, both async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if cancel.cancel_by_signal(sig) {
                    signal_hook::low_level::exit(128 + sig);
                }
            })?;
        }
    }
    Ok(())
}

/// The conventional exit code of a run cancelled by `cancel`: 128 + the signal number, 130 when
/// no signal did it.
pub fn exit_code(cancel: &Cancel) -> i32 {
    cancel.signal().map_or(130, |s| 128 + s)
}
