//! Plots: the eigenvalue spectrum, log10 λ against rank, with the power-law fit drawn.

use std::path::Path;

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

/// Draws log10 eigenvalue against rank for one or more spectra into a PNG.
pub fn spectrum_png(path: impl AsRef<Path>, title: &str, series: &[SpectrumSeries<'_>]) -> Result<(), AnalysisError> {
    let path = path.as_ref();
    let err = |e: &dyn std::fmt::Display| AnalysisError::Plot { path: path.to_path_buf(), problem: e.to_string() };
    ensure_font();
    let floor = 1e-12f64;
    let logs: Vec<Vec<f64>> = series.iter().map(|s| s.eigenvalues.iter().map(|v| v.max(floor).log10()).collect()).collect();
    let n = series.iter().map(|s| s.eigenvalues.len()).max().unwrap_or(1).max(2);
    let (lo, hi) = logs.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() && hi > lo { (lo - 0.2, hi + 0.2) } else { (-1.0, 1.0) };
    let root = BitMapBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
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
            chart
                .draw_series(LineSeries::new(line, BLACK.stroke_width(1)))
                .map_err(|e| err(&e))?
                .label(format!("α = {:.3} fit (ranks {}–{})", fit.alpha, fit.first, fit.last))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
