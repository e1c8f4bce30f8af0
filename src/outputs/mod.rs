//! The output location checked before a byte of input is read ([`preflight`]): multipart
//! uploads that killed runs left open are aborted, a finished run there is refused, replaced or
//! reused as [`IfExists`] says, and a write probe proves the credentials may write. A run that
//! would fail at the output fails in a second, not after reading a large input.
//!
//! `reuse` is what makes a retried orchestrator task idempotent: the finished run is returned
//! as it is when its manifest records the same input objects (size and ETag or mtime of each),
//! the same command and options and the same fmprep version; any difference fails as `fail`
//! does, naming it.

pub mod lifecycle;

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::format::manifest::{InputObject, Manifest};
use crate::location::Location;
use crate::store::{S3Options, Store, MANIFEST};
use lifecycle::Replaced;

/// What to do when the output location already holds a finished run (a `manifest.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Refuse (exit code 6): the default.
    #[default]
    Fail,
    /// Replace it; its files that the new run does not write are removed after the new manifest.
    Overwrite,
    /// Return it without work when it was made from the same input with the same options and
    /// fmprep version; refuse otherwise.
    Reuse,
}

impl IfExists {
    /// Parse `fail`, `overwrite` or `reuse`.
    pub fn parse(s: &str) -> std::result::Result<IfExists, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(IfExists::Fail),
            "overwrite" => Ok(IfExists::Overwrite),
            "reuse" => Ok(IfExists::Reuse),
            _ => Err(format!("invalid value {s:?}: give fail, overwrite or reuse")),
        }
    }
}

/// What a run is, as `reuse` compares it with a finished run's manifest.
#[derive(Debug, Clone)]
pub struct RunKey {
    /// `run`, `preprocess` or `prepare`.
    pub command: String,
    /// The options as the manifest records them.
    pub options: Value,
    /// The input's objects ([`input_objects`]); empty when they cannot be known (stdin).
    pub input_objects: Vec<InputObject>,
}

/// Options that do not change the output bytes, left out of the `reuse` comparison.
const NEUTRAL_OPTIONS: [&str; 2] = ["overwrite", "threads"];

/// What [`preflight`] found.
#[derive(Debug, Default)]
pub struct Preflight {
    /// With `reuse`: the finished run's `manifest.json` as stored, to be returned instead of
    /// running (see [`lifecycle::one_line_json`] for the stdout form).
    pub reused: Option<Vec<u8>>,
    /// What was done to the location or could not be, for the log (aborted uploads, warnings).
    pub notes: Vec<String>,
}

/// Check the output `store` before the input is touched: abort fmprep's orphaned multipart
/// uploads, apply `if_exists` to a finished run there (`key` is asked only to compare with one,
/// for `reuse`), then probe that files can be written. `--dry-run` does the same (`dry_run`
/// only keeps a reused run's stale files, which a real run removes).
pub fn preflight(
    store: &dyn Store,
    if_exists: IfExists,
    dry_run: bool,
    key: &mut dyn FnMut() -> Result<RunKey>,
) -> Result<Preflight> {
    let mut out = Preflight::default();
    match store.abort_orphaned_uploads(&lifecycle::is_fmprep_file) {
        Ok(aborted) => out.notes.extend(aborted.into_iter().map(|a| {
            format!(
                "aborted the multipart upload of {}/{a}, left open by an earlier run",
                store.describe()
            )
        })),
        // Housekeeping: a run does not depend on it, so a refusal is only worth a warning.
        Err(e) => out.notes.push(format!("warning: {}", e.message())),
    }
    if let Some(bytes) = store.read(MANIFEST)? {
        match if_exists {
            IfExists::Fail => return Err(exists(store, "")),
            IfExists::Overwrite => {}
            IfExists::Reuse => {
                let name = format!("{}/{MANIFEST}", store.describe());
                let old = Manifest::from_json(&bytes, &name, "cannot reuse it: pass --if-exists overwrite")
                    .map_err(|e| Error::new(ErrorKind::OutputExists, e.message()))?;
                if let Some(why) = difference(&old, &key()?) {
                    return Err(exists(
                        store,
                        &format!(" made from a different input or options ({why})"),
                    ));
                }
                // A crash after a commit can have left stale files beside this manifest.
                if !dry_run {
                    match lifecycle::commit_cleanup(store, &bytes, &Replaced::default()) {
                        Ok(removed) => out.notes.extend(removed),
                        Err(e) => out.notes.push(format!("warning: {}", e.message())),
                    }
                }
                out.reused = Some(bytes);
                return Ok(out);
            }
        }
    }
    store.probe()?;
    Ok(out)
}

fn exists(store: &dyn Store, why: &str) -> Error {
    Error::new(
        ErrorKind::OutputExists,
        format!(
            "output {} already holds a finished run ({MANIFEST}){why}; pass --overwrite (--if-exists \
             overwrite) to replace it",
            store.describe()
        ),
    )
}

/// Why the finished run of manifest `old` is not the run `key` describes, or `None` when it is.
pub fn difference(old: &Manifest, key: &RunKey) -> Option<String> {
    let version = env!("CARGO_PKG_VERSION");
    if old.fmprep_version != version {
        return Some(format!(
            "it was made by fmprep {}, this is {version}",
            old.fmprep_version
        ));
    }
    if old.command != key.command {
        return Some(format!("it was made by `{}`, not `{}`", old.command, key.command));
    }
    if key.input_objects.is_empty() {
        return Some("the input (stdin) cannot be compared".to_string());
    }
    if old.input_objects != key.input_objects {
        return Some(input_change(&old.input_objects, &key.input_objects));
    }
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for k in NEUTRAL_OPTIONS {
                o.remove(k);
            }
        }
        v
    };
    let (was, now) = (strip(&old.options), strip(&key.options));
    if was != now {
        return Some(match first_change(&was, &now, "") {
            Some(path) => format!("option {path} changed"),
            None => "the options changed".to_string(),
        });
    }
    None
}

/// The first input object that differs, described.
fn input_change(old: &[InputObject], new: &[InputObject]) -> String {
    for n in new {
        match old.iter().find(|o| o.name == n.name) {
            None => return format!("{} is new", n.name),
            Some(o) if o.bytes != n.bytes => {
                return format!("{} changed: {} bytes, was {}", n.name, n.bytes, o.bytes)
            }
            Some(o) if o.version != n.version => {
                return format!("{} changed: {}, was {}", n.name, n.version, o.version)
            }
            Some(_) => {}
        }
    }
    match old.iter().find(|o| !new.iter().any(|n| n.name == o.name)) {
        Some(o) => format!("{} is gone", o.name),
        None => "the input objects differ".to_string(),
    }
}

/// The dotted path of the first key whose value differs between two option objects.
fn first_change(was: &Value, now: &Value, at: &str) -> Option<String> {
    match (was, now) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) if x == y => None,
                    (Some(x), Some(y)) => first_change(x, y, &path).or(Some(path)),
                    _ => Some(path),
                }
            })
        }
        _ => (was != now).then(|| at.to_string()),
    }
}

/// Everything a run reads, as [`input_objects`] finds it: the input at `locations` (reached with
/// `s3`) and the side tables of `features` (`--customer-features`, `--product-features`, reached
/// with `side_s3`), sorted. None for stdin, which cannot be compared.
pub fn run_inputs(
    locations: &[Location],
    s3: &S3Options,
    features: &crate::features::FeatureOptions,
    side_s3: &S3Options,
) -> Result<Vec<InputObject>> {
    if locations.contains(&Location::Stdin) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for location in locations {
        match location {
            // A glob names no file itself: its matches are the objects.
            Location::Local(p) if !p.exists() => {
                for file in crate::source::files::expand(location, s3)? {
                    out.extend(input_objects(&file, s3)?);
                }
            }
            _ => out.extend(input_objects(location, s3)?),
        }
    }
    for table in [&features.customer_table, &features.product_table]
        .into_iter()
        .flatten()
    {
        out.extend(input_objects(&Location::parse(table)?, side_s3)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The objects of the input at `location` as they are now, without reading them: a local file,
/// or every file under a local directory (sorted), with size and mtime; the S3 object, or every
/// object under the prefix, with size and ETag. Stdin has none.
pub fn input_objects(location: &Location, s3: &S3Options) -> Result<Vec<InputObject>> {
    match location {
        Location::Stdin => Ok(Vec::new()),
        Location::Local(p) => {
            let mut out = Vec::new();
            local_objects(p, &mut out)?;
            out.sort();
            Ok(out)
        }
        Location::S3(u) => s3_objects(u, s3),
    }
}

fn local_objects(p: &Path, out: &mut Vec<InputObject>) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| Error::io("cannot open", p, e))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(p).map_err(|e| Error::io("cannot list", p, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot list", p, e))?;
            local_objects(&entry.path(), out)?;
        }
        return Ok(());
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(
            || "unknown".to_string(),
            |d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
        );
    out.push(InputObject {
        name: p.display().to_string(),
        bytes: meta.len(),
        version: format!("mtime:{mtime}"),
    });
    Ok(())
}

#[cfg(feature = "s3")]
fn s3_objects(u: &crate::location::S3Url, s3: &S3Options) -> Result<Vec<InputObject>> {
    let client = crate::store::s3::S3Client::shared(s3)?;
    Ok(client
        .object_versions(u)?
        .into_iter()
        .map(|(name, bytes, etag)| InputObject {
            name,
            bytes,
            version: format!("etag:{etag}"),
        })
        .collect())
}

#[cfg(not(feature = "s3"))]
fn s3_objects(u: &crate::location::S3Url, _s3: &S3Options) -> Result<Vec<InputObject>> {
    Err(Error::usage(format!(
        "{u}: this fmprep was built without S3 support; rebuild with the default `s3` cargo feature"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: u64, seed: u64) -> RunKey {
        RunKey {
            command: "run".into(),
            options: serde_json::json!({"seed": seed, "threads": 0, "overwrite": false, "split": {"train": 0.8}}),
            input_objects: vec![InputObject {
                name: "in.tsv".into(),
                bytes,
                version: "mtime:1.0".into(),
            }],
        }
    }

    fn manifest_of(k: &RunKey) -> Manifest {
        Manifest {
            fmprep_version: env!("CARGO_PKG_VERSION").into(),
            command: k.command.clone(),
            options: k.options.clone(),
            input_objects: k.input_objects.clone(),
            ..Manifest::default()
        }
    }

    #[test]
    fn same_run_matches_and_differences_are_named() {
        let old = manifest_of(&key(10, 1));
        assert_eq!(difference(&old, &key(10, 1)), None);
        let mut threads = key(10, 1);
        threads.options["threads"] = 4.into();
        threads.options["overwrite"] = true.into();
        assert_eq!(
            difference(&old, &threads),
            None,
            "threads and overwrite do not matter"
        );
        assert!(difference(&old, &key(11, 1))
            .unwrap()
            .contains("11 bytes, was 10"));
        assert_eq!(difference(&old, &key(10, 2)).unwrap(), "option seed changed");
        let mut split = key(10, 1);
        split.options["split"]["train"] = 0.7.into();
        assert_eq!(difference(&old, &split).unwrap(), "option split.train changed");
        let mut stdin = key(10, 1);
        stdin.input_objects.clear();
        assert!(difference(&old, &stdin).unwrap().contains("stdin"));
        let mut other = old.clone();
        other.fmprep_version = "0.0.1".into();
        assert!(difference(&other, &key(10, 1)).unwrap().contains("fmprep 0.0.1"));
    }

    #[test]
    fn if_exists_spellings() {
        assert_eq!(IfExists::parse("reuse"), Ok(IfExists::Reuse));
        assert_eq!(IfExists::parse("Overwrite"), Ok(IfExists::Overwrite));
        assert!(IfExists::parse("keep").is_err());
    }
}
