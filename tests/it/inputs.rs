//! Several input files read as one: INPUT repeated, a directory, a quoted glob. The output must
//! be byte-identical to the run on the files' concatenation; headers must agree; errors name the
//! file.

use std::io::{Read, Write};

use crate::util::*;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The synth input as text: its header line and its data lines.
fn synth_text(w: &Workdir, rows: u64) -> (String, Vec<String>) {
    let gz_path = w.synth("all.tsv.gz", rows, 11);
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(gz_path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

/// Write `lines` cut into `parts` files `dir/part-<i>.tsv.gz` (each with `header`), of unequal
/// sizes, and return their relative paths.
fn write_parts(w: &Workdir, dir: &str, header: &str, lines: &[String], parts: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut start = 0;
    for i in 0..parts {
        // Unequal cuts: the last part takes the rest.
        let end = if i + 1 == parts {
            lines.len()
        } else {
            start + lines.len() * (i + 1) / (parts * (parts + 1) / 2 + 1)
        };
        let mut text = format!("{header}\n");
        for l in &lines[start..end] {
            text += l;
            text.push('\n');
        }
        let name = format!("{dir}/part-{i}.tsv.gz");
        w.write(&name, gz(text.as_bytes()));
        names.push(name);
        start = end;
    }
    names
}

/// The output files of a run except its manifest (which names the input and the timings).
fn outputs(w: &Workdir, dir: &str) -> Vec<(String, Vec<u8>)> {
    w.tree(dir)
        .into_iter()
        .filter(|(p, _)| p != "manifest.json")
        .collect()
}

#[test]
fn a_directory_repeated_inputs_and_a_glob_equal_the_concatenated_file() {
    let w = Workdir::new();
    let (header, lines) = synth_text(&w, 30_000);
    let parts = write_parts(&w, "parts", &header, &lines, 4);
    // Noise that a directory listing must skip.
    w.write("parts/.hidden.tsv.gz", b"not read");
    w.write("parts/README.md", b"not read");
    let mut concat = format!("{header}\n");
    for l in &lines {
        concat += l;
        concat.push('\n');
    }
    w.write("concat.tsv.gz", gz(concat.as_bytes()));

    let want = w
        .fmprep(&["run", "concat.tsv.gz", "--output", "want", "--seed", "5"])
        .ok();
    let want_files = outputs(&w, "want");
    assert!(want_files.len() >= 5, "{} files", want_files.len());

    let mut repeated = vec!["run"];
    repeated.extend(parts.iter().map(String::as_str));
    repeated.extend(["--output", "repeated", "--seed", "5"]);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("dir", vec!["run", "parts", "--output", "dir", "--seed", "5"]),
        (
            "dir1",
            vec![
                "run",
                "parts/",
                "--output",
                "dir1",
                "--seed",
                "5",
                "--threads",
                "1",
            ],
        ),
        ("repeated", repeated),
        (
            "glob",
            vec!["run", "parts/part-*.tsv.gz", "--output", "glob", "--seed", "5"],
        ),
    ];
    for (out, args) in cases {
        let got = w.fmprep(&args).ok();
        assert!(
            outputs(&w, out) == want_files,
            "{out}: output differs from the concatenated run"
        );
        for key in ["input_lines", "valid", "train", "validate", "test"] {
            assert_eq!(got["counts"][key], want["counts"][key], "{out}: {key}");
        }
    }
    // The directory is named as given in the manifest.
    let m: serde_json::Value = serde_json::from_slice(&w.read("dir/manifest.json")).unwrap();
    assert_eq!(m["input"], "parts");
}

#[test]
fn preprocess_explore_and_dry_run_take_the_same_inputs() {
    let w = Workdir::new();
    let (header, lines) = synth_text(&w, 8_000);
    write_parts(&w, "parts", &header, &lines, 3);
    w.fmprep(&["preprocess", "all.tsv.gz", "--output", "a", "--seed", "2"])
        .ok();
    w.fmprep(&["preprocess", "parts", "--output", "b", "--seed", "2"])
        .ok();
    assert!(outputs(&w, "a") == outputs(&w, "b"), "preprocess outputs differ");

    let one = w.fmprep(&["explore", "all.tsv.gz", "--json"]).ok();
    let many = w.fmprep(&["explore", "parts", "--json"]).ok();
    assert_eq!(one["customers"], many["customers"]);
    assert_eq!(one["rows"], many["rows"]);

    let dry = w.fmprep(&["run", "parts", "--output", "o", "--dry-run"]).ok();
    assert_eq!(dry["dry_run"], true);
    assert!(!w.path("o/manifest.json").exists());
}

#[test]
fn a_file_whose_header_differs_is_named() {
    let w = Workdir::new();
    let a = format!("{HEADER}\n{}\n", review("1", "P1", "5"));
    let b = format!(
        "{}\n{}\n",
        HEADER.replace("star_rating", "stars"),
        review("2", "P1", "4")
    );
    w.write("d/a.tsv", &a);
    w.write("d/b.tsv", &b);
    let err = w.fmprep(&["run", "d", "--output", "o"]).fails(3);
    assert!(err.contains("b.tsv") && err.contains("header differs"), "{err}");
    assert!(err.contains("\"stars\""), "the differing column is shown: {err}");
    // The dry run checks every file's header too.
    let err = w.fmprep(&["run", "d", "--output", "o", "--dry-run"]).fails(3);
    assert!(err.contains("b.tsv") && err.contains("header differs"), "{err}");
    assert!(!w.path("o/manifest.json").exists());
}

#[test]
fn a_truncated_member_in_the_third_file_fails_naming_it() {
    let w = Workdir::new();
    let (header, lines) = synth_text(&w, 20_000);
    let parts = write_parts(&w, "parts", &header, &lines, 4);
    let third = w.path(&parts[2]);
    let mut bytes = std::fs::read(&third).unwrap();
    bytes.truncate(bytes.len() * 2 / 3);
    std::fs::write(&third, bytes).unwrap();
    for threads in ["1", "2"] {
        let err = w
            .fmprep(&["run", "parts", "--output", "o", "--threads", threads])
            .fails(3);
        assert!(err.contains("part-2.tsv.gz"), "threads {threads}: {err}");
        assert!(err.contains("truncated gzip"), "threads {threads}: {err}");
        assert!(!err.contains("part-1.tsv.gz"), "threads {threads}: {err}");
    }
    assert!(!w.path("o/manifest.json").exists());
}

#[test]
fn bad_lines_name_their_file_and_count_lines_within_it() {
    let w = Workdir::new();
    let mut a = format!("{HEADER}\n");
    let mut b = format!("{HEADER}\n");
    for i in 0..20 {
        a += &format!(
            "{}\n",
            review(&format!("c{}", i % 6), &format!("p{}", i % 3), "5")
        );
        b += &format!(
            "{}\n",
            review(&format!("c{}", i % 6), &format!("p{}", i % 3), "4")
        );
    }
    b += &format!("{}\n", review("c1", "p1", "nine")); // line 22 of b.tsv
    w.write("d/a.tsv", &a);
    w.write("d/b.tsv", &b);
    for threads in ["1", "2"] {
        let out = format!("o{threads}");
        let r = w.fmprep(&[
            "run",
            "d",
            "--output",
            &out,
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
            "--max-bad-lines",
            "10",
            "--threads",
            threads,
        ]);
        let m = r.ok();
        assert_eq!(m["counts"]["bad_lines"]["bad_star_rating"], 1);
        let ex = &m["bad_line_examples"][0];
        let text = ex.to_string();
        assert!(
            text.contains("b.tsv") && text.contains("22"),
            "threads {threads}: {text}"
        );
        assert!(r.stderr().contains("b.tsv line 22"), "{}", r.stderr());
    }
}

#[test]
fn stdin_cannot_join_other_inputs_and_an_empty_directory_is_refused() {
    let w = Workdir::new();
    w.write("a.tsv", format!("{HEADER}\n{}\n", review("1", "P", "5")));
    let err = w.fmprep(&["run", "-", "a.tsv", "--output", "o"]).fails(2);
    assert!(err.contains("stdin"), "{err}");
    std::fs::create_dir_all(w.path("empty")).unwrap();
    let err = w.fmprep(&["run", "empty", "--output", "o"]).fails(4);
    assert!(err.contains("no input files"), "{err}");
    let err = w.fmprep(&["run", "nothing-*.tsv", "--output", "o"]).fails(4);
    assert!(err.contains("no file matches"), "{err}");
}

#[test]
fn a_gzip_stream_through_a_named_pipe_equals_the_file_read_directly() {
    let w = Workdir::new();
    let gz_path = w.synth("in.tsv.gz", 5_000, 4);
    w.fmprep(&["run", "in.tsv.gz", "--output", "want", "--seed", "1"])
        .ok();
    let fifo = w.path("pipe");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let bytes = std::fs::read(gz_path).unwrap();
    let writer = std::thread::spawn(move || {
        // Opening blocks until fmprep opens the pipe for reading.
        let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        f.write_all(&bytes).unwrap();
    });
    w.fmprep(&["run", "pipe", "--output", "got", "--seed", "1"]).ok();
    writer.join().unwrap();
    assert!(outputs(&w, "got") == outputs(&w, "want"), "outputs differ");
}
