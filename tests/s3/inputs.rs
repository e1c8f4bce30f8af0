//! Inputs other than a TSV object read from S3: a Parquet dataset under a prefix, and the maps of
//! a run for `encode`. Each is compared with the same command on the local copy.

use super::*;

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parquet/reviews");

#[test]
fn parquet_dataset_under_an_s3_prefix_gives_the_local_parquet_run_byte_for_byte() {
    let server = Server::start();
    upload_dir(&server, Path::new(DATASET), "bucket/pq");
    let want = local(&["run", DATASET, "--seed", "3"]);

    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/pq/",
            "--output",
            "s3://bucket/pq-out",
            "--seed",
            "3",
        ],
    );
    r.ok();
    let manifest: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(manifest["input"], "s3://bucket/pq/");
    assert_eq!(manifest["counts"]["bad_lines"]["bad_star_rating"], 1);
    assert_same_output(&want, &server, "bucket/pq-out");
    assert!(
        !server.log().iter().any(|l| l.path.contains("_SUCCESS")),
        "the _SUCCESS marker is listed but never read"
    );

    // Without the trailing slash the key is tried as an object first, then as a prefix; the
    // output is local this time.
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().join("o").to_string_lossy().into_owned();
    fmprep(
        &server,
        &["run", "s3://bucket/pq", "--output", &out_s, "--seed", "3"],
    )
    .ok();
    for f in local_files(&want) {
        if f != MANIFEST {
            assert_eq!(
                std::fs::read(want.join(&f)).unwrap(),
                std::fs::read(Path::new(&out_s).join(&f)).unwrap(),
                "{f}"
            );
        }
    }

    // A dry run lists the files and checks their columns without reading the rows.
    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/pq/",
            "--output",
            "s3://bucket/dry",
            "--dry-run",
        ],
    );
    r.ok();
    let j: serde_json::Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        (j["format"].as_str(), j["files"].as_u64()),
        (Some("parquet"), Some(3))
    );
    assert!(server.objects("bucket/dry").is_empty());

    // A prefix with no Parquet objects is not taken for a dataset: the usual object error.
    // (`--overwrite`: the finished run at the output is checked, and refused, first.)
    let r = fmprep(
        &server,
        &["run", "s3://bucket/empty/", "--output", &out_s, "--overwrite"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.error_line().contains("names a bucket or prefix, not an object"),
        "{}",
        r.stderr
    );
}

#[test]
fn encode_reads_a_runs_maps_from_s3() {
    let f = fixtures();
    let server = Server::start();
    let run = local(&["run", &f.gz.to_string_lossy()]);
    upload_dir(&server, &run, "bucket/run");

    let first_id = |map: &str| -> String {
        let text = std::fs::read_to_string(run.join("maps").join(map)).unwrap();
        text.lines()
            .nth(1)
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string()
    };
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(
        &pairs,
        format!(
            "customer_id,product_id\n{},{}\n",
            first_id("customers.tsv"),
            first_id("products.tsv")
        ),
    )
    .unwrap();
    let encode = |maps: &str, out: &str| -> Run {
        finish(
            fmprep_cmd()
                .env("AWS_ENDPOINT_URL", server.endpoint())
                .arg("encode")
                .arg(&pairs)
                .args(["--maps", maps, "--output", out])
                .output()
                .unwrap(),
        )
    };
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    encode(&run.to_string_lossy(), &path("local.rec")).ok();
    encode("s3://bucket/run", &path("s3.rec")).ok();
    encode("s3://bucket/run/maps/", &path("s3maps.rec")).ok();
    let want = std::fs::read(path("local.rec")).unwrap();
    assert!(!want.is_empty());
    assert_eq!(std::fs::read(path("s3.rec")).unwrap(), want);
    assert_eq!(std::fs::read(path("s3maps.rec")).unwrap(), want);

    let r = encode("s3://bucket/no-run-here", &path("x.rec"));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line()
            .contains("cannot read map s3://bucket/no-run-here/customers.tsv: not found"),
        "{}",
        r.stderr
    );
    assert!(!Path::new(&path("x.rec")).exists());
}
