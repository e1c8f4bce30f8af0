//! Pictures of an [`explore`](crate::tools::explore) report, as SVG or PNG: the long-tail curves (share of
//! customers and of products with at least k ratings, log-log, with the default thresholds marked)
//! and the threshold-sweep heat map (rows kept per min-customer × min-product, log colour scale).
//!
//! Drawing uses `plotters` without its system-font support (which needs fontconfig at build time):
//! SVG text is written as `<text>` for the viewer to render, and PNG text is rasterised here with
//! `ab_glyph` from the DejaVu Sans font embedded in the binary (`assets/fonts/`, Bitstream Vera
//! licence), so the output does not depend on the fonts of the machine.

use std::path::Path;

use ab_glyph::FontRef;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::tools::explore::{Distribution, Report};

/// Size of the picture in pixels.
pub const SIZE: (u32, u32) = (1200, 500);

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Which file format, from the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    /// `.svg`
    Svg,
    /// `.png`
    Png,
}

impl PlotFormat {
    /// The format of `path` by its extension.
    pub fn of(path: &Path) -> Result<PlotFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(PlotFormat::Svg),
            Some("png") => Ok(PlotFormat::Png),
            _ => Err(Error::usage(format!(
                "--plot {}: the file name must end in .svg or .png",
                path.display()
            ))),
        }
    }
}

fn draw_error(e: impl std::fmt::Display) -> Error {
    Error::new(crate::ErrorKind::Internal, format!("cannot draw the plot: {e}"))
}

/// Render `report` in `format`: the file's bytes.
pub fn render(report: &Report, format: PlotFormat) -> Result<Vec<u8>> {
    match format {
        PlotFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(&root, report).map_err(draw_error)?;
                root.present().map_err(draw_error)?;
            }
            Ok(svg.into_bytes())
        }
        PlotFormat::Png => {
            let (w, h) = SIZE;
            let mut rgb = vec![255u8; (w * h * 3) as usize];
            {
                let font = FontRef::try_from_slice(FONT).map_err(draw_error)?;
                let backend = glyph::GlyphText {
                    inner: BitMapBackend::with_buffer(&mut rgb, SIZE),
                    font,
                };
                let root = backend.into_drawing_area();
                draw(&root, report).map_err(draw_error)?;
                root.present().map_err(draw_error)?;
            }
            let mut png_bytes = Vec::new();
            let mut enc = png::Encoder::new(&mut png_bytes, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().map_err(draw_error)?;
            writer.write_image_data(&rgb).map_err(draw_error)?;
            writer.finish().map_err(draw_error)?;
            Ok(png_bytes)
        }
    }
}

type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, report: &Report) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    draw_long_tail(&left, report)?;
    draw_sweep(&right, report)?;
    Ok(())
}

/// (k, share with >= k) at about 40 points per decade of k.
fn ccdf(d: &Distribution) -> Vec<(f64, f64)> {
    let n = d.sorted_desc.len();
    let Some(&max) = d.sorted_desc.first() else {
        return Vec::new();
    };
    let mut points = Vec::new();
    let mut k = 1.0f64;
    let mut last = 0u32;
    while k as u32 <= max {
        let ki = k as u32;
        if ki != last {
            // sorted_desc is descending: ids with count >= ki form a prefix.
            let at_least = d.sorted_desc.partition_point(|&c| c >= ki);
            points.push((ki as f64, at_least as f64 / n as f64));
            last = ki;
        }
        k *= 10f64.powf(1.0 / 40.0);
    }
    points
}

fn draw_long_tail<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, report: &Report) -> DrawResult<DB> {
    let customers = ccdf(&report.customers);
    let products = ccdf(&report.products);
    let max_k = customers
        .iter()
        .chain(&products)
        .map(|p| p.0)
        .fold(10.0f64, f64::max);
    let min_share = customers
        .iter()
        .chain(&products)
        .map(|p| p.1)
        .filter(|&s| s > 0.0)
        .fold(1.0f64, f64::min)
        .min(0.01);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Long tail: share of ids with at least k ratings",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(
            (1.0f64..max_k * 1.2).log_scale(),
            (min_share * 0.8..1.05f64).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("k = ratings per id")
        .y_desc("share with >= k ratings")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{}%", trim_pct(100.0 * v)))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    let blue = RGBColor(31, 119, 180);
    let orange = RGBColor(255, 127, 14);
    let (c5, p10) = (share_at(&report.customers, 5), share_at(&report.products, 10));
    chart
        .draw_series(LineSeries::new(customers, blue.stroke_width(2)))?
        .label(format!(
            "customers ({}); >= 5: {}%",
            report.customers.ids,
            trim_pct(100.0 * c5)
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(products, orange.stroke_width(2)))?
        .label(format!(
            "products ({}); >= 10: {}%",
            report.products.ids,
            trim_pct(100.0 * p10)
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2)));
    // The default thresholds: customers >= 5, products >= 10.
    for (k, color) in [(5.0, blue), (10.0, orange)] {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(k, min_share * 0.8), (k, 1.05)],
            color.mix(0.5).stroke_width(1),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

fn share_at(d: &Distribution, k: u32) -> f64 {
    d.at_least.iter().find(|s| s.k == k).map_or(0.0, |s| s.share)
}

fn trim_pct(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A perceptually ordered colour ramp (light yellow → dark blue), `t` in 0..=1.
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, (u8, u8, u8)); 5] = [
        (0.0, (255, 255, 204)),
        (0.25, (161, 218, 180)),
        (0.5, (65, 182, 196)),
        (0.75, (44, 127, 184)),
        (1.0, (37, 52, 148)),
    ];
    let t = t.clamp(0.0, 1.0);
    let i = STOPS.iter().position(|s| s.0 >= t).unwrap_or(4).max(1);
    let (t0, a) = STOPS[i - 1];
    let (t1, b) = STOPS[i];
    let f = (t - t0) / (t1 - t0);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn human(n: u64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{:.0}M", n as f64 / 1e6),
        n if n >= 1_000_000 => format!("{:.2}M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.0}k", n as f64 / 1e3),
        n if n >= 1_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

fn draw_sweep<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, report: &Report) -> DrawResult<DB> {
    let (mc, mp) = (report.grid.max_customer as f64, report.grid.max_product as f64);
    let rows: Vec<u64> = report.sweep.iter().map(|r| r.rows).collect();
    let hi = rows.iter().copied().max().unwrap_or(1).max(1) as f64;
    let lo = rows.iter().copied().filter(|&r| r > 0).min().unwrap_or(1) as f64;
    let scale = |r: u64| {
        if r == 0 || hi <= lo {
            return if r == 0 { 0.0 } else { 1.0 };
        }
        ((r as f64).ln() - lo.ln()) / (hi.ln() - lo.ln())
    };
    let default_cell = report.cell(5, 10);
    let caption = match default_cell {
        Some(d) => format!(
            "Rows kept (5/10: {} rows, feature_dim {})",
            human(d.rows),
            human(d.feature_dim)
        ),
        None => "Rows kept per threshold pair".to_string(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(62)
        .y_label_area_size(55)
        .build_cartesian_2d(0.5f64..mp + 0.5, 0.5f64..mc + 0.5)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("--min-product-ratings")
        .y_desc("--min-customer-ratings")
        .x_labels(report.grid.max_product as usize)
        .y_labels(report.grid.max_customer as usize)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    chart.draw_series(report.sweep.iter().map(|r| {
        let (x, y) = (r.min_product as f64, r.min_customer as f64);
        Rectangle::new(
            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
            ramp(scale(r.rows)).filled(),
        )
    }))?;
    if let Some(d) = default_cell {
        let (x, y) = (d.min_product as f64, d.min_customer as f64);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
            RED.stroke_width(2),
        )))?;
    }
    // Corner labels instead of a colour bar: the lightest and darkest cells.
    let corner = |r: Option<&crate::tools::explore::SweepRow>| r.map(|r| human(r.rows)).unwrap_or_default();
    let style = ("sans-serif", 13).into_font().color(&BLACK);
    let first = report.sweep.first();
    let last = report.sweep.last();
    area.draw(&Text::new(
        format!(
            "log colour: {} rows (1/1, dark) to {} rows ({}/{}, light); red box: defaults 5/10",
            corner(first),
            corner(last),
            report.grid.max_customer,
            report.grid.max_product
        ),
        (70, SIZE.1 as i32 - 16),
        style,
    ))?;
    Ok(())
}

/// Text for the bitmap backend (kept apart: its backend-style traits clash with plotters' own
/// `Color` methods in the drawing code).
mod glyph {
    use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
    use plotters::prelude::DrawingBackend;
    use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

    /// A backend wrapper that draws text with `ab_glyph` (the bitmap backend's own text drawing needs
    /// plotters' system-font feature). Everything else goes to the wrapped backend.
    pub(super) struct GlyphText<'f, B> {
        pub(super) inner: B,
        pub(super) font: FontRef<'f>,
    }

    impl<B: DrawingBackend> GlyphText<'_, B> {
        /// Width and height in pixels of `text` at `size` (ascent to descent).
        fn measure(&self, text: &str, size: f64) -> (f32, f32) {
            let f = self.font.as_scaled(PxScale::from(size as f32));
            let mut width = 0.0;
            let mut prev = None;
            for ch in text.chars() {
                let id = f.glyph_id(ch);
                if let Some(p) = prev {
                    width += f.kern(p, id);
                }
                width += f.h_advance(id);
                prev = Some(id);
            }
            (width, f.ascent() - f.descent())
        }
    }

    impl<B: DrawingBackend> DrawingBackend for GlyphText<'_, B> {
        type ErrorType = B::ErrorType;

        fn get_size(&self) -> (u32, u32) {
            self.inner.get_size()
        }

        fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.ensure_prepared()
        }

        fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.present()
        }

        fn draw_pixel(
            &mut self,
            point: BackendCoord,
            color: BackendColor,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.draw_pixel(point, color)
        }

        fn draw_line<S: BackendStyle>(
            &mut self,
            from: BackendCoord,
            to: BackendCoord,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.draw_line(from, to, style)
        }

        fn draw_rect<S: BackendStyle>(
            &mut self,
            upper_left: BackendCoord,
            bottom_right: BackendCoord,
            style: &S,
            fill: bool,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.draw_rect(upper_left, bottom_right, style, fill)
        }

        fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            path: I,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.draw_path(path, style)
        }

        fn draw_circle<S: BackendStyle>(
            &mut self,
            center: BackendCoord,
            radius: u32,
            style: &S,
            fill: bool,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.draw_circle(center, radius, style, fill)
        }

        fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            vert: I,
            style: &S,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.fill_polygon(vert, style)
        }

        fn draw_text<TStyle: BackendTextStyle>(
            &mut self,
            text: &str,
            style: &TStyle,
            pos: BackendCoord,
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            use plotters_backend::text_anchor::{HPos, VPos};
            let color = style.color();
            if color.alpha == 0.0 {
                return Ok(());
            }
            let (width, height) = self.measure(text, style.size());
            let dx = match style.anchor().h_pos {
                HPos::Left => 0.0,
                HPos::Right => -width,
                HPos::Center => -width / 2.0,
            };
            let dy = match style.anchor().v_pos {
                VPos::Top => 0.0,
                VPos::Center => -height / 2.0,
                VPos::Bottom => -height,
            };
            let trans = style.transform();
            let (w, h) = self.get_size();
            let f = self.font.as_scaled(PxScale::from(style.size() as f32));
            let mut caret = 0.0f32;
            let mut prev = None;
            let mut glyphs = Vec::new();
            for ch in text.chars() {
                let id = f.glyph_id(ch);
                if let Some(p) = prev {
                    caret += f.kern(p, id);
                }
                glyphs.push(id.with_scale_and_position(f.scale(), ab_glyph::point(caret, f.ascent())));
                caret += f.h_advance(id);
                prev = Some(id);
            }
            for g in glyphs {
                let Some(outline) = self.font.outline_glyph(g) else {
                    continue;
                };
                let b = outline.px_bounds();
                let mut pixels = Vec::new();
                outline.draw(|gx, gy, coverage| {
                    if coverage > 0.0 {
                        pixels.push((b.min.x + gx as f32, b.min.y + gy as f32, coverage));
                    }
                });
                for (px, py, coverage) in pixels {
                    let (x, y) = trans.transform((px + dx).round() as i32, (py + dy).round() as i32);
                    let (x, y) = (pos.0 + x, pos.1 + y);
                    if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                        let c = BackendColor {
                            alpha: color.alpha * coverage.min(1.0) as f64,
                            rgb: color.rgb,
                        };
                        self.inner.draw_pixel((x, y), c)?;
                    }
                }
            }
            Ok(())
        }

        fn estimate_text_size<TStyle: BackendTextStyle>(
            &self,
            text: &str,
            style: &TStyle,
        ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
            let (w, h) = self.measure(text, style.size());
            Ok((w.ceil() as u32, h.ceil() as u32))
        }

        fn blit_bitmap(
            &mut self,
            pos: BackendCoord,
            (iw, ih): (u32, u32),
            src: &[u8],
        ) -> std::result::Result<(), DrawingErrorKind<Self::ErrorType>> {
            self.inner.blit_bitmap(pos, (iw, ih), src)
        }
    }
}
