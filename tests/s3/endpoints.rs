//! Endpoint and TLS settings as the AWS CLI reads them (issue 15): path-style addressing for a
//! custom endpoint with a DNS name, the profile's `s3 = addressing_style`, and private CAs from
//! `AWS_CA_BUNDLE` or the profile's `ca_bundle`, over real HTTPS to the in-process server.

use super::*;
use fmprep::location::S3Url;
use fmprep::store::s3::profile::AddressingStyle;

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

fn object(key: &str) -> S3Url {
    S3Url {
        bucket: "bucket".into(),
        key: key.into(),
    }
}

#[test]
fn a_dns_named_custom_endpoint_is_addressed_path_style() {
    env_setup();
    // The URI the SDK builds, captured before sending: no network, no /etc/hosts.
    let opts = S3Options {
        endpoint_url: Some("http://s3.test:9000".into()),
        ..S3Options::default()
    };
    let client = S3Client::new(&opts).unwrap();
    assert_eq!(
        client.request_url(&object("in/reviews.tsv")).unwrap(),
        "http://s3.test:9000/bucket/in/reviews.tsv"
    );
    // AWS itself stays virtual-hosted.
    let aws = S3Client::new(&S3Options {
        region: Some("eu-west-1".into()),
        ..S3Options::default()
    })
    .unwrap();
    let url = aws.request_url(&object("k")).unwrap();
    assert!(
        url.starts_with("https://bucket.s3.eu-west-1.amazonaws.com/k"),
        "{url}"
    );
    // The profile's addressing_style = virtual is honoured for a DNS name, never for an IP.
    let dns = Some("http://s3.test:9000");
    assert!(!fmprep::store::s3::path_style(
        false,
        Some(AddressingStyle::Virtual),
        dns
    ));
    assert!(fmprep::store::s3::path_style(
        true,
        Some(AddressingStyle::Virtual),
        dns
    ));
    assert!(fmprep::store::s3::path_style(
        false,
        Some(AddressingStyle::Virtual),
        Some("http://127.0.0.1:9000")
    ));
    assert!(!fmprep::store::s3::path_style(false, None, None));
    assert!(fmprep::store::s3::path_style(false, None, dns));
}

#[test]
fn an_unresolvable_virtual_hosted_name_suggests_path_style() {
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[default]\ns3 =\n  addressing_style = virtual\n").unwrap();
    let r = finish(
        fmprep_cmd()
            .env("AWS_CONFIG_FILE", &config)
            .args(["run", &*f.gz.to_string_lossy(), "--output", "s3://bucket/out"])
            .args(["--endpoint-url", "http://s3.test:9000", "--s3-max-attempts", "1"])
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    let msg = r.error_line();
    assert!(msg.contains("--s3-force-path-style"), "{msg}");
    assert!(msg.contains("bucket.<endpoint host> does not resolve"), "{msg}");
}

#[test]
fn aws_ca_bundle_and_profile_ca_bundle_with_a_test_ca_over_https() {
    let f = fixtures();
    let server = Server::start_tls(
        &std::fs::read(format!("{TLS}/server.pem")).unwrap(),
        &std::fs::read(format!("{TLS}/server.key")).unwrap(),
    );
    let gz = f.gz.to_string_lossy().into_owned();
    let run = |out: &str, env: &[(&str, &str)]| {
        let mut c = fmprep_cmd();
        c.env("AWS_ENDPOINT_URL", server.endpoint())
            .env_remove("AWS_CA_BUNDLE")
            .args(["run", &gz, "--output", out, "--s3-max-attempts", "1"]);
        for (k, v) in env {
            c.env(k, v);
        }
        finish(c.output().unwrap())
    };
    // The test CA is unknown to the system: the error says which settings add it.
    let r = run("s3://bucket/none", &[]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    let msg = r.error_line();
    assert!(
        msg.contains("not signed by a trusted CA") && msg.contains("AWS_CA_BUNDLE"),
        "{msg}"
    );
    assert!(msg.contains("ca_bundle"), "{msg}");

    let ca = format!("{TLS}/ca.pem");
    run("s3://bucket/env", &[("AWS_CA_BUNDLE", &ca)]).ok();
    assert!(server.path("bucket/env").join(MANIFEST).exists());

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, format!("[profile corp]\nca_bundle = {ca}\n")).unwrap();
    let config_s = config.to_string_lossy().into_owned();
    run(
        "s3://bucket/profile",
        &[("AWS_CONFIG_FILE", &config_s), ("AWS_PROFILE", "corp")],
    )
    .ok();
    assert!(server.path("bucket/profile").join(MANIFEST).exists());

    // A bundle that is not one is a usage error naming it, not a panic in the TLS layer.
    let key = format!("{TLS}/server.key");
    let r = run("s3://bucket/bad", &[("AWS_CA_BUNDLE", &key)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.error_line().contains("AWS_CA_BUNDLE="), "{}", r.stderr);
}
