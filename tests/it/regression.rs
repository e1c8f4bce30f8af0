//! Regression tests, one per issue.

/// The checks of the fuzz targets (`fuzz/harness.rs`), run here without libFuzzer.
#[path = "../../fuzz/harness.rs"]
mod harness;

/// Issue 5: every input committed for the fuzz targets, seeds (`fuzz/corpus/<target>/`) and the
/// inputs that once crashed a target (`fuzz/regressions/<target>/`), passes the targets' checks.
#[test]
fn issue5_fuzz_inputs_replay_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, check) in [
        ("tsv_reader", harness::tsv_reader as fn(&[u8])),
        ("recordio_reader", harness::recordio_reader),
    ] {
        for kind in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&bytes));
                assert!(outcome.is_ok(), "{} fails the {target} checks", path.display());
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= 8,
        "the committed seeds are missing: {replayed} inputs"
    );
}
