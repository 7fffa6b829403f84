//! Plots, as PNG or SVG (chosen by the file's extension):
//! * [`spectrum_plot`]: log10 eigenvalue against rank, one curve per run with a legend, each
//!   power-law fit drawn over its window;
//! * [`trajectory_plot`]: log10 of a spectrum's values against training step, one line per index
//!   (singular values of a weight, eigenvalues of the embedding covariance);
//! * [`heatmap_plot`]: a matrix as a colour map with a colour bar (DirectCLR alignment matrices
//!   |V₂ᵀU₁|, Barlow Twins cross-correlations, feature correlations);
//! * [`histogram_plot`]: distributions as step outlines of densities, overlaid (centroid cosine
//!   similarities of class and augmentation manifolds, MMCR Fig. 5);
//! * [`category_plot`]: a value per category (layers) with one line per series (MMCR Figs. 2–3:
//!   capacity against layer, one line per method).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::AnalysisError;
use crate::spectrum::PowerLawFit;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid; registration only fails on a malformed file.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One curve of a spectrum plot.
pub struct SpectrumSeries<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Eigenvalues, descending.
    pub eigenvalues: &'a [f64],
    /// The power-law fit to draw over its window, if any.
    pub fit: Option<PowerLawFit>,
}

/// Which file format a plot path asks for.
fn format_of(path: &Path) -> Result<bool, AnalysisError> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(true),
        Some("png") => Ok(false),
        _ => Err(AnalysisError::Plot { path: path.to_path_buf(), problem: "expected a .png or .svg file name".into() }),
    }
}

/// Draws log10 eigenvalue against rank for one or more spectra into a PNG (kept for callers that
/// always write PNG; [`spectrum_plot`] picks the format from the extension).
pub fn spectrum_png(path: impl AsRef<Path>, title: &str, series: &[SpectrumSeries<'_>]) -> Result<(), AnalysisError> {
    spectrum_plot(path, title, series)
}

/// Draws log10 eigenvalue against rank for one or more spectra, overlaid with a legend, into a
/// `.png` or `.svg` file.
pub fn spectrum_plot(path: impl AsRef<Path>, title: &str, series: &[SpectrumSeries<'_>]) -> Result<(), AnalysisError> {
    // plotters' backends are distinct types; one generic function serves both.
    fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, series: &[SpectrumSeries<'_>]) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let floor = 1e-12f64;
        let logs: Vec<Vec<f64>> = series.iter().map(|s| s.eigenvalues.iter().map(|v| v.max(floor).log10()).collect()).collect();
        let n = series.iter().map(|s| s.eigenvalues.len()).max().unwrap_or(1).max(2);
        let (lo, hi) = logs.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo - 0.2, hi + 0.2) } else { (-1.0, 1.0) };
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(1f64..n as f64, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("rank")
            .y_desc("log10 eigenvalue")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (s, ys)) in series.iter().zip(&logs).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(ys.iter().enumerate().map(|(k, &y)| ((k + 1) as f64, y)), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            if let Some(fit) = s.fit {
                let line = (fit.first..=fit.last).map(|k| (k as f64, (fit.log_scale - fit.alpha * (k as f64).ln()) / std::f64::consts::LN_10));
                let label = if series.len() > 1 {
                    format!("{}: α = {:.3} (ranks {}–{})", s.label, fit.alpha, fit.first, fit.last)
                } else {
                    format!("α = {:.3} fit (ranks {}–{})", fit.alpha, fit.first, fit.last)
                };
                chart
                    .draw_series(LineSeries::new(line, BLACK.stroke_width(1)))
                    .map_err(|e| err(&e))?
                    .label(label)
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
            }
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).label_font(("sans-serif", 14)).draw().map_err(|e| err(&e))?;
        Ok(())
    }
    let path = path.as_ref();
    render_with(path, (800, 560), |root| draw(root, title, series), |root| draw(root, title, series))
}

/// Trajectories over training: log10 of each of `values[t][k]` (one line per index k, coloured
/// from dark to light by k) against `steps[t]` — DirectCLR's figures of singular values and
/// embedding eigenvalues during training — into a `.png` or `.svg` file.
pub fn trajectory_plot(path: impl AsRef<Path>, title: &str, y_desc: &str, steps: &[f64], values: &[Vec<f64>]) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    if steps.len() != values.len() || steps.is_empty() {
        return Err(AnalysisError::Plot { path: path.to_path_buf(), problem: format!("{} steps but {} measurements", steps.len(), values.len()) });
    }
    fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, y_desc: &str, steps: &[f64], values: &[Vec<f64>]) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let floor = 1e-12f64;
        let lines = values.iter().map(Vec::len).max().unwrap_or(0);
        let log = |v: f64| v.max(floor).log10();
        let (lo, hi) = values.iter().flatten().map(|&v| log(v)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo - 0.2, hi + 0.2) } else { (-1.0, 1.0) };
        let (x0, x1) = (steps[0], steps[steps.len() - 1]);
        let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0, x0 + 1.0) };
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        for k in 0..lines {
            let color = viridis(if lines > 1 { k as f64 / (lines - 1) as f64 } else { 0.0 });
            let points = steps.iter().zip(values).filter_map(|(&x, v)| v.get(k).map(|&y| (x, log(y))));
            chart.draw_series(LineSeries::new(points, color.stroke_width(2))).map_err(|e| err(&e))?;
        }
        Ok(())
    }
    render_with(path, (800, 520), |root| draw(root, title, y_desc, steps, values), |root| draw(root, title, y_desc, steps, values))
}

/// A matrix drawn as a colour map (row 0 at the top) into a `.png` or `.svg` file. Values are
/// mapped linearly from `range` (default: the matrix's min..max) onto the viridis colour map;
/// non-finite cells are drawn grey.
pub fn heatmap_plot(path: impl AsRef<Path>, title: &str, m: ndarray::ArrayView2<f64>, range: Option<(f64, f64)>) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    let (rows, cols) = m.dim();
    if rows == 0 || cols == 0 {
        return Err(AnalysisError::Plot { path: path.to_path_buf(), problem: format!("cannot draw an empty {rows} × {cols} matrix") });
    }
    let (lo, hi) = range.unwrap_or_else(|| m.iter().filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v))));
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, m: ndarray::ArrayView2<f64>, lo: f64, hi: f64) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (rows, cols) = m.dim();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (main, bar) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(110));
        let mut chart = ChartBuilder::on(&main)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..cols as f64, rows as f64..0f64)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("column")
            .y_desc("row")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(m.indexed_iter().map(|((r, c), &v)| {
                let color = if v.is_finite() { viridis((v - lo) / (hi - lo)) } else { RGBColor(160, 160, 160) };
                Rectangle::new([(c as f64, r as f64), (c as f64 + 1.0, r as f64 + 1.0)], color.filled())
            }))
            .map_err(|e| err(&e))?;
        // Colour bar.
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(40)
            .margin_bottom(46)
            .margin_right(10)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, lo..hi)
            .map_err(|e| err(&e))?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_label_formatter(&|y| format!("{y:.3}"))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(&e))?;
        let steps = 100;
        cb.draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], viridis((i as f64 + 0.5) / steps as f64).filled())
        }))
        .map_err(|e| err(&e))?;
        Ok(())
    }
    render_with(path, (760, 640), |root| draw(root, title, m, lo, hi), |root| draw(root, title, m, lo, hi))
}

/// The viridis colour map at `t` in [0, 1] (clamped), by linear interpolation of 9 anchors.
pub fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] =
        [(68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * (ANCHORS.len() - 1) as f64;
    let i = (t.floor() as usize).min(ANCHORS.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Bin densities of `values` over `range` with `bins` equal bins (values outside are dropped;
/// the densities integrate to the kept fraction).
pub fn histogram_density(values: &[f64], range: (f64, f64), bins: usize) -> Vec<f64> {
    let (lo, hi) = range;
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        if v >= lo && v <= hi {
            counts[(((v - lo) / width) as usize).min(bins - 1)] += 1;
        }
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / (n * width)).collect()
}

/// Overlaid histograms (densities as step outlines, one colour and legend entry per series) of
/// values over `range` in `bins` bins, into a `.png` or `.svg` file.
pub fn histogram_plot(
    path: impl AsRef<Path>,
    title: &str,
    x_desc: &str,
    series: &[(&str, &[f64])],
    range: (f64, f64),
    bins: usize,
) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    if bins == 0 || !(range.1 > range.0) {
        return Err(AnalysisError::Plot { path: path.to_path_buf(), problem: format!("{bins} bins over {range:?}: expected bins >= 1 and lo < hi") });
    }
    let densities: Vec<Vec<f64>> = series.iter().map(|(_, v)| histogram_density(v, range, bins)).collect();
    fn draw<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        title: &str,
        x_desc: &str,
        labels: &[&str],
        densities: &[Vec<f64>],
        range: (f64, f64),
    ) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let top = densities.iter().flatten().fold(0f64, |a, &b| a.max(b)).max(1e-9) * 1.1;
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(range.0..range.1, 0f64..top)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc(x_desc).y_desc("density").label_style(("sans-serif", 14)).draw().map_err(|e| err(&e))?;
        for (i, (label, d)) in labels.iter().zip(densities).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let width = (range.1 - range.0) / d.len() as f64;
            let mut outline = vec![(range.0, 0.0)];
            for (k, &v) in d.iter().enumerate() {
                let x0 = range.0 + k as f64 * width;
                outline.push((x0, v));
                outline.push((x0 + width, v));
            }
            outline.push((range.1, 0.0));
            chart
                .draw_series(LineSeries::new(outline, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).label_font(("sans-serif", 14)).draw().map_err(|e| err(&e))?;
        Ok(())
    }
    let labels: Vec<&str> = series.iter().map(|(l, _)| *l).collect();
    render_with(path, (800, 520), |root| draw(root, title, x_desc, &labels, &densities, range), |root| draw(root, title, x_desc, &labels, &densities, range))
}

/// One line per series over named categories (in order): `series[i].1[k]` is series i's value
/// at `categories[k]` (NaN leaves a gap), into a `.png` or `.svg` file.
pub fn category_plot(path: impl AsRef<Path>, title: &str, y_desc: &str, categories: &[String], series: &[(&str, Vec<f64>)]) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    if let Some((label, v)) = series.iter().find(|(_, v)| v.len() != categories.len()) {
        return Err(AnalysisError::Plot {
            path: path.to_path_buf(),
            problem: format!("series `{label}` has {} values for {} categories", v.len(), categories.len()),
        });
    }
    fn draw<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        title: &str,
        y_desc: &str,
        categories: &[String],
        series: &[(&str, Vec<f64>)],
    ) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (lo, hi) = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let pad = if hi > lo { 0.08 * (hi - lo) } else { 0.5 };
        let (lo, hi) = if lo.is_finite() { (lo - pad, hi + pad) } else { (0.0, 1.0) };
        let n = categories.len().max(1);
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), lo..hi)
            .map_err(|e| err(&e))?;
        let names = categories.to_vec();
        chart
            .configure_mesh()
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&move |x| {
                let k = x.round();
                if (x - k).abs() < 1e-6 && k >= 0.0 {
                    names.get(k as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (label, v)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = v.iter().enumerate().filter(|(_, y)| y.is_finite()).map(|(k, &y)| (k as f64, y)).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled()))).map_err(|e| err(&e))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).label_font(("sans-serif", 14)).draw().map_err(|e| err(&e))?;
        Ok(())
    }
    render_with(path, (800, 520), |root| draw(root, title, y_desc, categories, series), |root| draw(root, title, y_desc, categories, series))
}

/// Points `(x, y, label)` joined in order by a line, each marked and labelled (InfoMin's
/// accuracy against I_NCE, one point per view setting), into a `.png` or `.svg` file.
pub fn labelled_points_plot(path: impl AsRef<Path>, title: &str, x_desc: &str, y_desc: &str, points: &[(f64, f64, String)]) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    if points.iter().any(|(x, y, _)| !x.is_finite() || !y.is_finite()) || points.is_empty() {
        return Err(AnalysisError::Plot { path: path.to_path_buf(), problem: "need at least one point, every coordinate finite".into() });
    }
    fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str, x_desc: &str, y_desc: &str, points: &[(f64, f64, String)]) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let range = |v: Vec<f64>| {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            let pad = if hi > lo { 0.1 * (hi - lo) } else { 0.5 };
            (lo - pad)..(hi + pad)
        };
        let (xr, yr) = (range(points.iter().map(|p| p.0).collect()), range(points.iter().map(|p| p.1).collect()));
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).label_style(("sans-serif", 14)).draw().map_err(|e| err(&e))?;
        let color = Palette99::pick(0).to_rgba();
        chart.draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), color.stroke_width(2))).map_err(|e| err(&e))?;
        chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 5, color.filled()))).map_err(|e| err(&e))?;
        chart.draw_series(points.iter().map(|p| Text::new(p.2.clone(), (p.0, p.1), ("sans-serif", 14).into_font().color(&BLACK)))).map_err(|e| err(&e))?;
        Ok(())
    }
    render_with(path, (800, 560), |root| draw(root, title, x_desc, y_desc, points), |root| draw(root, title, x_desc, y_desc, points))
}

/// Renders into a PNG or an SVG by the extension of `path`; `png`/`svg` draw on each backend.
fn render_with(
    path: &Path,
    size: (u32, u32),
    png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
    svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), AnalysisError> {
    let err = |e: String| AnalysisError::Plot { path: path.to_path_buf(), problem: e };
    ensure_font();
    if format_of(path)? {
        let root = SVGBackend::new(path, size).into_drawing_area();
        svg(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        png(&root).map_err(err)?;
        root.present().map_err(|e| err(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::labelled_points_plot;

    #[test]
    fn labelled_points_name_each_point_and_refuse_non_finite_ones() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("p.svg");
        let points = vec![(4.2, 0.70, "0 px".to_string()), (2.6, 0.72, "1 px".to_string()), (0.5, 0.69, "14 px".to_string())];
        labelled_points_plot(&svg, "accuracy against I_NCE", "I_NCE", "accuracy", &points).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("14 px") && text.contains("accuracy against I_NCE"), "labels and title are drawn");
        labelled_points_plot(dir.path().join("p.png"), "t", "x", "y", &points).unwrap();
        assert!(dir.path().join("p.png").metadata().unwrap().len() > 1000);
        let bad = vec![(f64::NAN, 0.5, "x".to_string())];
        assert!(labelled_points_plot(dir.path().join("q.svg"), "t", "x", "y", &bad).is_err());
        assert!(labelled_points_plot(dir.path().join("q.svg"), "t", "x", "y", &[]).is_err());
    }
}
