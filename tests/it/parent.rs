//! A run must not outlive the process that started it (`--exit-with-parent`, set by the Python
//! package), and a broken stderr must not end a run (issue 15, item 7).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::Workdir;

/// The Python parent: starts fmprep through `fmprep_airflow.run_fmprep` on the given input and
/// output, and SIGKILLs itself (as the OOM killer would) when the test writes a line to it.
const PARENT: &str = r#"
import os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
import fmprep_airflow

def die():
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)

threading.Thread(target=die, daemon=True).start()
env = {"FMPREP_BIN": sys.argv[2]}
if sys.argv[5] != "default":
    env["FMPREP_EXIT_WITH_PARENT"] = sys.argv[5]
fmprep_airflow.run_fmprep(["run", sys.argv[3], "--output", sys.argv[4]], env=env)
"#;

/// The children of `pid` (every thread's), from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    out
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Poll `cond` until it holds; a generous bound only so that a broken build fails instead of
/// hanging (nothing is asserted about how long it takes).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < give_up, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start the Python parent on `input` → `out` (`exit_with_parent`: the FMPREP_EXIT_WITH_PARENT
/// it passes, or "default" for the package's own choice), wait until fmprep is reading the
/// input, SIGKILL the parent, and return fmprep's pid once the parent is gone.
fn kill_parent_mid_run(w: &Workdir, input: &Path, out: &str, exit_with_parent: &str) -> u32 {
    let pysrc = concat!(env!("CARGO_MANIFEST_DIR"), "/python/src");
    let mut parent = Command::new("python3")
        .args(["-c", PARENT, pysrc, env!("CARGO_BIN_EXE_fmprep")])
        .arg(input)
        .arg(w.path(out))
        .arg(exit_with_parent)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs the fmprep_airflow package");
    // The parent's fmprep child (python3 may be a launcher script with short-lived children of
    // its own).
    let bin = std::fs::canonicalize(env!("CARGO_BIN_EXE_fmprep")).unwrap();
    let mut fmprep = None;
    wait_until("fmprep started by the Python parent", || {
        fmprep = children(parent.id())
            .into_iter()
            .find(|c| std::fs::read_link(format!("/proc/{c}/exe")).is_ok_and(|e| e == bin));
        fmprep.is_some()
    });
    let fmprep = fmprep.unwrap();
    // Mid-run: the input is open (the run has begun reading it).
    let input_name = input.file_name().unwrap().to_string_lossy().into_owned();
    wait_until("fmprep opened its input", || {
        std::fs::read_dir(format!("/proc/{fmprep}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().ends_with(&input_name)))
    });
    assert!(
        !w.path(out).join("manifest.json").exists(),
        "the input is too small"
    );
    parent.stdin.take().unwrap().write_all(b"die\n").unwrap();
    let status = parent.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the parent killed itself"
    );
    fmprep
}

/// The parent SIGKILLed mid-run: fmprep (told by the package to exit with its parent) stops as on
/// SIGTERM, leaves no manifest and no process. Without the flag it keeps `nohup` semantics and
/// finishes: the same setup, so the first half is not passing by accident.
#[cfg(target_os = "linux")]
#[test]
fn a_sigkilled_python_parent_leaves_no_run_and_no_manifest() {
    let w = Workdir::new();
    let input = w.synth("big.tsv", 400_000, 3);

    let fmprep = kill_parent_mid_run(&w, &input, "out", "default");
    wait_until("fmprep to stop", || !alive(fmprep));
    let out = w.path("out");
    assert!(
        !out.join("manifest.json").exists(),
        "a manifest after the parent died"
    );
    let left: Vec<String> = match out.exists() {
        true => w.tree("out").into_iter().map(|(p, _)| p).collect(),
        false => Vec::new(),
    };
    assert!(left.is_empty(), "staged files left: {left:?}");
    assert!(processes_mentioning(&out.to_string_lossy()).is_empty());

    let fmprep = kill_parent_mid_run(&w, &input, "nohup", "0");
    wait_until("the orphaned run to finish", || !alive(fmprep));
    assert!(
        w.path("nohup/manifest.json").exists(),
        "without the flag the run finishes"
    );
}

/// A stderr whose reader is gone (EPIPE on every write) loses the logs, not the run: a verbose
/// run still exits 0 with its manifest line, a failing one with its own exit code, never an
/// abort. The same with stderr closed altogether.
#[test]
fn a_broken_or_closed_stderr_is_not_fatal() {
    let w = Workdir::new();
    w.synth("in.tsv", 20_000, 5);
    let broken = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        Stdio::from(writer)
    };
    for format in ["human", "json"] {
        let out = format!("out_{format}");
        let r = w
            .command(&["run", "in.tsv", "-o", &out, "-v", "--log-format", format])
            .env("FMPREP_PROGRESS_SECONDS", "0.01")
            .stderr(broken())
            .output()
            .unwrap();
        assert_eq!(r.status.code(), Some(0), "{format}: {:?}", r.status);
        let line = String::from_utf8(r.stdout).unwrap();
        let m: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert!(m["feature_dim"].as_u64().unwrap() > 0);
        assert!(w.path(&out).join("manifest.json").exists());

        let r = w
            .command(&["run", "missing.tsv", "-o", "x", "--log-format", format])
            .stderr(broken())
            .output()
            .unwrap();
        assert_eq!(r.status.code(), Some(4), "{format}: {:?}", r.status);
    }
    // fd 2 closed before exec.
    let mut cmd = w.command(&["run", "in.tsv", "-o", "closed", "-v"]);
    // SAFETY: close(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::close(2);
            Ok(())
        });
    }
    let r = cmd.stderr(Stdio::inherit()).output().unwrap();
    assert_eq!(r.status.code(), Some(0), "{:?}", r.status);
    assert!(w.path("closed/manifest.json").exists());
}
