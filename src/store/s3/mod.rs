//! S3 inputs (`s3://bucket/key`) and output locations (`s3://bucket/prefix`).
//!
//! This module owns everything that talks to S3: the URL syntax ([`parse_s3_url`]), the transfer
//! options ([`S3Options`]) and, with the `s3` cargo feature (on by default), the AWS SDK client on
//! a private tokio runtime. The rest of fmprep is synchronous and sees only `Read`, `Write`,
//! [`Store`](super::Store) and [`Source`](super::Source): no async type leaves this module.
//!
//! | piece | file | what it does |
//! |---|---|---|
//! | [`S3Client`] | `client.rs` | SDK configuration (credential/region chain, endpoint, path style, CA bundle, retries), the runtime, SDK errors → one-line [`Error`]s |
//! | [`profile`] | `profile.rs` | `ca_bundle` and `s3 = addressing_style` from the AWS config file |
//! | [`S3Store`] | `upload.rs` | output: single PUT for small objects, concurrent multipart upload for large ones |
//! | [`S3Source`], [`open_s3_object`] | `download.rs` | input: concurrent ranged GETs reassembled in order |
//! | | `housekeeping.rs` | manifest reads, deletes, the write probe, orphaned multipart uploads |
//!
//! Invariants the rest of fmprep relies on:
//! - **Bounded memory** whatever the object size: an upload holds at most `concurrency` parts in
//!   flight plus the one being filled; a download at most `concurrency` ranges plus the one being
//!   consumed.
//! - **Nothing half-written is visible**: an object appears only when its PUT or its multipart
//!   upload completes in [`ObjectWriter::commit`](super::ObjectWriter::commit). A writer dropped
//!   without commit (error, Ctrl-C, panic) aborts its multipart upload.
//! - **One version per read**: every ranged GET carries `If-Match` with the ETag seen by HEAD and the
//!   ETag of each response is checked, so an object replaced mid-read is an error, never a mix.
//! - Every failure is an [`ErrorKind::Remote`] error (exit code 5) whose one-line message names the
//!   bucket/key and the likely fix, and never contains credentials; a malformed URL is
//!   [`ErrorKind::Usage`] (exit code 2).

#[cfg(doc)]
use crate::error::ErrorKind;
use crate::error::{Error, Result};

#[cfg(feature = "s3")]
mod client;
#[cfg(feature = "s3")]
mod download;
#[cfg(feature = "s3")]
mod housekeeping;
pub mod profile;
#[cfg(feature = "s3")]
mod upload;

#[cfg(feature = "s3")]
pub use client::{path_style, S3Client};
#[cfg(feature = "s3")]
pub use download::{S3Source, S3Stream};
#[cfg(feature = "s3")]
pub use upload::S3Store;

// The URL syntax lives with the location type, below every module that reads or writes.
pub use crate::location::{is_s3_url, parse_object_url, parse_s3_url, S3Url};

/// S3's smallest multipart part (except the last one).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// S3's largest single part or PUT.
pub const MAX_PART_SIZE: usize = 5 << 30;
/// The smallest ranged-GET size accepted (smaller ranges only add request overhead).
pub const MIN_RANGE_SIZE: usize = 64 << 10;

/// How fmprep talks to S3. Credentials always come from the standard AWS chain (environment,
/// profile, web identity, container or instance role); they are not options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// Region of the bucket; `None` uses the AWS chain (`AWS_REGION`, profile, instance
    /// metadata), then `us-east-1`.
    pub region: Option<String>,
    /// An S3-compatible endpoint (MinIO, LocalStack, on-prem); `None` uses `AWS_ENDPOINT_URL_S3`,
    /// then `AWS_ENDPOINT_URL`, then AWS itself.
    pub endpoint_url: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`. Without it,
    /// the profile's `s3 = addressing_style` decides, else a custom endpoint is path-style and AWS
    /// virtual-hosted ([`path_style`]), as in the AWS CLI.
    pub force_path_style: bool,
    /// Requests in flight per transfer: parts of one upload, ranges of one download.
    pub concurrency: usize,
    /// Multipart upload part size in bytes (at least [`MIN_PART_SIZE`]); objects smaller than one
    /// part are written with a single PUT.
    pub part_size: usize,
    /// Size of the ranged GETs that read an object, in bytes (at least [`MIN_RANGE_SIZE`]).
    pub range_size: usize,
    /// Attempts per request in the SDK's standard retry mode, the first one included.
    pub max_attempts: u32,
    /// Reads, listings and uploads through these options stop once this token is set (never, by
    /// default); set it to the run's token.
    pub cancel: crate::cancel::Cancel,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            region: None,
            endpoint_url: None,
            force_path_style: false,
            concurrency: 8,
            part_size: 16 << 20,
            range_size: 16 << 20,
            max_attempts: 5,
            cancel: crate::cancel::Cancel::default(),
        }
    }
}

impl S3Options {
    /// Whether `self` and `other` reach S3 the same way (every field but the cancel token).
    pub fn same_connection(&self, other: &S3Options) -> bool {
        S3Options {
            cancel: other.cancel.clone(),
            ..self.clone()
        } == *other
    }

    /// Check values the types do not rule out.
    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.concurrency) {
            return Err(Error::usage(format!(
                "--s3-concurrency {} is out of range; give 1 to 64",
                self.concurrency
            )));
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return Err(Error::usage(format!(
                "--s3-part-size {} is out of range; S3 needs parts of 5MiB to 5GiB",
                format_size(self.part_size)
            )));
        }
        if !(MIN_RANGE_SIZE..=MAX_PART_SIZE).contains(&self.range_size) {
            return Err(Error::usage(format!(
                "S3 range size {} is out of range; give 64KiB to 5GiB",
                format_size(self.range_size)
            )));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(Error::usage(format!(
                "--s3-max-attempts {} is out of range; give 1 to 20",
                self.max_attempts
            )));
        }
        if let Some(e) = &self.endpoint_url {
            check_endpoint(e, "--endpoint-url")?;
        }
        Ok(())
    }
}

/// Parse a byte size: a number with an optional binary unit (`16MiB`, `16M`, `16MB`, `512k`,
/// `1GiB`); units are powers of 1024 whichever spelling is used.
pub fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: give bytes or a number with KiB/MiB/GiB, e.g. 16MiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "invalid size unit in {s:?}: use KiB, MiB or GiB, e.g. 16MiB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A byte size as [`parse_size`] reads it back: `16MiB`, `64KiB`, or plain bytes.
pub fn format_size(n: usize) -> String {
    match n {
        0 => "0".to_string(),
        n if n % (1 << 30) == 0 => format!("{}GiB", n >> 30),
        n if n % (1 << 20) == 0 => format!("{}MiB", n >> 20),
        n if n % (1 << 10) == 0 => format!("{}KiB", n >> 10),
        n => n.to_string(),
    }
}

/// Require an http(s) URL for an endpoint given by `what` (a flag or variable name).
fn check_endpoint(url: &str, what: &str) -> Result<()> {
    let ok = ["http://", "https://"].iter().any(|s| {
        url.strip_prefix(s)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{what} {url:?} is not an http(s) URL; give e.g. http://localhost:9000 or https://s3.example.com"
        )))
    }
}

/// Whether an endpoint needs path-style addressing: its host is an IP address or `localhost`,
/// where `bucket.host` cannot resolve (boto3 decides the same way).
pub fn wants_path_style(endpoint: &str) -> bool {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return true; // an IPv6 literal
    }
    let host = host_port.split(':').next().unwrap_or("").to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The error returned for an `s3://` spec when fmprep was built without the `s3` feature.
#[cfg(not(feature = "s3"))]
pub(crate) fn not_built(spec: &str, _opts: &S3Options) -> Error {
    Error::usage(format!(
        "{spec}: this fmprep was built without S3 support; rebuild with the default `s3` cargo feature"
    ))
}

/// Open one object's raw bytes (no decompression), e.g. a RecordIO file for `inspect`; the bytes
/// arrive as concurrent ranged GETs (see [`S3Options`]).
pub fn open_s3_object(url: &str, opts: &S3Options) -> Result<Box<dyn std::io::Read + Send>> {
    open_s3_object_sized(url, opts).map(|(raw, _)| raw)
}

/// [`open_s3_object`], also returning the object's size.
pub fn open_s3_object_sized(url: &str, opts: &S3Options) -> Result<(Box<dyn std::io::Read + Send>, u64)> {
    #[cfg(feature = "s3")]
    {
        let (stream, size) = S3Client::shared(opts)?.open_object(url)?;
        Ok((Box::new(stream), size))
    }
    #[cfg(not(feature = "s3"))]
    {
        Err(not_built(url, opts))
    }
}

/// The keys of every object under the prefix `url` (an `s3://bucket/prefix/` URL), in S3's key
/// order, relative to the prefix.
pub fn list_s3_objects(url: &str, opts: &S3Options) -> Result<Vec<String>> {
    #[cfg(feature = "s3")]
    {
        let u = crate::location::parse_s3_url(url)?;
        S3Client::shared(opts)?.list(&u)
    }
    #[cfg(not(feature = "s3"))]
    {
        Err(not_built(url, opts))
    }
}

/// The RecordIO files at `url`: the object itself when it exists, otherwise every `*.protobuf`,
/// `*.recordio` or `*.pbr` object under it taken as a prefix, in natural order (`test_2` before
/// `test_10`). Returns full `s3://` URLs.
pub fn list_s3_recordio(url: &str, opts: &S3Options) -> Result<Vec<String>> {
    #[cfg(feature = "s3")]
    {
        S3Client::shared(opts)?.list_recordio(url)
    }
    #[cfg(not(feature = "s3"))]
    {
        Err(not_built(url, opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("5M").unwrap(), 5 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1234").unwrap(), 1234);
        assert!(parse_size("16 parsecs").is_err());
        assert!(parse_size("MiB").is_err());
        for n in [16 << 20, 5 << 30, 64 << 10, 1234] {
            assert_eq!(parse_size(&format_size(n)).unwrap(), n);
        }
        assert_eq!(format_size(1 << 20), "1MiB");
    }

    #[test]
    fn path_style_for_ip_and_localhost_endpoints() {
        assert!(wants_path_style("http://127.0.0.1:9000"));
        assert!(wants_path_style("http://localhost:4566/"));
        assert!(wants_path_style("https://[::1]:9000"));
        assert!(wants_path_style("http://10.0.0.5"));
        assert!(!wants_path_style("https://s3.eu-west-1.amazonaws.com"));
        assert!(!wants_path_style("https://minio.example.com:9000"));
    }

    #[test]
    fn options_are_validated() {
        assert!(S3Options::default().validate().is_ok());
        let small = S3Options {
            part_size: 1 << 20,
            ..S3Options::default()
        };
        assert!(small.validate().unwrap_err().message().contains("5MiB"));
        let ep = S3Options {
            endpoint_url: Some("localhost:9000".into()),
            ..S3Options::default()
        };
        assert_eq!(ep.validate().unwrap_err().kind(), ErrorKind::Usage);
    }
}
