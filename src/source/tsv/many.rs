//! Several files read at once: each file is parsed on its own (its reader thread inflating, its
//! lines parsed on the shared pool, its ids interned into its own tables), two files at a time,
//! and the results are appended in file order ([`RatingsBuilder::append`]), which gives the codes,
//! titles and counters of reading the files one after another. On 2 cores this keeps both busy
//! inflating when one gzip stream alone would leave the parsing side idle.
//!
//! Each file is checked as in the one-after-another reader: the same header as the first file,
//! errors naming the file and its line. The first failure in file order is the one reported.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::error::{Error, Result};
use crate::location::Location;
use crate::model::{BadLineLimit, Ratings};
use crate::progress::Progress;
use crate::source::decompress::{open_location_counting, Input};
use crate::source::ReadOptions;

/// Files parsed at the same time.
const AT_ONCE: usize = 2;

/// The first file's header, which the readers of later files wait for before reading a line:
/// `Some(None)` when the first file failed before its header.
#[derive(Default)]
struct FirstHeader {
    header: Mutex<Option<Option<Vec<u8>>>>,
    ready: Condvar,
}

impl FirstHeader {
    fn set(&self, header: Option<Vec<u8>>) {
        if let Ok(mut h) = self.header.lock() {
            if h.is_none() {
                *h = Some(header);
            }
        }
        self.ready.notify_all();
    }

    fn wait(&self) -> Option<Vec<u8>> {
        let Ok(mut h) = self.header.lock() else {
            return None;
        };
        loop {
            if let Some(v) = h.as_ref() {
                return v.clone();
            }
            h = match self.ready.wait(h) {
                Ok(h) => h,
                Err(_) => return None,
            };
        }
    }
}

/// A file of the input, to be opened by a worker (the first is open already).
enum Pending {
    Open(Input),
    At(Location),
}

/// Read every file of `input` (which has [more](Input::more) files), `AT_ONCE` at a time.
pub(super) fn read_many(
    mut input: Input,
    opts: &ReadOptions,
    pool: &Arc<rayon::ThreadPool>,
    progress: Option<&Progress>,
) -> Result<Ratings> {
    let more = input.more.take().expect("an input of several files");
    let raw_read = Arc::clone(&input.raw_read);
    let (whole, first_name) = (input.name.clone(), more.first.clone());
    // The rows of every file end up in one vector: size it once, as the one-file reader does.
    let rows_hint = input.raw_size.map(|size| {
        let text = if input.compression == crate::source::Compression::Gzip {
            size * 4
        } else {
            size
        };
        (text / 256).min(1 << 31) as usize
    });
    input.name = more.first.clone();
    let mut files: Vec<Mutex<Option<Pending>>> = vec![Mutex::new(Some(Pending::Open(input)))];
    files.extend(
        more.locations
            .into_iter()
            .map(|l| Mutex::new(Some(Pending::At(l)))),
    );
    let n = files.len();
    // Each file counts its bad lines against a count limit (over it alone means over it in
    // all); a fraction applies only to the whole input, after the last file.
    let mut per_file = opts.clone();
    if matches!(per_file.max_bad_lines, BadLineLimit::Fraction(_)) {
        per_file.max_bad_lines = BadLineLimit::Fraction(1.0);
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first = FirstHeader::default();
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Result<Ratings>)>();
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(n) {
            let tx = tx.clone();
            let (files, next, stop, per_file, raw_read, s3, first, first_name) = (
                &files,
                &next,
                &stop,
                &per_file,
                &raw_read,
                &more.s3,
                &first,
                &first_name,
            );
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || stop.load(Ordering::Relaxed) {
                    return;
                }
                let pending = files[i].lock().ok().and_then(|mut f| f.take());
                let on_header = |head: &[u8], name: &str| -> Result<()> {
                    if i == 0 {
                        first.set(Some(head.to_vec()));
                        return Ok(());
                    }
                    match first.wait() {
                        Some(h) => super::header::check_same(&h, first_name, head, name),
                        // Never reported: the first file's own error comes first.
                        None => Err(Error::new(crate::ErrorKind::Internal, "the first file failed")),
                    }
                };
                let result = match pending {
                    Some(Pending::Open(input)) => Ok(input),
                    Some(Pending::At(l)) => open_location_counting(&l, s3, Arc::clone(raw_read)),
                    None => Err(Error::new(
                        crate::ErrorKind::Internal,
                        "a file was read twice (a bug)",
                    )),
                }
                .and_then(|input| super::read_one(input, per_file, pool, progress, true, &on_header));
                if i == 0 {
                    // Unblock the later files even when the first failed before its header.
                    first.set(None);
                }
                if tx.send((i, result)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let result = append_in_order(&rx, n, opts, &whole, rows_hint);
        // Workers finish the file at hand and start no other.
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Append the files' ratings in file order as they arrive, into ratings named `whole`.
fn append_in_order(
    rx: &crossbeam_channel::Receiver<(usize, Result<Ratings>)>,
    n: usize,
    opts: &ReadOptions,
    whole: &str,
    rows_hint: Option<usize>,
) -> Result<Ratings> {
    let mut waiting = BTreeMap::new();
    let mut builder = opts.builder(whole.to_string());
    if let Some(rows) = rows_hint {
        builder.reserve(rows);
    }
    let mut done = 0;
    while done < n {
        let Ok((i, result)) = rx.recv() else {
            return Err(Error::new(
                crate::ErrorKind::Internal,
                "a file reader stopped unexpectedly (a bug)",
            ));
        };
        waiting.insert(i, result);
        while let Some(result) = waiting.remove(&done) {
            builder.append(result?)?;
            builder.check_limit()?;
            done += 1;
        }
    }
    builder.finish()
}
