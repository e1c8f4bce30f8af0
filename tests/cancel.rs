//! Cancellation as a value, through the library: two runs in one process, one of them cancelled
//! from another thread, must not affect each other; the cancelled one ends with `Interrupted`,
//! no manifest and no staged file. Its own test binary: the runs happen in the test process,
//! whose memory must not count towards the RSS checks of the binary's child processes in `it`.

use std::io::Read;
use std::sync::Arc;

use fmprep::cancel::Cancel;
use fmprep::store::LocalStore;

/// A reader that cancels `token` once `after` bytes went through it: the cancel arrives from
/// the reading thread while the pipeline is in the middle of the input, whatever the timing.
struct CancelAfter {
    inner: std::fs::File,
    seen: usize,
    after: usize,
    token: Cancel,
}

impl Read for CancelAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n;
        if self.seen >= self.after {
            self.token.cancel();
        }
        Ok(n)
    }
}

fn source(path: &std::path::Path, cancel_after: Option<(usize, Cancel)>) -> fmprep::RatingsSource {
    let file = std::fs::File::open(path).unwrap();
    let raw: Box<dyn Read + Send> = match cancel_after {
        None => Box::new(file),
        Some((after, token)) => Box::new(CancelAfter {
            inner: file,
            seen: 0,
            after,
            token,
        }),
    };
    let input = fmprep::source::decompress::open_source("in.tsv".into(), raw, None).unwrap();
    fmprep::RatingsSource::Text(input)
}

#[test]
fn cancelling_one_of_two_runs_leaves_the_other_alone() {
    let w = tempfile::tempdir().unwrap();
    let path = |rel: &str| w.path().join(rel);
    let input = path("in.tsv");
    let synth = fmprep::synth::SynthOptions {
        rows: 200_000,
        seed: 4,
        ..Default::default()
    };
    fmprep::synth::write_synth(
        &synth,
        std::io::BufWriter::new(std::fs::File::create(&input).unwrap()),
    )
    .unwrap();
    let size = std::fs::metadata(&input).unwrap().len() as usize;
    let opts = |c: &Cancel| {
        fmprep::Options {
            threads: 2,
            ..Default::default()
        }
        .with_cancel(c)
    };

    // The reference: the same run alone, never cancelled.
    let alone = Cancel::new();
    fmprep::pipeline::run(
        source(&input, None),
        &LocalStore::new(path("alone")),
        &opts(&alone),
    )
    .unwrap();

    let (keep, stop) = (Cancel::new(), Cancel::new());
    let input = Arc::new(input);
    let threads = [
        ("kept", keep.clone(), None),
        ("stopped", stop.clone(), Some(size / 3)),
    ]
    .map(|(name, token, after)| {
        let (input, out) = (Arc::clone(&input), path(name));
        let o = opts(&token);
        std::thread::spawn(move || {
            let src = source(&input, after.map(|a| (a, token)));
            fmprep::pipeline::run(src, &LocalStore::new(out), &o)
        })
    });
    let [kept, stopped] = threads.map(|t| t.join().unwrap());
    let kept = kept.expect("the run whose token was not set finishes");
    let err = stopped.expect_err("the cancelled run stops");
    assert_eq!(err.kind(), fmprep::ErrorKind::Interrupted);
    assert!(
        err.message()
            .starts_with("cancelled by the caller; no manifest was written"),
        "{err}"
    );
    assert!(stop.is_cancelled() && !keep.is_cancelled());

    assert!(kept.counts.train > 0);
    let files = |dir: &str| -> Vec<(String, Vec<u8>)> {
        tree(&path(dir))
            .into_iter()
            .filter(|(p, _)| p != "manifest.json")
            .collect()
    };
    assert_eq!(
        files("kept"),
        files("alone"),
        "the other run's bytes are untouched"
    );
    let left: Vec<String> = match path("stopped").exists() {
        true => tree(&path("stopped")).into_iter().map(|(p, _)| p).collect(),
        false => Vec::new(),
    };
    assert!(
        left.iter()
            .all(|p| p != "manifest.json" && !p.contains("fmprep-tmp")),
        "a cancelled run leaves no manifest and nothing staged: {left:?}"
    );
}

/// Every file under `root` (relative paths, sorted) with its bytes.
fn tree(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
