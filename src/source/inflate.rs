//! The gzip inflater: ISA-L's (feature `isal`, the default: the fastest measured on these
//! machines, see BENCHMARKS.md) or flate2's zlib-rs otherwise.
//!
//! Both decode every member of a multi-member stream, check each member's CRC-32 and ISIZE, and
//! report a stream that ends inside a member as [`std::io::ErrorKind::UnexpectedEof`] and corrupt data
//! as [`std::io::ErrorKind::InvalidData`], which the decompressing reader words
//! as "corrupt or truncated gzip data".

use std::io::{BufRead, Read};

/// Which inflater this build uses, for logs and benchmarks.
pub const INFLATER: &str = if cfg!(feature = "isal") {
    "isa-l"
} else {
    "zlib-rs"
};

/// A decoder of every gzip member of `raw`, one after another.
pub fn gzip_decoder<R: BufRead + Send + 'static>(raw: R) -> Box<dyn Read + Send> {
    #[cfg(feature = "isal")]
    {
        Box::new(isal::MultiGzDecoder::new(raw))
    }
    #[cfg(not(feature = "isal"))]
    {
        Box::new(flate2::bufread::MultiGzDecoder::new(raw))
    }
}

#[cfg(feature = "isal")]
mod isal {
    use super::*;
    use isal_sys::igzip_lib as ffi;
    use std::io;

    /// ISA-L's stateful inflate over a buffered reader, member after member.
    pub struct MultiGzDecoder<R> {
        raw: R,
        // Boxed: the state holds a 64 KiB output window.
        state: Box<ffi::inflate_state>,
        /// Whether a member has begun and not yet ended (so the input may not end here).
        in_member: bool,
        done: bool,
        /// An error found by the call that also wrote output: reported on the next read, so that
        /// the lines before it are parsed first and the message can say where the data broke.
        failed: Option<io::Error>,
    }

    // SAFETY: the raw pointers in `inflate_state` point into buffers that are set afresh before
    // every call and are never kept across calls, so the state may move between threads.
    unsafe impl<R: Send> Send for MultiGzDecoder<R> {}

    impl<R: BufRead> MultiGzDecoder<R> {
        pub fn new(raw: R) -> Self {
            // SAFETY: `inflate_state` is plain data; zeroed is a valid value that
            // `isal_inflate_init` then initialises.
            let mut state: Box<ffi::inflate_state> = Box::new(unsafe { std::mem::zeroed() });
            unsafe { ffi::isal_inflate_init(state.as_mut()) };
            state.crc_flag = ffi::ISAL_GZIP;
            MultiGzDecoder {
                raw,
                state,
                in_member: false,
                done: false,
                failed: None,
            }
        }

        fn corrupt(code: i32) -> io::Error {
            let what = match code {
                ffi::ISAL_INCORRECT_CHECKSUM => "CRC-32 or length check failed".to_string(),
                ffi::ISAL_INVALID_WRAPPER => "invalid gzip header".to_string(),
                ffi::ISAL_INVALID_BLOCK => "invalid deflate block".to_string(),
                ffi::ISAL_INVALID_SYMBOL => "invalid deflate symbol".to_string(),
                ffi::ISAL_INVALID_LOOKBACK => "invalid back-reference distance".to_string(),
                ffi::ISAL_UNSUPPORTED_METHOD => "unsupported compression method".to_string(),
                _ => format!("inflate failed (ISA-L code {code})"),
            };
            io::Error::new(io::ErrorKind::InvalidData, what)
        }
    }

    impl<R: BufRead> Read for MultiGzDecoder<R> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if out.is_empty() {
                return Ok(0);
            }
            loop {
                if let Some(e) = self.failed.take() {
                    self.done = true;
                    return Err(e);
                }
                if self.done {
                    return Ok(0);
                }
                let input = self.raw.fill_buf()?;
                if input.is_empty() {
                    if self.in_member {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the gzip stream ends inside a member",
                        ));
                    }
                    self.done = true;
                    return Ok(0);
                }
                self.in_member = true;
                let avail_in = input.len().min(u32::MAX as usize) as u32;
                let avail_out = out.len().min(u32::MAX as usize) as u32;
                let s = self.state.as_mut();
                s.next_in = input.as_ptr() as *mut u8;
                s.avail_in = avail_in;
                s.next_out = out.as_mut_ptr();
                s.avail_out = avail_out;
                // SAFETY: next_in/avail_in describe the reader's buffer and next_out/avail_out
                // `out`, both valid for the call; ISA-L reads only the former and writes only the
                // latter, and keeps what it needs of either in its own state.
                let ret = unsafe { ffi::isal_inflate(s) };
                let consumed = (avail_in - s.avail_in) as usize;
                let written = (avail_out - s.avail_out) as usize;
                let finished = s.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH;
                s.next_in = std::ptr::null_mut();
                s.next_out = std::ptr::null_mut();
                self.raw.consume(consumed);
                if ret < 0 {
                    if written > 0 {
                        self.failed = Some(Self::corrupt(ret));
                        return Ok(written);
                    }
                    self.done = true;
                    return Err(Self::corrupt(ret));
                }
                if finished {
                    // The trailer is checked; another member may follow.
                    // SAFETY: the state was initialised in `new`.
                    unsafe { ffi::isal_inflate_reset(self.state.as_mut()) };
                    self.state.crc_flag = ffi::ISAL_GZIP;
                    self.in_member = false;
                }
                if written > 0 {
                    return Ok(written);
                }
                if consumed == 0 && !finished {
                    // No progress with input at hand and room to write: ISA-L would loop forever.
                    return Err(Self::corrupt(ret));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::{self, Write};

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn inflate(bytes: Vec<u8>, read_size: usize) -> io::Result<Vec<u8>> {
        let mut d = gzip_decoder(io::BufReader::with_capacity(4096, io::Cursor::new(bytes)));
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_size];
        loop {
            match d.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn sample(n: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{i}\t{}\n", i % 97).into_bytes())
            .collect()
    }

    #[test]
    fn members_are_decoded_in_turn_whatever_the_read_size() {
        let (a, b) = (sample(50_000), sample(3));
        let mut bytes = gzip(&a);
        bytes.extend(gzip(b""));
        bytes.extend(gzip(&b));
        let want: Vec<u8> = a.iter().chain(&b).copied().collect();
        for size in [1, 7, 4096, 1 << 20] {
            assert_eq!(inflate(bytes.clone(), size).unwrap(), want, "read size {size}");
        }
        assert_eq!(inflate(Vec::new(), 10).unwrap(), b"");
    }

    #[test]
    fn truncation_crc_and_length_errors_are_reported() {
        let data = sample(100_000);
        let good = gzip(&data);
        for cut in [5, good.len() / 2, good.len() - 4, good.len() - 1] {
            let err = inflate(good[..cut].to_vec(), 65536).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}: {err}");
        }
        let n = good.len();
        for at in [n - 8, n - 1] {
            // CRC-32 (trailer bytes 0-3), then ISIZE (bytes 4-7).
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            let err = inflate(bad, 65536).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}: {err}");
        }
        let mut bad = good.clone();
        bad[n / 2] ^= 0xff;
        assert!(inflate(bad, 65536).is_err());
        // Garbage after a complete member is not a gzip member.
        let mut trailing = good;
        trailing.extend_from_slice(b"garbage!");
        assert!(inflate(trailing, 65536).is_err());
    }
}
