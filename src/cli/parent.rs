//! `--exit-with-parent`: stop as on SIGTERM when the process that started fmprep dies.
//!
//! Airflow does not signal a task's process group when the task process itself is SIGKILLed (the
//! OOM killer's way), so without this a run goes on, and may commit a manifest for an attempt the
//! scheduler has already marked failed. On Linux the kernel delivers SIGTERM at the parent's
//! death (`prctl(PR_SET_PDEATHSIG)`), which the handlers of [`super::signals`] turn into the
//! usual clean stop: staged files removed, no manifest. Elsewhere the flag only warns. (The kernel
//! watches the thread that started fmprep: a parent must wait for it in that thread, as
//! `fmprep_airflow.run_fmprep` does.)

/// The parent's pid as fmprep first saw it: read before anything else in `main`, so that a
/// parent that died during start-up is noticed (its orphan then has another parent).
pub fn parent_pid() -> i32 {
    #[cfg(unix)]
    // SAFETY: getppid has no preconditions and cannot fail.
    return unsafe { libc::getppid() };
    #[cfg(not(unix))]
    0
}

/// Ask for SIGTERM at the parent's death; `first_parent` is [`parent_pid`] from the start of
/// `main`. Returns whether the parent is already gone (then SIGTERM has been raised: the run
/// stops as soon as it checks). Call after the signal handlers are installed.
#[cfg(target_os = "linux")]
pub fn exit_with_parent(first_parent: i32) -> std::io::Result<bool> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; prctl touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The parent may have died before the request took effect: then no signal will come, and the
    // orphan already has a new parent (init or a subreaper).
    if parent_pid() != first_parent {
        // SAFETY: raising a signal for which a handler (or the default action) is in place.
        unsafe { libc::raise(libc::SIGTERM) };
        return Ok(true);
    }
    Ok(false)
}

/// Not available outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn exit_with_parent(_first_parent: i32) -> std::io::Result<bool> {
    Err(std::io::Error::other("--exit-with-parent works on Linux only"))
}
