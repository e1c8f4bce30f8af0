//! Compiles `proto/record.proto` with prost. protoc comes from the `protoc-bin-vendored` crate so a
//! fresh machine needs nothing installed by hand.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/record.proto");
    if std::env::var_os("CARGO_FEATURE_ISAL").is_none() {
        // Never a silent slow build: say it in the build log.
        println!(
            "cargo:warning=fmprep is built without the `isal` feature: gzip input is inflated by \
             zlib-rs, about 15% slower than ISA-L (run scripts/setup.sh, then build with default features)"
        );
    }
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    // BTreeMap keeps map-field encoding order deterministic (HashMap order is random).
    config.btree_map(["."]);
    config.compile_protos(&["proto/record.proto"], &["proto/"])?;
    Ok(())
}
