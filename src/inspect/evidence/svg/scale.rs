//! The map's sense of scale without tiles: a grid every "nice" distance, a scale bar
//! and a north arrow.

use crate::inspect::geo::LocalProjection;
use std::fmt::Write;

/// A "nice" length (1, 2 or 5 × 10^k metres) close to `target`.
fn nice_length(target: f64) -> f64 {
    let k = 10f64.powf(target.max(1.0).log10().floor());
    for m in [5.0, 2.0, 1.0] {
        if m * k <= target {
            return m * k;
        }
    }
    k
}

fn length_label(m: f64) -> String {
    if m >= 1000.0 {
        format!("{} km", m / 1000.0)
    } else {
        format!("{m} m")
    }
}

/// Grid lines every "nice" distance, about six across.
pub(super) fn grid(o: &mut String, proj: &LocalProjection) {
    let (width, height) = (proj.width, proj.height);
    let step_m = nice_length(width * proj.m_per_px / 6.0);
    let step_px = step_m / proj.m_per_px;
    o.push_str(r##"<g id="grid" stroke="#e2ddd0" stroke-width="1">"##);
    let mut x = (width / 2.0) % step_px;
    while x < width {
        let _ = write!(o, r#"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{height}"/>"#);
        x += step_px;
    }
    let mut y = (height / 2.0) % step_px;
    while y < height {
        let _ = write!(o, r#"<line x1="0" y1="{y:.1}" x2="{width}" y2="{y:.1}"/>"#);
        y += step_px;
    }
    o.push_str("</g>\n");
}

/// A scale bar of about a fifth of the width (bottom left) and a north arrow (top right).
pub(super) fn scale_bar_and_north(o: &mut String, proj: &LocalProjection) {
    let (width, height) = (proj.width, proj.height);
    let bar_m = nice_length(width * proj.m_per_px / 5.0);
    let bar_px = bar_m / proj.m_per_px;
    let (bx, by) = (16.0, height - 20.0);
    let _ = writeln!(
        o,
        r##"<g id="scale"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="26" fill="#fff" fill-opacity="0.8"/><path d="M{bx},{by} h{bar_px:.1} M{bx},{:.1} v8 M{:.1},{:.1} v8" stroke="#222" stroke-width="2"/><text x="{bx}" y="{:.1}" font-size="11" fill="#222">{}</text></g>"##,
        bx - 6.0,
        by - 18.0,
        bar_px + 12.0,
        by - 4.0,
        bx + bar_px,
        by - 4.0,
        by - 7.0,
        length_label(bar_m)
    );
    let _ = writeln!(
        o,
        r##"<g id="north" transform="translate({:.1},30)"><path d="M0,-16 L7,8 L0,3 L-7,8 z" fill="#222"/><text x="0" y="22" font-size="12" text-anchor="middle" fill="#222">N</text></g>"##,
        width - 24.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_lengths() {
        assert_eq!(nice_length(740.0), 500.0);
        assert_eq!(nice_length(2100.0), 2000.0);
        assert_eq!(nice_length(1.0), 1.0);
        assert_eq!(length_label(2000.0), "2 km");
    }
}
