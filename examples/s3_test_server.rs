//! An S3-compatible server on this machine, for trying fmprep's S3 support and measuring it
//! without AWS: s3s-fs serving a directory (each sub-directory is a bucket) on 127.0.0.1, with the
//! fixed test key of `tests/s3.rs`, SigV4 verified. The same server the tests start.
//!
//! ```text
//! mkdir -p /tmp/s3root/bucket
//! cargo run --release --example s3_test_server -- /tmp/s3root 127.0.0.1:9000 &
//! export AWS_ACCESS_KEY_ID=AKIAFMPREPTEST000001 AWS_SECRET_ACCESS_KEY=fmprep-test-secret-key-0123456789abcdef
//! fmprep run reviews.tsv.gz --output s3://bucket/out/ --endpoint-url http://127.0.0.1:9000
//! ```
//!
//! It serves until killed.

#[path = "../tests/support/s3_server.rs"]
mod s3_server;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(root), addr) = (args.next(), args.next()) else {
        eprintln!("usage: s3_test_server ROOT_DIR [ADDR, default 127.0.0.1:9000]");
        std::process::exit(2);
    };
    let addr = addr.unwrap_or_else(|| "127.0.0.1:9000".to_string());
    let server = s3_server::Server::serve(std::path::Path::new(&root), &addr);
    eprintln!(
        "serving {root} at {} (access key {}, secret {})",
        server.endpoint(),
        s3_server::ACCESS_KEY,
        s3_server::SECRET_KEY
    );
    loop {
        std::thread::park();
    }
}
