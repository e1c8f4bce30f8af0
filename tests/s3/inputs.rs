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

    // A prefix with no objects at all is neither a dataset nor text files. (`--overwrite`: the
    // finished run at the output is checked, and refused, first.)
    let r = fmprep(
        &server,
        &["run", "s3://bucket/empty/", "--output", &out_s, "--overwrite"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.error_line()
            .contains("s3://bucket/empty: no objects under this prefix"),
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

#[test]
fn text_files_under_an_s3_prefix_give_the_run_on_their_concatenation() {
    let server = Server::start();
    let text = std::fs::read_to_string(&fixtures().tsv).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let cuts = [0, lines.len() / 5, lines.len() / 2, lines.len()];
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        let mut part = format!("{header}\n");
        for l in &lines[cuts[i]..cuts[i + 1]] {
            part += l;
            part.push('\n');
        }
        // Mixed compression: each file is sniffed on its own.
        let (name, bytes) = if i == 1 {
            (format!("part-{i}.tsv"), part.into_bytes())
        } else {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part.as_bytes()).unwrap();
            (format!("part-{i}.tsv.gz"), enc.finish().unwrap())
        };
        std::fs::write(dir.path().join(&name), &bytes).unwrap();
        server.put_file(&format!("bucket/many/{name}"), &bytes);
    }
    // Bookkeeping objects that a listing must skip.
    server.put_file("bucket/many/_SUCCESS", b"");
    let tsv = fixtures().tsv.to_string_lossy().into_owned();
    let want = local(&["run", &tsv, "--seed", "9"]);
    let from_dir = local(&["run", &dir.path().to_string_lossy(), "--seed", "9"]);
    for f in local_files(&want) {
        if f != MANIFEST {
            assert!(
                std::fs::read(want.join(&f)).unwrap() == std::fs::read(from_dir.join(&f)).unwrap(),
                "{f}: the local directory run differs from the run on the whole file"
            );
        }
    }
    let r = fmprep(
        &server,
        &[
            "run",
            "s3://bucket/many/",
            "--output",
            "s3://bucket/many-out",
            "--seed",
            "9",
        ],
    );
    r.ok();
    assert_same_output(&want, &server, "bucket/many-out");
    assert!(
        !server.log().iter().any(|l| l.path.contains("_SUCCESS")),
        "the _SUCCESS marker is listed but never read"
    );
}
