//! The small requests around a run's transfers: reading the manifest whole, deleting objects,
//! the write probe, and finding and aborting multipart uploads that killed runs left open.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsError;
use aws_sdk_s3::primitives::ByteStream;

use super::client::{Op, S3Client};
use super::S3Url;
use crate::error::{Error, ErrorKind, Result};

/// A multipart upload in progress, as ListMultipartUploads names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenUpload {
    pub key: String,
    pub id: String,
}

impl S3Client {
    /// The whole object `url`, `None` when there is no such key (a missing bucket is an error);
    /// failures are reported as `op`.
    pub(super) fn get_small(&self, url: &S3Url, op: Op<'_>) -> Result<Option<Vec<u8>>> {
        // HEAD first: it tells a missing key from a missing bucket, which GET alone does not on
        // every server.
        if self.head(url, op)?.is_none() {
            return Ok(None);
        }
        let s3 = self.sdk().clone();
        let (bucket, key) = (url.bucket.clone(), url.key.clone());
        let got: std::result::Result<_, SdkError<GetObjectError, HttpResponse>> = self.block_on(async move {
            let out = s3.get_object().bucket(bucket).key(key).send().await?;
            Ok(out.body.collect().await.map(|b| b.into_bytes().to_vec()))
        });
        match got {
            Ok(Ok(b)) => Ok(Some(b)),
            Ok(Err(e)) => Err(Error::new(
                ErrorKind::Remote,
                format!("cannot read {url}: the connection broke mid-body ({e}); re-run"),
            )),
            Err(e) if e.code() == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(self.error(e, op.request("GetObject"))),
        }
    }

    /// Delete the object `url` (S3 answers the same whether or not it existed).
    pub(super) fn delete(&self, url: &S3Url) -> Result<()> {
        let s3 = self.sdk().clone();
        let (bucket, key) = (url.bucket.clone(), url.key.clone());
        self.block_on(async move { s3.delete_object().bucket(bucket).key(key).send().await })
            .map_err(|e| self.error(e, Op::delete(url).request("DeleteObject")))?;
        Ok(())
    }

    /// Put a small object and delete it again: proves that the credentials may write (and
    /// delete) under the prefix before a byte of input is read.
    pub(super) fn write_probe(&self, url: &S3Url) -> Result<()> {
        let s3 = self.sdk().clone();
        let (bucket, key) = (url.bucket.clone(), url.key.clone());
        const BODY: &[u8] = b"fmprep write probe\n";
        self.block_on(async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .content_type("text/plain")
                .content_length(BODY.len() as i64)
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32C)
                .body(ByteStream::from_static(BODY))
                .send()
                .await
        })
        .map_err(|e| self.error(e, Op::write(url).request("PutObject (write probe)")))?;
        self.delete(url)
    }

    /// The multipart uploads in progress under the prefix `url`. `Ok(None)` when the server does
    /// not implement ListMultipartUploads (HTTP 501, e.g. s3s-fs).
    pub(super) fn open_uploads(&self, url: &S3Url) -> Result<Option<Vec<OpenUpload>>> {
        let s3 = self.sdk().clone();
        let (bucket, prefix) = (url.bucket.clone(), url.prefix());
        let listed: std::result::Result<_, SdkError<ListMultipartUploadsError, HttpResponse>> = self
            .block_on(async move {
                let mut uploads = Vec::new();
                let (mut key_marker, mut id_marker) = (None, None);
                loop {
                    let out = s3
                        .list_multipart_uploads()
                        .bucket(&bucket)
                        .prefix(&prefix)
                        .set_key_marker(key_marker)
                        .set_upload_id_marker(id_marker)
                        .send()
                        .await?;
                    for u in out.uploads() {
                        if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                            uploads.push(OpenUpload {
                                key: key.to_string(),
                                id: id.to_string(),
                            });
                        }
                    }
                    if out.is_truncated() != Some(true) {
                        return Ok(uploads);
                    }
                    key_marker = out.next_key_marker().map(str::to_string);
                    id_marker = out.next_upload_id_marker().map(str::to_string);
                    if key_marker.is_none() && id_marker.is_none() {
                        return Ok(uploads);
                    }
                }
            });
        match listed {
            Ok(u) => Ok(Some(u)),
            Err(e)
                if e.code() == Some("NotImplemented")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 501) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.error(
                e,
                Op {
                    verb: "cannot list the multipart uploads under",
                    url,
                    request: Some("ListMultipartUploads"),
                    permission: "s3:ListBucketMultipartUploads",
                },
            )),
        }
    }

    /// Abort one multipart upload; one already gone counts as aborted.
    pub(super) fn abort_upload(&self, bucket: &str, upload: &OpenUpload) -> Result<()> {
        let s3 = self.sdk().clone();
        let (b, key, id) = (bucket.to_string(), upload.key.clone(), upload.id.clone());
        let aborted = self.block_on(async move {
            s3.abort_multipart_upload()
                .bucket(b)
                .key(key)
                .upload_id(id)
                .send()
                .await
        });
        match aborted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            Err(e) => {
                let url = S3Url {
                    bucket: bucket.to_string(),
                    key: upload.key.clone(),
                };
                Err(self.error(
                    e,
                    Op {
                        verb: "cannot abort the multipart upload of",
                        url: &url,
                        request: Some("AbortMultipartUpload"),
                        permission: "s3:AbortMultipartUpload",
                    },
                ))
            }
        }
    }
}

impl S3Client {
    /// Size and ETag of the objects an input `url` names, without reading them: the object
    /// itself when the key exists, else every object under it taken as a prefix (a dataset).
    /// Keys are full `s3://` URLs, sorted.
    pub fn object_versions(&self, url: &S3Url) -> Result<Vec<(String, u64, String)>> {
        if !url.key.is_empty() && !url.key.ends_with('/') {
            if let Some(meta) = self.head(url, Op::read(url))? {
                return Ok(vec![(url.to_string(), meta.size, meta.etag.unwrap_or_default())]);
            }
        }
        let s3 = self.sdk().clone();
        let (bucket, prefix) = (url.bucket.clone(), url.prefix());
        let mut objects = self
            .block_on(async move {
                let mut objects = Vec::new();
                let mut token = None;
                loop {
                    let out = s3
                        .list_objects_v2()
                        .bucket(&bucket)
                        .prefix(&prefix)
                        .set_continuation_token(token)
                        .send()
                        .await?;
                    for o in out.contents() {
                        if let Some(k) = o.key() {
                            let size = o.size().unwrap_or(0).max(0) as u64;
                            let etag = o.e_tag().unwrap_or_default().to_string();
                            objects.push((format!("s3://{bucket}/{k}"), size, etag));
                        }
                    }
                    match out.next_continuation_token() {
                        Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                        _ => return Ok(objects),
                    }
                }
            })
            .map_err(|e| self.error(e, Op::list(url).request("ListObjectsV2")))?;
        objects.sort();
        Ok(objects)
    }
}
