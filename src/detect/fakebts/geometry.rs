//! Geometry for the fake-BTS detector: great-circle distances (via `geo`), a local
//! east/north plane for least-squares work, Earth-centred coordinates for the spatial
//! index, and the log-distance path-loss model shared by the rules and localisation.

use crate::config::FakeBtsConfig;
use geo::{Distance, Haversine, Point};

/// Mean Earth radius in metres (GRS80 R1, the radius `geo::Haversine` uses).
pub(crate) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two WGS84 positions (degrees).
#[inline]
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    Haversine.distance(Point::new(lon1, lat1), Point::new(lon2, lat2))
}

/// Earth-centred coordinates in metres on the mean sphere: straight-line (chord)
/// distance between two such points grows monotonically with the great-circle
/// distance, so nearest-neighbour and radius queries in an R-tree over them are exact.
#[inline]
pub(crate) fn ecef_m(lat: f64, lon: f64) -> [f64; 3] {
    let (sla, cla) = lat.to_radians().sin_cos();
    let (slo, clo) = lon.to_radians().sin_cos();
    [
        EARTH_RADIUS_M * cla * clo,
        EARTH_RADIUS_M * cla * slo,
        EARTH_RADIUS_M * sla,
    ]
}

/// Chord length (straight line through the Earth) for a great-circle distance.
#[inline]
pub(crate) fn chord_for_arc_m(arc_m: f64) -> f64 {
    let half_angle = (arc_m / EARTH_RADIUS_M / 2.0).min(std::f64::consts::FRAC_PI_2);
    2.0 * EARTH_RADIUS_M * half_angle.sin()
}

/// An equirectangular tangent plane around an origin: `x` metres east, `y` metres north.
/// Accurate to well under a metre over the few kilometres a transmitter's reporters span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    lat0: f64,
    lon0: f64,
    m_per_deg_lat: f64,
    m_per_deg_lon: f64,
}

impl LocalFrame {
    pub fn new(lat0: f64, lon0: f64) -> Self {
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        LocalFrame {
            lat0,
            lon0,
            m_per_deg_lat,
            m_per_deg_lon: m_per_deg_lat * lat0.to_radians().cos().max(1e-6),
        }
    }

    /// The origin (latitude, longitude): for a transmitter, where its first report
    /// was made.
    pub fn origin(&self) -> (f64, f64) {
        (self.lat0, self.lon0)
    }

    #[inline]
    pub fn to_xy(&self, lat: f64, lon: f64) -> (f64, f64) {
        let mut dlon = lon - self.lon0;
        if dlon > 180.0 {
            dlon -= 360.0;
        } else if dlon < -180.0 {
            dlon += 360.0;
        }
        (
            dlon * self.m_per_deg_lon,
            (lat - self.lat0) * self.m_per_deg_lat,
        )
    }

    #[inline]
    pub fn to_lat_lon(&self, x: f64, y: f64) -> (f64, f64) {
        let lat = (self.lat0 + y / self.m_per_deg_lat).clamp(-90.0, 90.0);
        let mut lon = self.lon0 + x / self.m_per_deg_lon;
        if lon > 180.0 {
            lon -= 360.0;
        } else if lon < -180.0 {
            lon += 360.0;
        }
        (lat, lon)
    }
}

/// Log-distance path loss: `rss = eirp − PL(d0) − 10·n·log10(d / d0) + X(σ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathLoss {
    /// Path-loss exponent `n`.
    pub(crate) exponent: f64,
    /// Loss at the reference distance `ref_distance_m`, dB.
    pub(crate) ref_loss_db: f64,
    /// Reference distance `d0` of the model, metres.
    pub(crate) ref_distance_m: f64,
    /// Log-normal shadowing standard deviation, dB.
    pub(crate) sigma_db: f64,
    /// Antenna height difference used as a floor on distances, metres.
    pub(crate) min_distance_m: f64,
}

impl PathLoss {
    /// The radio model of `[fakebts]` (shadowing σ of the per-report rules).
    pub fn from_config(cfg: &FakeBtsConfig) -> PathLoss {
        PathLoss {
            exponent: cfg.path_loss_exponent,
            ref_loss_db: cfg.reference_loss_db,
            ref_distance_m: cfg.reference_distance_m,
            sigma_db: cfg.shadowing_sigma_db,
            min_distance_m: cfg.min_distance_m,
        }
    }

    /// dB per decade of distance, `10·n`.
    #[inline]
    pub(crate) fn db_per_decade(&self) -> f64 {
        10.0 * self.exponent
    }

    /// Expected received power at `distance_m` from a transmitter of `eirp_dbm`.
    #[inline]
    pub fn predicted_rss_dbm(&self, eirp_dbm: f64, distance_m: f64) -> f64 {
        eirp_dbm
            - self.ref_loss_db
            - self.db_per_decade()
                * (distance_m.max(self.min_distance_m) / self.ref_distance_m).log10()
    }

    /// Distance at which a transmitter of `eirp_dbm` is received at `rss_dbm` on average.
    #[inline]
    #[cfg(test)]
    pub(crate) fn distance_for_rss_m(&self, eirp_dbm: f64, rss_dbm: f64) -> f64 {
        (self.ref_distance_m
            * 10f64.powf((eirp_dbm - self.ref_loss_db - rss_dbm) / self.db_per_decade()))
        .max(self.min_distance_m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_frame_round_trips_and_matches_haversine() {
        let f = LocalFrame::new(21.03, 105.85);
        let (x, y) = f.to_xy(21.04, 105.86);
        let (lat, lon) = f.to_lat_lon(x, y);
        assert!((lat - 21.04).abs() < 1e-9 && (lon - 105.86).abs() < 1e-9);
        let plane = x.hypot(y);
        let sphere = distance_m(21.03, 105.85, 21.04, 105.86);
        assert!(
            (plane - sphere).abs() < 1.0,
            "plane {plane} sphere {sphere}"
        );
    }

    #[test]
    fn chord_is_monotone_and_close_to_arc_at_short_range() {
        let a = ecef_m(21.0, 105.8);
        let b = ecef_m(21.01, 105.8);
        let chord = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        let arc = distance_m(21.0, 105.8, 21.01, 105.8);
        assert!((chord - arc).abs() < 0.01);
        assert!((chord_for_arc_m(arc) - chord).abs() < 0.01);
        assert!(chord_for_arc_m(1e9) <= 2.0 * EARTH_RADIUS_M + 1.0);
    }

    #[test]
    fn path_loss_inverts() {
        let pl = PathLoss {
            exponent: 3.2,
            ref_loss_db: 78.0,
            ref_distance_m: 100.0,
            sigma_db: 7.0,
            min_distance_m: 10.0,
        };
        let rss = pl.predicted_rss_dbm(40.0, 800.0);
        assert!((pl.distance_for_rss_m(40.0, rss) - 800.0).abs() < 1e-6);
        assert!(pl.predicted_rss_dbm(40.0, 100.0) > pl.predicted_rss_dbm(40.0, 1000.0));
    }
}
