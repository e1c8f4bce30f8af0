//! Reading from S3: [`S3Stream`] (one object as a `Read`), [`S3Source`] (a prefix for `prepare`),
//! and listing for `inspect`.
//!
//! An object is read as ranged GETs of `range_size` bytes (the first one smaller, so that
//! parsing starts early). A producer task on the S3 runtime keeps
//! up to `concurrency` of them in flight and hands completed ranges, strictly in order, to a
//! channel of one slot that the synchronous reader drains: memory stays at most
//! `(concurrency + 2) × range_size`, nothing is written to disk, and reading overlaps with
//! decompression and parsing.
//!
//! Each GET carries `If-Match` with the ETag from HEAD and its answer's ETag is compared too
//! (not every S3-compatible server honours `If-Match`), so an object replaced during the read
//! fails the read instead of mixing two versions. HTTP-level failures are retried by the SDK; a
//! connection that breaks while a range's body streams is retried here, per range.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use bytes::{Buf, Bytes};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// How often a reader waiting for the next range looks for a stop request.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);

use super::client::{Op, S3Client};
use super::{parse_object_url, parse_s3_url, S3Url};
use crate::error::{Error, ErrorKind, Result};
use crate::store::Source;

/// One range of an object, as the segments it arrived in.
type Range = VecDeque<Bytes>;

/// What HEAD tells about an object.
#[derive(Debug, Clone)]
pub(super) struct ObjectMeta {
    pub size: u64,
    pub etag: Option<String>,
}

impl S3Client {
    /// Size and ETag of `url`, `None` when the bucket exists but the key does not. Failures are
    /// reported as `op` (which names what the caller was doing).
    pub(super) fn head(&self, url: &S3Url, op: Op<'_>) -> Result<Option<ObjectMeta>> {
        let s3 = self.sdk().clone();
        let (bucket, key) = (url.bucket.clone(), url.key.clone());
        let (head, probe, bucket_found) = self.block_on(async move {
            let head = s3.head_object().bucket(&bucket).key(&key).send().await;
            let answered = match &head {
                Ok(_) => return (head, None, true),
                Err(e) => e.raw_response().is_some_and(|r| r.status().is_client_error()),
            };
            if !answered {
                // Not an answer about this object (network, 5xx after retries): nothing to refine.
                return (head, None, true);
            }
            // A HEAD answer has no body, so "not found" cannot tell a missing key from a missing
            // bucket, nor "forbidden" a bad signature from a missing permission: a one-byte GET
            // gets the error code that does. Some servers say NoSuchKey for a missing bucket too,
            // so a HeadBucket settles that (a 403 there only means no s3:ListBucket: assume the
            // bucket exists).
            let probe = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .range("bytes=0-0")
                .send()
                .await;
            let bucket_found = match &probe {
                Err(e) if e.code() == Some("NoSuchKey") => {
                    match s3.head_bucket().bucket(&bucket).send().await {
                        Err(e) => e.raw_response().is_none_or(|r| r.status().as_u16() != 404),
                        Ok(_) => true,
                    }
                }
                _ => true,
            };
            (head, Some(probe), bucket_found)
        });
        match (head, probe) {
            (Ok(h), _) => Ok(Some(ObjectMeta {
                size: h.content_length.unwrap_or(0).max(0) as u64,
                etag: h.e_tag,
            })),
            (Err(_), Some(Err(e))) if e.code() == Some("NoSuchKey") => {
                if bucket_found {
                    Ok(None)
                } else {
                    Err(self.no_such_bucket(op.request("HeadBucket")))
                }
            }
            (Err(e), Some(Ok(_)) | None) => Err(self.error(e, op.request("HeadObject"))),
            (Err(_), Some(Err(e))) => Err(self.error(e, op.request("GetObject"))),
        }
    }

    /// Stream the object `url` (which must exist) through concurrent ranged GETs.
    pub fn open_stream(&self, url: &S3Url) -> Result<S3Stream> {
        let meta = self.head(url, Op::read(url))?.ok_or_else(|| not_found(url))?;
        Ok(self.stream(url, meta))
    }

    /// Open the object `url` for reading (raw bytes, no decompression) and return its size.
    pub fn open_object(&self, url: &str) -> Result<(S3Stream, u64)> {
        let u = parse_object_url(url)?;
        let meta = self.head(&u, Op::read(&u))?.ok_or_else(|| not_found(&u))?;
        let size = meta.size;
        Ok((self.stream(&u, meta), size))
    }

    fn stream(&self, url: &S3Url, meta: ObjectMeta) -> S3Stream {
        let opts = self.options();
        let (tx, rx) = mpsc::channel(1);
        let producer = self.spawn(produce(
            self.clone(),
            url.clone(),
            meta.clone(),
            opts.range_size as u64,
            opts.concurrency,
            tx,
        ));
        S3Stream {
            client: self.clone(),
            rx,
            current: VecDeque::new(),
            producer,
            expected: meta.size,
            received: 0,
            url: url.to_string(),
            finished: false,
        }
    }

    /// The keys (relative to `prefix`, which is empty or ends with `/`) of every object under it.
    pub(super) fn list(&self, url: &S3Url) -> Result<Vec<String>> {
        let prefix = url.prefix();
        let s3 = self.sdk().clone();
        let (bucket, p) = (url.bucket.clone(), prefix.clone());
        let keys = self
            .block_on(async move {
                let mut keys = Vec::new();
                let mut token = None;
                loop {
                    let out = s3
                        .list_objects_v2()
                        .bucket(&bucket)
                        .prefix(&p)
                        .set_continuation_token(token)
                        .send()
                        .await?;
                    keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
                    match out.next_continuation_token() {
                        Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                        _ => return Ok(keys),
                    }
                }
            })
            .map_err(|e| self.error(e, Op::list(url).request("ListObjectsV2")))?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    /// See [`list_s3_recordio`](super::list_s3_recordio).
    pub fn list_recordio(&self, url: &str) -> Result<Vec<String>> {
        let u = parse_s3_url(url)?;
        if !u.key.is_empty() && !u.key.ends_with('/') && self.head(&u, Op::read(&u))?.is_some() {
            return Ok(vec![u.to_string()]);
        }
        let mut rels: Vec<String> = self
            .list(&u)?
            .into_iter()
            .filter(|k| {
                matches!(
                    k.rsplit_once('.').map(|(_, e)| e),
                    Some("protobuf" | "recordio" | "pbr")
                )
            })
            .collect();
        if rels.is_empty() {
            return Err(Error::new(
                ErrorKind::Remote,
                format!(
                    "{url}: no such object, and no *.protobuf objects under {}/; check the path",
                    u.location()
                ),
            ));
        }
        rels.sort_by_key(|k| crate::format::names::natural_key(k));
        Ok(rels.into_iter().map(|r| u.join(&r).to_string()).collect())
    }
}

fn not_found(url: &S3Url) -> Error {
    Error::new(
        ErrorKind::Remote,
        format!(
            "cannot read {url}: no such object; check the key (`aws s3 ls s3://{}/{}` lists what is there)",
            url.bucket,
            url.key.rsplit_once('/').map_or("", |(dir, _)| dir)
        ),
    )
}

/// How an object is cut into ranges: a small first one, then `range_size` each.
///
/// The first range is small because the reader waits for it before anything else can start,
/// while `concurrency` full ranges share the connection's bandwidth: a full-size first range would
/// arrive only after about `concurrency × range_size` bytes had been transferred.
#[derive(Debug, Clone, Copy)]
struct Ranges {
    size: u64,
    first: u64,
    range_size: u64,
}

/// Upper bound of the first range's size.
const FIRST_RANGE: u64 = 1 << 20;

impl Ranges {
    fn new(size: u64, range_size: u64) -> Ranges {
        Ranges {
            size,
            first: FIRST_RANGE.min(range_size),
            range_size,
        }
    }

    fn count(&self) -> u64 {
        match self.size {
            0 => 0,
            s if s <= self.first => 1,
            s => 1 + (s - self.first).div_ceil(self.range_size),
        }
    }

    /// Bytes `start..end` of range `i`.
    fn get(&self, i: u64) -> (u64, u64) {
        let start = if i == 0 {
            0
        } else {
            self.first + (i - 1) * self.range_size
        };
        let len = if i == 0 { self.first } else { self.range_size };
        (start, (start + len).min(self.size))
    }
}

/// Fetch every range of the object, `concurrency` at a time, and send them in order.
async fn produce(
    client: S3Client,
    url: S3Url,
    meta: ObjectMeta,
    range_size: u64,
    concurrency: usize,
    tx: mpsc::Sender<Result<Range>>,
) {
    let ranges = Ranges::new(meta.size, range_size);
    let n_ranges = ranges.count();
    // Dropping the set (the reader went away, or an error) aborts the GETs still running.
    let mut running = JoinSet::new();
    let mut ready: BTreeMap<u64, Range> = BTreeMap::new();
    let (mut next_fetch, mut next_send) = (0u64, 0u64);
    while next_send < n_ranges {
        while next_fetch < n_ranges && running.len() + ready.len() < concurrency {
            let (start, end) = ranges.get(next_fetch);
            let (c, u, etag) = (client.clone(), url.clone(), meta.etag.clone());
            let i = next_fetch;
            running.spawn(async move { (i, fetch_range(&c, &u, etag.as_deref(), start, end).await) });
            next_fetch += 1;
        }
        if let Some(bytes) = ready.remove(&next_send) {
            if tx.send(Ok(bytes)).await.is_err() {
                return; // the reader was dropped
            }
            next_send += 1;
            continue;
        }
        let result = match running.join_next().await {
            Some(Ok((i, Ok(bytes)))) => {
                ready.insert(i, bytes);
                continue;
            }
            Some(Ok((_, Err(e)))) => Err(e),
            Some(Err(e)) => Err(Error::new(
                ErrorKind::Internal,
                format!("range fetch task failed: {e}"),
            )),
            None => Err(Error::new(ErrorKind::Internal, "range fetches ended early")),
        };
        let _ = tx.send(result).await;
        return;
    }
}

/// GET bytes `start..end` of the object, retrying a body that breaks off mid-transfer.
async fn fetch_range(
    client: &S3Client,
    url: &S3Url,
    etag: Option<&str>,
    start: u64,
    end: u64,
) -> Result<Range> {
    let range = format!("bytes={start}-{}", end - 1);
    let attempts = client.options().max_attempts;
    let mut attempt = 1;
    loop {
        let mut req = client
            .sdk()
            .get_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .range(&range);
        if let Some(e) = etag {
            req = req.if_match(e);
        }
        let out = req.send().await.map_err(|e| {
            let request = format!("GetObject {range}");
            client.error(e, Op::read(url).request(&request))
        })?;
        if let (Some(want), Some(got)) = (etag, out.e_tag()) {
            if want != got {
                return Err(Error::new(
                    ErrorKind::Remote,
                    format!(
                        "cannot read {url}: the object changed while it was being read (ETag {got} \
                         instead of {want}); re-run once it is no longer being written"
                    ),
                ));
            }
        }
        let failure = match out.body.collect().await {
            // Kept as the segments they arrived in: joining them would copy every byte once more.
            Ok(data) if data.remaining() as u64 == end - start => return Ok(data.into_segments().collect()),
            Ok(data) => format!("{} of {} bytes arrived", data.remaining(), end - start),
            Err(e) => e.to_string(),
        };
        if attempt >= attempts {
            return Err(Error::new(
                ErrorKind::Remote,
                format!(
                    "cannot read {url} ({range}): the transfer broke off {} ({failure}); \
                     check the network, or raise --s3-max-attempts",
                    super::client::count(attempts, "time", "times")
                ),
            ));
        }
        // Exponential backoff, as the SDK does for the requests it retries itself.
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
        attempt += 1;
    }
}

/// One S3 object as a blocking `Read`, fed by concurrent ranged GETs (see the module doc).
/// Dropping it cancels the GETs still running.
pub struct S3Stream {
    client: S3Client,
    rx: mpsc::Receiver<Result<Range>>,
    current: Range,
    producer: JoinHandle<()>,
    expected: u64,
    received: u64,
    url: String,
    finished: bool,
}

impl std::fmt::Debug for S3Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Stream")
            .field("url", &self.url)
            .field("expected", &self.expected)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl Read for S3Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.current.front_mut() {
                Some(seg) if seg.is_empty() => {
                    self.current.pop_front();
                }
                Some(seg) => {
                    let n = seg.len().min(out.len());
                    seg.copy_to_slice(&mut out[..n]);
                    self.received += n as u64;
                    return Ok(n);
                }
                None if self.finished => return Ok(0),
                None => match self.next_range()? {
                    Some(Ok(range)) => self.current = range,
                    // Carried inside the io::Error so that Error::io restores kind and message.
                    Some(Err(e)) => return Err(e.into_io()),
                    None => {
                        self.finished = true;
                        if self.received != self.expected {
                            return Err(Error::new(
                                ErrorKind::Remote,
                                format!(
                                    "cannot read {}: the transfer ended after {} of {} bytes; re-run",
                                    self.url, self.received, self.expected
                                ),
                            )
                            .into_io());
                        }
                    }
                },
            }
        }
    }
}

impl S3Stream {
    /// The next range from the producer, waiting in short steps so that a stop request (Ctrl-C,
    /// SIGTERM) is noticed even while a slow range is still on its way.
    fn next_range(&mut self) -> io::Result<Option<Result<Range>>> {
        let rx = &mut self.rx;
        let cancel = self.client.cancel().clone();
        self.client.block_on(async move {
            loop {
                if let Ok(next) = tokio::time::timeout(INTERRUPT_POLL, rx.recv()).await {
                    return Ok(next);
                }
                cancel.check_io()?;
            }
        })
    }
}

impl Drop for S3Stream {
    fn drop(&mut self) {
        self.producer.abort();
    }
}

/// A preprocess output under `s3://bucket/prefix`, read by `prepare`.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: S3Client,
    url: S3Url,
}

impl S3Source {
    /// Files under `url` (`s3://bucket/prefix`).
    pub fn new(client: S3Client, url: &str) -> Result<S3Source> {
        Ok(S3Source {
            client,
            url: parse_s3_url(url)?,
        })
    }

    /// The objects under the prefix, as paths relative to it.
    pub fn list(&self) -> Result<Vec<String>> {
        self.client.list(&self.url)
    }
}

impl Source for S3Source {
    fn describe(&self) -> String {
        self.url.location()
    }

    fn missing_kind(&self) -> ErrorKind {
        ErrorKind::Remote
    }

    fn open(&self, rel_path: &str) -> Result<Option<Box<dyn Read + Send>>> {
        let url = self.url.join(rel_path);
        Ok(match self.client.head(&url, Op::read(&url))? {
            Some(meta) => Some(Box::new(self.client.stream(&url, meta))),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_object_exactly_once() {
        for (size, range) in [
            (0, 16 << 20),
            (1, 16 << 20),
            (1 << 20, 16 << 20),
            ((1 << 20) + 1, 16 << 20),
            (100 << 20, 16 << 20),
            (1000, 256),
            (7_150_202, 5 << 20),
        ] {
            let r = Ranges::new(size, range);
            let mut next = 0;
            for i in 0..r.count() {
                let (start, end) = r.get(i);
                assert_eq!(start, next, "{size}/{range} range {i}");
                assert!(end > start && end - start <= range);
                next = end;
            }
            assert_eq!(next, size, "{size}/{range}");
        }
        assert_eq!(Ranges::new(100 << 20, 16 << 20).get(0), (0, 1 << 20));
        assert_eq!(Ranges::new(7_150_202, 5 << 20).count(), 3);
    }
}
