//! Writing a run's files into a [`Store`]: one file at a time ([`write_object`]: staged, committed
//! whole or not at all, described by the [`FileEntry`] the manifest lists) and a split as
//! RecordIO-protobuf files ([`write_split`]). The pipeline, the training shards and the tables of
//! `preprocess` all write through here, so every output file gets the same interruption check and
//! the same error message.

use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::format::manifest::FileEntry;
use crate::format::recordio;
use crate::progress::Progress;
use crate::stages::encode::Encoded;
use crate::store::Store;

/// Write the file `path` of `store` with `f` and commit it; `records` is what the manifest lists
/// for it. A failed or cancelled write leaves nothing under `path`.
pub fn write_object(
    store: &dyn Store,
    cancel: &Cancel,
    path: &str,
    records: u64,
    f: impl FnOnce(&mut (dyn std::io::Write + Send)) -> std::io::Result<()>,
) -> Result<FileEntry> {
    cancel.check()?;
    let mut w = store.create(path)?;
    if let Err(e) = f(&mut w) {
        drop(w);
        cancel.check()?;
        return Err(Error::io(
            "cannot write",
            format!("{}/{path}", store.describe()),
            e,
        ));
    }
    let bytes = w.commit()?;
    Ok(FileEntry {
        path: path.to_string(),
        records,
        bytes,
    })
}

/// Stage 6 for one split: `train` and `validate` go to one file each, `test` to files of
/// `test_chunk` records named `test/test_<i>.protobuf` (none when the split is empty).
pub fn write_split(
    store: &dyn Store,
    split_name: &str,
    enc: &Encoded,
    test_chunk: usize,
    pool: &rayon::ThreadPool,
    progress: Option<&Progress>,
    cancel: &Cancel,
) -> Result<Vec<FileEntry>> {
    let n = enc.labels.len();
    let parts: Vec<(String, std::ops::Range<usize>)> = if split_name == "test" {
        (0..n)
            .step_by(test_chunk.max(1))
            .enumerate()
            .map(|(i, s)| (crate::format::names::test_chunk(i), s..(s + test_chunk).min(n)))
            .collect()
    } else {
        vec![(crate::format::names::split_file(split_name), 0..n)]
    };
    parts
        .into_iter()
        .map(|(path, range)| {
            let records = range.len() as u64;
            write_object(store, cancel, &path, records, |w| {
                let counter = progress.map(|p| &p.records);
                pool.install(|| recordio::write_records_counted(w, enc, range, counter, cancel))
                    .map(|_| ())
            })
        })
        .collect()
}
