//! Credentials from the container credentials endpoint, as in ECS tasks, SageMaker Processing jobs
//! and EKS Pod Identity: a tiny HTTP server on 127.0.0.1 serves the credentials JSON, and fmprep
//! runs with `AWS_CONTAINER_CREDENTIALS_FULL_URI` pointing at it and no other credentials in
//! reach (empty environment, no ~/.aws, no instance metadata), against the in-process S3 server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::s3_server::{Server, ACCESS_KEY, SECRET_KEY};
use super::{assert_same_output, finish, fixtures, local, Run, BIN};

/// The session token the endpoint hands out; S3 requests must carry it.
const SESSION_TOKEN: &str = "fmprep-test-session-token-IQoJb3JpZ2luX2VjEJr";
/// What the container runtime puts in AWS_CONTAINER_AUTHORIZATION_TOKEN; the endpoint checks it.
const AUTH_TOKEN: &str = "fmprep-test-authorization-token-6f1d2c";

/// One request the credentials endpoint answered: its path and Authorization header.
#[derive(Debug, Clone)]
struct CredentialsRequest {
    path: String,
    authorization: Option<String>,
}

/// A credentials endpoint on 127.0.0.1: `GET /creds` with the right Authorization header gets the
/// S3 test server's key as temporary credentials, anything else a 401 or 404. One thread, one
/// connection at a time, which is all the SDK's provider needs.
struct CredentialsEndpoint {
    url: String,
    requests: Arc<Mutex<Vec<CredentialsRequest>>>,
}

impl CredentialsEndpoint {
    fn start() -> CredentialsEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the credentials endpoint");
        let url = format!("http://{}/creds", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        // Detached: it blocks in accept() until the test process exits.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut authorization = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = h.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = Some(value.trim().to_string());
                        }
                    }
                }
                let (status, body) = if path != "/creds" {
                    ("404 Not Found", String::from("{}"))
                } else if authorization.as_deref() != Some(AUTH_TOKEN) {
                    ("401 Unauthorized", String::from("{}"))
                } else {
                    ("200 OK", credentials_json())
                };
                log.lock()
                    .unwrap()
                    .push(CredentialsRequest { path, authorization });
                let mut out = &stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        CredentialsEndpoint { url, requests }
    }

    fn requests(&self) -> Vec<CredentialsRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// The JSON an ECS/SageMaker credentials endpoint serves, valid for another hour.
fn credentials_json() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "AccessKeyId": ACCESS_KEY,
        "SecretAccessKey": SECRET_KEY,
        "Token": SESSION_TOKEN,
        "Expiration": rfc3339(now + 3600),
        "RoleArn": "arn:aws:iam::123456789012:role/fmprep-processing",
    })
    .to_string()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (the civil-from-days algorithm; no date crate here).
fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The binary with nothing but the container credentials variables: no keys, no profile, no
/// config files, no home directory with ~/.aws, no instance metadata.
fn container_cmd(home: &std::path::Path, full_uri: Option<&str>) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("HOME", home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"));
    if let Some(uri) = full_uri {
        c.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN);
    }
    c
}

fn assert_no_secret(r: &Run, what: &str) {
    for secret in [SECRET_KEY, SESSION_TOKEN, AUTH_TOKEN] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{what}: a secret ({}…) appears in the output:\nstdout:\n{}\nstderr:\n{}",
            &secret[..12],
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn container_credentials_endpoint_signs_s3_requests_and_no_secret_is_printed() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/in/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let endpoint = CredentialsEndpoint::start();
    let home = tempfile::tempdir().unwrap();
    let args = |out: &'static str| {
        vec![
            "run".to_string(),
            "s3://bucket/in/reviews.tsv.gz".to_string(),
            "--output".to_string(),
            out.to_string(),
            "--endpoint-url".to_string(),
            server.endpoint(),
            "-v".to_string(),
        ]
    };

    // Without the endpoint there is nothing to sign with: the environment really is empty.
    let none = finish(
        container_cmd(home.path(), None)
            .args(args("s3://bucket/none/"))
            .output()
            .unwrap(),
    );
    assert_eq!(
        none.code, 5,
        "no credentials is an S3 error; stderr:\n{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("no AWS credentials found"),
        "{}",
        none.stderr
    );
    assert!(endpoint.requests().is_empty());

    // With it: the run reads and writes S3, every request signed with the endpoint's session.
    server.clear_log();
    let r = finish(
        container_cmd(home.path(), Some(&endpoint.url))
            .args(args("s3://bucket/out/"))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "run with container credentials; stderr:\n{}", r.stderr);
    let gz = f.gz.to_string_lossy();
    assert_same_output(&local(&["run", &gz]), &server, "bucket/out");
    let log = server.log();
    assert!(!log.is_empty());
    for req in &log {
        assert_eq!(
            req.session_token.as_deref(),
            Some(SESSION_TOKEN),
            "{} {} was not signed with the endpoint's session",
            req.op,
            req.path
        );
        // (A 404 is expected: the HEAD that finds no finished run at the output.)
        assert!(
            req.status != 401 && req.status != 403,
            "{} {} was refused: {}",
            req.op,
            req.path,
            req.status
        );
    }
    let asked = endpoint.requests();
    assert!(!asked.is_empty(), "the credentials endpoint was never asked");
    for a in &asked {
        assert_eq!(a.path, "/creds");
        assert_eq!(a.authorization.as_deref(), Some(AUTH_TOKEN));
    }

    // The same with JSON logs, and a failing run (a finished output without --overwrite): no
    // secret in any line, whatever the outcome.
    assert_no_secret(&r, "verbose run");
    let mut json_args = args("s3://bucket/out/");
    json_args.extend(["--log-format".to_string(), "json".to_string()]);
    let refused = finish(
        container_cmd(home.path(), Some(&endpoint.url))
            .args(json_args)
            .output()
            .unwrap(),
    );
    assert_eq!(refused.code, 6, "stderr:\n{}", refused.stderr);
    assert_no_secret(&refused, "refused run with JSON logs");
    // An endpoint that refuses the token: a clear credentials error, still no secret printed.
    let refused_token = finish(
        container_cmd(home.path(), Some(&endpoint.url))
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-the-token")
            .args(args("s3://bucket/other/"))
            .output()
            .unwrap(),
    );
    assert_eq!(refused_token.code, 5, "stderr:\n{}", refused_token.stderr);
    assert!(
        refused_token.error_line().contains("credential"),
        "{}",
        refused_token.stderr
    );
    assert_no_secret(&refused_token, "run with a refused token");
    assert!(!server.path("bucket/other").exists());

    let manifest = std::fs::read_to_string(server.path("bucket/out/manifest.json")).unwrap();
    for secret in [SECRET_KEY, SESSION_TOKEN, AUTH_TOKEN, ACCESS_KEY] {
        assert!(!manifest.contains(secret), "the manifest holds a credential");
    }
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
}

/// An instance metadata endpoint on 127.0.0.1 that answers every request (the IMDSv2 token PUT,
/// the role GETs) with `status`, counting them.
fn failing_imds(status: &'static str) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the metadata endpoint");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(0usize));
    let count = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            *count.lock().unwrap() += 1;
            let mut out = &stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, hits)
}

/// No credentials anywhere, and an instance metadata endpoint that answers with errors (a host
/// with a metadata service but no role, a proxy in the way): the message is still the documented
/// "no AWS credentials found", not the metadata client's error.
#[test]
fn no_credentials_with_a_failing_metadata_endpoint_says_so() {
    let home = tempfile::tempdir().unwrap();
    for status in ["500 Internal Server Error", "403 Forbidden"] {
        let (imds, hits) = failing_imds(status);
        let r = finish(
            container_cmd(home.path(), None)
                .env_remove("AWS_EC2_METADATA_DISABLED")
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
                .args([
                    "run",
                    "s3://bucket/in/reviews.tsv.gz",
                    "--output",
                    "out",
                    "--endpoint-url",
                    "http://127.0.0.1:9",
                ])
                .output()
                .unwrap(),
        );
        assert!(*hits.lock().unwrap() > 0, "the metadata endpoint was never asked");
        assert_eq!(r.code, 5, "{status}: stderr:\n{}", r.stderr);
        let msg = r.error_line();
        assert!(msg.contains("no AWS credentials found"), "{status}: {msg}");
        assert!(msg.contains("instance metadata service"), "{status}: {msg}");
    }
}

/// `--s3-max-attempts 1`: "after 1 attempt", not "1 attempts".
#[test]
fn one_attempt_is_singular() {
    // A port that refuses connections: bind one, then close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = tempfile::tempdir().unwrap();
    let r = finish(
        container_cmd(home.path(), None)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .args([
                "inspect",
                "s3://bucket/x.protobuf",
                "--endpoint-url",
                &format!("http://127.0.0.1:{port}"),
                "--s3-max-attempts",
                "1",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 5, "stderr:\n{}", r.stderr);
    let msg = r.error_line();
    assert!(msg.contains("after 1 attempt ("), "{msg}");
}
