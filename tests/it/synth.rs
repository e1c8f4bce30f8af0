//! `fmprep synth`.

use crate::util::*;

#[test]
fn synth_is_deterministic_and_parses() {
    let w = Workdir::new();
    let stats = w
        .fmprep(&["synth", "--rows", "3000", "--seed", "8", "--output", "a.tsv"])
        .ok();
    assert_eq!(stats["rows"], 3000);
    w.fmprep(&["synth", "--rows", "3000", "--seed", "8", "--output", "b.tsv"])
        .ok();
    w.fmprep(&["synth", "--rows", "3000", "--seed", "9", "--output", "c.tsv"])
        .ok();
    assert_eq!(w.read("a.tsv"), w.read("b.tsv"));
    assert_ne!(w.read("a.tsv"), w.read("c.tsv"));
    let text = String::from_utf8_lossy(&w.read("a.tsv")).into_owned();
    assert_eq!(text.lines().next().unwrap(), HEADER);
    assert_eq!(text.lines().count(), 3001);
    // gzip output decodes to the same text.
    w.fmprep(&["synth", "--rows", "3000", "--seed", "8", "--output", "a.tsv.gz"])
        .ok();
    let gz = w.read("a.tsv.gz");
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert_eq!(plain, w.read("a.tsv"));
}
