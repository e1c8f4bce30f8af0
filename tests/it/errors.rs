//! Issue 5's catalogue of bad input, through the binary. Every entry ends either in a counted skip
//! (asserted in the manifest counts and on stderr) or in a clean failure: the documented exit code,
//! empty stdout, one `fmprep: error:` line naming the file, the line and what to do, and no
//! `manifest.json` or staged `*.fmprep-tmp` file left behind.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use serde_json::Value;

use crate::util::*;

/// Thresholds that keep every valid row, so that a handful of rows makes a complete run.
const KEEP_ALL: [&str; 4] = ["--min-customer-ratings", "1", "--min-product-ratings", "1"];

/// Six valid rows: three customers, two products.
fn good_rows() -> Vec<String> {
    let mut rows = Vec::new();
    for (c, p, s) in [
        ("c1", "p1", "5"),
        ("c2", "p1", "4"),
        ("c3", "p2", "3"),
        ("c1", "p2", "2"),
        ("c2", "p2", "1"),
        ("c3", "p1", "5"),
    ] {
        rows.push(review(c, p, s));
    }
    rows
}

/// Header, then `rows`, each ending in a newline.
fn tsv(rows: &[String]) -> String {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text += r;
        text.push('\n');
    }
    text
}

/// A valid review line with field `i` (0-based, of 15) replaced by `value`.
fn with_field(i: usize, value: &str) -> String {
    let line = review("c1", "p1", "5");
    let mut fields: Vec<&str> = line.split('\t').collect();
    fields[i] = value;
    fields.join("\t")
}

const CUSTOMER_ID: usize = 1;
const PRODUCT_ID: usize = 3;
const STAR_RATING: usize = 7;
const REVIEW_BODY: usize = 13;

/// Run `run INPUT -o out` keeping every row and allowing 100 bad lines; assert success and that
/// the counts add up; return the manifest.
fn run_ok(w: &Workdir, input: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run", input, "-o", "out", "--max-bad-lines", "100"];
    args.extend(KEEP_ALL);
    args.extend(extra);
    let m = w.fmprep(&args).ok();
    let c = &m["counts"];
    let n = |k: &str| c[k].as_u64().unwrap_or_else(|| panic!("count {k} in {c}"));
    assert_eq!(
        n("valid") + n("bad_lines_total") + n("blank_lines"),
        n("input_lines"),
        "valid + bad + blank = input lines: {c}"
    );
    m
}

/// The one `fmprep: error:` line of a failed run's stderr.
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("fmprep: error: "))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line expected:\n{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "a panic: {stderr}"
    );
    lines[0].to_string()
}

/// Assert the failure of `args` with `code`, and that its error line contains every `needle`.
fn fails_with(w: &Workdir, args: &[&str], code: i32, needles: &[&str]) -> String {
    let line = error_line(&w.fmprep(args).fails(code));
    for needle in needles {
        assert!(line.contains(needle), "{line:?} should contain {needle:?}");
    }
    line
}

/// A clap usage error: exit 2 and the message on stderr's first line.
fn usage_error(w: &Workdir, args: &[&str], needle: &str) {
    let err = w.fmprep(args).fails(2);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{err}");
    assert!(first.contains(needle), "{first:?} should contain {needle:?}");
}

/// No manifest and no staged file anywhere under `rel` (which may not exist at all).
fn assert_no_debris(w: &Workdir, rel: &str) {
    if !w.path(rel).exists() {
        return;
    }
    for (path, _) in w.tree(rel) {
        assert_ne!(path, "manifest.json", "a failed run must not leave a manifest");
        assert!(!path.ends_with(".fmprep-tmp"), "staged file left: {path}");
    }
}

fn run_keep_all<'a>(input: &'a str, out: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", input, "-o", out];
    args.extend(KEEP_ALL);
    args
}

// ---------------------------------------------------------------------------------------------
// Header and file shape: fatal, exit 3.

#[test]
fn empty_file() {
    let w = Workdir::new();
    w.write("in.tsv", "");
    fails_with(
        &w,
        &run_keep_all("in.tsv", "out"),
        3,
        &["in.tsv: the input is empty; expected a header line"],
    );
    assert_no_debris(&w, "out");
}

#[test]
fn header_only_and_header_with_blank_lines() {
    let w = Workdir::new();
    w.write("in.tsv", format!("{HEADER}\n"));
    w.write("blank.tsv", format!("{HEADER}\r\n\n\r\n"));
    for input in ["in.tsv", "blank.tsv"] {
        fails_with(
            &w,
            &run_keep_all(input, "out"),
            3,
            &[&format!(
                "{input}: the header is followed by no review rows; is the file complete?"
            )],
        );
    }
    assert_no_debris(&w, "out");
}

#[test]
fn no_header_or_wrong_header() {
    let w = Workdir::new();
    // The first line is a data row.
    w.write("nohdr.tsv", good_rows().join("\n"));
    fails_with(
        &w,
        &run_keep_all("nohdr.tsv", "out"),
        3,
        &[
            "nohdr.tsv: line 1: header has no column customer_id, product_id, star_rating",
            "header columns: US, c1, Rc1p1",
            "is this the reviews TSV with its header line, and is --delimiter right?",
        ],
    );
    // A comma-separated header over tab-separated data: one column named after the whole line.
    let mut text = HEADER.replace('\t', ",");
    text.push('\n');
    text += &good_rows().join("\n");
    w.write("commas.tsv", text);
    fails_with(
        &w,
        &run_keep_all("commas.tsv", "out"),
        3,
        &[
            "commas.tsv: line 1: header has no column customer_id",
            "delimiter tab",
        ],
    );
    // The right file with the wrong --delimiter.
    w.write("in.tsv", tsv(&good_rows()));
    let mut args = run_keep_all("in.tsv", "out");
    args.extend(["--delimiter", ","]);
    fails_with(
        &w,
        &args,
        3,
        &["in.tsv: line 1: header has no column", "delimiter ','"],
    );
    assert_no_debris(&w, "out");
}

#[test]
fn required_column_missing() {
    let w = Workdir::new();
    let header = HEADER.replace("star_rating", "stars");
    let mut text = format!("{header}\n");
    text += &good_rows().join("\n");
    w.write("in.tsv", text);
    fails_with(
        &w,
        &run_keep_all("in.tsv", "out"),
        3,
        &["in.tsv: line 1: header has no column star_rating (delimiter tab; header columns: marketplace,"],
    );
    // The title column is optional: without it the product map has empty titles.
    let header = HEADER.replace("product_title", "title");
    w.write("notitle.tsv", format!("{header}\n{}\n", good_rows().join("\n")));
    let m = w
        .fmprep(&[
            "run",
            "notitle.tsv",
            "-o",
            "ok",
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
        ])
        .ok();
    assert_eq!(m["counts"]["valid"], 6);
    assert!(String::from_utf8(w.read("ok/maps/products.tsv"))
        .unwrap()
        .contains("p1\t0\t3\t\n"));
}

#[test]
fn duplicate_column_names() {
    let w = Workdir::new();
    // A required column twice: which one holds the ratings is ambiguous, so it is fatal.
    let header = HEADER.replace("helpful_votes", "star_rating");
    w.write("dup.tsv", format!("{header}\n{}\n", good_rows().join("\n")));
    fails_with(
        &w,
        &run_keep_all("dup.tsv", "out"),
        3,
        &["dup.tsv: line 1: column \"star_rating\" appears 2 times in the header; column names must be unique"],
    );
    assert_no_debris(&w, "out");
    // A column fmprep does not read, twice: harmless.
    let header = HEADER.replace("verified_purchase", "vine");
    w.write("vine.tsv", format!("{header}\n{}\n", good_rows().join("\n")));
    let m = run_ok(&w, "vine.tsv", &[]);
    assert_eq!(m["counts"]["valid"], 6);
}

#[test]
fn binary_garbage_or_nul_bytes_instead_of_text() {
    let w = Workdir::new();
    // Deterministic garbage (an LCG), including control characters, CR and NUL, but no newline
    // in the first few hundred bytes, so it is all "header".
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (x >> 33) as u8 {
                b'\n' => 0,
                b => b,
            }
        })
        .collect();
    w.write("garbage.bin", &garbage);
    let line = fails_with(
        &w,
        &run_keep_all("garbage.bin", "out"),
        3,
        &["garbage.bin: line 1: header has no column customer_id, product_id, star_rating"],
    );
    // Escaped: no raw control characters reach the log line.
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    w.write("zeros.bin", vec![0u8; 4096]);
    let line = fails_with(
        &w,
        &run_keep_all("zeros.bin", "out"),
        3,
        &[
            "zeros.bin: line 1: header has no column",
            "header columns: \\0\\0\\0",
        ],
    );
    assert!(!line.contains('\0'));
    assert_no_debris(&w, "out");
}

// ---------------------------------------------------------------------------------------------
// Malformed lines: skipped and counted (up to --max-bad-lines).

#[test]
fn too_few_and_too_many_fields() {
    let w = Workdir::new();
    let mut rows = good_rows();
    rows.push("US\tc1\tR\tp1".to_string()); // line 8: 4 fields
    rows.push(format!("{}\textra", review("c1", "p1", "5"))); // line 9: 16 fields
    w.write("in.tsv", tsv(&rows));
    let r = w.fmprep(&[
        "run",
        "in.tsv",
        "-o",
        "out",
        "--max-bad-lines",
        "2",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
    ]);
    let m = r.ok();
    assert_eq!(m["counts"]["bad_lines"]["field_count"], 2);
    assert_eq!(m["counts"]["valid"], 6);
    assert_eq!(m["bad_line_examples"][0]["line"], 8);
    assert_eq!(m["bad_line_examples"][1]["line"], 9);
    let err = r.stderr();
    assert!(
        err.contains("skipped line 8: wrong number of fields (4 fields, header has 15)"),
        "{err}"
    );
    assert!(
        err.contains("skipped line 9: wrong number of fields (16 fields, header has 15)"),
        "{err}"
    );
}

#[test]
fn empty_customer_or_product_id() {
    let w = Workdir::new();
    let mut rows = good_rows();
    rows.push(with_field(CUSTOMER_ID, ""));
    rows.push(with_field(PRODUCT_ID, ""));
    w.write("in.tsv", tsv(&rows));
    let m = run_ok(&w, "in.tsv", &[]);
    let b = &m["counts"]["bad_lines"];
    assert_eq!(
        (b["empty_customer_id"].as_u64(), b["empty_product_id"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(m["bad_line_examples"][0]["kind"], "empty_customer_id");
    assert_eq!(m["bad_line_examples"][0]["line"], 8);
    assert_eq!(m["bad_line_examples"][1]["kind"], "empty_product_id");
}

#[test]
fn star_ratings_that_are_not_exactly_1_to_5() {
    let w = Workdir::new();
    // `5\r` here sits in a middle column (star_rating is column 8 of 15): not a line ending.
    let bad = ["", "0", "6", "4.5", "five", "-", " 5", "5\r", "05", "5 "];
    let mut rows = good_rows();
    for v in bad {
        rows.push(with_field(STAR_RATING, v));
    }
    w.write("in.tsv", tsv(&rows));
    let r = w.fmprep(&[
        "run",
        "in.tsv",
        "-o",
        "out",
        "--max-bad-lines",
        "100",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
    ]);
    let m = r.ok();
    assert_eq!(m["counts"]["bad_lines"]["bad_star_rating"], bad.len());
    assert_eq!(m["counts"]["bad_lines_total"], bad.len());
    assert_eq!(m["counts"]["valid"], 6);
    let err = r.stderr();
    for (line, shown) in [(8, r#""""#), (10, r#""6""#), (11, r#""4.5""#)] {
        let want = format!("skipped line {line}: star rating is not an integer 1..5 (star_rating {shown})");
        assert!(err.contains(&want), "{want} in\n{err}");
    }
    let details: Vec<&str> = m["bad_line_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            r#"star_rating """#,
            r#"star_rating "0""#,
            r#"star_rating "6""#,
            r#"star_rating "4.5""#,
            r#"star_rating "five""#
        ]
    );
}

#[test]
fn rating_with_cr_as_last_column_of_a_crlf_file_is_valid() {
    // The CRLF line end is stripped before the fields are judged, so `5\r\n` is the rating 5. A
    // second CR is data: `5\r\r\n` is the rating "5\r" and bad.
    let w = Workdir::new();
    w.write(
        "in.tsv",
        "customer_id\tproduct_id\tstar_rating\r\nc1\tp1\t5\r\nc2\tp1\t4\r\nc1\tp2\t3\r\r\n",
    );
    let m = run_ok(&w, "in.tsv", &[]);
    assert_eq!(m["counts"]["valid"], 2);
    assert_eq!(m["counts"]["bad_lines"]["bad_star_rating"], 1);
    assert_eq!(m["bad_line_examples"][0]["line"], 4);
    assert_eq!(m["bad_line_examples"][0]["detail"], r#"star_rating "3\r""#);
    let labels: Vec<f32> = records(&w.read("out/train/train.protobuf"))
        .into_iter()
        .chain(records(&w.read("out/test/test_0.protobuf")))
        .map(|r| r.1)
        .collect();
    let mut sorted = labels.clone();
    sorted.sort_by(f32::total_cmp);
    assert_eq!(sorted, vec![4.0, 5.0]);
}

/// The data files (everything but the manifest) of an output directory.
fn data_files(w: &Workdir, rel: &str) -> Vec<(String, Vec<u8>)> {
    w.tree(rel)
        .into_iter()
        .filter(|(p, _)| p != "manifest.json")
        .collect()
}

#[test]
fn crlf_throughout_and_missing_final_newline_change_nothing() {
    let w = Workdir::new();
    let lf = tsv(&good_rows());
    w.write("lf.tsv", &lf);
    w.write("crlf.tsv", lf.replace('\n', "\r\n"));
    w.write("nofinal.tsv", lf.trim_end_matches('\n'));
    w.write(
        "crlf-nofinal.tsv",
        lf.replace('\n', "\r\n").trim_end_matches("\r\n"),
    );
    let mut outputs = Vec::new();
    for input in ["lf.tsv", "crlf.tsv", "nofinal.tsv", "crlf-nofinal.tsv"] {
        let out = input.replace(".tsv", "");
        let mut args = vec!["run", input, "-o", &out];
        args.extend(KEEP_ALL);
        let m = w.fmprep(&args).ok();
        assert_eq!(m["counts"]["valid"], 6, "{input}");
        assert_eq!(m["counts"]["bad_lines_total"], 0, "{input}");
        outputs.push(data_files(&w, &out));
    }
    assert!(outputs[0].len() >= 4);
    for o in &outputs[1..] {
        assert_eq!(o, &outputs[0]);
    }
    // No CR leaks into the maps.
    assert!(!outputs[1].iter().any(|(_, b)| b.contains(&b'\r')));
}

/// `line` with the first occurrence of `from` replaced by raw `to` bytes.
fn splice(line: &str, from: &str, to: &[u8]) -> Vec<u8> {
    let at = line.find(from).unwrap_or_else(|| panic!("{from} in {line}"));
    let mut out = line.as_bytes()[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&line.as_bytes()[at + from.len()..]);
    out
}

#[test]
fn invalid_utf8_in_free_text_does_not_matter() {
    let w = Workdir::new();
    let mut bytes = tsv(&good_rows()).into_bytes();
    // A latin-1 title and a broken body on a new product: copied as they are, the row is valid.
    let line = review("c1", "p9", "5");
    let mut raw = splice(&line, "Title \"p9\"", b"Caf\xe9 \xff\xfe");
    let body = b"body <br />text";
    let at = raw.windows(body.len()).position(|win| win == body).unwrap();
    raw.splice(at..at + body.len(), b"na\xefve \xc3\x28 \x80".iter().copied());
    bytes.extend_from_slice(&raw);
    bytes.push(b'\n');
    w.write("in.tsv", bytes);
    let m = run_ok(&w, "in.tsv", &[]);
    assert_eq!(m["counts"]["valid"], 7);
    assert_eq!(m["counts"]["bad_lines_total"], 0);
    // The title reaches the product map byte for byte.
    let products = w.read("out/maps/products.tsv");
    assert!(products.windows(7).any(|win| win == b"Caf\xe9 \xff\xfe"));
}

#[test]
fn invalid_utf8_in_an_id_is_counted() {
    let w = Workdir::new();
    let mut bytes = tsv(&good_rows()).into_bytes();
    for (i, bad) in [(CUSTOMER_ID, &b"c\xff1"[..]), (PRODUCT_ID, &b"p\xc3\x28"[..])] {
        let line = with_field(i, "PLACEHOLDER").into_bytes();
        let at = line.windows(11).position(|win| win == b"PLACEHOLDER").unwrap();
        bytes.extend_from_slice(&line[..at]);
        bytes.extend_from_slice(bad);
        bytes.extend_from_slice(&line[at + 11..]);
        bytes.push(b'\n');
    }
    w.write("in.tsv", bytes);
    let r = w.fmprep(&[
        "run",
        "in.tsv",
        "-o",
        "out",
        "--max-bad-lines",
        "2",
        "--min-customer-ratings",
        "1",
        "--min-product-ratings",
        "1",
    ]);
    let m = r.ok();
    assert_eq!(m["counts"]["bad_lines"]["invalid_utf8_id"], 2);
    assert_eq!(m["counts"]["valid"], 6);
    assert!(
        r.stderr()
            .contains("skipped line 8: id is not valid UTF-8 (c\u{FFFD}1)"),
        "{}",
        r.stderr()
    );
}

#[test]
fn nul_bytes_and_garbage_lines_among_good_rows() {
    let w = Workdir::new();
    let mut bytes = tsv(&good_rows()).into_bytes();
    // NUL inside the review body: free text, the row counts.
    bytes.extend_from_slice(with_field(REVIEW_BODY, "a\0b").as_bytes());
    bytes.push(b'\n');
    // A line of binary garbage without tabs: wrong number of fields.
    bytes.extend_from_slice(b"\x00\x01\x02\xff\xfe\x1b[31m\x7f\x00");
    bytes.push(b'\n');
    w.write("in.tsv", bytes);
    let m = run_ok(&w, "in.tsv", &[]);
    assert_eq!(m["counts"]["valid"], 7);
    assert_eq!(m["counts"]["bad_lines"]["field_count"], 1);
    assert_eq!(m["bad_line_examples"][0]["line"], 9);
}

#[test]
fn too_many_bad_lines_with_the_default_limit() {
    // Default --max-bad-lines is 1% of the data lines: 2 bad out of 102 is over.
    let w = Workdir::new();
    let mut rows = Vec::new();
    for i in 0..100 {
        rows.push(review(&format!("c{}", i % 10), &format!("p{}", i % 5), "4"));
    }
    rows.push(with_field(STAR_RATING, "x"));
    rows.push(with_field(CUSTOMER_ID, ""));
    w.write("in.tsv", tsv(&rows));
    fails_with(
        &w,
        &["run", "in.tsv", "-o", "out"],
        3,
        &[
            "in.tsv: 2 malformed lines out of 102 exceed --max-bad-lines (1% of lines)",
            "first: line 102: star rating is not an integer 1..5",
            "raise --max-bad-lines",
        ],
    );
    assert_no_debris(&w, "out");
    // One bad line is within 1%: skipped.
    rows.pop();
    w.write("in.tsv", tsv(&rows));
    let m = w.fmprep(&["run", "in.tsv", "-o", "out"]).ok();
    assert_eq!(m["counts"]["bad_lines_total"], 1);
}

/// Wait for `child` and return its exit status and peak resident memory in KiB (the program's
/// own, whatever else the test process runs).
fn wait_with_peak_rss(child: &std::process::Child) -> (i32, u64) {
    // Not wait4's ru_maxrss: Linux folds the high-water mark of the memory the child had before
    // exec into it, and a child spawned with vfork had the test process's (which grows with the
    // tests running beside this one). VmHWM belongs to the exec'd program's own memory; it only
    // grows, so the last value read before the child exits is its peak.
    let status = format!("/proc/{}/status", child.id());
    let watcher = std::thread::spawn(move || {
        let mut peak = 0u64;
        while let Ok(text) = std::fs::read_to_string(&status) {
            let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            else {
                break; // a zombie has no memory lines left
            };
            peak = peak.max(kib);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child's pid with a valid pointer.
    let pid = unsafe { libc::waitpid(child.id() as i32, &mut status, 0) };
    assert_eq!(
        pid,
        child.id() as i32,
        "waitpid: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    (code, watcher.join().unwrap())
}

#[test]
#[allow(clippy::zombie_processes, reason = "reaped by waitpid in wait_with_peak_rss")]
fn a_100_mb_line_without_newline_is_skipped_in_bounded_memory() {
    let w = Workdir::new();
    let mut child = w
        .command(&[
            "run",
            "-",
            "-o",
            "out",
            "--max-line-bytes",
            "1048576",
            "--max-bad-lines",
            "1",
            "--threads",
            "1",
            "--min-customer-ratings",
            "1",
            "--min-product-ratings",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Streamed through a pipe: the test never holds the 100 MB either.
    let feeder = std::thread::spawn(move || {
        let head = tsv(&good_rows());
        stdin.write_all(head.as_bytes())?;
        let block = vec![b'x'; 1 << 20];
        for _ in 0..100 {
            stdin.write_all(&block)?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    let (code, peak_kib) = wait_with_peak_rss(&child);
    feeder.join().unwrap().unwrap();
    let (stdout, stderr) = (stdout.join().unwrap().unwrap(), stderr.join().unwrap().unwrap());
    assert_eq!(code, 0, "{stderr}");
    let m: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(m["counts"]["bad_lines"]["line_too_long"], 1);
    assert_eq!(m["counts"]["valid"], 6);
    assert_eq!(m["counts"]["input_lines"], 7);
    assert_eq!(m["bad_line_examples"][0]["line"], 8);
    assert!(
        stderr.contains("skipped line 8: line longer than --max-line-bytes"),
        "{stderr}"
    );
    // The line is 100 MiB; the process never holds more than a few buffers of the 1 MiB limit.
    assert!(peak_kib < 48 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn a_header_longer_than_the_line_limit_is_fatal() {
    let w = Workdir::new();
    w.write("one-line.tsv", vec![b'h'; 3 << 20]);
    let mut args = run_keep_all("one-line.tsv", "out");
    args.extend(["--max-line-bytes", "1048576"]);
    fails_with(
        &w,
        &args,
        3,
        &["one-line.tsv: line 1 (the header) is longer than 1048576 bytes; this is not a reviews TSV"],
    );
    assert_no_debris(&w, "out");
}

// ---------------------------------------------------------------------------------------------
// Compression.

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// 2000 valid rows: large enough that half of its gzip holds complete lines.
fn many_rows() -> String {
    let rows: Vec<String> = (0..2000)
        .map(|i| review(&format!("c{}", i % 50), &format!("p{}", i % 20), "3"))
        .collect();
    tsv(&rows)
}

#[test]
fn truncated_gzip() {
    let w = Workdir::new();
    let mut gz = gzip(many_rows().as_bytes());
    gz.truncate(gz.len() / 2);
    w.write("in.tsv.gz", &gz);
    let line = fails_with(
        &w,
        &run_keep_all("in.tsv.gz", "out"),
        3,
        &[
            "in.tsv.gz: corrupt or truncated gzip data after line ",
            "the file is damaged or was not fully downloaded, fetch it again",
        ],
    );
    // Some lines decoded before the cut; the message says how far it got.
    let after: u64 = line
        .split("after line ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(after > 1 && after < 2001, "{line}");
    assert_no_debris(&w, "out");
}

#[test]
fn gzip_with_corrupt_crc() {
    let w = Workdir::new();
    let mut gz = gzip(many_rows().as_bytes());
    let n = gz.len();
    gz[n - 8] ^= 0x55; // the trailer: CRC32 then ISIZE
    w.write("in.tsv.gz", &gz);
    fails_with(
        &w,
        &run_keep_all("in.tsv.gz", "out"),
        3,
        &[
            "in.tsv.gz: corrupt or truncated gzip data after line 2001 (",
            "fetch it again",
        ],
    );
    assert_no_debris(&w, "out");
}

#[test]
fn gzip_with_trailing_garbage() {
    // gzip(1) warns and ignores trailing bytes; fmprep fails, since a file with more in it than
    // it can read is not the file the pipeline expects.
    let w = Workdir::new();
    let mut gz = gzip(many_rows().as_bytes());
    gz.extend_from_slice(b"this is not gzip");
    w.write("in.tsv.gz", &gz);
    fails_with(
        &w,
        &run_keep_all("in.tsv.gz", "out"),
        3,
        &["in.tsv.gz: corrupt or truncated gzip data after line 2001 (invalid gzip header)"],
    );
    assert_no_debris(&w, "out");
}

#[test]
fn concatenated_gzip_members_are_one_valid_stream() {
    let w = Workdir::new();
    let text = many_rows();
    let split_at = text.len() / 3; // mid-line: members need not end on line boundaries
    let mut gz = gzip(&text.as_bytes()[..split_at]);
    gz.extend(gzip(&text.as_bytes()[split_at..]));
    gz.extend(gzip(b"")); // an empty member too
    w.write("multi.tsv.gz", &gz);
    w.write("plain.tsv", &text);
    let mut args = run_keep_all("multi.tsv.gz", "multi");
    args.extend(["--max-bad-lines", "0"]);
    let m = w.fmprep(&args).ok();
    assert_eq!(m["counts"]["valid"], 2000);
    w.fmprep(&run_keep_all("plain.tsv", "plain")).ok();
    assert_eq!(data_files(&w, "multi"), data_files(&w, "plain"));
}

#[test]
fn zstd_bzip2_and_xz_are_refused_by_name() {
    let w = Workdir::new();
    for (file, magic, tool) in [
        ("in.tsv.zst", &b"\x28\xb5\x2f\xfd\x00\x58\x00\x00"[..], "zstd"),
        ("in.tsv.bz2", &b"BZh91AY&SY"[..], "bzip2"),
        ("in.tsv.xz", &b"\xfd7zXZ\x00\x00\x04"[..], "xz"),
    ] {
        w.write(file, magic);
        fails_with(
            &w,
            &run_keep_all(file, "out"),
            3,
            &[
                &format!("{file}: unsupported compression {tool} (detected from the first bytes)"),
                &format!("decompress it first, e.g. `{tool} -dc {file} | fmprep run - ...`"),
            ],
        );
    }
    // Detected from the bytes, not the name: a gzip file called .zst is read.
    w.write("really-gzip.zst", gzip(tsv(&good_rows()).as_bytes()));
    w.fmprep(&run_keep_all("really-gzip.zst", "ok")).ok();
    assert_no_debris(&w, "out");
}

// ---------------------------------------------------------------------------------------------
// Filtering and options.

#[test]
fn every_row_filtered_out() {
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    // Defaults: 5 ratings per customer and 10 per product; the fixture has 2 and 3.
    fails_with(
        &w,
        &["run", "in.tsv", "-o", "out"],
        3,
        &[
            "in.tsv: no rows left after the long-tail filter (6 valid rows; none has a customer with >= 5 and a product with >= 10 ratings)",
            "lower --min-customer-ratings / --min-product-ratings",
        ],
    );
    assert_no_debris(&w, "out");
}

#[test]
fn thresholds_of_zero_and_one_keep_every_row() {
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    for t in ["0", "1"] {
        let out = format!("out{t}");
        let m = w
            .fmprep(&[
                "run",
                "in.tsv",
                "-o",
                &out,
                "--min-customer-ratings",
                t,
                "--min-product-ratings",
                t,
            ])
            .ok();
        assert_eq!(m["counts"]["after_long_tail"], 6, "threshold {t}");
        assert_eq!(m["counts"]["after_dedupe"], 6);
        assert_eq!(
            (m["n_customers"].as_u64(), m["n_products"].as_u64()),
            (Some(3), Some(2))
        );
    }
    assert_eq!(data_files(&w, "out0"), data_files(&w, "out1"));
    // A negative threshold is not a number of ratings.
    usage_error(
        &w,
        &["run", "in.tsv", "-o", "out", "--min-customer-ratings=-1"],
        "invalid value '-1' for '--min-customer-ratings <MIN_CUSTOMER_RATINGS>'",
    );
}

#[test]
fn split_fractions_that_do_not_sum_to_1_or_are_negative() {
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    for (split, needle) in [
        (
            "0.5,0.2,0.2",
            "invalid split 0.5,0.2,0.2: the fractions sum to 0.9, they must sum to 1",
        ),
        ("0.6,0.3,0.2", "the fractions sum to 1.1, they must sum to 1"),
        (
            "-0.2,0.6,0.6",
            "invalid split -0.2,0.6,0.6: each fraction must be between 0 and 1",
        ),
        ("0.8,0.4", "each fraction must be between 0 and 1"), // test would get -0.2
        ("0.6", "give 2 or 3 fractions"),
        ("0.6,x,0.2", "expected numbers like 0.6,0.2,0.2"),
        ("NaN,0.2,0.2", "each fraction must be between 0 and 1"),
    ] {
        let arg = format!("--split={split}");
        usage_error(&w, &["run", "in.tsv", "-o", "out", &arg], needle);
    }
    assert!(!w.path("out").exists(), "usage errors come before any output");
}

#[test]
fn seed_that_is_not_a_number() {
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    for seed in ["abc", "-1", "4.2", "18446744073709551616"] {
        let arg = format!("--seed={seed}");
        usage_error(
            &w,
            &["run", "in.tsv", "-o", "out", &arg],
            &format!("invalid value '{seed}' for '--seed <SEED>'"),
        );
    }
    // The environment variable is checked the same way.
    let r = w
        .command(&["run", "in.tsv", "-o", "out"])
        .env("FMPREP_SEED", "forty-two")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("invalid value 'forty-two' for '--seed <SEED>'"));
}

#[test]
fn other_option_values_out_of_range() {
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    fails_with(
        &w,
        &["run", "in.tsv", "-o", "out", "--test-chunk", "0"],
        2,
        &["--test-chunk must be at least 1"],
    );
    fails_with(
        &w,
        &["run", "in.tsv", "-o", "out", "--threads", "100000"],
        2,
        &["--threads 100000 is over 1024; use 0 for one per core"],
    );
    fails_with(
        &w,
        &["run", "in.tsv", "-o", "out", "--max-line-bytes", "4294967296"],
        2,
        &["--max-line-bytes 4294967296 is over the largest supported value"],
    );
    usage_error(
        &w,
        &["run", "in.tsv", "-o", "out", "--max-bad-lines", "2.5"],
        "invalid bad-line limit \"2.5\"",
    );
    usage_error(
        &w,
        &["run", "in.tsv", "-o", "out", "--delimiter", "::"],
        "invalid delimiter \"::\"",
    );
}

// ---------------------------------------------------------------------------------------------
// Local I/O: exit 4.

/// Whether file permissions stop this process (not so for root or with CAP_DAC_OVERRIDE).
fn permissions_apply(path: &std::path::Path) -> bool {
    std::fs::File::open(path).is_err()
}

#[test]
fn input_missing_a_directory_or_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    fails_with(
        &w,
        &run_keep_all("nope.tsv", "out"),
        4,
        &["cannot open input nope.tsv: No such file or directory (os error 2); check the path"],
    );
    std::fs::create_dir(w.path("dir")).unwrap();
    fails_with(
        &w,
        &run_keep_all("dir", "out"),
        4,
        &["cannot open input dir: no input files in this directory"],
    );
    let p = w.write("secret.tsv", tsv(&good_rows()));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if permissions_apply(&p) {
        fails_with(
            &w,
            &run_keep_all("secret.tsv", "out"),
            4,
            &["cannot open input secret.tsv: Permission denied (os error 13); check the file permissions"],
        );
    } else {
        eprintln!("note: running with permission override (root?): unreadable-input check skipped");
    }
    assert!(!w.path("out").exists(), "input errors come before any output");
}

#[test]
fn output_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    let w = Workdir::new();
    w.write("in.tsv", tsv(&good_rows()));
    w.write("file", "x");
    // The output path runs through a regular file.
    fails_with(
        &w,
        &run_keep_all("in.tsv", "file/out"),
        4,
        &[
            "cannot create output directory file/out: Not a directory (os error 20); a parent of this path is a regular file",
        ],
    );
    // The output path is a regular file.
    fails_with(
        &w,
        &run_keep_all("in.tsv", "file"),
        4,
        &["output file exists and is not a directory; give a directory path"],
    );
    assert_eq!(w.read("file"), b"x");
    // A read-only directory: refused before the input is read.
    std::fs::create_dir(w.path("ro")).unwrap();
    std::fs::set_permissions(w.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::File::create(w.path("ro/probe")).is_err() {
        fails_with(
            &w,
            &run_keep_all("in.tsv", "ro"),
            4,
            &["cannot write to output directory ro: Permission denied (os error 13); check the file permissions"],
        );
    } else {
        eprintln!("note: running with permission override (root?): read-only output check skipped");
    }
    std::fs::set_permissions(w.path("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `cmd` with its file-size limit set to `bytes` and SIGXFSZ ignored, so that writes past the
/// limit fail with EFBIG as on a full disk instead of killing the process.
fn limit_file_size(cmd: &mut std::process::Command, bytes: u64) {
    // SAFETY: setrlimit and signal are async-signal-safe, as required between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

#[test]
fn full_disk_fails_without_manifest_or_staged_files() {
    let w = Workdir::new();
    w.write("in.tsv", many_rows());
    // The maps (about 450 bytes each) fit under 1 KiB, train.protobuf (60 records, 3600 bytes)
    // does not; under 100 bytes even the first map fails.
    for (limit, failing) in [
        (1024, "out1024/train/train.protobuf"),
        (100, "out100/maps/customers.tsv"),
    ] {
        let out = format!("out{limit}");
        let mut cmd = w.command(&run_keep_all("in.tsv", &out));
        limit_file_size(&mut cmd, limit);
        let r = Run(cmd.output().unwrap());
        let line = error_line(&r.fails(4));
        assert!(
            line.contains(&format!("cannot write {failing}: File too large (os error 27); the file size limit was hit (ulimit -f) or the disk is full")),
            "{line}"
        );
        assert_no_debris(&w, &out);
    }
    // What was committed before the failure is complete; the next run replaces it.
    assert_eq!(
        w.read("out1024/maps/customers.tsv").len(),
        w.fmprep(&run_keep_all("in.tsv", "out1024")).ok()["files"]["maps"][0]["bytes"]
            .as_u64()
            .unwrap() as usize
    );
}

// ---------------------------------------------------------------------------------------------
// `prepare`: the CSVs of a preprocess output.

/// A preprocess-like directory `py/` with a manifest declaring 3 customers and 2 products.
fn prepare_fixture(w: &Workdir, train: &str) {
    w.write(
        "py/train/train.csv",
        format!("customer,product,star_rating\n{train}"),
    );
    w.write(
        "py/validate/validate.csv",
        "customer,product,star_rating\n1,1,4\n",
    );
    w.write("py/test/test.csv", "customer,product,star_rating\n2,0,3\n");
    w.write("py/manifest.json", r#"{"n_customers": 3, "n_products": 2}"#);
}

#[test]
fn prepare_with_bad_indices() {
    let w = Workdir::new();
    for (train, needle) in [
        (
            "0,1,5\n3,0,4\n",
            "py/train/train.csv: line 3: customer index 3 is out of range: py/manifest.json declares 3 customers (indices 0..2)",
        ),
        (
            "0,1,5\n\n0,2,4\n",
            "py/train/train.csv: line 4: product index 2 is out of range: py/manifest.json declares 2 products (indices 0..1); the CSVs do not match it",
        ),
        (
            "-1,0,5\n",
            "py/train/train.csv: line 2: customer \"-1\" is not a non-negative integer index",
        ),
        ("0,1.5,5\n", "py/train/train.csv: line 2: product \"1.5\" is not a non-negative integer index"),
        ("0,abc,5\n", "line 2: product \"abc\" is not a non-negative integer index"),
        ("0,99999999999,5\n", "line 2: product \"99999999999\" is not a non-negative integer index"),
        ("0,1,five\n", "py/train/train.csv: line 2: star_rating \"five\" is not a number"),
        ("0,1\n", "py/train/train.csv: line 2: 2 fields, the header has 3; check the file"),
    ] {
        prepare_fixture(&w, train);
        fails_with(&w, &["prepare", "py", "-o", "out"], 3, &[needle]);
        assert_no_debris(&w, "out");
    }
}

#[test]
fn prepare_with_counts_that_do_not_match() {
    let w = Workdir::new();
    prepare_fixture(&w, "0,1,5\n");
    // Flags against the manifest: a usage error.
    fails_with(
        &w,
        &["prepare", "py", "-o", "out", "--n-customers", "4"],
        2,
        &["--n-customers/--n-products (4/-) do not match py/manifest.json (3/2)"],
    );
    // Manifest against maps: the directory mixes two runs.
    w.write(
        "py/maps/customers.tsv",
        "customer_id\tindex\tcount\na\t0\t1\nb\t1\t1\n",
    );
    w.write(
        "py/maps/products.tsv",
        b"product_id\tindex\tcount\tproduct_title\nx\t0\t1\t\xff\ny\t1\t1\tt\n",
    );
    fails_with(
        &w,
        &["prepare", "py", "-o", "out"],
        3,
        &["py/manifest.json declares 3 customers and 2 products but py/maps lists 2 and 2; the directory mixes files of different runs"],
    );
    // Maps that agree (one title is not UTF-8: the maps are counted as bytes).
    w.write(
        "py/maps/customers.tsv",
        "customer_id\tindex\tcount\na\t0\t1\nb\t1\t1\nc\t2\t1\n",
    );
    w.fmprep(&["prepare", "py", "-o", "out"]).ok();
    // Flags alone, without manifest or maps, bound the indices too.
    std::fs::remove_file(w.path("py/manifest.json")).unwrap();
    std::fs::remove_dir_all(w.path("py/maps")).unwrap();
    fails_with(
        &w,
        &["prepare", "py", "-o", "out2", "--n-customers", "2"],
        3,
        &["py/test/test.csv: line 2: customer index 2 is out of range: --n-customers/--n-products declares 2 customers"],
    );
    assert_no_debris(&w, "out2");
}

#[test]
fn prepare_with_missing_empty_or_wrong_files() {
    let w = Workdir::new();
    prepare_fixture(&w, "0,1,5\n");
    w.write("py/test/test.csv", "");
    fails_with(
        &w,
        &["prepare", "py", "-o", "out"],
        3,
        &["py/test/test.csv: empty file; expected the header customer,product,star_rating"],
    );
    w.write("py/test/test.csv", "user_id;item_id;rating\n1;1;5\n");
    fails_with(
        &w,
        &["prepare", "py", "-o", "out"],
        3,
        &["py/test/test.csv: line 1: header \"user_id;item_id;rating\" lacks customer, product or star_rating"],
    );
    std::fs::remove_file(w.path("py/test/test.csv")).unwrap();
    fails_with(
        &w,
        &["prepare", "py", "-o", "out"],
        4,
        &["py/test/test.csv: not found; expected the output of `fmprep preprocess`"],
    );
    w.write("py/manifest.json", "{not json");
    w.write("py/test/test.csv", "customer,product,star_rating\n");
    fails_with(
        &w,
        &["prepare", "py", "-o", "out"],
        3,
        &[
            "py/manifest.json: not valid JSON (",
            "remove it or re-run preprocess",
        ],
    );
    fails_with(
        &w,
        &["prepare", "nowhere", "-o", "out"],
        4,
        &["cannot open nowhere: No such file or directory (os error 2); check the path"],
    );
    assert_no_debris(&w, "out");
}

// ---------------------------------------------------------------------------------------------
// `inspect`: RecordIO framing and payload errors, exit 3 with empty stdout.

/// FORMAT.md's second SDK test vector: one 68-byte record (60-byte payload, no padding).
fn one_record() -> Vec<u8> {
    let hex = "0a23d7ce390000000a230a0676616c756573121912170a080000803f0000803f1206b7c808a8f40a1a03a9f40a12120a0676616c756573120812060a040000803f000000";
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// One frame: magic, header word with `flag` and the payload length, payload, zero padding.
fn frame(flag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = 0xced7_230au32.to_le_bytes().to_vec();
    out.extend(((flag << 29) | payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + (4 - payload.len() % 4) % 4, 0);
    out
}

#[test]
fn inspect_framing_and_payload_errors() {
    let w = Workdir::new();
    let good = one_record();
    let payload = &good[8..8 + 57]; // the header word says 0x39 bytes; 3 bytes of padding follow
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut bad_magic = good.clone();
    bad_magic.extend_from_slice(&good);
    bad_magic[68] = 0x0b;
    cases.push((
        "magic",
        bad_magic,
        "byte 68 (record 1): bad magic 0xced7230b, expected 0xced7230a",
    ));
    cases.push((
        "short-header",
        good[..6].to_vec(),
        "byte 0 (record 0): truncated frame header (6 of 8 bytes)",
    ));
    let mut short = good.clone();
    short.extend_from_slice(&good[..40]);
    cases.push((
        "short-record",
        short,
        "byte 68 (record 1): truncated record: 32 of 60 payload bytes",
    ));
    let mut pad = frame(0, payload);
    *pad.last_mut().unwrap() = 7;
    cases.push((
        "padding",
        pad,
        "byte 0 (record 0): non-zero padding after the payload",
    ));
    cases.push((
        "flag-3-alone",
        frame(3, payload),
        "continuation flag 3 without a first frame",
    ));
    cases.push((
        "flag-2-alone",
        frame(2, payload),
        "continuation flag 2 without a first frame",
    ));
    cases.push((
        "flag-5",
        frame(5, payload),
        "continuation flag 5 without a first frame",
    ));
    let mut whole_inside = frame(1, &payload[..20]);
    whole_inside.extend(frame(0, &payload[20..]));
    cases.push((
        "flag-0-inside",
        whole_inside,
        "byte 28 (record 0): continuation flag 0 inside a multi-frame record",
    ));
    cases.push((
        "flag-1-at-end",
        frame(1, &payload[..20]),
        "byte 28 (record 0): the file ends inside a multi-frame record",
    ));
    cases.push((
        "garbage",
        frame(0, b"\xff\xff\xff\xff\x0f"),
        "byte 0 (record 0): payload is not a valid Record protobuf (",
    ));
    for (name, bytes, needle) in &cases {
        let file = format!("{name}.protobuf");
        w.write(&file, bytes);
        let line = fails_with(&w, &["inspect", &file, "--head", "5"], 3, &[needle]);
        assert!(line.contains(&format!("{file}: byte ")), "{line}");
    }
    // A good file still decodes, and split frames are reassembled.
    let mut split = frame(1, &payload[..7]);
    split.extend(frame(2, &payload[7..30]));
    split.extend(frame(3, &payload[30..]));
    split.extend_from_slice(&good);
    w.write("split.protobuf", &split);
    let s = w.fmprep(&["inspect", "split.protobuf"]).ok();
    assert_eq!(s["total"]["records"], 2);
    assert_eq!(s["total"]["feature_dims"]["178729"], 2);
    // A directory with one bad file among good ones fails as a whole, naming the bad one.
    std::fs::create_dir(w.path("dir")).unwrap();
    std::fs::copy(w.path("split.protobuf"), w.path("dir/a.protobuf")).unwrap();
    std::fs::copy(w.path("padding.protobuf"), w.path("dir/b.protobuf")).unwrap();
    fails_with(
        &w,
        &["inspect", "dir"],
        3,
        &["dir/b.protobuf: byte 0 (record 0): non-zero padding"],
    );
    fails_with(
        &w,
        &["inspect", "missing.protobuf"],
        4,
        &["cannot open missing.protobuf: No such file or directory (os error 2)"],
    );
}
