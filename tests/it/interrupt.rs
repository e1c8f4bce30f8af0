//! SIGINT and SIGTERM at several points of a run: exit 130 / 143, no `manifest.json`, no staged
//! `*.fmprep-tmp` file left, and the next run into the same directory writes the same bytes as an
//! undisturbed one.
//!
//! Timing only chooses *where* a signal lands; what is asserted is the outcome, which must be one
//! of two clean states whenever the signal arrives: interrupted (no manifest, nothing staged) or,
//! if the run won the race, finished. Where the run cannot have finished (a signal right after
//! the handlers are installed, during a multi-second read, while the 200k-row input's ~170 test
//! files are being written), interruption itself is asserted.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const SIGINT: i32 = libc::SIGINT;
const SIGTERM: i32 = libc::SIGTERM;

/// A 200k-row synthetic input and the data files of an undisturbed run on it.
struct Fixture {
    w: Workdir,
    reference: Vec<(String, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let w = Workdir::new();
    w.synth("in.tsv", 200_000, 17);
    w.fmprep(&["run", "in.tsv", "-o", "ref", "--test-chunk", "100"])
        .ok();
    let reference = data_files(&w, "ref");
    assert!(reference.len() > 100, "{} files", reference.len());
    Fixture { w, reference }
}

fn data_files(w: &Workdir, rel: &str) -> Vec<(String, Vec<u8>)> {
    w.tree(rel)
        .into_iter()
        .filter(|(p, _)| p != "manifest.json")
        .collect()
}

/// The signals `pid` catches, from `/proc/<pid>/status` (bit n-1 for signal n).
fn caught_signals(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .unwrap_or(0)
}

/// A running fmprep with its output collected on threads (so that full pipes never block it).
struct Running {
    child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

fn spawn(mut cmd: std::process::Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning fmprep");
    let collect = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    Running {
        child,
        stdout,
        stderr,
    }
}

impl Running {
    /// Wait until the process catches SIGINT and SIGTERM: a signal sent earlier would meet the
    /// default action, which is not what is under test.
    fn wait_for_handlers(&mut self) {
        let want = (1u64 << (SIGINT - 1)) | (1u64 << (SIGTERM - 1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while caught_signals(self.child.id()) & want != want {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "fmprep exited before installing its handlers"
            );
            assert!(Instant::now() < deadline, "handlers never installed");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Wait for the exit; a process still running after 60 s is a hang, and fails the test.
    fn finish(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("fmprep did not exit within 60 s of the signal");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let code = status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            panic!("killed by signal {:?} instead of exiting", status.signal())
        });
        (code, self.stdout.join().unwrap(), self.stderr.join().unwrap())
    }
}

fn signal_name(sig: i32) -> &'static str {
    if sig == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    }
}

/// Assert the clean outcome of a run signalled with `sig`; returns whether it was interrupted
/// (false: it had finished first).
fn assert_clean_outcome(w: &Workdir, out: &str, sig: i32, result: (i32, String, String)) -> bool {
    let (code, stdout, stderr) = result;
    if code == 0 {
        assert!(w.path(out).join("manifest.json").exists());
        return false;
    }
    assert_eq!(code, 128 + sig, "stderr:\n{stderr}");
    assert!(stdout.is_empty(), "stdout must be empty: {stdout}");
    let want = format!(
        "fmprep: error: interrupted by {}; no manifest was written, re-run to produce the output",
        signal_name(sig)
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert_nothing_staged(w, out);
    true
}

/// No manifest and no `*.fmprep-tmp` under `out`.
fn assert_nothing_staged(w: &Workdir, out: &str) {
    if !w.path(out).exists() {
        return;
    }
    for (path, _) in w.tree(out) {
        assert_ne!(path, "manifest.json");
        assert!(!path.ends_with(".fmprep-tmp"), "staged file left behind: {path}");
    }
}

/// Re-run into `out` and compare with the undisturbed run.
fn assert_rerun_matches(f: &Fixture, out: &str) {
    f.w.fmprep(&["run", "in.tsv", "-o", out, "--test-chunk", "100", "--overwrite"])
        .ok();
    assert!(
        data_files(&f.w, out) == f.reference,
        "re-run into {out} differs from the reference"
    );
}

/// One test, so that the input and the reference run are made once.
#[test]
fn signals_during_a_run() {
    let f = fixture();
    signals_at_several_points(&f);
    signals_while_writing_outputs(&f);
}

fn signals_at_several_points(f: &Fixture) {
    // (delay after the handlers are installed, signal, command)
    let points = [
        (0, SIGINT, "run"),
        (0, SIGTERM, "preprocess"),
        (50, SIGTERM, "run"),
        (150, SIGINT, "run"),
        (400, SIGTERM, "run"),
    ];
    for (i, (delay, sig, command)) in points.into_iter().enumerate() {
        let out = format!("timed{i}");
        let mut run = spawn(f.w.command(&[
            command,
            "in.tsv",
            "-o",
            &out,
            "--threads",
            "1",
            "--test-chunk",
            "100",
        ]));
        run.wait_for_handlers();
        std::thread::sleep(Duration::from_millis(delay));
        run.signal(sig);
        let interrupted = assert_clean_outcome(&f.w, &out, sig, run.finish());
        if delay == 0 {
            assert!(interrupted, "a signal at the start must interrupt the run");
        } else if !interrupted {
            eprintln!("note: {command} finished before the signal at {delay} ms");
        }
        // A run stopped while reading leaves an empty directory, and the next run there is a
        // fresh run (its determinism is tested in `run`); re-running costs seconds of debug
        // build time, so only the last point and any run that had committed files re-run.
        let partial = f.w.path(&out).exists() && !f.w.tree(&out).is_empty();
        if command == "run" && (partial || i + 1 == points.len()) {
            assert_rerun_matches(f, &out);
        }
    }
}

fn signals_while_writing_outputs(f: &Fixture) {
    for (i, sig) in [SIGINT, SIGTERM].into_iter().enumerate() {
        let out = format!("writing{i}");
        let mut run = spawn(f.w.command(&["run", "in.tsv", "-o", &out, "--test-chunk", "100"]));
        run.wait_for_handlers();
        // The first committed file marks the start of the write phase; ~170 files follow.
        let first = f.w.path(&out).join("maps/customers.tsv");
        while !first.exists() {
            assert!(run.child.try_wait().unwrap().is_none(), "exited before writing");
            std::thread::sleep(Duration::from_micros(200));
        }
        run.signal(sig);
        assert!(
            assert_clean_outcome(&f.w, &out, sig, run.finish()),
            "a signal while writing must interrupt"
        );
        // Files committed before the signal are complete, and the re-run replaces them.
        assert!(f.w.path(&out).join("maps/customers.tsv").exists());
        assert_rerun_matches(f, &out);
    }
}

#[test]
fn a_read_blocked_on_stdin_ends_on_a_signal() {
    // stdin is a pipe whose writer sends nothing (first case) or part of the data (second), and
    // keeps it open: the read would block forever. The signal still ends the run at once.
    let w = Workdir::new();
    let partial = format!("{HEADER}\n{}\n", review("c1", "p1", "5"));
    for (i, (sent, sig)) in [("", SIGTERM), (partial.as_str(), SIGINT)]
        .into_iter()
        .enumerate()
    {
        let out = format!("out{i}");
        let mut cmd = w.command(&["run", "-", "-o", &out]);
        cmd.stdin(Stdio::piped());
        let mut run = spawn(cmd);
        let mut stdin = run.child.stdin.take().unwrap();
        stdin.write_all(sent.as_bytes()).unwrap();
        stdin.flush().unwrap();
        run.wait_for_handlers();
        std::thread::sleep(Duration::from_millis(100));
        run.signal(sig);
        let result = run.finish();
        drop(stdin);
        assert!(assert_clean_outcome(&w, &out, sig, result), "case {i}");
    }
}

#[test]
fn synth_interrupted_leaves_no_file() {
    let w = Workdir::new();
    // Millions of rows: seconds of work, far more than the signal needs.
    let mut run = spawn(w.command(&["synth", "--rows", "50000000", "--output", "big.tsv.gz"]));
    run.wait_for_handlers();
    std::thread::sleep(Duration::from_millis(100));
    run.signal(SIGINT);
    let (code, stdout, stderr) = run.finish();
    assert_eq!(code, 130, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(w.path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!Path::new(&w.path("big.tsv.gz")).exists());
}
