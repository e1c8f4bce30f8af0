//! The local-directory store ([`LocalStore`]): staged files renamed into place on commit.
//!
//! A file is written to a hidden sibling `.<name>.fmprep-tmp` in the same directory, fsynced, and
//! renamed over its final name on commit, so readers never see a partial file. Staging files left
//! by a killed run carry that suffix and are removed by the next run's [`Store::begin`].

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{ObjectWriter, Store, MANIFEST};
use crate::error::{Error, ErrorKind, Result};

const TMP_SUFFIX: &str = ".fmprep-tmp";

/// Outputs under a local directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on [`Store::begin`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn remove_staging(dir: &Path) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                Self::remove_staging(&path)?;
            } else if path.to_string_lossy().ends_with(TMP_SUFFIX) {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// Files under `dir` (relative to the root, `/`-separated) into `out`, staging files left out.
    fn walk(&self, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.walk(&path, out)?;
            } else if !path.to_string_lossy().ends_with(TMP_SUFFIX) {
                let rel = path.strip_prefix(&self.root).unwrap_or(&path);
                let parts: Vec<_> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn begin(&self, overwrite: bool) -> Result<()> {
        if self.root.exists() && !self.root.is_dir() {
            return Err(not_a_directory(&self.root));
        }
        let manifest = self.root.join(MANIFEST);
        if manifest.exists() {
            if !overwrite {
                return Err(Error::new(
                    ErrorKind::OutputExists,
                    format!(
                        "output {} already holds a finished run ({MANIFEST}); pass --overwrite to replace it",
                        self.root.display()
                    ),
                ));
            }
            fs::remove_file(&manifest).map_err(|e| Error::io("cannot remove old manifest", &manifest, e))?;
        }
        fs::create_dir_all(&self.root)
            .map_err(|e| Error::io("cannot create output directory", &self.root, e))?;
        Self::remove_staging(&self.root)
            .map_err(|e| Error::io("cannot clean staging files in", &self.root, e))?;
        // Fail before reading a large input, not after: can files be created here at all?
        self.probe()
    }

    fn check(&self, overwrite: bool) -> Result<()> {
        if self.root.join(MANIFEST).exists() && !overwrite {
            return Err(Error::new(
                ErrorKind::OutputExists,
                format!(
                    "output {} already holds a finished run ({MANIFEST}); pass --overwrite to replace it",
                    self.root.display()
                ),
            ));
        }
        // The nearest existing ancestor must be a writable directory.
        let mut dir = self.root.as_path();
        loop {
            match fs::metadata(dir) {
                Ok(m) if m.is_dir() && !m.permissions().readonly() => return Ok(()),
                Ok(_) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "output {}: {} is not a writable directory",
                            self.root.display(),
                            dir.display()
                        ),
                    ))
                }
                Err(_) => match dir.parent() {
                    Some(p) if !p.as_os_str().is_empty() => dir = p,
                    _ => return Ok(()),
                },
            }
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let path = self.root.join(dir);
        self.walk(&path, &mut out)
            .map_err(|e| Error::io("cannot list", &path, e))?;
        out.sort();
        Ok(out)
    }

    fn remove(&self, rel_path: &str) -> Result<()> {
        let path = self.root.join(rel_path);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("cannot remove", &path, e)),
            _ => Ok(()),
        }
    }

    fn read(&self, rel_path: &str) -> Result<Option<Vec<u8>>> {
        let path = self.root.join(rel_path);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            // Under a regular file nothing exists; the probe reports that path.
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(Error::io("cannot read", &path, e)),
        }
    }

    fn probe(&self) -> Result<()> {
        if self.root.exists() && !self.root.is_dir() {
            return Err(not_a_directory(&self.root));
        }
        // In the nearest existing directory: the probe creates nothing that stays (a dry run
        // leaves no output directory behind).
        let mut dir = self.root.as_path();
        while !dir.exists() {
            match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => dir = p,
                _ => {
                    dir = Path::new(".");
                    break;
                }
            }
        }
        if !dir.is_dir() {
            // A parent is a regular file: creating the directory fails (creating nothing) with
            // the error that says so.
            fs::create_dir_all(&self.root)
                .map_err(|e| Error::io("cannot create output directory", &self.root, e))?;
        }
        let probe = dir.join(format!(".fmprep-probe-{}{TMP_SUFFIX}", std::process::id()));
        File::create(&probe).map_err(|e| Error::io("cannot write to output directory", &self.root, e))?;
        fs::remove_file(&probe).map_err(|e| Error::io("cannot remove", &probe, e))
    }

    fn create(&self, rel_path: &str) -> Result<Box<dyn ObjectWriter>> {
        let path = self.root.join(rel_path);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
        let name = path.file_name().expect("file name").to_string_lossy();
        let tmp = dir.join(format!(".{name}{TMP_SUFFIX}"));
        let file = File::create(&tmp).map_err(|e| Error::io("cannot create", &path, e))?;
        Ok(Box::new(LocalWriter {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            path,
            bytes: 0,
        }))
    }
}

fn not_a_directory(root: &Path) -> Error {
    Error::new(
        ErrorKind::Io,
        format!(
            "output {} exists and is not a directory; give a directory path",
            root.display()
        ),
    )
}

struct LocalWriter {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
    bytes: u64,
}

impl Write for LocalWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.as_mut().expect("open writer").write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.as_mut().expect("open writer").write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().expect("open writer").flush()
    }
}

impl ObjectWriter for LocalWriter {
    fn commit(mut self: Box<Self>) -> Result<u64> {
        let out = self.out.take().expect("open writer");
        let result = (|| {
            // The last buffered bytes and the fsync are where a full disk usually shows up.
            let file = out
                .into_inner()
                .map_err(|e| Error::io("cannot write", &self.path, e.into_error()))?;
            file.sync_all()
                .map_err(|e| Error::io("cannot write", &self.path, e))?;
            drop(file);
            fs::rename(&self.tmp, &self.path)
                .map_err(|e| Error::io("cannot rename into place", &self.path, e))
        })();
        if result.is_err() {
            // `Drop` only cleans up writers that still hold their file; this one gave it away.
            let _ = fs::remove_file(&self.tmp);
        }
        result.map(|()| self.bytes)
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if let Some(out) = self.out.take() {
            // Not committed: discard the staged data.
            drop(out.into_parts());
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_discards() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("out"));
        store.begin(false).unwrap();
        let mut w = store.create("train/a.bin").unwrap();
        w.write_all(b"abc").unwrap();
        assert!(!dir.path().join("out/train/a.bin").exists());
        assert_eq!(w.commit().unwrap(), 3);
        assert_eq!(fs::read(dir.path().join("out/train/a.bin")).unwrap(), b"abc");
        let mut w = store.create("train/b.bin").unwrap();
        w.write_all(b"xyz").unwrap();
        drop(w);
        let names: Vec<_> = fs::read_dir(dir.path().join("out/train"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["a.bin"]);
    }

    #[test]
    fn finished_run_needs_overwrite_and_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.begin(false).unwrap();
        store.put(MANIFEST, b"{}").unwrap();
        fs::write(dir.path().join(".x.fmprep-tmp"), b"junk").unwrap();
        let err = store.begin(false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutputExists);
        store.begin(true).unwrap();
        assert!(!dir.path().join(MANIFEST).exists());
        assert!(!dir.path().join(".x.fmprep-tmp").exists());
    }
}
