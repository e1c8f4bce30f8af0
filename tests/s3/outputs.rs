//! The output location on S3 (issue 15), against s3s-fs and moto: no stale objects after
//! `--overwrite`, the output checked before a byte of input is read (a finished run, a read-only
//! principal), `--if-exists reuse` without reading the input, and orphaned multipart uploads of
//! fmprep aborted by the next run while other uploads are left alone.

use super::moto::Moto;
use super::*;
use s3_server::{READONLY_ACCESS_KEY, READONLY_SECRET_KEY};

/// What the manifest line lists, plus `manifest.json`, sorted.
fn listed(manifest_line: &str) -> Vec<String> {
    let m: serde_json::Value = serde_json::from_str(manifest_line).expect("manifest line");
    let mut out: Vec<String> = m["files"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|g| g.as_array().unwrap().iter())
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    out.push(MANIFEST.to_string());
    out.sort();
    out
}

fn last_line(r: &Run) -> &str {
    r.stdout.lines().last().unwrap_or("")
}

/// The requests the server saw for `key` (a path fragment).
fn requests_for(server: &Server, key: &str) -> Vec<String> {
    server
        .log()
        .iter()
        .filter(|l| l.path.contains(key))
        .map(|l| format!("{} {}", l.op, l.path))
        .collect()
}

#[test]
fn overwrite_on_s3_leaves_exactly_the_new_objects() {
    let f = fixtures();
    let server = Server::start();
    let gz = f.gz.to_string_lossy().into_owned();
    let out = "s3://bucket/out";
    let first = fmprep(&server, &["run", &gz, "--output", out, "--test-chunk", "400"]);
    first.ok();
    assert!(listed(last_line(&first)).len() > 6, "several test chunks");
    server.put_file("bucket/out/test/notes.txt", b"not fmprep's");
    let r = fmprep(
        &server,
        &[
            "run",
            &gz,
            "--output",
            out,
            "--overwrite",
            "--split",
            "0.9,0.05,0.05",
        ],
    );
    r.ok();
    let mut want = listed(last_line(&r));
    want.push("test/notes.txt".into());
    want.sort();
    assert_eq!(server.objects("bucket/out"), want);
    assert!(
        r.stderr.contains("removed s3://bucket/out/test/test_1.protobuf"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_finished_run_is_refused_before_any_request_for_the_input() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let args = ["run", "s3://bucket/reviews.tsv.gz", "--output", "s3://bucket/out"];
    fmprep(&server, &args).ok();
    for dry in [false, true] {
        server.clear_log();
        let mut a = args.to_vec();
        if dry {
            a.push("--dry-run");
        }
        let r = fmprep(&server, &a);
        assert_eq!(r.code, 6, "{}", r.stderr);
        assert!(
            r.error_line().contains("already holds a finished run"),
            "{}",
            r.stderr
        );
        assert_eq!(requests_for(&server, "reviews.tsv.gz"), Vec::<String>::new());
    }
}

#[test]
fn a_read_only_principal_fails_before_reading_the_input() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    for dry in [false, true] {
        server.clear_log();
        let mut cmd = fmprep_cmd();
        cmd.env("AWS_ENDPOINT_URL", server.endpoint())
            .env("AWS_ACCESS_KEY_ID", READONLY_ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", READONLY_SECRET_KEY)
            .args(["run", "s3://bucket/reviews.tsv.gz", "--output", "s3://bucket/ro"]);
        if dry {
            cmd.arg("--dry-run");
        }
        let r = finish(cmd.output().unwrap());
        assert_eq!(r.code, 5, "{}", r.stderr);
        let msg = r.error_line();
        assert!(
            msg.contains("write probe") && msg.contains("access denied"),
            "{msg}"
        );
        assert!(msg.contains("s3:PutObject"), "{msg}");
        assert_eq!(requests_for(&server, "reviews.tsv.gz"), Vec::<String>::new());
        assert!(server.objects("bucket/ro").is_empty());
    }
}

#[test]
fn reuse_on_s3_returns_the_manifest_without_reading_the_input() {
    let f = fixtures();
    let server = Server::start();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let args = [
        "run",
        "s3://bucket/reviews.tsv.gz",
        "--output",
        "s3://bucket/out",
        "--if-exists",
        "reuse",
    ];
    let first = fmprep(&server, &args);
    first.ok();
    let manifest = std::fs::read(server.path("bucket/out/manifest.json")).unwrap();
    server.clear_log();
    let again = fmprep(&server, &args);
    again.ok();
    assert_eq!(last_line(&again), last_line(&first));
    assert_eq!(
        std::fs::read(server.path("bucket/out/manifest.json")).unwrap(),
        manifest
    );
    // Only a HEAD of the input (its size and ETag), no GET.
    assert_eq!(
        requests_for(&server, "reviews.tsv.gz"),
        vec!["Head /bucket/reviews.tsv.gz".to_string()]
    );
    assert_eq!(
        server.count("PutObject") + server.count("CreateMultipartUpload"),
        0
    );
    // Another object under the same key: refused, still without reading it.
    std::fs::remove_file(server.path("bucket/reviews.tsv.gz")).unwrap();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.tsv).unwrap());
    server.clear_log();
    let r = fmprep(&server, &args);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.error_line().contains("reviews.tsv.gz changed"), "{}", r.stderr);
    assert!(!requests_for(&server, "reviews.tsv.gz")
        .iter()
        .any(|r| r.starts_with("Get")));
    // An option changed: refused too.
    let mut changed = args.to_vec();
    changed.extend(["--seed", "99"]);
    std::fs::remove_file(server.path("bucket/reviews.tsv.gz")).unwrap();
    server.put_file("bucket/reviews.tsv.gz", &std::fs::read(&f.gz).unwrap());
    let r = fmprep(&server, &changed);
    assert_eq!(r.code, 6, "{}", r.stderr);
}

/// The binary against moto at `endpoint`.
fn fmprep_at(endpoint: &str, args: &[&str]) -> Run {
    finish(
        fmprep_cmd()
            .env("AWS_ENDPOINT_URL", endpoint)
            .args(args)
            .output()
            .expect("run fmprep"),
    )
}

#[test]
fn moto_orphaned_uploads_of_fmprep_are_aborted_and_others_kept() {
    let Some(moto) = Moto::start("moto_orphaned_uploads_of_fmprep_are_aborted_and_others_kept") else {
        return;
    };
    let f = fixtures();
    let gz = f.gz.to_string_lossy().into_owned();
    let foreign = [
        "other/train/train.protobuf", // outside the output prefix
        "out/backup/train.protobuf",  // not a directory fmprep writes
        "out/train/model.tar.gz",     // not a name fmprep gives
    ];
    for key in foreign {
        moto.create_upload(key);
    }
    // What a run killed mid-upload leaves, then a dry run and a real run each clean theirs.
    for (args, orphan) in [
        (
            vec!["run", &*gz, "--output", "s3://bucket/out", "--dry-run"],
            "out/train/train.protobuf",
        ),
        (
            vec!["run", &*gz, "--output", "s3://bucket/out"],
            "out/test/test_0.protobuf",
        ),
    ] {
        moto.create_upload(orphan);
        let r = fmprep_at(&moto.endpoint(), &args);
        r.ok();
        assert!(
            r.stderr
                .contains(&format!("aborted the multipart upload of s3://bucket/{orphan}")),
            "{}",
            r.stderr
        );
        let mut want: Vec<String> = foreign.iter().map(|k| k.to_string()).collect();
        want.sort();
        assert_eq!(moto.open_uploads(), want);
    }
}

#[test]
fn moto_overwrite_leaves_exactly_the_new_objects() {
    let Some(moto) = Moto::start("moto_overwrite_leaves_exactly_the_new_objects") else {
        return;
    };
    let f = fixtures();
    let gz = f.gz.to_string_lossy().into_owned();
    let out = "s3://bucket/out";
    fmprep_at(
        &moto.endpoint(),
        &["run", &gz, "--output", out, "--test-chunk", "400"],
    )
    .ok();
    moto.put("out/train/notes.txt", "mine");
    let r = fmprep_at(
        &moto.endpoint(),
        &[
            "run",
            &gz,
            "--output",
            out,
            "--overwrite",
            "--split",
            "0.9,0.05,0.05",
        ],
    );
    r.ok();
    let mut want: Vec<String> = listed(last_line(&r)).iter().map(|p| format!("out/{p}")).collect();
    want.push("out/train/notes.txt".into());
    want.sort();
    assert_eq!(moto.objects("out/"), want);
    // Reuse against moto: the same manifest, and a changed option refused.
    let same = fmprep_at(
        &moto.endpoint(),
        &[
            "run",
            &gz,
            "--output",
            out,
            "--split",
            "0.9,0.05,0.05",
            "--if-exists",
            "reuse",
        ],
    );
    same.ok();
    assert_eq!(last_line(&same), last_line(&r));
    let changed = fmprep_at(
        &moto.endpoint(),
        &["run", &gz, "--output", out, "--if-exists", "reuse"],
    );
    assert_eq!(changed.code, 6, "{}", changed.stderr);
}

#[test]
fn a_failed_clean_up_is_a_warning_and_the_next_run_finishes_it() {
    let f = fixtures();
    let server = Server::start();
    let gz = f.gz.to_string_lossy().into_owned();
    let out = "s3://bucket/out";
    fmprep(&server, &["run", &gz, "--output", out, "--test-chunk", "400"]).ok();
    server.add_rule(Rule::new(
        "DeleteObject",
        "/bucket/out/test/test_1.protobuf",
        Action::Status(403, "AccessDenied"),
    ));
    let args = [
        "run",
        &*gz,
        "--output",
        out,
        "--overwrite",
        "--split",
        "0.9,0.05,0.05",
    ];
    let r = fmprep(&server, &args);
    r.ok();
    assert!(
        r.stderr
            .contains("warning: stale files of an earlier run may be left"),
        "{}",
        r.stderr
    );
    assert!(server.path("bucket/out/test/test_1.protobuf").exists());
    // The committed run is correct; reusing it (the retry) removes what was left.
    server.clear_rules();
    let mut reuse: Vec<&str> = args.iter().copied().filter(|a| *a != "--overwrite").collect();
    reuse.extend(["--if-exists", "reuse"]);
    let again = fmprep(&server, &reuse);
    again.ok();
    assert_eq!(last_line(&again), last_line(&r));
    assert_eq!(server.objects("bucket/out"), listed(last_line(&r)));
}
