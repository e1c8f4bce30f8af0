//! Wall time per pipeline stage, for the manifest's `stage_seconds` and `elapsed_seconds`.

use std::collections::BTreeMap;
use std::time::Instant;

/// Records stage wall times.
#[derive(Debug, Default)]
pub struct Timer {
    start: Option<Instant>,
    stages: BTreeMap<String, f64>,
}

impl Timer {
    /// A timer started now.
    pub fn start() -> Self {
        Timer {
            start: Some(Instant::now()),
            stages: BTreeMap::new(),
        }
    }

    /// Run `f` and add its duration to stage `name`.
    pub fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        *self.stages.entry(name.to_string()).or_default() += t.elapsed().as_secs_f64();
        out
    }

    /// Seconds since [`Timer::start`] (0 for a default timer).
    pub fn elapsed(&self) -> f64 {
        self.start.map(|s| s.elapsed().as_secs_f64()).unwrap_or_default()
    }

    /// The seconds per stage so far, leaving none recorded.
    pub fn take_stages(&mut self) -> BTreeMap<String, f64> {
        std::mem::take(&mut self.stages)
    }
}
