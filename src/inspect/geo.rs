//! Small spherical geometry for exports and maps: distances, the uncertainty circle
//! as a polygon, and a local flat projection for the SVG map.

/// Mean Earth radius (IUGG), metres.
pub(crate) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres (haversine).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// The point `distance_m` away from (`lat`, `lon`) on compass bearing `bearing_deg`.
pub(crate) fn destination(lat: f64, lon: f64, bearing_deg: f64, distance_m: f64) -> (f64, f64) {
    let d = distance_m / EARTH_RADIUS_M;
    let (p1, l1, b) = (lat.to_radians(), lon.to_radians(), bearing_deg.to_radians());
    let p2 = (p1.sin() * d.cos() + p1.cos() * d.sin() * b.cos()).asin();
    let l2 = l1 + (b.sin() * d.sin() * p1.cos()).atan2(d.cos() - p1.sin() * p2.sin());
    let lon2 = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    (p2.to_degrees(), lon2)
}

/// The circle of `radius_m` around a point as a closed ring of `(lon, lat)` pairs,
/// counter-clockwise (RFC 7946 exterior ring; KML accepts it too); `segments` ≥ 8.
pub(crate) fn circle_ring(lat: f64, lon: f64, radius_m: f64, segments: usize) -> Vec<(f64, f64)> {
    let n = segments.max(8);
    let mut ring = Vec::with_capacity(n + 1);
    for i in 0..n {
        // Compass bearings run clockwise; walking them backwards gives a CCW ring.
        let bearing = 360.0 - (i as f64) * 360.0 / (n as f64);
        let (la, lo) = destination(lat, lon, bearing % 360.0, radius_m.max(0.0));
        ring.push((lo, la));
    }
    ring.push(ring[0]);
    ring
}

/// Twice the signed area of a ring in the lon/lat plane: > 0 for counter-clockwise.
pub fn signed_area2(ring: &[(f64, f64)]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum()
}

/// A local equirectangular projection of a small area onto a pixel canvas, north up,
/// same scale on both axes (good to well under 1 % over a city).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalProjection {
    lat0: f64,
    lon0: f64,
    cos_lat0: f64,
    /// Metres per pixel.
    pub(crate) m_per_px: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

impl LocalProjection {
    /// Fit the box `(min_lat, min_lon, max_lat, max_lon)` plus `pad` (fraction) into
    /// `width × height` pixels, centred. A degenerate box gets at least `min_span_m`.
    pub(crate) fn fit(
        bounds: (f64, f64, f64, f64),
        width: f64,
        height: f64,
        pad: f64,
        min_span_m: f64,
    ) -> LocalProjection {
        let (min_lat, min_lon, max_lat, max_lon) = bounds;
        let lat0 = (min_lat + max_lat) / 2.0;
        let lon0 = (min_lon + max_lon) / 2.0;
        let cos_lat0 = lat0.to_radians().cos().max(1e-6);
        let m_per_deg = EARTH_RADIUS_M.to_radians();
        let span_x = ((max_lon - min_lon) * m_per_deg * cos_lat0).max(min_span_m);
        let span_y = ((max_lat - min_lat) * m_per_deg).max(min_span_m);
        let m_per_px = (span_x / width).max(span_y / height) * (1.0 + 2.0 * pad);
        LocalProjection {
            lat0,
            lon0,
            cos_lat0,
            m_per_px,
            width,
            height,
        }
    }

    /// Pixel coordinates `(x, y)` of a point (y grows downwards).
    pub(crate) fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        let m_per_deg = EARTH_RADIUS_M.to_radians();
        let dx = (lon - self.lon0) * m_per_deg * self.cos_lat0;
        let dy = (lat - self.lat0) * m_per_deg;
        (
            self.width / 2.0 + dx / self.m_per_px,
            self.height / 2.0 - dy / self.m_per_px,
        )
    }

    /// Whether a pixel position is on the canvas.
    pub(crate) fn visible(&self, (x, y): (f64, f64)) -> bool {
        (0.0..=self.width).contains(&x) && (0.0..=self.height).contains(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circle_is_closed_ccw_and_at_the_radius() {
        let ring = circle_ring(21.03, 105.85, 750.0, 64);
        assert_eq!(ring.len(), 65);
        assert_eq!(ring.first(), ring.last());
        assert!(signed_area2(&ring) > 0.0);
        for (lon, lat) in &ring {
            let d = distance_m(21.03, 105.85, *lat, *lon);
            assert!((d - 750.0).abs() < 0.5, "{d}");
        }
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = distance_m(21.0, 105.0, 22.0, 105.0);
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
        let (la, lo) = destination(21.0, 105.0, 90.0, 1000.0);
        assert!((distance_m(21.0, 105.0, la, lo) - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn projection_keeps_scale_and_orientation() {
        let p = LocalProjection::fit((21.0, 105.8, 21.02, 105.82), 800.0, 600.0, 0.1, 100.0);
        let (x1, y1) = p.project(21.01, 105.81);
        assert!((x1 - 400.0).abs() < 1e-6 && (y1 - 300.0).abs() < 1e-6);
        let (x2, y2) = p.project(21.02, 105.82);
        assert!(x2 > x1 && y2 < y1, "east is right, north is up");
        let d_px = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt();
        let d_m = distance_m(21.01, 105.81, 21.02, 105.82);
        assert!((d_px * p.m_per_px / d_m - 1.0).abs() < 0.01);
        assert!(p.visible((x2, y2)));
    }
}
