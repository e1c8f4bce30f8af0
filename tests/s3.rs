//! S3 input and output against a real S3 server (s3s-fs, started in-process on 127.0.0.1 by each
//! test over its own temporary directory, SigV4 verified), through the real `fmprep` binary and
//! the library. No mocked client: requests go through aws-sdk-s3's HTTP stack.
#![cfg(feature = "s3")]

#[path = "support/s3_server.rs"]
mod s3_server;

#[path = "s3/container_credentials.rs"]
mod container_credentials;
#[path = "s3/endpoints.rs"]
mod endpoints;
#[path = "s3/files.rs"]
mod files;
#[path = "s3/inputs.rs"]
mod inputs;
#[path = "s3/moto.rs"]
mod moto;
#[path = "s3/outputs.rs"]
mod outputs;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Duration;

use fmprep::store::s3::{S3Client, S3Store};
use fmprep::store::{Store, MANIFEST};
use fmprep::{ErrorKind, S3Options};
use s3_server::{Action, Rule, Server, ACCESS_KEY, SECRET_KEY};

const BIN: &str = env!("CARGO_BIN_EXE_fmprep");

/// The process environment the library tests see: the server's key, no profile, no instance
/// metadata, no endpoint (each test passes its own server's). Set once, before any client exists.
fn env_setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/fmprep-test/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/fmprep-test/credentials",
        );
        for v in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "AWS_MAX_ATTEMPTS",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ] {
            std::env::remove_var(v);
        }
    });
}

struct Fixtures {
    _dir: tempfile::TempDir,
    /// `fmprep synth --rows 20000 --seed 1`, gzip (2.4 MB).
    gz: PathBuf,
    /// The same rows, plain (7.2 MB: three ranged GETs at the 5 MiB minimum part size).
    tsv: PathBuf,
    /// Preprocess-layout CSVs big enough that `prepare` writes a train file of over 5 MiB.
    pre: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        env_setup();
        let dir = tempfile::tempdir().expect("tempdir");
        let gz = dir.path().join("reviews.tsv.gz");
        let tsv = dir.path().join("reviews.tsv");
        for p in [&gz, &tsv] {
            let out = fmprep_cmd()
                .args(["synth", "--rows", "20000", "--seed", "1", "--output"])
                .arg(p)
                .output()
                .expect("run synth");
            assert!(
                out.status.success(),
                "synth: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pre = dir.path().join("pre");
        for (name, rows) in [
            ("train/train.csv", 120_000),
            ("validate/validate.csv", 2_000),
            ("test/test.csv", 25_000),
        ] {
            let p = pre.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let mut w = std::io::BufWriter::new(std::fs::File::create(p).unwrap());
            writeln!(w, "customer,product,star_rating").unwrap();
            for i in 0..rows {
                writeln!(w, "{},{},{}", i % 5_000, (i * 7) % 3_000, 1 + i % 5).unwrap();
            }
        }
        Fixtures {
            _dir: dir,
            gz,
            tsv,
            pre,
        }
    })
}

/// The binary with a clean AWS environment (the test server's credentials).
fn fmprep_cmd() -> Command {
    env_setup();
    let mut c = Command::new(BIN);
    c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/fmprep-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/fmprep-test/credentials",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3");
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}", self.stderr);
        self
    }

    /// The one-line error message (the last stderr line).
    fn error_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or("")
    }
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run the binary against `server`, the endpoint given by AWS_ENDPOINT_URL as in production.
fn fmprep(server: &Server, args: &[&str]) -> Run {
    finish(
        fmprep_cmd()
            .env("AWS_ENDPOINT_URL", server.endpoint())
            .args(args)
            .output()
            .expect("run fmprep"),
    )
}

/// A local run of the same command (cached per argument list): the reference output.
fn local(args: &[&str]) -> PathBuf {
    static CACHE: Mutex<Option<(tempfile::TempDir, HashMap<String, PathBuf>)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap();
    let (dir, map) = cache.get_or_insert_with(|| (tempfile::tempdir().unwrap(), HashMap::new()));
    let key = args.join(" ");
    if let Some(p) = map.get(&key) {
        return p.clone();
    }
    let out = dir.path().join(format!("out{}", map.len()));
    let mut full: Vec<&str> = args.to_vec();
    let out_s = out.to_string_lossy().into_owned();
    full.extend(["--output", &out_s]);
    let r = finish(fmprep_cmd().args(&full).output().expect("run fmprep"));
    r.ok();
    map.insert(key, out.clone());
    out
}

fn local_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// The S3 output under `bucket/prefix` holds exactly the local run's files, byte for byte, and
/// a manifest with the same counts, files and dimensions.
fn assert_same_output(local_dir: &Path, server: &Server, bucket_prefix: &str) {
    let want = local_files(local_dir);
    assert_eq!(
        server.objects(bucket_prefix),
        want,
        "object keys differ from the local layout"
    );
    for f in &want {
        let a = std::fs::read(local_dir.join(f)).unwrap();
        let b = std::fs::read(server.path(&format!("{bucket_prefix}/{f}"))).unwrap();
        if f == MANIFEST {
            let (a, b): (serde_json::Value, serde_json::Value) = (
                serde_json::from_slice(&a).unwrap(),
                serde_json::from_slice(&b).unwrap(),
            );
            for field in [
                "counts",
                "files",
                "feature_dim",
                "n_customers",
                "n_products",
                "hyperparameters",
            ] {
                assert_eq!(a[field], b[field], "manifest field {field}");
            }
        } else {
            assert!(
                a == b,
                "{f}: S3 object differs from the local file ({} vs {} bytes)",
                b.len(),
                a.len()
            );
        }
    }
}

fn assert_nothing_left_open(server: &Server) {
    assert_eq!(
        server.open_upload_files(),
        Vec::<String>::new(),
        "multipart uploads left open"
    );
}

fn upload_dir(server: &Server, local_dir: &Path, bucket_prefix: &str) {
    for f in local_files(local_dir) {
        server.put_file(
            &format!("{bucket_prefix}/{f}"),
            &std::fs::read(local_dir.join(f)).unwrap(),
        );
    }
}

fn options(server: &Server) -> S3Options {
    env_setup();
    S3Options {
        endpoint_url: Some(server.endpoint()),
        ..S3Options::default()
    }
}

/// Deterministic bytes that do not repeat with any short period.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn run_from_s3_to_s3_matches_a_local_run_and_inspect_reads_it_back() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/in/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let gz = f.gz.to_string_lossy();
    let want = local(&["run", &gz, "--seed", "7", "--test-chunk", "700"]);
    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/in/reviews.tsv.gz",
            "--output",
            "s3://bucket/out/",
            "--seed",
            "7",
            "--test-chunk",
            "700",
        ],
    );
    r.ok();
    let manifest: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(manifest["input"], "s3://bucket/in/reviews.tsv.gz");
    assert_eq!(manifest["output"], "s3://bucket/out");
    assert_same_output(&want, &server, "bucket/out");
    assert!(server.count("PutObject") >= 5, "small files go up as single PUTs");
    assert_eq!(server.count("UploadPart"), 0);

    // inspect reads a prefix (all *.protobuf, natural order) and single objects back from S3.
    let local_inspect = finish(fmprep_cmd().args(["inspect"]).arg(&want).output().unwrap());
    let remote = fmprep(&server, &["inspect", "s3://bucket/out/", "--head", "2"]);
    remote.ok();
    let total = |r: &Run| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(r.stdout.lines().last().unwrap()).unwrap()["total"].clone()
    };
    assert_eq!(total(&remote), total(&local_inspect));
    let remote_files: serde_json::Value =
        serde_json::from_str(remote.stdout.lines().last().unwrap()).unwrap();
    let paths: Vec<&str> = remote_files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths[..3],
        [
            "s3://bucket/out/test/test_0.protobuf",
            "s3://bucket/out/test/test_1.protobuf",
            "s3://bucket/out/test/test_2.protobuf"
        ]
    );
    assert!(paths.contains(&"s3://bucket/out/train/train.protobuf"));
    assert_eq!(
        remote.stdout.lines().count(),
        3,
        "two --head records, then the summary"
    );
    let one = fmprep(&server, &["inspect", "s3://bucket/out/train/train.protobuf"]);
    one.ok();
    assert_eq!(
        total(&one)["records"],
        manifest["counts"]["train"],
        "inspect of one object counts the train split"
    );
}

#[test]
fn preprocess_and_prepare_through_s3_read_in_concurrent_ranges() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv", &std::fs::read(&f.tsv).unwrap());
    let tsv = f.tsv.to_string_lossy();
    let want_pre = local(&["preprocess", &tsv]);
    let want_prep = local(&["prepare", &want_pre.to_string_lossy()]);
    // Slow ranged GETs so that both 5 MiB ranges are seen in flight together.
    server.add_rule(Rule::new(
        "GetRange",
        "/bucket/reviews.tsv",
        Action::Delay(Duration::from_millis(400)),
    ));
    let common = ["--s3-part-size", "5MiB", "--s3-concurrency", "4"];
    let mut args = vec![
        "preprocess",
        "s3://bucket/reviews.tsv",
        "--output",
        "s3://bucket/pre",
    ];
    args.extend(common);
    fmprep(&server, &args).ok();
    let ranges: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.op == "GetRange" && l.path == "/bucket/reviews.tsv")
        .filter_map(|l| l.range.clone())
        .collect();
    let mut ranges = ranges;
    ranges.sort();
    assert_eq!(
        ranges,
        [
            "bytes=0-1048575".to_string(),
            "bytes=1048576-6291455".to_string(),
            format!("bytes=6291456-{}", std::fs::metadata(&f.tsv).unwrap().len() - 1),
        ],
        "a 7.2 MB object: a 1 MiB first range, then 5 MiB ranges"
    );
    assert_eq!(
        server.max_in_flight("GetRange"),
        3,
        "the ranges are fetched concurrently"
    );
    assert_same_output(&want_pre, &server, "bucket/pre");

    // prepare reads the preprocess output from S3 (manifest, maps, CSVs).
    let mut args = vec!["prepare", "s3://bucket/pre", "--output", "s3://bucket/prepared"];
    args.extend(common);
    fmprep(&server, &args).ok();
    assert_same_output(&want_prep, &server, "bucket/prepared");
}

#[test]
fn prepare_uploads_large_files_in_parts_and_retries_transient_faults() {
    let f = fixtures();
    let server = Server::start();
    upload_dir(&server, &f.pre, "bucket/pre");
    let want = local(&["prepare", &f.pre.to_string_lossy()]);
    assert!(
        std::fs::metadata(want.join("train/train.protobuf"))
            .unwrap()
            .len()
            > 5 << 20
    );
    // Transient faults on the way: each is retried by the SDK and the run succeeds.
    server.add_rule(
        Rule::new(
            "UploadPart",
            "train.protobuf",
            Action::Status(500, "InternalError"),
        )
        .times(1),
    );
    server.add_rule(
        Rule::new(
            "CreateMultipartUpload",
            "train.protobuf",
            Action::Status(503, "SlowDown"),
        )
        .times(1),
    );
    server.add_rule(
        Rule::new(
            "CompleteMultipartUpload",
            "train.protobuf",
            Action::Status(503, "ServiceUnavailable"),
        )
        .times(1),
    );
    server.add_rule(
        Rule::new(
            "PutObject",
            "test_1.protobuf",
            Action::Delay(Duration::from_millis(700)),
        )
        .times(1),
    );
    // A bit flipped in flight: the server's checksum check rejects the part and it is sent again.
    server.add_rule(Rule::new("UploadPart", "partNumber=2&", Action::Corrupt).times(1));
    let r = fmprep(
        &server,
        &[
            "prepare",
            "s3://bucket/pre/",
            "--output",
            "s3://bucket/prepared/",
            "--s3-part-size",
            "5MiB",
        ],
    );
    r.ok();
    assert_same_output(&want, &server, "bucket/prepared");
    let parts: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.op == "UploadPart")
        .collect();
    assert_eq!(
        parts.iter().filter(|l| l.status == 200).count(),
        2,
        "train.protobuf went up in two parts"
    );
    assert!(
        parts.iter().filter(|l| l.injected).count() >= 2,
        "the injected part faults happened"
    );
    let uploads = server
        .log()
        .into_iter()
        .filter(|l| l.op == "UploadPart" || l.op == "PutObject");
    for l in uploads {
        assert_eq!(l.crc32c, Some("header"), "every upload carries its CRC32C: {l:?}");
    }
    assert_nothing_left_open(&server);
}

#[test]
fn transient_read_faults_are_retried_to_success() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv", &std::fs::read(&f.tsv).unwrap());
    let want = local(&["run", &f.tsv.to_string_lossy()]);
    server.add_rule(Rule::new("Head", "reviews.tsv", Action::Status(503, "SlowDown")).times(1));
    // The second range: first its body breaks off mid-transfer (retried by fmprep per range),
    // then it gets a 500 (retried by the SDK), then it is slow.
    server.add_rule(
        Rule::new("GetRange", "reviews.tsv", Action::Truncate)
            .skip(1)
            .times(1),
    );
    server.add_rule(
        Rule::new("GetRange", "reviews.tsv", Action::Status(500, "InternalError"))
            .skip(1)
            .times(1),
    );
    server.add_rule(
        Rule::new(
            "GetRange",
            "reviews.tsv",
            Action::Delay(Duration::from_millis(300)),
        )
        .times(2),
    );
    server.add_rule(Rule::new("PutObject", "customers.tsv", Action::Status(503, "SlowDown")).times(2));
    server.add_rule(Rule::new("PutObject", "validate.protobuf", Action::Corrupt).times(1));
    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/reviews.tsv",
            "--output",
            "s3://bucket/out",
            "--s3-part-size",
            "5MiB",
        ],
    );
    r.ok();
    assert_same_output(&want, &server, "bucket/out");
    let injected = server.log().iter().filter(|l| l.injected).count();
    assert_eq!(injected, 6, "every injected fault was hit: {:#?}", server.log());
}

#[test]
fn permanent_fault_aborts_the_upload_writes_no_manifest_and_a_rerun_succeeds() {
    let f = fixtures();
    let server = Server::start();
    upload_dir(&server, &f.pre, "bucket/pre");
    let want = local(&["prepare", &f.pre.to_string_lossy()]);
    // Part 2 of train.protobuf always fails while part 1 is stored, so the upload must be
    // aborted to leave nothing behind.
    server.add_rule(Rule::new(
        "UploadPart",
        "partNumber=2&",
        Action::Status(500, "InternalError"),
    ));
    let args = [
        "prepare",
        "s3://bucket/pre",
        "--output",
        "s3://bucket/prepared",
        "--s3-part-size",
        "5MiB",
        "--s3-max-attempts",
        "2",
    ];
    let r = fmprep(&server, &args);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let msg = r.error_line();
    assert!(msg.contains("s3://bucket/prepared/train/train.protobuf"), "{msg}");
    assert!(msg.contains("UploadPart 2") && msg.contains("HTTP 500"), "{msg}");
    assert!(!server.path("bucket/prepared").join(MANIFEST).exists());
    assert!(!server.path("bucket/prepared/train/train.protobuf").exists());
    assert!(server.count("AbortMultipartUpload") >= 1);
    assert_nothing_left_open(&server);

    server.clear_rules();
    fmprep(&server, &args).ok();
    assert_same_output(&want, &server, "bucket/prepared");
    assert_nothing_left_open(&server);
}

#[test]
fn ctrl_c_during_an_upload_aborts_it() {
    let f = fixtures();
    let server = Server::start();
    upload_dir(&server, &f.pre, "bucket/pre");
    server.add_rule(Rule::new(
        "UploadPart",
        "train.protobuf",
        Action::Delay(Duration::from_millis(1500)),
    ));
    let child = fmprep_cmd()
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .args([
            "prepare",
            "s3://bucket/pre",
            "--output",
            "s3://bucket/prepared",
            "--s3-part-size",
            "5MiB",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the first part is being received, then interrupt: the upload cannot
    // complete before that part does, so the stop always finds it open.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.arrived("UploadPart") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let r = finish(out);
    assert_eq!(r.code, 130, "{}", r.stderr);
    assert!(r.error_line().contains("interrupted by SIGINT"), "{}", r.stderr);
    assert!(!server.path("bucket/prepared").join(MANIFEST).exists());
    assert!(!server.path("bucket/prepared/train/train.protobuf").exists());
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert_nothing_left_open(&server);
}

#[test]
fn ctrl_c_while_a_range_is_on_its_way_stops_the_read() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv", &std::fs::read(&f.tsv).unwrap());
    // The second range hangs far longer than any test runs: the stop must not wait for it.
    server.add_rule(Rule::new("GetRange", "reviews.tsv", Action::Delay(Duration::from_secs(600))).skip(1));
    let child = fmprep_cmd()
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .args([
            "run",
            "s3://bucket/reviews.tsv",
            "--output",
            "s3://bucket/out",
            "--s3-part-size",
            "5MiB",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.arrived("GetRange") < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 130, "{}", r.stderr);
    assert!(r.error_line().contains("interrupted by SIGINT"), "{}", r.stderr);
    assert!(!server.path("bucket/out").join(MANIFEST).exists());
}

#[test]
fn wrong_secret_is_a_clear_auth_error_and_writes_nothing() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let wrong = "not-the-secret-0000000000000000000000000";
    for args in [
        vec!["run", "s3://bucket/reviews.tsv.gz", "--output", "s3://bucket/out"],
        vec!["run", &*f.gz.to_string_lossy(), "--output", "s3://bucket/out"],
    ]
    .iter()
    {
        let r = finish(
            fmprep_cmd()
                .env("AWS_ENDPOINT_URL", server.endpoint())
                .env("AWS_SECRET_ACCESS_KEY", wrong)
                .args(args)
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 5, "{}", r.stderr);
        assert!(r.stdout.is_empty());
        let msg = r.error_line();
        assert!(msg.contains("secret access key does not match"), "{msg}");
        assert!(msg.contains("AWS_SECRET_ACCESS_KEY"), "{msg}");
        assert!(
            !r.stderr.contains(wrong) && !r.stderr.contains(SECRET_KEY),
            "a secret was printed"
        );
        assert_eq!(
            r.stderr.matches("error:").count(),
            1,
            "one error line: {}",
            r.stderr
        );
    }
    assert_eq!(
        server.objects("bucket"),
        vec!["reviews.tsv.gz"],
        "nothing was written"
    );
    assert_eq!(
        server.count("PutObject") + server.count("CreateMultipartUpload"),
        0
    );
}

#[test]
fn missing_key_bucket_credentials_and_bad_urls_are_clear_errors() {
    let f = fixtures();
    let server = Server::start();
    let gz = f.gz.to_string_lossy();
    let cases: [(&[&str], i32, &[&str]); 7] = [
        (
            &[
                "run",
                "s3://bucket/nope/reviews.tsv.gz",
                "--output",
                "s3://bucket/out",
            ],
            5,
            &[
                "s3://bucket/nope/reviews.tsv.gz",
                "no such object",
                "check the key",
            ],
        ),
        (
            &[
                "run",
                "s3://no-such-bucket/reviews.tsv.gz",
                "--output",
                "s3://bucket/out",
            ],
            5,
            &[
                "bucket \"no-such-bucket\" does not exist",
                "check the bucket name",
            ],
        ),
        (
            &["run", &gz, "--output", "s3://no-such-bucket/out"],
            5,
            &["cannot write s3://no-such-bucket/out", "does not exist"],
        ),
        (
            &[
                "prepare",
                "s3://bucket/no-preprocess-here",
                "--output",
                "s3://bucket/prepared",
            ],
            5,
            &["s3://bucket/no-preprocess-here/train/train.csv: not found"],
        ),
        (
            &["inspect", "s3://bucket/nothing-here/"],
            5,
            &["no *.protobuf objects under s3://bucket/nothing-here/"],
        ),
        (
            &["run", "s3:/bucket/reviews.tsv.gz", "--output", "out"],
            2,
            &["malformed S3 URL", "s3://bucket/key"],
        ),
        (
            &["run", &gz, "--output", "s3://"],
            2,
            &["malformed S3 URL", "bucket name is missing"],
        ),
    ];
    for (args, code, needles) in cases {
        let r = fmprep(&server, args);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        for n in needles {
            assert!(
                r.error_line().contains(n),
                "{args:?}: {:?} lacks {n:?}",
                r.error_line()
            );
        }
        assert_eq!(
            r.stderr.matches("error:").count(),
            1,
            "{args:?}: one error line: {}",
            r.stderr
        );
    }

    // No credentials anywhere in the chain.
    let r = finish(
        fmprep_cmd()
            .env("AWS_ENDPOINT_URL", server.endpoint())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(["run", "s3://bucket/reviews.tsv.gz", "--output", "s3://bucket/out"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line().contains("no AWS credentials found"),
        "{}",
        r.stderr
    );

    // A bucket policy denies the object.
    server.add_rule(Rule::new(
        "Head",
        "/bucket/denied",
        Action::Status(403, "AccessDenied"),
    ));
    server.add_rule(Rule::new(
        "GetRange",
        "/bucket/denied",
        Action::Status(403, "AccessDenied"),
    ));
    let r = fmprep(&server, &["inspect", "s3://bucket/denied/train.protobuf"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line().contains(
            "cannot read s3://bucket/denied/train.protobuf (GetObject): access denied; check that the \
             credentials are allowed s3:GetObject on it"
        ),
        "{}",
        r.stderr
    );

    // The bucket lives in another region: S3 answers with a redirect naming it.
    server.add_rule(Rule::new("Head", "/bucket/", Action::Redirect("eu-west-1")));
    server.add_rule(Rule::new("GetRange", "/bucket/", Action::Redirect("eu-west-1")));
    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/reviews.tsv.gz",
            "--output",
            "out",
            "--region",
            "us-east-2",
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line()
            .contains("is in region eu-west-1, not us-east-2; pass --region eu-west-1"),
        "{}",
        r.stderr
    );
}

#[test]
fn overwrite_is_required_to_replace_a_finished_run() {
    let f = fixtures();
    let server = Server::start();
    let gz = f.gz.to_string_lossy();
    // The endpoint by flag this time, with an explicit path-style request.
    let args = |extra: &[&str]| {
        let mut v = vec![
            "run".to_string(),
            gz.to_string(),
            "--output".into(),
            "s3://bucket/out".into(),
            "--endpoint-url".into(),
            server.endpoint(),
            "--s3-force-path-style".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>| finish(fmprep_cmd().args(&a).output().unwrap());
    run(args(&[])).ok();
    let before = std::fs::read(server.path("bucket/out/manifest.json")).unwrap();
    let r = run(args(&["--seed", "3"]));
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.error_line().contains("already holds a finished run"),
        "{}",
        r.stderr
    );
    assert!(r.error_line().contains("--overwrite"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(server.path("bucket/out/manifest.json")).unwrap(),
        before,
        "untouched"
    );
    // --dry-run checks the S3 output the same way, and writes nothing.
    let r = run(args(&["--seed", "3", "--dry-run"]));
    assert_eq!(r.code, 6, "{}", r.stderr);
    let r = run(args(&["--seed", "3", "--dry-run", "--overwrite"]));
    r.ok();
    assert!(r.stdout.contains("\"dry_run\":true"), "{}", r.stdout);
    assert_eq!(
        std::fs::read(server.path("bucket/out/manifest.json")).unwrap(),
        before,
        "untouched"
    );
    run(args(&["--seed", "3", "--overwrite"])).ok();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(server.path("bucket/out/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["seed"], 3);
    assert_same_output(&local(&["run", &gz, "--seed", "3"]), &server, "bucket/out");
}

#[test]
fn library_uploads_parts_concurrently_and_reads_ranges_in_order() {
    let server = Server::start();
    let opts = S3Options {
        part_size: 5 << 20,
        range_size: 256 << 10,
        concurrency: 3,
        ..options(&server)
    };
    let client = S3Client::new(&opts).unwrap();
    let store = S3Store::new(client.clone(), "s3://bucket/lib").unwrap();
    store.begin(false).unwrap();
    // Slow parts: the producer must not wait for one part before sending the next.
    server.add_rule(Rule::new(
        "UploadPart",
        "big.bin",
        Action::Delay(Duration::from_millis(500)),
    ));
    let data = pattern((15 << 20) + 12345, 1);
    let mut w = store.create("big.bin").unwrap();
    for chunk in data.chunks(100_000) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.commit().unwrap(), data.len() as u64);
    assert_eq!(
        server.count("UploadPart"),
        4,
        "three full 5 MiB parts and a short last one"
    );
    assert!(
        server.max_in_flight("UploadPart") >= 2,
        "parts are uploaded concurrently"
    );
    assert!(std::fs::read(server.path("bucket/lib/big.bin")).unwrap() == data);

    server.add_rule(Rule::new(
        "GetRange",
        "big.bin",
        Action::Delay(Duration::from_millis(100)),
    ));
    let mut back = Vec::new();
    fmprep::store::s3::open_s3_object("s3://bucket/lib/big.bin", &opts)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == data, "ranges reassembled in order");
    let ranges = server
        .log()
        .iter()
        .filter(|l| l.op == "GetRange" && l.path.ends_with("big.bin"))
        .count();
    assert_eq!(ranges, data.len().div_ceil(256 << 10));
    let max = server.max_in_flight("GetRange");
    assert!(
        (2..=3).contains(&max),
        "ranges fetched concurrently, at most --s3-concurrency: {max}"
    );
    assert_nothing_left_open(&server);
}

#[test]
fn library_dropped_writer_aborts_its_upload_and_a_changed_object_fails_the_read() {
    let server = Server::start();
    let opts = S3Options {
        part_size: 5 << 20,
        range_size: 64 << 10,
        concurrency: 2,
        ..options(&server)
    };
    let store = S3Store::new(S3Client::new(&opts).unwrap(), "s3://bucket").unwrap();
    let mut w = store.create("partial.bin").unwrap();
    w.write_all(&pattern(11 << 20, 2)).unwrap();
    assert_eq!(server.count("CreateMultipartUpload"), 1, "the upload started");
    drop(w);
    assert!(!server.path("bucket/partial.bin").exists());
    assert_eq!(server.count("AbortMultipartUpload"), 1);
    assert_nothing_left_open(&server);

    let v1 = pattern(2 << 20, 3);
    let mut w = store.create("changing.bin").unwrap();
    w.write_all(&v1).unwrap();
    w.commit().unwrap();
    let mut r = fmprep::store::s3::open_s3_object("s3://bucket/changing.bin", &opts).unwrap();
    let mut first = vec![0; 64 << 10];
    r.read_exact(&mut first).unwrap();
    assert_eq!(first, v1[..64 << 10]);
    let mut w = store.create("changing.bin").unwrap();
    w.write_all(&pattern(2 << 20, 4)).unwrap();
    w.commit().unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    let err = fmprep::Error::from_io(err).expect("an fmprep error inside");
    assert_eq!(err.kind(), ErrorKind::Remote);
    assert!(err.message().contains("changed while it was being read"), "{err}");
}
