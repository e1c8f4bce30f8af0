//! The command line inside another program with host hooks ([`execute_with`]): the Python
//! package's calls run `fmprep run ...` through [`super::execute`] (the same parser and
//! option-building code as the binary, nothing process-wide touched), and these hooks hand back
//! what the binary would print.
//!
//! The hooks ([`Hooks`]) live in a thread-local of the thread that runs the command, so that calls
//! on several threads do not mix:
//! - log lines go to [`Hooks::log`] instead of stderr, unfiltered (the host's logging decides);
//! - progress is shown only when [`Hooks::progress`] asks for it;
//! - a frame ([`Hooks::frame`]) replaces the input named on the command line (`run`,
//!   `preprocess`);
//! - lines `inspect --head` prints before its summary come back in the summary (`"head"`).

use std::cell::RefCell;
use std::ffi::OsString;
use std::sync::Arc;

use super::Failure;

/// Receives each log line: the level (0 error, 1 warning, 2 info, 3 debug) and the message.
pub type LogSink = Arc<dyn Fn(u8, &str) + Send + Sync>;

/// What the host provides for one embedded run.
pub struct Hooks {
    /// Where log lines go.
    pub log: LogSink,
    /// Show progress (bars on a terminal, periodic log lines otherwise).
    pub progress: bool,
    /// Stops the run when cancelled.
    pub cancel: crate::cancel::Cancel,
    /// Ratings to read instead of the command line's input (`run`/`preprocess` only).
    pub frame: Option<crate::RatingsSource>,
}

/// The hooks of the run on this thread, with what it would have printed on stdout.
struct Current {
    hooks: Hooks,
    stdout: Vec<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The log sink of the embedded run on this thread, if any.
pub(crate) fn log_sink() -> Option<LogSink> {
    CURRENT.with(|c| c.borrow().as_ref().map(|c| Arc::clone(&c.hooks.log)))
}

/// Whether an embedded run on this thread asked for progress; `None` outside embedded runs.
pub(crate) fn progress() -> Option<bool> {
    CURRENT.with(|c| c.borrow().as_ref().map(|c| c.hooks.progress))
}

/// Send this thread's log lines to `sink` (a helper thread of an embedded run, e.g. progress).
pub(crate) fn adopt(sink: LogSink) {
    let hooks = Hooks {
        log: sink,
        progress: true,
        cancel: crate::cancel::Cancel::new(),
        frame: None,
    };
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            hooks,
            stdout: Vec::new(),
        })
    });
}

/// The frame to read instead of the command line's input, taken (once).
pub(crate) fn take_frame() -> Option<crate::RatingsSource> {
    CURRENT.with(|c| c.borrow_mut().as_mut().and_then(|c| c.hooks.frame.take()))
}

/// Keep `line` for the caller instead of printing it, in an embedded run; `false` outside one.
pub(crate) fn capture_stdout(line: &str) -> bool {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(c) => {
            c.stdout.push(line.to_string());
            true
        }
        None => false,
    })
}

/// [`super::execute`] on `args` (the program name first) with `hooks` installed on this thread
/// for the run; with captured lines (`inspect --head`), the line returned is the summary with
/// those lines, parsed, under `"head"`.
pub fn execute_with(args: Vec<OsString>, hooks: Hooks) -> Result<Option<String>, Failure> {
    let cancel = hooks.cancel.clone();
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            hooks,
            stdout: Vec::new(),
        })
    });
    // Removed again however the run ends, a panic included.
    struct Uninstall;
    impl Drop for Uninstall {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    let _uninstall = Uninstall;
    let result = super::execute(args, &cancel);
    let captured = CURRENT.with(|c| c.borrow_mut().as_mut().map(|c| std::mem::take(&mut c.stdout)));
    result.map(|line| line.map(|l| with_captured(l, &captured.unwrap_or_default())))
}

/// `line` (a JSON object) with the `captured` JSON lines under `"head"`; `line` unchanged when
/// nothing was captured.
fn with_captured(line: String, captured: &[String]) -> String {
    if captured.is_empty() {
        return line;
    }
    let head: Vec<serde_json::Value> = (captured.iter())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| serde_json::Value::String(l.clone())))
        .collect();
    match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.insert("head".into(), head.into());
            serde_json::Value::Object(m).to_string()
        }
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Arc<std::sync::Mutex<Vec<(u8, String)>>>;

    fn hooks(lines: &Lines) -> Hooks {
        let lines = Arc::clone(lines);
        Hooks {
            log: Arc::new(move |level, msg| lines.lock().unwrap().push((level, msg.to_string()))),
            progress: false,
            cancel: crate::cancel::Cancel::new(),
            frame: None,
        }
    }

    fn args(a: &[&std::path::Path]) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "fmprep".into(),
            "run".into(),
            a[0].into(),
            "-o".into(),
            a[1].into(),
        ];
        v.extend(a[2..].iter().map(|p| p.into()));
        v
    }

    #[test]
    fn logs_reach_the_sink_and_the_hooks_are_removed() {
        let lines = Lines::default();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.tsv");
        let mut text = String::from("customer_id\tproduct_id\tstar_rating\n");
        for c in 0..20 {
            for p in 0..20 {
                text.push_str(&format!("c{c}\tp{p}\t5\n"));
            }
        }
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join("o");
        let line = execute_with(args(&[&input, &out]), hooks(&lines))
            .unwrap()
            .unwrap();
        assert!(line.contains("\"feature_dim\":40"), "{line}");
        let logged = lines.lock().unwrap();
        assert!(
            logged
                .iter()
                .any(|(level, m)| *level == 2 && m.contains("feature_dim")),
            "{logged:?}"
        );
        assert!(
            CURRENT.with(|c| c.borrow().is_none()),
            "the hooks are removed after the run"
        );
        assert!(log_sink().is_none() && progress().is_none());
    }

    #[test]
    fn a_failure_has_the_binarys_code_and_message() {
        let lines = Lines::default();
        let dir = tempfile::tempdir().unwrap();
        let (missing, out) = (dir.path().join("missing.tsv"), dir.path().join("o"));
        let err = execute_with(args(&[&missing, &out]), hooks(&lines)).unwrap_err();
        assert_eq!(err.code, 4, "{}", err.message);
        assert!(err.message.contains("missing.tsv"), "{}", err.message);
        assert!(!out.join("manifest.json").exists());
        assert!(
            CURRENT.with(|c| c.borrow().is_none()),
            "the hooks are removed after a failure"
        );
    }

    #[test]
    fn captured_lines_join_the_summary() {
        let line = with_captured(r#"{"total":1}"#.into(), &[r#"{"keys":[0]}"#.into()]);
        assert_eq!(line, r#"{"head":[{"keys":[0]}],"total":1}"#);
        assert_eq!(with_captured("null".into(), &[]), "null");
    }
}
