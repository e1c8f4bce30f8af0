//! Where data is: [`Location`], a local path, stdin (`-`) or an `s3://bucket/key` URL, parsed
//! once where a name enters (a command-line argument, a library call) and then passed around
//! typed. It sits below every module that reads or writes, so that inputs (`source`) and outputs
//! (`store`) name places the same way. This module owns the S3 URL syntax ([`S3Url`],
//! [`parse_s3_url`]); talking to S3 is the S3 store's.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A place to read from or write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Standard input (inputs only), spelled `-`.
    Stdin,
    /// A local file or directory.
    Local(PathBuf),
    /// An S3 object or prefix.
    S3(S3Url),
}

impl Location {
    /// Parse a spec: `-` is stdin, `s3://bucket/key` (also near misses such as `s3:/b`, refused
    /// as a usage error that shows the expected form) an S3 URL, anything else a local path.
    pub fn parse(spec: &str) -> Result<Location> {
        if spec == "-" {
            Ok(Location::Stdin)
        } else if is_s3_url(spec) {
            Ok(Location::S3(parse_s3_url(spec)?))
        } else {
            Ok(Location::Local(PathBuf::from(spec)))
        }
    }

    /// Whether this is an S3 location.
    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3(_))
    }

    /// The local path, if this is one.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            _ => None,
        }
    }

    /// `rel` (a `/`-separated relative path) under this location taken as a directory or
    /// prefix; stdin has nothing under it and stays stdin.
    pub fn join(&self, rel: &str) -> Location {
        match self {
            Location::Stdin => Location::Stdin,
            Location::Local(p) => Location::Local(p.join(rel)),
            Location::S3(u) => Location::S3(u.join(rel)),
        }
    }

    /// How the location is named in messages and manifests: the path as given, `stdin`, or
    /// `s3://bucket/key`.
    pub fn name(&self) -> String {
        match self {
            Location::Stdin => "stdin".to_string(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Location {
    /// The spec form, which [`Location::parse`] reads back: `-`, the path, or the S3 URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Stdin => f.write_str("-"),
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3(u) => write!(f, "{u}"),
        }
    }
}

impl std::str::FromStr for Location {
    type Err = Error;

    fn from_str(s: &str) -> Result<Location> {
        Location::parse(s)
    }
}

/// Whether `spec` is meant as an S3 URL (`s3://…`, also the Hadoop spellings `s3a://`/`s3n://`
/// and near misses like `s3:/…`, so a typo is reported as a bad URL rather than a missing file).
pub fn is_s3_url(spec: &str) -> bool {
    let lower = spec.get(..4).unwrap_or(spec).to_ascii_lowercase();
    lower.starts_with("s3:") || lower.starts_with("s3a:") || lower.starts_with("s3n:")
}

/// A parsed `s3://bucket/key` URL. The key may be empty (the bucket root) or a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket name.
    pub bucket: String,
    /// The object key or key prefix, without the leading `/`; taken verbatim (no
    /// percent-decoding), as the AWS CLI does.
    pub key: String,
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl S3Url {
    /// The URL of `rel` under this URL taken as a prefix (`s3://b/out` + `x` = `s3://b/out/x`).
    pub fn join(&self, rel: &str) -> S3Url {
        S3Url {
            bucket: self.bucket.clone(),
            key: format!("{}{rel}", self.prefix()),
        }
    }

    /// The key taken as a prefix: empty, or ending with `/`.
    pub fn prefix(&self) -> String {
        let k = self.key.trim_end_matches('/');
        if k.is_empty() {
            String::new()
        } else {
            format!("{k}/")
        }
    }

    /// The URL as a location name: without a trailing `/` (`s3://b/out`, `s3://b`).
    pub fn location(&self) -> String {
        let k = self.key.trim_end_matches('/');
        if k.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{k}", self.bucket)
        }
    }
}

/// Parse `s3://bucket/key`. The error is a usage error (exit code 2) that shows the expected form.
pub fn parse_s3_url(url: &str) -> Result<S3Url> {
    let bad = |why: &str| {
        Error::usage(format!(
            "malformed S3 URL {url:?}: {why}; expected s3://bucket/key (or s3://bucket/prefix/ for outputs)"
        ))
    };
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(bad("it must start with s3://"));
    };
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("the bucket name is missing"));
    }
    // S3 bucket names are 3-63 of [a-z0-9.-]; legacy us-east-1 buckets may also hold capitals and
    // `_` and be up to 255 long, so accept those rather than reject a bucket that exists.
    if bucket.len() > 255
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(bad(&format!("{bucket:?} is not a valid bucket name")));
    }
    if key.starts_with('/') {
        return Err(bad("the key starts with `/` (two slashes after the bucket)"));
    }
    Ok(S3Url {
        bucket: bucket.to_string(),
        key: key.to_string(),
    })
}

/// Parse `url` and require it to name an object (a non-empty key not ending in `/`).
pub fn parse_object_url(url: &str) -> Result<S3Url> {
    let u = parse_s3_url(url)?;
    if u.key.is_empty() || u.key.ends_with('/') {
        return Err(Error::usage(format!(
            "{url} names a bucket or prefix, not an object; give the object's key, e.g. s3://{}/reviews.tsv.gz",
            u.bucket
        )));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn specs_parse_into_locations_and_back() {
        for spec in ["-", "data/in.tsv.gz", "s3://b/in/reviews.tsv", "s3://b/pq/"] {
            assert_eq!(Location::parse(spec).unwrap().to_string(), spec);
        }
        assert_eq!(Location::parse("-").unwrap().name(), "stdin");
        let s3 = Location::parse("s3://b/out").unwrap();
        assert!(s3.is_s3());
        assert_eq!(
            s3.join("maps/customers.tsv").to_string(),
            "s3://b/out/maps/customers.tsv"
        );
        assert_eq!(
            Location::parse("out").unwrap().join("maps").local_path(),
            Some(Path::new("out/maps"))
        );
        assert_eq!(Location::parse("s3:/b/k").unwrap_err().kind(), ErrorKind::Usage);
    }

    #[test]
    fn urls_parse_and_join() {
        let u = parse_s3_url("s3://my-bucket/out/run1").unwrap();
        assert_eq!(u.bucket, "my-bucket");
        assert_eq!(u.key, "out/run1");
        assert_eq!(
            u.join("train/train.protobuf").to_string(),
            "s3://my-bucket/out/run1/train/train.protobuf"
        );
        assert_eq!(parse_s3_url("s3://b/out/").unwrap().location(), "s3://b/out");
        let root = parse_s3_url("s3://b").unwrap();
        assert_eq!(root.join("manifest.json").key, "manifest.json");
        assert_eq!(root.location(), "s3://b");
        assert_eq!(parse_s3_url("s3://b/").unwrap().prefix(), "");
    }

    #[test]
    fn malformed_urls_are_usage_errors() {
        for bad in [
            "s3:/b/k",
            "s3://",
            "s3:///key",
            "s3://bad bucket/k",
            "s3://b//k",
            "s3a://b/k",
        ] {
            let e = parse_s3_url(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{bad}");
            assert!(e.message().contains("expected s3://bucket/key"), "{e}");
        }
        assert_eq!(parse_object_url("s3://b/").unwrap_err().kind(), ErrorKind::Usage);
        assert_eq!(parse_object_url("s3://b").unwrap_err().kind(), ErrorKind::Usage);
        assert!(is_s3_url("S3://b/k") && is_s3_url("s3:/b") && is_s3_url("s3a://b/k"));
        assert!(!is_s3_url("data/s3.tsv") && !is_s3_url("-"));
    }
}
