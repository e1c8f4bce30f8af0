//! The one-file outputs (`encode --output`, `explore --plot`, `synth --output`) and a Parquet run,
//! reaching S3 with the `--endpoint-url` flag alone (no `AWS_ENDPOINT_URL` in the environment):
//! each object equals the local file of the same command, and nothing lands in a local `s3:`
//! folder.

use super::*;

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parquet/reviews");

/// `fmprep ARGS --endpoint-url URL`, run in `cwd`, with no endpoint in the environment.
fn with_flag(server: &Server, cwd: &Path, args: &[&str]) -> Run {
    finish(
        fmprep_cmd()
            .current_dir(cwd)
            .args(args)
            .args(["--endpoint-url", &server.endpoint()])
            .output()
            .expect("run fmprep"),
    )
}

fn object(server: &Server, bucket_key: &str) -> Vec<u8> {
    std::fs::read(server.path(bucket_key)).unwrap_or_else(|e| panic!("{bucket_key}: {e}"))
}

fn assert_no_local_s3_folder(cwd: &Path) {
    assert!(!cwd.join("s3:").exists(), "a local s3: folder was written");
}

#[test]
fn parquet_input_to_an_s3_output_with_only_the_endpoint_flag() {
    let server = Server::start();
    let cwd = tempfile::tempdir().unwrap();
    let want = local(&["run", DATASET, "--seed", "3"]);
    with_flag(
        &server,
        cwd.path(),
        &["run", DATASET, "--output", "s3://bucket/pq-out", "--seed", "3"],
    )
    .ok();
    assert_same_output(&want, &server, "bucket/pq-out");
    assert_no_local_s3_folder(cwd.path());
}

#[test]
fn synth_explore_and_encode_write_their_file_to_s3() {
    let f = fixtures();
    let server = Server::start();
    let cwd = tempfile::tempdir().unwrap();
    let dir = cwd.path();

    // synth: the same bytes as the local file, gzip included.
    let synth = ["synth", "--rows", "3000", "--seed", "5", "--output"];
    with_flag(
        &server,
        dir,
        &[&synth[..], &["s3://bucket/data/reviews.tsv.gz"]].concat(),
    )
    .ok();
    with_flag(&server, dir, &[&synth[..], &["local.tsv.gz"]].concat()).ok();
    assert_eq!(
        object(&server, "bucket/data/reviews.tsv.gz"),
        std::fs::read(dir.join("local.tsv.gz")).unwrap()
    );
    // A key that names a prefix is refused before anything is generated.
    let r = with_flag(&server, dir, &[&synth[..], &["s3://bucket/data/"]].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.error_line().contains("names a directory or prefix, not a file"),
        "{}",
        r.stderr
    );

    // explore --plot: the picture goes to the object it names.
    let gz = f.gz.to_string_lossy().into_owned();
    with_flag(
        &server,
        dir,
        &["explore", &gz, "--plot", "s3://bucket/plots/tail.svg"],
    )
    .ok();
    with_flag(&server, dir, &["explore", &gz, "--plot", "tail.svg"]).ok();
    let svg = object(&server, "bucket/plots/tail.svg");
    assert!(
        svg.starts_with(b"<svg") || svg.starts_with(b"<?xml"),
        "not an SVG"
    );
    assert_eq!(svg, std::fs::read(dir.join("tail.svg")).unwrap());

    // encode --maps s3://... --output s3://...: the run's maps read from S3, records written to S3.
    let run = local(&["run", &gz]);
    upload_dir(&server, &run, "bucket/run");
    let customers = std::fs::read_to_string(run.join("maps/customers.tsv")).unwrap();
    let products = std::fs::read_to_string(run.join("maps/products.tsv")).unwrap();
    let first = |text: &str| {
        text.lines()
            .nth(1)
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string()
    };
    std::fs::write(
        dir.join("pairs.csv"),
        format!(
            "customer_id,product_id\n{},{}\n",
            first(&customers),
            first(&products)
        ),
    )
    .unwrap();
    let r = with_flag(
        &server,
        dir,
        &[
            "encode",
            "pairs.csv",
            "--maps",
            "s3://bucket/run",
            "--output",
            "s3://bucket/infer/pairs.rec",
        ],
    );
    r.ok();
    let summary: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["output"], "s3://bucket/infer/pairs.rec");
    with_flag(
        &server,
        dir,
        &[
            "encode",
            "pairs.csv",
            "--maps",
            &run.to_string_lossy(),
            "--output",
            "local.rec",
        ],
    )
    .ok();
    let want = std::fs::read(dir.join("local.rec")).unwrap();
    assert!(!want.is_empty());
    assert_eq!(object(&server, "bucket/infer/pairs.rec"), want);
    assert_no_local_s3_folder(dir);
    assert_nothing_left_open(&server);
}
