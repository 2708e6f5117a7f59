//! The soak's chart: requests/s, p99, the WAL's size against its bound, the database's size
//! and the server's RSS over time, one panel each, as a PNG.

use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::soak::Sample;

/// A line of a panel: its name, its colour and its points (seconds, value).
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Where Debian's `fonts-dejavu-core` puts the font the labels use.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Draws `samples` into a PNG at `path`; `wal_bound_mib` is drawn as a line on the WAL panel.
pub fn draw(
    path: &Path,
    title: &str,
    samples: &[Sample],
    wal_bound_mib: f64,
) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1200, 1200)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    let panels = root.split_evenly((5, 1));
    let end = samples.last().map_or(1.0, |s| s.second).max(1.0);
    let series = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        samples.iter().map(|s| (s.second, f(s))).collect()
    };
    panel(
        &panels[0],
        "requests/s",
        end,
        &[("req/s", BLUE, series(|s| s.requests_per_second))],
        None,
    )?;
    panel(
        &panels[1],
        "p99 latency (ms)",
        end,
        &[("p99 ms", RED, series(|s| s.p99_ms))],
        None,
    )?;
    panel(
        &panels[2],
        "WAL size, largest in each second (MiB)",
        end,
        &[("WAL", MAGENTA, series(|s| s.wal_mib))],
        Some(wal_bound_mib),
    )?;
    panel(
        &panels[3],
        "database size (MiB)",
        end,
        &[("database", GREEN, series(|s| s.db_mib))],
        None,
    )?;
    panel(
        &panels[4],
        "server RSS (MiB)",
        end,
        &[("RSS", BLACK, series(|s| s.rss_mib))],
        None,
    )?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One panel: `lines` against seconds, from 0 to `end`; `bound` as a dashed line.
fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    end: f64,
    lines: &[Line<'_>],
    bound: Option<f64>,
) -> anyhow::Result<()> {
    let top = lines
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
        .chain(bound)
        .fold(0.0_f64, f64::max)
        .max(1e-3)
        * 1.1;
    let (x_decimals, y_decimals) = (label_decimals(end), label_decimals(top));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_label_formatter(&|v| format!("{v:.y_decimals$}"))
        .x_label_formatter(&|v| format!("{v:.x_decimals$}"))
        .label_style(("sans-serif", 12))
        .draw()?;
    for (name, color, points) in lines {
        // One pixel wide: plotters draws a wider line as a polygon with mitred joins,
        // which spike far past the data where the line turns sharply (below 0 after a
        // latency spike). The legend shows the same line.
        let style = color.stroke_width(1);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    }
    if let Some(bound) = bound {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, bound), (end, bound)],
                6,
                4,
                RED.stroke_width(1),
            ))?
            .label("WAL bound")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

/// Enough decimals that no two labels of an axis from 0 to `span` read alike: plotters puts
/// ten or so labels on an axis, so their step is at least about a twentieth of its span.
fn label_decimals(span: f64) -> usize {
    (-(span / 20.0).log10()).ceil().max(0.0) as usize
}

/// Registers DejaVu Sans as plotters' `sans-serif` (read at run time, once).
fn register_font() -> anyhow::Result<()> {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    let bytes = std::fs::read(FONT).with_context(|| {
        format!("reading {FONT} for the chart's labels (apt-get install fonts-dejavu-core)")
    })?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{FONT} is not a font plotters can read"))?;
    let _ = DONE.set(());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label_decimals;

    #[test]
    fn labels_carry_the_decimals_their_step_needs() {
        // Ten minutes of seconds, or thousands of requests/s: whole numbers.
        assert_eq!(label_decimals(600.0), 0);
        assert_eq!(label_decimals(20_000.0), 0);
        // A 10 s run or a 5 ms p99 steps by half a unit; 0.3 ms by hundredths.
        assert_eq!(label_decimals(10.0), 1);
        assert_eq!(label_decimals(5.5), 1);
        assert_eq!(label_decimals(0.3), 2);
    }
}
