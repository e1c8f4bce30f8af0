//! Reading a local file through memory maps instead of `read` calls.
//!
//! `read` copies every byte from the page cache into a buffer of ours; a map hands the page-cache
//! pages to the inflater (or the chunk reader) directly. The file is mapped one window at a time
//! and each window unmapped when it is consumed, so the resident set stays at a window or two
//! however large the file (a whole-file map would count every page read as ours until the end).
//!
//! The one difference from `read`: a file truncated by another process *while* it is read makes
//! the kernel raise `SIGBUS` on the missing pages instead of `read` returning fewer bytes. fmprep
//! writes its manifest last, so such a run leaves no manifest either way; a file replaced by
//! rename (how downloads and `aws s3 cp` write) is safe, the map keeps the old one.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use memmap2::{Advice, Mmap, MmapOptions};

/// Bytes mapped at a time: large enough that mapping costs nothing per byte, small enough to keep
/// the resident set low. A multiple of every page size.
const WINDOW: u64 = 16 << 20;

/// A local file read through a sliding memory map, counting the bytes it hands out.
pub struct MappedFile {
    file: File,
    /// The file's length when it was opened: what is read.
    len: u64,
    /// The window mapped now and its offset in the file.
    window: Option<Mmap>,
    offset: u64,
    /// Position in the window.
    pos: usize,
    count: Arc<AtomicU64>,
}

impl MappedFile {
    /// Map `file` of `len` bytes for reading; the bytes consumed are added to `count`.
    ///
    /// Fails when the first window cannot be mapped (a file system without `mmap`); callers fall
    /// back to reading it.
    pub fn new(file: File, len: u64, count: Arc<AtomicU64>) -> io::Result<Self> {
        let mut mapped = MappedFile {
            file,
            len,
            window: None,
            offset: 0,
            pos: 0,
            count,
        };
        mapped.map_at(0)?;
        Ok(mapped)
    }

    fn map_at(&mut self, offset: u64) -> io::Result<()> {
        // Unmap the window before mapping the next, so only one is ever mapped.
        self.window = None;
        let len = (self.len - offset).min(WINDOW) as usize;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the map is read-only and private to this reader; the file changing under it is
        // the `SIGBUS` case described in the module docs, the same as every mmap-based reader.
        let map = unsafe {
            MmapOptions::new()
                .offset(offset)
                .len(len)
                .populate()
                .map(&self.file)?
        };
        // Read-ahead as for a sequential `read`; an unsupported hint is harmless.
        let _ = map.advise(Advice::Sequential);
        self.window = Some(map);
        self.offset = offset;
        self.pos = 0;
        Ok(())
    }
}

impl BufRead for MappedFile {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let window_len = self.window.as_ref().map_or(0, |w| w.len());
        if self.pos == window_len && self.offset + (window_len as u64) < self.len {
            self.map_at(self.offset + window_len as u64)?;
        }
        Ok(match &self.window {
            Some(w) => &w[self.pos..],
            None => &[],
        })
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Read for MappedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let data = self.fill_buf()?;
            let n = data.len().min(out.len());
            out[..n].copy_from_slice(&data[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_every_byte_across_windows_and_counts_them() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        // Two and a half windows, with a byte pattern that shows any misplaced offset.
        let data: Vec<u8> = (0..(WINDOW * 5 / 2) as usize).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let file = File::open(f.path()).unwrap();
        let mut m = MappedFile::new(file, data.len() as u64, Arc::clone(&count)).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 3 << 20];
        loop {
            match m.read(&mut buf).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got.len(), data.len());
        assert!(got == data);
        assert_eq!(count.load(Ordering::Relaxed), data.len() as u64);
        assert!(m.fill_buf().unwrap().is_empty());
    }

    #[test]
    fn an_empty_file_reads_as_empty() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let file = File::open(f.path()).unwrap();
        let mut m = MappedFile::new(file, 0, Arc::default()).unwrap();
        assert_eq!(m.read(&mut [0u8; 10]).unwrap(), 0);
    }
}
