//! Human or JSON logs on stderr, and progress while a run is under way. stdout is reserved for
//! the final JSON line.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::progress::Progress;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `fmprep: message` lines for people.
    Human,
    /// One JSON object per line: ts, level, stage, message, counters.
    Json,
}

static LEVEL: AtomicU8 = AtomicU8::new(2);
static JSON: AtomicBool = AtomicBool::new(false);
static PROGRESS: Mutex<Option<Arc<Progress>>> = Mutex::new(None);

/// 0 = errors only (-q), 1 = warnings, 2 = info (default), 3 = debug (-v).
pub fn init(level: u8, format: LogFormat) {
    LEVEL.store(level, Ordering::Relaxed);
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// RFC 3339 UTC timestamp with milliseconds, without a date-time dependency.
fn timestamp() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, ms) = (now.as_secs() as i64, now.subsec_millis());
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn counters(p: &Progress) -> serde_json::Value {
    serde_json::json!({
        "input_bytes": Progress::get(&p.input_bytes),
        "input_total": Progress::get(&p.input_total),
        "lines": Progress::get(&p.lines),
        "records": Progress::get(&p.records),
        "records_total": Progress::get(&p.records_total),
    })
}

/// Write one log line to stderr, ignoring failures: a closed or broken stderr (the reader gone,
/// EPIPE) must not stop a run, and `eprintln!` would panic there, and abort when the panic hook
/// logs again.
fn to_stderr(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn emit(level: u8, name: &str, msg: &str) {
    // Embedded (the Python package): every line goes to the host, whose logging filters levels.
    if let Some(sink) = super::embedded::log_sink() {
        sink(level, msg);
        return;
    }
    if LEVEL.load(Ordering::Relaxed) < level {
        return;
    }
    if JSON.load(Ordering::Relaxed) {
        let progress = PROGRESS.lock().ok().and_then(|p| p.clone());
        let mut line = serde_json::json!({
            "ts": timestamp(),
            "level": name,
            "stage": progress.as_ref().map_or("start", |p| p.stage()),
            "message": msg,
        });
        if let Some(p) = progress {
            line["counters"] = counters(&p);
        }
        to_stderr(format_args!("{line}"));
    } else {
        let tag = match name {
            "error" => "error: ",
            "warn" => "warning: ",
            _ => "",
        };
        to_stderr(format_args!("fmprep: {tag}{msg}"));
    }
}

/// An error line (always shown).
pub fn error(msg: &str) {
    emit(0, "error", msg);
}

/// A warning.
pub fn warn(msg: &str) {
    emit(1, "warn", msg);
}

/// Progress and results.
pub fn info(msg: &str) {
    emit(2, "info", msg);
}

/// Details for -v.
pub fn debug(msg: &str) {
    emit(3, "debug", msg);
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Shows progress of a run until dropped: bars on a terminal, a log line every
/// `FMPREP_PROGRESS_SECONDS` (default 10) otherwise. Nothing with `-q`; embedded, only when the
/// host asked for progress, its log lines going to the host.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub fn start(progress: Arc<Progress>) -> Watcher {
        *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&progress));
        let stop = Arc::new(AtomicBool::new(false));
        let show = match super::embedded::progress() {
            Some(asked) => asked,
            None => LEVEL.load(Ordering::Relaxed) >= 2,
        };
        let bars = std::io::stderr().is_terminal() && !JSON.load(Ordering::Relaxed);
        let sink = super::embedded::log_sink();
        let thread = show.then(|| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                if let Some(sink) = sink {
                    super::embedded::adopt(sink);
                }
                if bars {
                    draw_bars(&progress, &stop)
                } else {
                    log_lines(&progress, &stop)
                }
            })
        });
        Watcher { stop, thread }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn log_lines(p: &Progress, stop: &AtomicBool) {
    let every = std::env::var("FMPREP_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(10.0);
    let mut next = Instant::now() + Duration::from_secs_f64(every);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() < next {
            continue;
        }
        next += Duration::from_secs_f64(every);
        let msg = match p.stage() {
            "read" | "filter" => {
                let (done, total) = (Progress::get(&p.input_bytes), Progress::get(&p.input_total));
                let share = if total > 0 {
                    format!(" of {} ({:.0}%)", mb(total), 100.0 * done as f64 / total as f64)
                } else {
                    String::new()
                };
                format!(
                    "progress: read {}{share}, {} lines",
                    mb(done),
                    Progress::get(&p.lines)
                )
            }
            _ => format!(
                "progress: wrote {} of {} records",
                Progress::get(&p.records),
                Progress::get(&p.records_total)
            ),
        };
        info(&msg);
    }
}

fn draw_bars(p: &Progress, stop: &AtomicBool) {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let read = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    let total = Progress::get(&p.input_total);
    if total > 0 {
        read.set_length(total);
        read.set_style(
            ProgressStyle::with_template(
                "{prefix:>6} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
    } else {
        read.set_style(
            ProgressStyle::with_template("{prefix:>6} {spinner} {bytes} {bytes_per_sec} {msg}")
                .expect("valid template"),
        );
    }
    read.set_prefix("read");
    let mut write: Option<ProgressBar> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        match p.stage() {
            "read" | "filter" => {
                read.set_position(Progress::get(&p.input_bytes));
                read.set_message(format!("{} lines", Progress::get(&p.lines)));
            }
            _ => {
                if !read.is_finished() {
                    read.finish();
                }
                let bar = write.get_or_insert_with(|| {
                    let b = ProgressBar::with_draw_target(
                        Some(Progress::get(&p.records_total)),
                        ProgressDrawTarget::stderr_with_hz(10),
                    );
                    b.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>6} [{bar:30}] {pos}/{len} records {per_sec} ETA {eta}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    b.set_prefix("write");
                    b
                });
                bar.set_length(Progress::get(&p.records_total));
                bar.set_position(Progress::get(&p.records));
            }
        }
    }
    read.finish_and_clear();
    if let Some(b) = write {
        b.finish_and_clear();
    }
}
