//! Output to S3: [`S3Store`] and its object writer.
//!
//! A writer fills one part-sized buffer. An object that ends within the first part goes up as a
//! single `PutObject`; otherwise the first full part starts a multipart upload and every full part
//! is handed to an upload task on the S3 runtime while the producer fills the next one, so
//! uploading overlaps with encoding. A semaphore of `concurrency` permits bounds the parts in
//! flight: memory stays at most `(concurrency + 1) × part_size` per writer, however large the
//! object. Every upload carries a CRC32C of its bytes, which S3 verifies (a mismatch is sent
//! again); over HTTPS that replaces SigV4's SHA-256 of the payload, which TLS makes redundant and
//! which would cost more CPU than the rest of the upload path.
//!
//! The upload completes only in [`ObjectWriter::commit`]. A writer dropped before (an error
//! anywhere, Ctrl-C, a panic) lets its in-flight parts settle, then aborts the upload, so no part
//! can land after the abort and nothing is left to pay for.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::client::{Op, S3Client};
use super::{parse_s3_url, S3Url, MAX_PART_SIZE};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{ObjectWriter, Store, MANIFEST};

/// The object the write probe puts and deletes, under the prefix.
const PROBE: &str = ".fmprep-write-probe";
/// S3 allows at most this many parts per upload.
const MAX_PARTS: i32 = 10_000;
/// Parts of the same size per step; the size doubles after each step so that an object of any
/// realistic size fits in [`MAX_PARTS`] (over 580 GiB at the default 16 MiB) while small and medium
/// objects keep the configured part size.
const PARTS_PER_STEP: i32 = 2_500;
/// How long a dropped writer waits for its in-flight parts before aborting the upload anyway.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a writer waiting for S3 looks for a stop request.
const INTERRUPT_POLL: Duration = Duration::from_millis(100);

/// An output location `s3://bucket/prefix`: every file `rel` becomes the object `prefix/rel`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: S3Client,
    url: S3Url,
}

impl S3Store {
    /// A store for `url` (`s3://bucket/prefix`, the prefix may be empty).
    pub fn new(client: S3Client, url: &str) -> Result<S3Store> {
        Ok(S3Store {
            client,
            url: parse_s3_url(url)?,
        })
    }

    /// Whether the prefix holds a finished run (a `manifest.json`); an error if it does and
    /// `overwrite` is false. Also proves that the bucket exists and the credentials work before
    /// the input is read, when a failure costs nothing.
    fn finished_run(&self, overwrite: bool) -> Result<bool> {
        let manifest = self.url.join(MANIFEST);
        let exists = self.client.head(&manifest, Op::write(&self.url))?.is_some();
        if exists && !overwrite {
            return Err(Error::new(
                ErrorKind::OutputExists,
                format!(
                    "output {} already holds a finished run ({MANIFEST}); pass --overwrite to replace it",
                    self.describe()
                ),
            ));
        }
        Ok(exists)
    }
}

impl Store for S3Store {
    fn describe(&self) -> String {
        self.url.location()
    }

    fn begin(&self, overwrite: bool) -> Result<()> {
        if !self.finished_run(overwrite)? {
            return Ok(());
        }
        // Remove the old manifest first, so a run failing half-way cannot look finished.
        let manifest = self.url.join(MANIFEST);
        let s3 = self.client.sdk().clone();
        let (bucket, key) = (manifest.bucket.clone(), manifest.key.clone());
        self.client
            .block_on(async move { s3.delete_object().bucket(bucket).key(key).send().await })
            .map_err(|e| {
                self.client
                    .error(e, Op::delete(&manifest).request("DeleteObject"))
            })?;
        Ok(())
    }

    fn check(&self, overwrite: bool) -> Result<()> {
        self.finished_run(overwrite).map(drop)
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let dir = dir.trim_end_matches('/');
        let mut out: Vec<String> = self
            .client
            .list(&self.url.join(dir))?
            .into_iter()
            .map(|k| format!("{dir}/{k}"))
            .collect();
        out.sort();
        Ok(out)
    }

    fn remove(&self, rel_path: &str) -> Result<()> {
        self.client.delete(&self.url.join(rel_path))
    }

    fn read(&self, rel_path: &str) -> Result<Option<Vec<u8>>> {
        // Reading the manifest is part of preparing the output: failures name the output.
        self.client
            .get_small(&self.url.join(rel_path), Op::write(&self.url))
    }

    fn probe(&self) -> Result<()> {
        self.client.write_probe(&self.url.join(PROBE))
    }

    fn abort_orphaned_uploads(&self, ours: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
        let prefix = self.url.prefix();
        let Some(uploads) = self.client.open_uploads(&self.url)? else {
            return Ok(Vec::new()); // the server cannot list them: nothing to find
        };
        let mut aborted = Vec::new();
        for u in uploads {
            let Some(rel) = u.key.strip_prefix(&prefix) else {
                continue;
            };
            if ours(rel) {
                self.client.abort_upload(&self.url.bucket, &u)?;
                aborted.push(format!("{rel} (upload id {})", u.id));
            }
        }
        Ok(aborted)
    }

    fn create(&self, rel_path: &str) -> Result<Box<dyn ObjectWriter>> {
        let url = self.url.join(rel_path);
        let part_size = self.client.options().part_size;
        Ok(Box::new(S3Writer {
            client: self.client.clone(),
            content_type: content_type(rel_path),
            url,
            buf: Vec::with_capacity(part_size),
            part_len: part_size,
            upload: None,
            bytes: 0,
            failed: None,
            done: false,
        }))
    }
}

/// A media type by file name, so that consoles and downloads show the objects sensibly.
fn content_type(rel_path: &str) -> &'static str {
    match rel_path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("protobuf" | "recordio" | "pbr") => "application/x-recordio-protobuf",
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        Some("tsv") => "text/tab-separated-values",
        _ => "application/octet-stream",
    }
}

/// Size of part `n` (1-based): the configured size, doubled every [`PARTS_PER_STEP`] parts.
fn part_len(part_size: usize, n: i32) -> usize {
    let step = ((n - 1) / PARTS_PER_STEP).clamp(0, 16) as u32;
    part_size.saturating_mul(1 << step).min(MAX_PART_SIZE)
}

struct Upload {
    id: String,
    next_part: i32,
    in_flight: VecDeque<JoinHandle<Result<CompletedPart>>>,
    done: Vec<CompletedPart>,
    permits: Arc<Semaphore>,
}

struct S3Writer {
    client: S3Client,
    url: S3Url,
    content_type: &'static str,
    buf: Vec<u8>,
    /// Size the current part is filled to before it is shipped.
    part_len: usize,
    upload: Option<Upload>,
    bytes: u64,
    /// The first failure; later writes repeat it.
    failed: Option<(ErrorKind, String)>,
    /// Committed (nothing to abort on drop).
    done: bool,
}

/// Carry an [`Error`] through `io::Write`, to be unwrapped by [`Error::io`] with its kind intact.
fn to_io(e: Error) -> io::Error {
    e.into_io()
}

impl S3Writer {
    fn fail(&mut self, e: Error) -> io::Error {
        if self.failed.is_none() {
            self.failed = Some((e.kind(), e.message().to_string()));
        }
        to_io(e)
    }

    /// Hand the full buffer to an upload task, starting the multipart upload on the first part.
    fn ship(&mut self) -> Result<()> {
        self.client.cancel().check()?;
        if self.upload.is_none() {
            self.upload = Some(self.create_upload()?);
        }
        self.reap(false)?;
        let client = self.client.clone();
        let Some(up) = self.upload.as_mut() else {
            return Err(Error::new(ErrorKind::Internal, "multipart upload missing"));
        };
        let n = up.next_part;
        if n > MAX_PARTS {
            return Err(Error::new(
                ErrorKind::Remote,
                format!(
                    "cannot write {}: more than {MAX_PARTS} parts; raise --s3-part-size",
                    self.url
                ),
            ));
        }
        up.next_part += 1;
        // Wait for a free slot before taking the buffer's memory out of the writer: this is what
        // bounds memory and applies backpressure to the encoder.
        let permits = up.permits.clone();
        let permit = wait_interruptibly(&client, permits.acquire_owned())?
            .map_err(|_| Error::new(ErrorKind::Internal, "upload slots closed"))?;
        self.part_len = part_len(client.options().part_size, n + 1);
        let body = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.part_len),
        ));
        let (url, id) = (self.url.clone(), up.id.clone());
        let task_client = client.clone();
        up.in_flight.push_back(client.spawn(async move {
            let result = upload_part(&task_client, &url, &id, n, body).await;
            drop(permit);
            result
        }));
        Ok(())
    }

    fn create_upload(&self) -> Result<Upload> {
        let s3 = self.client.sdk().clone();
        let (bucket, key, ct) = (self.url.bucket.clone(), self.url.key.clone(), self.content_type);
        let out = self
            .client
            .block_on(async move {
                s3.create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .content_type(ct)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32C)
                    .send()
                    .await
            })
            .map_err(|e| {
                self.client
                    .error(e, Op::write(&self.url).request("CreateMultipartUpload"))
            })?;
        let id = out.upload_id.ok_or_else(|| {
            Error::new(
                ErrorKind::Remote,
                format!("cannot write {}: S3 returned no upload id", self.url),
            )
        })?;
        Ok(Upload {
            id,
            next_part: 1,
            in_flight: VecDeque::new(),
            done: Vec::new(),
            permits: Arc::new(Semaphore::new(self.client.options().concurrency)),
        })
    }

    /// Collect finished part uploads, surfacing the first failure; with `all`, wait for every one.
    fn reap(&mut self, all: bool) -> Result<()> {
        let Some(up) = self.upload.as_mut() else {
            return Ok(());
        };
        while let Some(h) = up.in_flight.front() {
            if !all && !h.is_finished() {
                break;
            }
            let Some(h) = up.in_flight.front_mut() else { break };
            // Interruptible: on a stop the handle stays queued, for Drop to settle and abort.
            let joined = wait_interruptibly(&self.client, h)?;
            up.in_flight.pop_front(); // its output is taken: never poll it again
            let part = joined
                .map_err(|e| Error::new(ErrorKind::Internal, format!("part upload task failed: {e}")))??;
            up.done.push(part);
        }
        Ok(())
    }

    fn put_single(&mut self) -> Result<()> {
        let client = self.client.clone();
        let body = Bytes::from(std::mem::take(&mut self.buf));
        let (url, ct) = (self.url.clone(), self.content_type);
        self.client
            .block_on(resend_corrupted(&client, || {
                let req = client
                    .sdk()
                    .put_object()
                    .bucket(&url.bucket)
                    .key(&url.key)
                    .content_type(ct)
                    .content_length(body.len() as i64)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32C)
                    .body(ByteStream::from(body.clone()));
                let sign = client.sign_payload();
                async move {
                    if sign {
                        req.send().await
                    } else {
                        req.customize().disable_payload_signing().send().await
                    }
                }
            }))
            .map_err(|e| self.client.error(e, Op::write(&self.url).request("PutObject")))?;
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.ship()?;
        }
        self.reap(true)?;
        let Some(up) = self.upload.as_mut() else {
            return Ok(());
        };
        let mut parts = std::mem::take(&mut up.done);
        parts.sort_by_key(|p| p.part_number);
        let s3 = self.client.sdk().clone();
        let (bucket, key, id) = (self.url.bucket.clone(), self.url.key.clone(), up.id.clone());
        self.client
            .block_on(async move {
                s3.complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
            })
            .map_err(|e| {
                self.client
                    .error(e, Op::write(&self.url).request("CompleteMultipartUpload"))
            })?;
        Ok(())
    }
}

/// Wait for `fut` on the S3 runtime, giving up when Ctrl-C or SIGTERM asks the run to stop:
/// slow parts must not delay the stop (the writer's drop then aborts the upload).
fn wait_interruptibly<F>(client: &S3Client, fut: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let cancel = client.cancel().clone();
    client.block_on(async move {
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Ok(v) = tokio::time::timeout(INTERRUPT_POLL, &mut fut).await {
                return Ok(v);
            }
            cancel.check()?;
        }
    })
}

async fn upload_part(client: &S3Client, url: &S3Url, id: &str, n: i32, body: Bytes) -> Result<CompletedPart> {
    let out = resend_corrupted(client, || {
        let req = client
            .sdk()
            .upload_part()
            .bucket(&url.bucket)
            .key(&url.key)
            .upload_id(id)
            .part_number(n)
            .content_length(body.len() as i64)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(ByteStream::from(body.clone()));
        let sign = client.sign_payload();
        async move {
            if sign {
                req.send().await
            } else {
                req.customize().disable_payload_signing().send().await
            }
        }
    })
    .await
    .map_err(|e| {
        let request = format!("UploadPart {n}");
        client.error(e, Op::write(url).request(&request))
    })?;
    Ok(CompletedPart::builder()
        .part_number(n)
        .set_e_tag(out.e_tag)
        .set_checksum_crc32_c(out.checksum_crc32_c)
        .build())
}

/// Send an upload built by `send`, again when S3 says the bytes it received do not match their
/// checksum: corruption in flight is transient, but the SDK retries only 5xx and throttling.
async fn resend_corrupted<T, E, F, Fut>(client: &S3Client, mut send: F) -> std::result::Result<T, SdkError<E>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E>>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(e)
                if attempt < client.options().max_attempts
                    && matches!(
                        e.code(),
                        Some("BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch")
                    ) =>
            {
                attempt += 1;
            }
            result => return result,
        }
    }
}

impl Write for S3Writer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some((kind, msg)) = &self.failed {
            return Err(to_io(Error::new(*kind, msg.clone())));
        }
        let mut rest = data;
        while !rest.is_empty() {
            // Ship a full part only once more data arrives, so an object of exactly one part
            // still goes up as a single PUT.
            if self.buf.len() >= self.part_len {
                if let Err(e) = self.ship() {
                    return Err(self.fail(e));
                }
            }
            let n = (self.part_len - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        self.bytes += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ObjectWriter for S3Writer {
    fn commit(mut self: Box<Self>) -> Result<u64> {
        if let Some((kind, msg)) = &self.failed {
            return Err(Error::new(*kind, msg.clone()));
        }
        self.client.cancel().check()?;
        if self.upload.is_none() {
            self.put_single()?;
        } else {
            self.complete()?;
        }
        self.done = true;
        Ok(self.bytes)
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(up) = self.upload.take() else {
            return; // nothing was sent: a single PUT happens only in commit
        };
        let s3 = self.client.sdk().clone();
        let (bucket, key) = (self.url.bucket.clone(), self.url.key.clone());
        let aborted = self.client.block_on(async move {
            // A part request still in flight could otherwise land after the abort and stay
            // stored (and billed). Wait for them, within a bound, then abort.
            let deadline = tokio::time::Instant::now() + SETTLE_TIMEOUT;
            for h in up.in_flight {
                let abort = h.abort_handle();
                if tokio::time::timeout_at(deadline, h).await.is_err() {
                    abort.abort();
                }
            }
            s3.abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(up.id.clone())
                .send()
                .await
                .map_err(|e| (e, up.id))
        });
        if let Err((e, id)) = aborted {
            // Drop cannot return an error, and a left-over upload costs money: say so.
            let err = self
                .client
                .error(e, Op::delete(&self.url).request("AbortMultipartUpload"));
            // Not eprintln!: it panics on a broken stderr, and this runs in a drop.
            let _ = writeln!(
                std::io::stderr(),
                "fmprep: warning: multipart upload {id} of {} may still be open: {}; abort it with \
                 `aws s3api abort-multipart-upload --bucket {} --key {} --upload-id {id}` or a lifecycle rule",
                self.url,
                err.message(),
                self.url.bucket,
                self.url.key
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_huge_objects_fit_in_ten_thousand() {
        let ps = 16 << 20;
        assert_eq!(part_len(ps, 1), ps);
        assert_eq!(part_len(ps, 2500), ps);
        assert_eq!(part_len(ps, 2501), 2 * ps);
        assert_eq!(part_len(ps, 10_000), 8 * ps);
        let total: u64 = (1..=MAX_PARTS).map(|n| part_len(ps, n) as u64).sum();
        assert!(total >= 580 << 30, "{total}");
        assert_eq!(part_len(MAX_PART_SIZE, 9000), MAX_PART_SIZE);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type("train/train.protobuf"),
            "application/x-recordio-protobuf"
        );
        assert_eq!(content_type("manifest.json"), "application/json");
        assert_eq!(content_type("maps/customers.tsv"), "text/tab-separated-values");
    }
}
