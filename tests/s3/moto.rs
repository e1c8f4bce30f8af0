//! moto (PyPI `moto[server]`) as a second, independent S3 implementation: `moto_server` started
//! as a subprocess on 127.0.0.1 (a free port), killed on drop. Unlike s3s-fs it implements
//! ListMultipartUploads. `FMPREP_MOTO_SERVER` names the executable (scripts/test.sh installs it);
//! without it the moto tests print a loud SKIPPED line, or fail when `FMPREP_REQUIRE_MOTO=1`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server. Dropping it kills it.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Start moto with one bucket, `bucket`; `None` (after a SKIPPED line) when it is not
    /// installed and not required.
    pub fn start(test: &str) -> Option<Moto> {
        let Some(exe) = std::env::var_os("FMPREP_MOTO_SERVER").filter(|v| !v.is_empty()) else {
            assert!(
                std::env::var("FMPREP_REQUIRE_MOTO").as_deref() != Ok("1"),
                "FMPREP_REQUIRE_MOTO=1 but FMPREP_MOTO_SERVER is not set"
            );
            eprintln!(
                "SKIPPED {test}: moto is not installed (set FMPREP_MOTO_SERVER to a moto_server from \
                 `pip install 'moto[server]>=5.2,<5.3'`; scripts/test.sh does)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.to_string_lossy()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((status, _)) = moto.try_http("GET", "/", "") {
                if status > 0 {
                    break;
                }
            }
            if let Ok(Some(st)) = moto.child.try_wait() {
                panic!("moto_server exited: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let (status, body) = moto.http("PUT", "/bucket", "");
        assert_eq!(status, 200, "create bucket: {body}");
        Some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One unsigned HTTP/1.1 request (moto's server mode does not check signatures): status and
    /// body.
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        self.try_http(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn try_http(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut resp = String::new();
        s.read_to_string(&mut resp)?;
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
        Ok((status, body))
    }

    /// Start a multipart upload of `bucket/key` (as a killed run leaves one); its upload id.
    pub fn create_upload(&self, key: &str) -> String {
        let (status, body) = self.http("POST", &format!("/bucket/{key}?uploads"), "");
        assert_eq!(status, 200, "CreateMultipartUpload {key}: {body}");
        xml_values(&body, "UploadId").pop().expect("an upload id")
    }

    /// The keys of the multipart uploads open in `bucket`, sorted.
    pub fn open_uploads(&self) -> Vec<String> {
        let (status, body) = self.http("GET", "/bucket?uploads", "");
        assert_eq!(status, 200, "ListMultipartUploads: {body}");
        let uploads = body.split("<Upload>").skip(1);
        let mut keys: Vec<String> = uploads
            .filter_map(|u| xml_values(u, "Key").into_iter().next())
            .collect();
        keys.sort();
        keys
    }

    /// The object keys under `prefix` in `bucket`, sorted.
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        let (status, body) = self.http("GET", &format!("/bucket?list-type=2&prefix={prefix}"), "");
        assert_eq!(status, 200, "ListObjectsV2: {body}");
        let mut keys = xml_values(&body, "Key");
        keys.sort();
        keys
    }

    /// Put a small object.
    pub fn put(&self, key: &str, body: &str) {
        let (status, resp) = self.http("PUT", &format!("/bucket/{key}"), body);
        assert_eq!(status, 200, "PutObject {key}: {resp}");
    }
}

/// The text of every `<tag>` element in `xml`.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
