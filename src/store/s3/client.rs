//! The AWS SDK client behind [`S3Client`]: configuration, the private tokio runtime, and the
//! translation of SDK failures into one-line [`Error`]s.
//!
//! One multi-thread runtime serves the whole process. It lives in a `static`, so it is never
//! dropped from inside one of its own tasks (which would panic), and synchronous callers enter it
//! with [`S3Client::block_on`]. Tasks spawned on it hold an `S3Client` (an `Arc` around the SDK
//! client), never the runtime.

use std::error::Error as StdError;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::config::{ProvideCredentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use tokio::runtime::Runtime;

use super::profile::{self, AddressingStyle};
use super::{check_endpoint, wants_path_style, S3Options, S3Url};
use crate::error::{Error, ErrorKind, Result};

/// Region used when the AWS chain yields none: S3 answers from there and names the bucket's real
/// region in a redirect, which the error message passes on.
const FALLBACK_REGION: &str = "us-east-1";

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            // HTTP, TLS and checksums are light next to encoding; two threads keep up with
            // dozens of concurrent requests without taking cores from the pipeline.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("fmprep-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start the S3 I/O runtime: {e}"),
            )
        })
}

/// A configured S3 client. Cheap to clone; all clones share one connection pool.
///
/// Each handle carries the cancel token of the options it was asked for
/// ([`S3Options::cancel`]): streams, listings and uploads made through it stop when that token is
/// set, while the connection pool stays shared by every run of the process.
#[derive(Clone)]
pub struct S3Client {
    inner: Arc<Inner>,
    cancel: crate::cancel::Cancel,
}

struct Inner {
    s3: aws_sdk_s3::Client,
    rt: &'static Runtime,
    opts: S3Options,
    region: String,
    endpoint: Option<String>,
    /// Buckets addressed as `host/bucket/key`.
    path_style: bool,
    /// Where extra trusted CAs came from (`AWS_CA_BUNDLE=…`), for TLS error messages.
    ca_bundle: Option<String>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("region", &self.inner.region)
            .field("endpoint", &self.inner.endpoint)
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

/// The endpoint to use: the option, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`). Read here rather than left to the SDK because
/// path-style addressing depends on it.
fn configured_endpoint(opts: &S3Options) -> Result<Option<String>> {
    if let Some(e) = &opts.endpoint_url {
        return Ok(Some(e.clone()));
    }
    let ignore =
        std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if ignore {
        return Ok(None);
    }
    for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                check_endpoint(v.trim(), var)?;
                return Ok(Some(v.trim().to_string()));
            }
        }
    }
    Ok(None)
}

/// Extra CA certificates to trust, as the AWS CLI takes them: the PEM file named by
/// `AWS_CA_BUNDLE`, else by the profile's `ca_bundle`. Returns the PEM bytes and a description
/// of where they came from. The file is checked here: the TLS layer would panic on a bad one.
fn ca_bundle(profile: &profile::ProfileSettings) -> Result<Option<(Vec<u8>, String)>> {
    let (path, what) = match std::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()) {
        Some(p) => (std::path::PathBuf::from(p), "AWS_CA_BUNDLE".to_string()),
        None => match &profile.ca_bundle {
            Some(p) => (p.clone(), format!("ca_bundle of {}", profile.origin)),
            None => return Ok(None),
        },
    };
    let named = format!("{what}={}", path.display());
    let pem = std::fs::read(&path).map_err(|e| {
        Error::new(
            ErrorKind::Usage,
            format!("cannot read the CA bundle {named}: {e}; give the path of a PEM file of CA certificates"),
        )
    })?;
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    let mut n = 0;
    for der in CertificateDer::pem_slice_iter(&pem) {
        let ok = der.ok().is_some_and(|d| roots.add(d).is_ok());
        if !ok {
            return Err(Error::usage(format!(
                "the CA bundle {named} holds a malformed certificate; give a PEM file of CA certificates"
            )));
        }
        n += 1;
    }
    if n == 0 {
        return Err(Error::usage(format!(
            "the CA bundle {named} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(Some((pem, named)))
}

/// Whether buckets are addressed path-style, as the AWS CLI and boto3 decide: always with
/// `--s3-force-path-style`; else as the profile's `s3.addressing_style` says; else (`auto`)
/// path-style for a custom endpoint (`bucket.minio` seldom resolves) and virtual-hosted for AWS.
/// An IP address or `localhost` cannot carry a bucket name, so it is path-style whatever is said.
pub fn path_style(force: bool, style: Option<AddressingStyle>, endpoint: Option<&str>) -> bool {
    force
        || endpoint.is_some_and(wants_path_style)
        || match style {
            Some(AddressingStyle::Path) => true,
            Some(AddressingStyle::Virtual) => false,
            Some(AddressingStyle::Auto) | None => endpoint.is_some(),
        }
}

impl S3Client {
    /// Build a client: the AWS credential and region chain, `opts` on top. Credentials are
    /// fetched once here so that their absence is reported before any work starts.
    pub fn new(opts: &S3Options) -> Result<S3Client> {
        opts.validate()?;
        let endpoint = configured_endpoint(opts)?;
        let rt = runtime()?;
        let settings = profile::load();
        let bundle = ca_bundle(&settings)?;
        let mut http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring));
        if let Some((pem, _)) = &bundle {
            // Added to the system's roots (which SSL_CERT_FILE can replace), so AWS itself stays
            // reachable with a bundle that holds only a private CA.
            let ctx = tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::default().with_pem_certificate(pem.clone()))
                .build()
                .map_err(|e| Error::usage(format!("cannot use the CA bundle: {e}")))?;
            http = http.tls_context(ctx);
        }
        let http = http.build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(opts.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(r) = &opts.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let (sdk, creds) = block_on(rt, async move {
            let sdk = loader.load().await;
            let creds = match sdk.credentials_provider() {
                Some(p) => p.provide_credentials().await.map(drop),
                None => Err(CredentialsError::not_loaded_no_source()),
            };
            (sdk, creds)
        });
        creds.map_err(credentials_error)?;
        let region = sdk
            .region()
            .map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string());
        let path_style = path_style(
            opts.force_path_style,
            settings.addressing_style,
            endpoint.as_deref(),
        );
        let mut conf = aws_sdk_s3::config::Builder::from(&sdk)
            .region(Region::new(region.clone()))
            .force_path_style(path_style);
        if let Some(e) = &endpoint {
            conf = conf.endpoint_url(e);
        }
        Ok(S3Client {
            inner: Arc::new(Inner {
                s3: aws_sdk_s3::Client::from_conf(conf.build()),
                rt,
                opts: opts.clone(),
                region,
                endpoint,
                path_style,
                ca_bundle: bundle.map(|(_, named)| named),
            }),
            cancel: opts.cancel.clone(),
        })
    }

    /// The token that stops this handle's transfers.
    pub fn cancel(&self) -> &crate::cancel::Cancel {
        &self.cancel
    }

    /// The URL a request for `url` goes to, as the SDK builds it (endpoint, addressing style):
    /// captured from a HeadObject just before it would be sent, without any network.
    pub fn request_url(&self, url: &S3Url) -> Result<String> {
        let seen = Arc::new(Mutex::new(None));
        let s3 = self.sdk().clone();
        let (bucket, key, capture) = (url.bucket.clone(), url.key.clone(), Capture(seen.clone()));
        let _ = self.block_on(async move {
            s3.head_object()
                .bucket(bucket)
                .key(key)
                .customize()
                .interceptor(capture)
                .send()
                .await
        });
        let got = seen.lock().unwrap_or_else(|p| p.into_inner()).take();
        got.ok_or_else(|| Error::new(ErrorKind::Internal, format!("no request was built for {url}")))
    }

    /// A client for `opts`, built once per process and reused (credential lookups, connection
    /// pool), e.g. for the input, the output and every file `inspect` reads. The handle carries
    /// `opts.cancel`; the pool is shared whatever the token.
    pub fn shared(opts: &S3Options) -> Result<S3Client> {
        // A cache, not state that changes results: a client is a pure function of the
        // connection settings and the environment it read once.
        static CLIENTS: Mutex<Vec<(S3Options, S3Client)>> = Mutex::new(Vec::new());
        let key = S3Options {
            cancel: crate::cancel::Cancel::default(),
            ..opts.clone()
        };
        let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
        let found = clients
            .iter()
            .find(|(o, _)| o.same_connection(&key))
            .map(|(_, c)| c.clone());
        let mut c = match found {
            Some(c) => c,
            None => {
                let c = S3Client::new(&key)?;
                clients.push((key, c.clone()));
                c
            }
        };
        c.cancel = opts.cancel.clone();
        Ok(c)
    }

    /// The options this client was built with.
    pub fn options(&self) -> &S3Options {
        &self.inner.opts
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Whether upload bodies are covered by the SigV4 signature (SHA-256 of the payload): only
    /// over plain HTTP, where nothing else protects them from tampering. Over HTTPS, TLS and the
    /// CRC32C S3 verifies already do, at a fraction of the CPU.
    pub(super) fn sign_payload(&self) -> bool {
        self.inner
            .endpoint
            .as_deref()
            .is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"))
    }

    pub(super) fn sdk(&self) -> &aws_sdk_s3::Client {
        &self.inner.s3
    }

    pub(super) fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.rt.spawn(fut)
    }

    /// Run `fut` to completion on the S3 runtime, from synchronous code.
    pub(super) fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        block_on(self.inner.rt, fut)
    }

    /// Turn an SDK failure of `op` into a one-line message naming the object and the likely fix.
    pub(super) fn error<E>(&self, err: SdkError<E>, op: Op<'_>) -> Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let bucket_region = err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_string);
        let code = err.code().map(str::to_string);
        let message = err.message().map(one_line);
        let reason = self.reason(
            &err,
            op,
            status,
            code.as_deref(),
            message.as_deref(),
            bucket_region,
        );
        let request = op.request.map_or(String::new(), |r| format!(" ({r})"));
        Error::new(
            ErrorKind::Remote,
            format!("{} {}{request}: {reason}", op.verb, op.url),
        )
        .with_source(err)
    }

    fn reason<E: StdError + 'static>(
        &self,
        err: &SdkError<E>,
        op: Op<'_>,
        status: Option<u16>,
        code: Option<&str>,
        message: Option<&str>,
        bucket_region: Option<String>,
    ) -> String {
        let bucket = &op.url.bucket;
        let n = self.inner.opts.max_attempts;
        let (attempts, times) = (count(n, "attempt", "attempts"), count(n, "time", "times"));
        let at = self.at();
        match err {
            SdkError::DispatchFailure(_) => {
                let cause = innermost(err);
                return format!(
                    "cannot reach {at} after {attempts} ({cause}); {}",
                    self.dispatch_hint(&cause, bucket)
                );
            }
            SdkError::TimeoutError(_) => {
                return format!(
                    "{at} did not answer in time after {attempts}; check the network, or retry later"
                );
            }
            SdkError::ConstructionFailure(_) => {
                if let Some(c) = find_source::<CredentialsError>(err) {
                    return credentials_message(c);
                }
                return format!("cannot build the request ({}); this is a bug", innermost(err));
            }
            _ => {}
        }
        if code == Some("NoSuchBucket") {
            return self.no_such_bucket_reason(bucket);
        }
        let wrong_region = bucket_region
            .as_deref()
            .filter(|r| !r.is_empty() && *r != self.inner.region);
        match (code, status) {
            (Some("NoSuchKey"), _) | (None, Some(404)) => format!(
                "no such object; check the key (`aws s3 ls s3://{bucket}/` lists what is there)"
            ),
            (Some("NoSuchUpload"), _) => "the multipart upload is gone (aborted by another process or a \
                 lifecycle rule); re-run"
                .to_string(),
            (Some("SignatureDoesNotMatch"), _) => "S3 rejected the request signature: the secret access key \
                 does not match the access key id; check AWS_SECRET_ACCESS_KEY (or the profile's \
                 aws_secret_access_key)"
                .to_string(),
            (Some("InvalidAccessKeyId" | "NotSignedUp"), _) => format!(
                "{at} does not know the access key id; check AWS_ACCESS_KEY_ID or AWS_PROFILE (and \
                 --endpoint-url: keys of one server are unknown to another)"
            ),
            (Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken" | "ExpiredTokenException"), _) => {
                "the AWS session token is expired or invalid; refresh the credentials".to_string()
            }
            (Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"), _)
            | (_, Some(301)) => match wrong_region {
                Some(r) => format!(
                    "bucket {bucket:?} is in region {r}, not {}; pass --region {r} (or set AWS_REGION={r})",
                    self.inner.region
                ),
                None => format!(
                    "bucket {bucket:?} is not in region {}; pass --region with the bucket's region",
                    self.inner.region
                ),
            },
            (Some("BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch"), _) => format!(
                "S3 received corrupted bytes (checksum mismatch) {times}; check the network path \
                 (proxies, NICs) and re-run"
            ),
            (Some("PreconditionFailed"), _) | (None, Some(412)) => {
                "the object changed while it was being read (its ETag differs from when the read \
                 started); re-run once it is no longer being written"
                    .to_string()
            }
            (Some("AccessDenied" | "AllAccessDisabled" | "AccountProblem"), _) => format!(
                "access denied; check that the credentials are allowed {} on it and that no bucket policy denies it",
                op.permission
            ),
            (None, Some(403)) => format!(
                // A HEAD answer has no body to tell a bad signature from a missing permission.
                "access denied (HTTP 403); check the access key and secret, and that the credentials \
                 are allowed {} on it",
                op.permission
            ),
            (_, Some(s)) if s >= 500 || s == 429 || code == Some("SlowDown") => format!(
                "S3 kept failing (HTTP {s}{}) after {attempts}; retry later or raise --s3-max-attempts",
                code.map_or(String::new(), |c| format!(" {c}"))
            ),
            (Some(c), s) => format!(
                "S3 error {c}{}{}",
                s.map_or(String::new(), |s| format!(" (HTTP {s})")),
                message.map_or(String::new(), |m| format!(": {m}"))
            ),
            (None, Some(s)) => format!(
                "unexpected HTTP {s} from {at}; is it an S3 server (check --endpoint-url)?"
            ),
            (None, None) => innermost(err),
        }
    }
}

impl S3Client {
    /// What to do about a request that never got an answer, from its deepest cause.
    fn dispatch_hint(&self, cause: &str, bucket: &str) -> String {
        let lower = cause.to_ascii_lowercase();
        if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
            return match &self.inner.ca_bundle {
                Some(b) => format!(
                    "the server's certificate is not signed by a trusted CA, nor by the CA bundle \
                     {b}; add its CA to that file"
                ),
                None => "the server's certificate is not signed by a trusted CA; set AWS_CA_BUNDLE (or \
                     ca_bundle in the AWS profile) to a PEM file of its CA certificate"
                    .to_string(),
            };
        }
        let dns = [
            "dns error",
            "failed to lookup",
            "name or service not known",
            "no address",
        ]
        .iter()
        .any(|s| lower.contains(s));
        if dns && !self.inner.path_style && self.inner.endpoint.is_some() {
            return format!(
                "the virtual-hosted name {bucket}.<endpoint host> does not resolve: pass \
                 --s3-force-path-style (or set `s3 =` / `addressing_style = path` in the AWS profile)"
            );
        }
        "check the network and --endpoint-url".to_string()
    }

    fn at(&self) -> String {
        self.inner
            .endpoint
            .as_deref()
            .map_or_else(|| format!("S3 in {}", self.inner.region), |e| e.to_string())
    }

    fn no_such_bucket_reason(&self, bucket: &str) -> String {
        format!(
            "bucket {bucket:?} does not exist at {}; check the bucket name (and --endpoint-url / --region)",
            self.at()
        )
    }

    /// The error for a bucket found missing by other means than an S3 error code.
    pub(super) fn no_such_bucket(&self, op: Op<'_>) -> Error {
        let request = op.request.map_or(String::new(), |r| format!(" ({r})"));
        Error::new(
            ErrorKind::Remote,
            format!(
                "{} {}{request}: {}",
                op.verb,
                op.url,
                self.no_such_bucket_reason(&op.url.bucket)
            ),
        )
    }
}

/// An interceptor that records the URI of a request and stops it before it is sent.
#[derive(Debug)]
struct Capture(Arc<Mutex<Option<String>>>);

impl aws_sdk_s3::config::Intercept for Capture {
    fn name(&self) -> &'static str {
        "fmprep::Capture"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &aws_sdk_s3::config::RuntimeComponents,
        _cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> std::result::Result<(), aws_sdk_s3::error::BoxError> {
        let uri = context.request().uri().to_string();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(uri);
        Err("captured: not sent".into())
    }
}

/// What was being done when a request failed, for messages.
#[derive(Clone, Copy)]
pub(super) struct Op<'a> {
    /// `cannot read`, `cannot write`, …
    pub verb: &'static str,
    /// The object or prefix.
    pub url: &'a S3Url,
    /// The S3 request (`UploadPart 3`, …), when it helps to know.
    pub request: Option<&'a str>,
    /// The IAM permission the operation needs, for access-denied hints (`s3:GetObject`).
    pub permission: &'static str,
}

impl<'a> Op<'a> {
    pub fn read(url: &'a S3Url) -> Self {
        Op {
            verb: "cannot read",
            url,
            request: None,
            permission: "s3:GetObject",
        }
    }

    pub fn write(url: &'a S3Url) -> Self {
        Op {
            verb: "cannot write",
            url,
            request: None,
            permission: "s3:PutObject",
        }
    }

    pub fn list(url: &'a S3Url) -> Self {
        Op {
            verb: "cannot list",
            url,
            request: None,
            permission: "s3:ListBucket",
        }
    }

    pub fn delete(url: &'a S3Url) -> Self {
        Op {
            verb: "cannot delete",
            url,
            request: None,
            permission: "s3:DeleteObject",
        }
    }

    pub fn request(mut self, request: &'a str) -> Self {
        self.request = Some(request);
        self
    }
}

fn block_on<F>(rt: &'static Runtime, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        // Called from inside a runtime (a library user's async code), where block_on panics:
        // wait on a plain thread instead.
        return std::thread::scope(|s| match s.spawn(|| rt.block_on(fut)).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        });
    }
    rt.block_on(fut)
}

/// `1 attempt`, `5 attempts`.
pub(super) fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

const NO_CREDENTIALS: &str = "no AWS credentials found; set AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an instance/container role";

fn credentials_message(e: &CredentialsError) -> String {
    use aws_config::imds::client::error::ImdsError;
    match e {
        CredentialsError::CredentialsNotLoaded(_) => NO_CREDENTIALS.to_string(),
        // The instance metadata service is the chain's last resort: when it answers with an
        // error (a metadata endpoint without a role, a proxy), no other source had credentials.
        CredentialsError::ProviderError(_) if find_source::<ImdsError>(e).is_some() => format!(
            "{NO_CREDENTIALS} (the instance metadata service answered with an error: {})",
            chain(e)
        ),
        CredentialsError::ProviderTimedOut(_) => "timed out fetching AWS credentials; check the network path \
             to the instance/container metadata service, or set credentials in the environment"
            .to_string(),
        CredentialsError::InvalidConfiguration(_) => format!(
            "the AWS credential configuration is invalid ({}); fix the profile in ~/.aws or the AWS_* variables",
            chain(e)
        ),
        _ => format!(
            "the AWS credential provider failed ({}); check the profile in ~/.aws or the AWS_* variables",
            chain(e)
        ),
    }
}

fn credentials_error(e: CredentialsError) -> Error {
    Error::new(ErrorKind::Remote, credentials_message(&e)).with_source(e)
}

/// The sources of `e` below it, joined on one line.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(one_line(&s.to_string()));
        cur = s.source();
    }
    if parts.is_empty() {
        one_line(&e.to_string())
    } else {
        parts.join(": ")
    }
}

/// The deepest cause of `e`: for network failures the OS error ("Connection refused").
fn innermost(e: &(dyn StdError + 'static)) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    one_line(&cur.to_string())
}

fn find_source<'e, T: StdError + 'static>(e: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(t) = c.downcast_ref::<T>() {
            return Some(t);
        }
        cur = c.source();
    }
    None
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
