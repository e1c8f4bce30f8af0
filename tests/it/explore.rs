//! `fmprep explore`: quantiles, shares, the threshold sweep (checked against `run`), plots.

use crate::util::*;

#[test]
fn quantiles_and_shares_on_a_known_distribution() {
    let w = Workdir::new();
    // Customers a, b, c, d rate 1, 2, 3 and 10 products: per-customer counts [1, 2, 3, 10].
    let mut rows = Vec::new();
    let products: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    for (c, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 10)] {
        for p in products.iter().take(n) {
            rows.push((c, p.as_str(), "4"));
        }
    }
    w.write("in.tsv", mini_tsv(&rows));
    let r = w.fmprep(&["explore", "in.tsv", "--json"]);
    let m = r.ok();
    assert_eq!(r.stdout().lines().count(), 1);
    assert_eq!(m["valid"], 16);
    assert_eq!(m["customers"]["ids"], 4);
    let q = |who: &str, pct: f64| -> f64 {
        m[who]["quantiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["percent"].as_f64() == Some(pct))
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    // pandas.Series([1, 2, 3, 10]).quantile([0, .25, .5, .9, .99, 1])
    for (pct, want) in [
        (0.0, 1.0),
        (25.0, 1.75),
        (50.0, 2.5),
        (90.0, 7.9),
        (99.0, 9.79),
        (100.0, 10.0),
    ] {
        assert!(
            (q("customers", pct) - want).abs() < 1e-9,
            "{pct}%: {}",
            q("customers", pct)
        );
    }
    // Products: p0 has 4 ratings, p1 3, p2 2, p3..p9 1 each.
    assert_eq!(q("products", 100.0), 4.0);
    assert_eq!(q("products", 50.0), 1.0);
    let share = |who: &str, k: u64| -> f64 {
        m[who]["at_least"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["k"] == k)
            .unwrap()["share"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(share("customers", 2), 0.75);
    assert_eq!(share("customers", 5), 0.25);
    assert_eq!(share("products", 3), 0.2);
    assert_eq!(m["sweep"].as_array().unwrap().len(), 200);

    // The text report carries the same numbers.
    let text = w.fmprep(&["explore", "in.tsv"]).stdout();
    assert!(text.contains("     50%         2.50            1\n"), "{text}");
    assert!(
        text.contains("    >= 5           1   25.00%           0    0.00%"),
        "{text}"
    );
}

#[test]
fn the_sweep_predicts_exactly_what_run_keeps() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 21);
    let m = w.fmprep(&["explore", "in.tsv.gz", "--json"]).ok();
    let sweep = m["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 10 * 20);
    for (c, p) in [(5u64, 10u64), (1, 1), (3, 7), (10, 20)] {
        let cell = sweep
            .iter()
            .find(|r| r["min_customer"] == c && r["min_product"] == p)
            .unwrap();
        let out = format!("run_{c}_{p}");
        let run = w
            .fmprep(&[
                "run",
                "in.tsv.gz",
                "-o",
                &out,
                "--min-customer-ratings",
                &c.to_string(),
                "--min-product-ratings",
                &p.to_string(),
            ])
            .ok();
        assert_eq!(
            cell["after_long_tail"], run["counts"]["after_long_tail"],
            "{c}/{p}"
        );
        assert_eq!(cell["rows"], run["counts"]["after_dedupe"], "{c}/{p}");
        assert_eq!(cell["customers"], run["n_customers"], "{c}/{p}");
        assert_eq!(cell["products"], run["n_products"], "{c}/{p}");
        assert_eq!(cell["feature_dim"], run["feature_dim"], "{c}/{p}");
    }
    // 1/1 keeps everything: all valid rows, every distinct pair.
    assert_eq!(sweep[0]["after_long_tail"], m["valid"]);
    assert_eq!(sweep[0]["rows"], m["distinct_pairs"]);
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn plots_are_valid_png_and_svg_of_the_expected_size() {
    let w = Workdir::new();
    w.synth("in.tsv.gz", 20_000, 5);
    w.fmprep(&["explore", "in.tsv.gz", "--plot", "plots/tail.png", "-q"])
        .ok_no_json();
    let png_bytes = w.read("plots/tail.png");
    assert_eq!(png_size(&png_bytes), (1200, 500));
    // It decodes whole, and it is a picture, not a blank canvas: dark text, the blue customer curve.
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height, info.color_type),
        (1200, 500, png::ColorType::Rgb)
    );
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    let dark = pixels.iter().filter(|p| p.iter().all(|&v| v < 80)).count();
    let blue = pixels
        .iter()
        .filter(|p| p[0] < 60 && p[2] > 150 && p[1] > 90 && p[1] < 140)
        .count();
    assert!(dark > 2_000, "text and axes: {dark} dark pixels");
    assert!(blue > 300, "the customer curve: {blue} blue pixels");

    w.fmprep(&["explore", "in.tsv.gz", "--plot", "tail.svg", "--json"])
        .ok();
    let svg = String::from_utf8(w.read("tail.svg")).unwrap();
    assert!(
        svg.starts_with("<svg width=\"1200\" height=\"500\" viewBox=\"0 0 1200 500\""),
        "{}",
        &svg[..80]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Long tail: share of ids with at least k ratings"));
    assert!(svg.contains("--min-product-ratings"));
    assert!(svg.matches("<rect").count() > 200, "heat-map cells");

    let err = w.fmprep(&["explore", "in.tsv.gz", "--plot", "tail.jpg"]).fails(2);
    assert!(err.contains("must end in .svg or .png"), "{err}");
}
