//! Training shards (`--train-shards`) and the SageMaker `ManifestFile` of each split.
//!
//! `--train-shards N` writes the training split as `train/train_<i>.protobuf`, `i` in `0..N`, of
//! near-equal record counts (they differ by at most one; the first `n % N` shards get the extra
//! record), so that an `S3DataDistributionType=ShardedByS3Key` channel hands one file to each of N
//! training instances. Each split then also gets a manifest in SageMaker's `ManifestFile` S3 data
//! type, `train/train.manifest`, `validate/validate.manifest`, `test/test.manifest`:
//!
//! ```json
//! [{"prefix": "s3://bucket/run/train/"}, "train_0.protobuf", "train_1.protobuf"]
//! ```
//!
//! The prefix is the output location as [`Store::describe`] names it (a local path for local
//! output, the `s3://` URL for S3) plus the split's folder.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::error::Result;
use crate::format::manifest::FileEntry;
use crate::format::recordio;
use crate::format::write::write_object;
use crate::progress::Progress;
use crate::stages::encode::Encoded;
use crate::store::Store;

/// Record ranges of `n` records cut into `shards` near-equal parts (empty parts when `n < shards`).
pub fn shard_ranges(n: usize, shards: usize) -> Vec<Range<usize>> {
    let shards = shards.max(1);
    let (base, extra) = (n / shards, n % shards);
    let mut start = 0;
    (0..shards)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// The `ManifestFile` JSON of one split: the prefix object, then the file names relative to it.
pub fn manifest_json(store: &dyn Store, split: &str, files: &[FileEntry]) -> String {
    let root = store.describe();
    let prefix = format!("{}/{split}/", root.trim_end_matches('/'));
    let mut items = vec![serde_json::json!({ "prefix": prefix })];
    for f in files {
        let name = f.path.strip_prefix(&format!("{split}/")).unwrap_or(&f.path);
        items.push(serde_json::Value::String(name.to_string()));
    }
    let mut text = serde_json::to_string(&items).expect("manifest serialises");
    text.push('\n');
    text
}

/// Write the training split as `train/train_<i>.protobuf`, `i` in `0..shards`.
pub fn write_train(
    store: &dyn Store,
    enc: &Encoded,
    shards: usize,
    pool: &rayon::ThreadPool,
    progress: Option<&Progress>,
    cancel: &crate::cancel::Cancel,
) -> Result<Vec<FileEntry>> {
    shard_ranges(enc.labels.len(), shards)
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            let records = range.len() as u64;
            write_object(
                store,
                cancel,
                &crate::format::names::train_shard(i),
                records,
                |w| {
                    let counter = progress.map(|p| &p.records);
                    pool.install(|| recordio::write_records_counted(w, enc, range, counter, cancel))
                        .map(|_| ())
                },
            )
        })
        .collect()
}

/// Write `<split>/<split>.manifest` for the train, validate and test groups of `files`; returns
/// their entries (`records` = number of files listed).
pub fn write_manifests(
    store: &dyn Store,
    cancel: &crate::cancel::Cancel,
    files: &BTreeMap<String, Vec<FileEntry>>,
) -> Result<Vec<FileEntry>> {
    let mut out = Vec::new();
    for split in crate::format::names::SPLITS {
        let listed = files.get(split).map(Vec::as_slice).unwrap_or_default();
        let json = manifest_json(store, split, listed);
        out.push(write_object(
            store,
            cancel,
            &crate::format::names::sagemaker_manifest(split),
            listed.len() as u64,
            |w| w.write_all(json.as_bytes()),
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_equal_ranges_cover_everything() {
        let r = shard_ranges(10, 3);
        assert_eq!(r, vec![0..4, 4..7, 7..10]);
        assert_eq!(shard_ranges(2, 3), vec![0..1, 1..2, 2..2]);
        assert_eq!(shard_ranges(0, 1), vec![0..0]);
    }

    #[test]
    fn manifest_has_prefix_then_names() {
        let store = crate::store::LocalStore::new("/data/run/");
        let files = vec![
            FileEntry {
                path: "train/train_0.protobuf".into(),
                records: 1,
                bytes: 2,
            },
            FileEntry {
                path: "train/train_1.protobuf".into(),
                records: 1,
                bytes: 2,
            },
        ];
        assert_eq!(
            manifest_json(&store, "train", &files),
            "[{\"prefix\":\"/data/run/train/\"},\"train_0.protobuf\",\"train_1.protobuf\"]\n"
        );
    }
}
