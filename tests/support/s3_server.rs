//! A real S3 server for the tests: s3s-fs over a temporary directory on 127.0.0.1 (a random free
//! port), in-process, with a fixed access key so that SigV4 signatures are verified.
//!
//! Requests pass through a small hyper layer in front of s3s that logs them, tracks how many of
//! each kind are in flight at once, and injects faults chosen by the test: an HTTP error status,
//! a delay, a body cut off mid-transfer, or a wrong-region redirect.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};

pub const ACCESS_KEY: &str = "AKIAFMPREPTEST000001";
pub const SECRET_KEY: &str = "fmprep-test-secret-key-0123456789abcdef";
/// A second principal that may read and list but not write or delete: its PUT, POST and DELETE
/// requests are answered 403 AccessDenied, as under an IAM policy of `s3:Get*` and `s3:List*`.
pub const READONLY_ACCESS_KEY: &str = "AKIAFMPREPREADONLY01";
pub const READONLY_SECRET_KEY: &str = "fmprep-test-read-only-secret-0123456789";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// What to do to a matching request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer with this status and S3 error code, without passing the request on.
    Status(u16, &'static str),
    /// Pass the request on after this delay.
    Delay(Duration),
    /// Pass the request on, then send only half of the answer's body and break the connection.
    Truncate,
    /// Answer 301 PermanentRedirect naming this region as the bucket's.
    Redirect(&'static str),
    /// Flip one bit in the middle of the request body, as a bad link could, then pass it on.
    Corrupt,
}

/// A fault rule: requests of kind `op` (see [`op_name`]) whose `path?query` contains `path` are
/// let through `skip` times, then get `action` for `times` matches.
#[derive(Debug, Clone)]
pub struct Rule {
    pub op: &'static str,
    pub path: String,
    pub skip: usize,
    pub times: usize,
    pub action: Action,
    seen: usize,
}

impl Rule {
    pub fn new(op: &'static str, path: &str, action: Action) -> Rule {
        Rule {
            op,
            path: path.to_string(),
            skip: 0,
            times: usize::MAX,
            action,
            seen: 0,
        }
    }

    pub fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub op: &'static str,
    pub path: String,
    pub query: String,
    pub range: Option<String>,
    /// The CRC32C the client sent for the body: `header` (x-amz-checksum-crc32c) or `trailer`
    /// (announced in x-amz-trailer, sent after an aws-chunked body).
    pub crc32c: Option<&'static str>,
    pub status: u16,
    pub injected: bool,
    /// The session token the request was signed with (x-amz-security-token), if any.
    pub session_token: Option<String>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    log: Vec<Logged>,
    in_flight: Vec<(&'static str, usize, usize, usize)>, // op, now, max, arrived
}

impl State {
    fn enter(&mut self, op: &'static str) {
        match self.in_flight.iter_mut().find(|e| e.0 == op) {
            Some(e) => {
                e.1 += 1;
                e.2 = e.2.max(e.1);
                e.3 += 1;
            }
            None => self.in_flight.push((op, 1, 1, 1)),
        }
    }

    fn leave(&mut self, op: &'static str) {
        if let Some(e) = self.in_flight.iter_mut().find(|e| e.0 == op) {
            e.1 -= 1;
        }
    }
}

/// The S3 API request a raw HTTP request is.
pub fn op_name(method: &str, query: &str, has_range: bool) -> &'static str {
    let has = |k: &str| {
        query
            .split('&')
            .any(|kv| kv == k || kv.starts_with(&format!("{k}=")))
    };
    match method {
        "PUT" if has("partNumber") => "UploadPart",
        "PUT" => "PutObject",
        "POST" if has("uploads") => "CreateMultipartUpload",
        "POST" if has("uploadId") => "CompleteMultipartUpload",
        "DELETE" if has("uploadId") => "AbortMultipartUpload",
        "DELETE" => "DeleteObject",
        "GET" if has("list-type") => "ListObjectsV2",
        "GET" if has("uploads") => "ListMultipartUploads",
        "GET" if has_range => "GetRange",
        "GET" => "GetObject",
        "HEAD" => "Head",
        _ => "Other",
    }
}

/// A running server. Dropping it stops it.
pub struct Server {
    /// Served over HTTPS ([`Server::start_tls`]).
    pub https: bool,
    pub addr: SocketAddr,
    pub root: PathBuf,
    state: Arc<Mutex<State>>,
    rt: Option<tokio::runtime::Runtime>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Start a server over a new temporary directory with one bucket, `bucket`, on a free port.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("bucket")).expect("create bucket");
        let mut server = Server::serve(dir.path(), "127.0.0.1:0");
        server._dir = Some(dir);
        server
    }

    /// Serve the directory `root` (each sub-directory a bucket) on `addr`. Files already there get
    /// an ETag (see [`seed_etag`]).
    pub fn serve(root: &Path, addr: &str) -> Server {
        Server::serve_with(root, addr, None)
    }

    /// [`Server::start`] over HTTPS with the PEM certificate chain `cert` and PKCS#8 key `key`.
    pub fn start_tls(cert: &[u8], key: &[u8]) -> Server {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key).expect("key PEM");
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("bucket")).expect("create bucket");
        let mut server = Server::serve_with(dir.path(), "127.0.0.1:0", Some(Arc::new(config)));
        server._dir = Some(dir);
        server
    }

    fn serve_with(root: &Path, addr: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let root = root.canonicalize().expect("canonical root");
        for bucket in std::fs::read_dir(&root).expect("read root").flatten() {
            if bucket.path().is_dir() {
                let name = bucket.file_name().to_string_lossy().into_owned();
                let mut keys = Vec::new();
                walk(&bucket.path(), &bucket.path(), &mut keys);
                for key in keys {
                    seed_etag(&root, &name, &key);
                }
            }
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("server runtime");
        let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs");
        let mut b = S3ServiceBuilder::new(fs);
        let mut auth = SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY);
        auth.register(READONLY_ACCESS_KEY.to_string(), READONLY_SECRET_KEY.into());
        b.set_auth(auth);
        let service = b.build();
        let state = Arc::new(Mutex::new(State::default()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .expect("bind the server address");
        let addr = listener.local_addr().expect("local addr");
        let st = state.clone();
        let https = tls.is_some();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        rt.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (svc, st, acceptor) = (service.clone(), st.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(move |req| handle(svc.clone(), st.clone(), req));
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        // A client that rejects the certificate ends the handshake: nothing to serve.
                        Some(a) => {
                            if let Ok(tls) = a.accept(socket).await {
                                let _ = http.serve_connection(TokioIo::new(tls), handler).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(socket), handler).await;
                        }
                    }
                });
            }
        });
        Server {
            https,
            addr,
            root,
            state,
            rt: Some(rt),
            _dir: None,
        }
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Where the object `bucket/key` is stored.
    pub fn path(&self, bucket_key: &str) -> PathBuf {
        self.root.join(bucket_key)
    }

    /// Store an object directly in the data directory.
    pub fn put_file(&self, bucket_key: &str, data: &[u8]) {
        let p = self.path(bucket_key);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, data).expect("write object");
        let (bucket, key) = bucket_key.split_once('/').expect("bucket/key");
        seed_etag(&self.root, bucket, key);
    }

    pub fn add_rule(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    pub fn count(&self, op: &str) -> usize {
        self.log().iter().filter(|l| l.op == op).count()
    }

    /// The most requests of kind `op` that were in flight at once.
    pub fn max_in_flight(&self, op: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.in_flight.iter().find(|e| e.0 == op).map_or(0, |e| e.2)
    }

    /// How many requests of kind `op` have arrived, finished or not.
    pub fn arrived(&self, op: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.in_flight.iter().find(|e| e.0 == op).map_or(0, |e| e.3)
    }

    /// Files s3s-fs keeps for open multipart uploads (`.upload-<id>.json`, `.upload_id-<id>.part-<n>`,
    /// per-upload metadata). s3s-fs 0.14 answers ListMultipartUploads with 501, so its data
    /// directory is the proof that no upload was left open.
    pub fn open_upload_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .expect("read root")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".upload") || n.contains(".upload-"))
            .collect()
    }

    /// Every object under `bucket/prefix` (relative paths, sorted), read from the data directory.
    pub fn objects(&self, bucket_prefix: &str) -> Vec<String> {
        let base = self.path(bucket_prefix);
        let mut out = Vec::new();
        walk(&base, &base, &mut out);
        out.sort();
        out
    }
}

/// Record an ETag for a file put into the data directory behind s3s-fs's back. Without one,
/// s3s-fs computes the MD5 of the whole file on every HEAD and GET, which turns a ranged read of
/// a large object quadratic. The ETag is taken from size and modification time, as web servers do.
fn seed_etag(root: &Path, bucket: &str, key: &str) {
    let info = root.join(format!(
        ".bucket-{}.object-{}.internal.json",
        b64(bucket),
        b64(key)
    ));
    if info.exists() {
        return;
    }
    let meta = std::fs::metadata(root.join(bucket).join(key)).expect("object metadata");
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("{:x}-{mtime:x}", meta.len());
    std::fs::write(info, format!("{{\"e_tag\":\"{etag}\"}}")).expect("write object info");
}

/// Base64, URL-safe alphabet without padding: how s3s-fs names its per-object files.
fn b64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(base, &p, out);
        } else {
            out.push(
                p.strip_prefix(base)
                    .expect("under base")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

fn error_xml(code: &str, extra: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the test \
         server</Message>{extra}<RequestId>test</RequestId></Error>"
    )
}

fn full<B: Into<Bytes>>(b: B) -> Body {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn handle(
    svc: S3Service,
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let range = req
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let op = op_name(&method, &query, range.is_some());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let crc32c = if !header("x-amz-checksum-crc32c").is_empty() {
        Some("header")
    } else if header("x-amz-trailer").eq_ignore_ascii_case("x-amz-checksum-crc32c") {
        Some("trailer")
    } else {
        None
    };
    let session_token = Some(header("x-amz-security-token"))
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let target = format!("{path}?{query}");
    let read_only = header("authorization").contains(&format!("Credential={READONLY_ACCESS_KEY}/"));
    let action = if read_only && matches!(method.as_str(), "PUT" | "POST" | "DELETE") {
        state.lock().unwrap().enter(op);
        Some(Action::Status(403, "AccessDenied"))
    } else {
        let mut st = state.lock().unwrap();
        st.enter(op);
        let mut action = None;
        for r in st.rules.iter_mut() {
            if r.op == op && target.contains(&r.path) {
                r.seen += 1;
                if r.seen > r.skip && r.seen - r.skip <= r.times {
                    action = Some(r.action.clone());
                    break;
                }
            }
        }
        action
    };
    let is_head = method == "HEAD";
    let (resp, injected) = match action {
        Some(Action::Status(status, code)) => {
            // Read the request body first, as a real server would before answering.
            let _ = req.into_body().collect().await;
            let body = if is_head {
                full("")
            } else {
                full(error_xml(code, ""))
            };
            let resp = Response::builder()
                .status(status)
                .header("content-type", "application/xml")
                .body(body)
                .expect("response");
            (resp, true)
        }
        Some(Action::Redirect(region)) => {
            let _ = req.into_body().collect().await;
            let body = if is_head {
                full("")
            } else {
                full(error_xml(
                    "PermanentRedirect",
                    &format!("<Endpoint>s3.{region}.amazonaws.com</Endpoint>"),
                ))
            };
            let resp = Response::builder()
                .status(301)
                .header("x-amz-bucket-region", region)
                .header("content-type", "application/xml")
                .body(body)
                .expect("response");
            (resp, true)
        }
        Some(Action::Corrupt) => {
            let (parts, body) = req.into_parts();
            let mut data = body
                .collect()
                .await
                .map(|c| c.to_bytes().to_vec())
                .unwrap_or_default();
            let middle = data.len() / 2;
            if let Some(b) = data.get_mut(middle) {
                *b ^= 0x10;
            }
            let resp = match svc.call(Request::from_parts(parts, s3s::Body::from(data))).await {
                Ok(resp) => resp.map(|b| b.boxed()),
                Err(e) => Response::builder()
                    .status(500)
                    .body(full(error_xml(
                        "InternalError",
                        &format!("<Detail>{e:?}</Detail>"),
                    )))
                    .expect("response"),
            };
            (resp, true)
        }
        Some(Action::Delay(d)) => {
            tokio::time::sleep(d).await;
            (forward(&svc, req).await, false)
        }
        Some(Action::Truncate) => {
            let resp = forward(&svc, req).await;
            let (parts, body) = resp.into_parts();
            let data = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            let half = data.slice(..data.len() / 2);
            (Response::from_parts(parts, Truncated(Some(half)).boxed()), true)
        }
        None => (forward(&svc, req).await, false),
    };
    let mut st = state.lock().unwrap();
    st.leave(op);
    st.log.push(Logged {
        op,
        path,
        query,
        range,
        crc32c,
        status: resp.status().as_u16(),
        injected,
        session_token,
    });
    Ok(resp)
}

async fn forward(svc: &S3Service, req: Request<Incoming>) -> Response<Body> {
    match hyper::service::Service::call(svc, req).await {
        Ok(resp) => resp.map(|b| b.boxed()),
        Err(e) => Response::builder()
            .status(500)
            .body(full(error_xml(
                "InternalError",
                &format!("<Detail>{e:?}</Detail>"),
            )))
            .expect("response"),
    }
}

/// A body that yields some data and then fails, so hyper breaks the connection mid-body.
struct Truncated(Option<Bytes>);

impl http_body::Body for Truncated {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.0.take() {
            Some(d) => Poll::Ready(Some(Ok(Frame::data(d)))),
            None => Poll::Ready(Some(Err("connection cut by the test server".into()))),
        }
    }
}

#[cfg(test)]
#[test]
fn b64_names_files_as_s3s_fs_does() {
    assert_eq!(b64("bucket"), "YnVja2V0");
    assert_eq!(b64("big.tsv.gz"), "YmlnLnRzdi5neg");
    assert_eq!(b64("a/b"), "YS9i");
}
