//! What happens to an output location around a run, beside writing its files: the files of the
//! run being replaced are remembered when it starts ([`begin`]), and once the new manifest is
//! committed ([`commit`]) every file under `train/`, `validate/`, `test/` and `maps/` that the
//! new manifest does not list is removed, when fmprep wrote it: listed by the replaced run's
//! manifest, or named as fmprep names its files ([`is_fmprep_file`]). Other files are left alone.
//!
//! The removal comes after the commit so that the location always holds a consistent run: a
//! crash before the commit leaves no manifest (no finished run); a crash after it leaves a correct
//! manifest beside stale files, which the next run's [`commit`] removes (by their names).

use std::collections::BTreeSet;

use super::{Store, MANIFEST};
use crate::error::Result;
use crate::progress::Progress;

/// The directories (groups) of an output location that fmprep writes files into.
pub const GROUPS: [&str; 4] = ["maps", "test", "train", "validate"];

/// Whether `rel` (a path relative to the output location) is named as fmprep names the files it
/// writes under [`GROUPS`]: the RecordIO splits and shards, the preprocess tables, the SageMaker
/// manifest files of `--train-shards`, the index maps and the side-feature maps. Multipart
/// uploads are recognised by the same names (ListMultipartUploads returns no metadata).
pub fn is_fmprep_file(rel: &str) -> bool {
    let Some((group, name)) = rel.split_once('/') else {
        return false;
    };
    let table = |split: &str| {
        [".protobuf", ".csv", ".parquet", ".manifest"]
            .iter()
            .any(|ext| name.strip_prefix(split).is_some_and(|rest| rest == *ext))
    };
    match group {
        "train" => table("train") || numbered(name, "train_"),
        "validate" => table("validate"),
        "test" => table("test") || numbered(name, "test_"),
        "maps" => {
            matches!(name, "customers.tsv" | "products.tsv")
                || name.strip_prefix("features/").is_some_and(|f| {
                    f.strip_suffix(".tsv").is_some_and(|stem| {
                        !stem.is_empty()
                            && stem
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    })
                })
        }
        _ => false,
    }
}

/// `<stem><digits>.protobuf`, e.g. `test_3.protobuf`.
fn numbered(name: &str, stem: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|r| r.strip_suffix(".protobuf"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The files listed in the manifest JSON `bytes` that lie under [`GROUPS`] (other paths in a
/// hand-edited manifest are never touched).
pub fn manifest_files(bytes: &[u8]) -> BTreeSet<String> {
    let Ok(m) = crate::format::manifest::Manifest::from_json(bytes, MANIFEST, "") else {
        return BTreeSet::new();
    };
    m.files
        .into_values()
        .flatten()
        .map(|f| f.path)
        .filter(|p| under_groups(p))
        .collect()
}

fn under_groups(p: &str) -> bool {
    p.split_once('/').is_some_and(|(g, rest)| {
        GROUPS.contains(&g)
            && !rest.is_empty()
            && !p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    })
}

/// What [`begin`] remembers of the run it replaces.
#[derive(Debug, Clone, Default)]
pub struct Replaced {
    /// The files the replaced run's manifest lists (under [`GROUPS`]).
    pub files: BTreeSet<String>,
}

/// Start a run at `store`: remember the files of the finished run there (if any), then
/// [`Store::begin`] (which refuses it without `overwrite` and removes its manifest).
pub fn begin(store: &dyn Store, overwrite: bool) -> Result<Replaced> {
    let files = if overwrite {
        store
            .read(MANIFEST)?
            .map(|b| manifest_files(&b))
            .unwrap_or_default()
    } else {
        BTreeSet::new()
    };
    store.begin(overwrite)?;
    Ok(Replaced { files })
}

/// The stale files of a location: among `present` (under [`GROUPS`]), those not in `keep` that
/// fmprep wrote (in `replaced` or named as fmprep names files). Sorted.
pub fn stale<'a>(
    present: impl IntoIterator<Item = &'a String>,
    keep: &BTreeSet<String>,
    replaced: &BTreeSet<String>,
) -> Vec<String> {
    present
        .into_iter()
        .filter(|p| !keep.contains(*p) && (replaced.contains(*p) || is_fmprep_file(p)))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Commit the manifest JSON `json` (the mark of a finished run), then remove the stale files
/// (see the module docs); each removal is noted in `progress` for the log. A failure of the
/// clean-up is noted as a warning, not returned: the run is finished and correct, and the next
/// run into the location removes what is left.
pub fn commit(
    store: &dyn Store,
    json: &[u8],
    replaced: &Replaced,
    progress: Option<&Progress>,
) -> Result<()> {
    store.put(MANIFEST, json)?;
    let notes = commit_cleanup(store, json, replaced).unwrap_or_else(|e| {
        vec![format!(
            "warning: stale files of an earlier run may be left under {}: {}",
            store.describe(),
            e.message()
        )]
    });
    if let Some(p) = progress {
        notes.into_iter().for_each(|n| p.note(n));
    }
    Ok(())
}

/// Remove the stale files beside the committed manifest `json`: the files under [`GROUPS`] it
/// does not list that fmprep wrote. Returns a log line per file removed.
pub fn commit_cleanup(store: &dyn Store, json: &[u8], replaced: &Replaced) -> Result<Vec<String>> {
    let keep = manifest_files(json);
    let mut present = Vec::new();
    for g in GROUPS {
        present.extend(store.list(g)?);
    }
    let mut notes = Vec::new();
    for p in stale(&present, &keep, &replaced.files) {
        store.remove(&p)?;
        notes.push(format!(
            "removed {}/{p}: left by an earlier run, not part of this one",
            store.describe()
        ));
    }
    Ok(notes)
}

/// `json` with the whitespace between its tokens removed, keys in their order: a manifest
/// file as one line, as a run prints it last on stdout.
pub fn one_line_json(json: &[u8]) -> String {
    let (mut out, mut in_string, mut escaped) = (Vec::with_capacity(json.len()), false, false);
    for &b in json {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmprep_names_only() {
        for ok in [
            "train/train.protobuf",
            "train/train_12.protobuf",
            "train/train.manifest",
            "validate/validate.csv",
            "test/test_0.protobuf",
            "test/test.parquet",
            "maps/customers.tsv",
            "maps/features/brand_name.tsv",
        ] {
            assert!(is_fmprep_file(ok), "{ok}");
        }
        for no in [
            "manifest.json",
            "train/notes.txt",
            "train/train_x.protobuf",
            "test/test_.protobuf",
            "test/validate.csv",
            "maps/features/a/b.tsv",
            "maps/other.tsv",
            "other/test_0.protobuf",
            "test/.test_1.protobuf.fmprep-tmp",
        ] {
            assert!(!is_fmprep_file(no), "{no}");
        }
    }

    #[test]
    fn stale_is_what_fmprep_wrote_and_the_new_run_does_not_list() {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>();
        let present: Vec<String> = [
            "test/test_0.protobuf",
            "test/test_1.protobuf",
            "test/readme.txt",
            "train/custom.bin",
            "maps/customers.tsv",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        let keep = s(&["test/test_0.protobuf", "maps/customers.tsv"]);
        let replaced = s(&["train/custom.bin"]);
        assert_eq!(
            stale(&present, &keep, &replaced),
            vec!["test/test_1.protobuf", "train/custom.bin"]
        );
    }

    #[test]
    fn one_line_keeps_strings_and_key_order() {
        let pretty = b"{\n  \"z\": \"a b\\\" c\",\n  \"a\": [1, 2]\n}\n";
        assert_eq!(one_line_json(pretty), r#"{"z":"a b\" c","a":[1,2]}"#);
    }

    #[test]
    fn manifest_paths_outside_the_groups_are_ignored() {
        let json = br#"{"files":{"test":[{"path":"test/test_0.protobuf"},{"path":"../etc/passwd"},
            {"path":"test/../../x"},{"path":"manifest.json"}]}}"#;
        assert_eq!(
            manifest_files(json).into_iter().collect::<Vec<_>>(),
            vec!["test/test_0.protobuf"]
        );
    }

    #[test]
    fn every_name_of_the_layout_is_recognised() {
        use crate::format::names::*;
        for f in [CUSTOMER_MAP, PRODUCT_MAP] {
            assert!(is_fmprep_file(f), "{f}");
        }
        for s in SPLITS {
            for f in [
                split_file(s),
                split_table(s, true),
                split_table(s, false),
                sagemaker_manifest(s),
            ] {
                assert!(is_fmprep_file(&f), "{f}");
            }
        }
        assert!(is_fmprep_file(&test_chunk(3)));
        assert!(is_fmprep_file(&train_shard(3)));
    }
}
