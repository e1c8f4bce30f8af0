//! Running fmprep from Python: the work on its own thread with the GIL released, the calling
//! thread watching over it.
//!
//! Python runs signal handlers only in the main thread, and only when that thread executes
//! Python code or calls `PyErr_CheckSignals`. So the calling thread does not do the work: it
//! waits for it in short slices with the GIL released and, between slices, runs the signal
//! handlers ([`Python::check_signals`]) and hands queued log lines to the `logging` logger. When a
//! handler raises (`KeyboardInterrupt` on Ctrl-C, Airflow's `AirflowTaskTimeout`), the run's
//! [`Cancel`] token is cancelled, the calling thread keeps waiting until the run has unwound
//! (staged files removed, no manifest), and the handler's exception is returned, to be re-raised.

use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use fmprep::cancel::Cancel;
use pyo3::prelude::*;

/// How long the calling thread waits between looks at Python's signals: short enough that a
/// Ctrl-C feels immediate, long enough to cost nothing.
const SLICE: Duration = Duration::from_millis(50);

/// A cancellation token for one or more calls; `cancel()` may be called from any thread, and
/// the call holding the token fails with `InterruptedRunError` after removing its staged files.
#[pyclass(module = "fmprep._native", name = "CancelToken", frozen)]
#[derive(Clone, Default)]
pub struct CancelToken {
    /// The library's token, cloned into the run's options.
    pub inner: Cancel,
}

#[pymethods]
impl CancelToken {
    #[new]
    fn new() -> Self {
        CancelToken::default()
    }

    /// Ask the call holding this token to stop; it raises `InterruptedRunError` once its staged
    /// files are removed. Cancelling twice, or after the call ended, does nothing.
    fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether `cancel()` was called.
    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }

    fn __repr__(&self) -> String {
        format!("<fmprep.CancelToken cancelled={}>", self.inner.is_cancelled())
    }
}

/// The `logging` level of a line at fmprep's `level` (0 error, 1 warning, 2 info, 3 debug).
fn python_level(level: u8) -> i32 {
    match level {
        0 => 40,
        1 => 30,
        2 => 20,
        _ => 10,
    }
}

/// The sending end for log lines, given to the work; lines reach Python on the calling thread.
pub type LogSender = Sender<(u8, String)>;

/// Hand every queued line to `logger` (a `logging.Logger`). `logging` reports a failing handler
/// itself, so an exception that escapes the call comes from a signal handler that ran while
/// Python code ran (a Ctrl-C's `KeyboardInterrupt`): it is returned, to cancel the run. The
/// remaining lines are still logged.
fn flush_logs(logs: &Receiver<(u8, String)>, logger: &Bound<'_, PyAny>) -> Option<PyErr> {
    let mut raised = None;
    for (level, line) in logs.try_iter() {
        if let Err(e) = logger.call_method1("log", (python_level(level), line)) {
            raised.get_or_insert(e);
        }
    }
    raised
}

/// Run `work` on a new thread while this thread watches over it (see the module docs), and
/// return its result; `Err` carries the exception a signal handler raised, after the work has
/// stopped. `work` gets the sender for its log lines.
pub fn watched<T: Send>(
    py: Python<'_>,
    cancel: &Cancel,
    logger: &Bound<'_, PyAny>,
    work: impl FnOnce(LogSender) -> T + Send,
) -> PyResult<T> {
    let (log_tx, log_rx) = crossbeam_channel::unbounded();
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("fmprep-run".into())
            .spawn_scoped(s, move || {
                let _ = done_tx.send(work(log_tx));
            })
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
        let mut raised: Option<PyErr> = None;
        let stop = |e: PyErr, raised: &mut Option<PyErr>| {
            if raised.is_none() {
                cancel.cancel();
                *raised = Some(e);
            }
        };
        loop {
            let got = py.detach(|| done_rx.recv_timeout(SLICE));
            if let Some(e) = flush_logs(&log_rx, logger) {
                stop(e, &mut raised);
            }
            match got {
                Ok(value) => return raised.map_or(Ok(value), Err),
                Err(RecvTimeoutError::Timeout) => {}
                // The thread ended without sending: it panicked (the scope re-raises the panic).
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(raised.unwrap_or_else(|| {
                        pyo3::exceptions::PyRuntimeError::new_err("fmprep: the run thread panicked")
                    }))
                }
            }
            if let Err(e) = py.check_signals() {
                stop(e, &mut raised);
            }
        }
    })
}
