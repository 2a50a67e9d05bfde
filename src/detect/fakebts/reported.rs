//! A report kept for localisation, in 24 bytes instead of the 72 of an
//! [`Observation`]: the fields a report gives (event time, local position, signal,
//! GPS accuracy, timing advance and its technology), from which
//! [`Reported::observation`] derives the solver's observation. Transmitters keep up
//! to `fakebts.max_observations` of these and misplaced registered cells a few
//! hundred, so they are most of the detector's memory per identity.
//!
//! What is kept at less than the report's own precision, and why it does not matter
//! to a fix: the local position in `f32` (millimetres at 20 km from the frame's
//! origin; GPS accuracy is metres), the GPS accuracy in decimetres up to 6,553.4 m
//! (a report that vague is worth nothing to a fit; the position's σ is floored at
//! 1 m / 1.5 anyway). The event time is exact (48 bits of milliseconds: ±4,000 years around 1970),
//! the signal is the report's `f32` itself, the timing advance and technology share
//! one 16-bit field.

use super::locate::Observation;
use super::rules::ta_step_m;
use crate::config::FakeBtsConfig;
use crate::model::{CellMeasurement, Rat};

/// Most reports a transmitter keeps: `fakebts.max_observations` once it has a case,
/// `fakebts.max_candidate_observations` (the most recent) while it has none. A
/// candidate needs its recent reports only (association looks at the last
/// `association_footprint_reports`, linking at fewer), its first fix when a case
/// opens and a `missing_cell` finding's location when it is retired; on the large
/// scenario, 23 of 254 transmitters held 400 reports each without ever opening a case
/// (real cells unlisted or misplaced, heard for hours), over half the detector's kept reports.
pub(crate) fn kept_cap(has_case: bool, cfg: &FakeBtsConfig) -> usize {
    let all = cfg.max_observations.max(8);
    if has_case {
        all
    } else {
        cfg.max_candidate_observations.clamp(8, all)
    }
}

/// No timing advance in [`Reported::ta_rat`]'s 13 bits (the contract's largest is 4095).
const NO_TA: u16 = 0x1fff;
/// Largest GPS accuracy kept, decimetres (larger ones are kept at it).
const MAX_ACCURACY_DM: u16 = u16::MAX - 1;

/// One report as localisation needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reported {
    /// Reporter position, local metres.
    pub(super) x: f32,
    pub(super) y: f32,
    /// Signal as reported (`NAN` when none).
    pub(super) signal_dbm: f32,
    /// Event time, the low 32 bits of its milliseconds.
    pub(super) ts_lo: u32,
    /// Event time, the high 16 bits (signed) of its milliseconds.
    pub(super) ts_hi: i16,
    /// GPS accuracy as reported, decimetres (300: none given, i.e. 30 m).
    pub(super) accuracy_dm: u16,
    /// Timing advance in the low 13 bits ([`NO_TA`]: none), the technology's index
    /// in [`Rat::ALL`] above them.
    pub(super) ta_rat: u16,
    /// In a transmitter's buffer: the index in its identities of the identity the
    /// report claimed (`u16::MAX`: none, or past 65 534), so an unlinked identity
    /// takes its reports with it.
    pub(crate) identity: u16,
}

impl Reported {
    /// The report `m`, heard at local position `(x, y)`.
    pub(crate) fn of_report(m: &CellMeasurement, x: f64, y: f64) -> Self {
        // validated reports have at most 4095; anything above NO_TA - 1 is kept at it
        let ta = m.ta.map_or(NO_TA, |t| t.min(NO_TA - 1));
        let rat = Rat::ALL.iter().position(|&r| r == m.rat).unwrap_or(0) as u16;
        let accuracy = f64::from(m.accuracy_m.unwrap_or(30.0));
        // NaN and negatives (not valid input) at 0, above the range at its top
        let accuracy_dm = (accuracy * 10.0)
            .round()
            .clamp(0.0, f64::from(MAX_ACCURACY_DM)) as u16;
        Reported {
            x: x as f32,
            y: y as f32,
            signal_dbm: m.signal_dbm.unwrap_or(f32::NAN),
            ts_lo: m.ts_ms as u32,
            ts_hi: (m.ts_ms >> 32) as i16,
            accuracy_dm,
            ta_rat: ta | (rat << 13),
            identity: u16::MAX,
        }
    }

    /// Event time, ms.
    pub(crate) fn ts_ms(&self) -> i64 {
        (i64::from(self.ts_hi) << 32) | i64::from(self.ts_lo)
    }

    /// Reporter position, local metres.
    pub(crate) fn x(&self) -> f64 {
        f64::from(self.x)
    }

    pub(crate) fn y(&self) -> f64 {
        f64::from(self.y)
    }

    /// The same report at local position `(x, y)` (moved into another frame).
    pub(crate) fn at(self, x: f64, y: f64) -> Self {
        Reported {
            x: x as f32,
            y: y as f32,
            ..self
        }
    }

    /// The same report claiming identity `identity` of its transmitter.
    pub(crate) fn with_identity(self, identity: u16) -> Self {
        Reported { identity, ..self }
    }

    fn ta(&self) -> u16 {
        self.ta_rat & NO_TA
    }

    fn rat(&self) -> Rat {
        Rat::ALL[usize::from(self.ta_rat >> 13) & 3]
    }

    /// Received power, dBm (`NAN` when the report had none).
    pub(crate) fn rss_dbm(&self) -> f64 {
        f64::from(self.signal_dbm)
    }

    /// The solver's observation: [`Observation::of_report`] of the report, with the
    /// position and accuracy as kept.
    pub(crate) fn observation(&self) -> Observation {
        let o = Observation::new(
            self.ts_ms(),
            self.x(),
            self.y(),
            self.rss_dbm(),
            (f64::from(self.accuracy_dm) / 10.0).max(1.0) / 1.5,
        );
        match (self.ta(), ta_step_m(self.rat())) {
            (NO_TA, _) | (_, None) => o,
            (ta, Some(step)) => o.with_ta(ta, step),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellKey, MeasurementEvent};

    fn report(
        signal: Option<f32>,
        accuracy: Option<f32>,
        ta: Option<u16>,
        rat: Rat,
    ) -> CellMeasurement {
        CellMeasurement {
            source: "probe".into(),
            reporter: "00112233445566778899".into(),
            ts_ms: 1_793_581_201_000,
            lat: 21.0,
            lon: 105.8,
            accuracy_m: accuracy,
            rat,
            cell: CellKey {
                mcc: 452,
                mnc: 4,
                lac: 1,
                cid: 2,
            },
            arfcn: None,
            pci: None,
            signal_dbm: signal,
            ta,
            neighbors: None,
            cipher: None,
            event: MeasurementEvent::Camped,
            sms_sender: None,
        }
    }

    #[test]
    fn is_small_and_gives_the_observation_within_its_precision() {
        assert_eq!(std::mem::size_of::<Reported>(), 24);
        for signal in [None, Some(-84.9f32), Some(-113.25)] {
            for accuracy in [None, Some(0.2f32), Some(4.2), Some(3000.0), Some(100_000.0)] {
                for ta in [None, Some(0u16), Some(7), Some(4095)] {
                    for rat in Rat::ALL {
                        let m = report(signal, accuracy, ta, rat);
                        let (x, y) = (12_345.678, -3_210.25);
                        let a = Observation::of_report(&m, x, y);
                        let r = Reported::of_report(&m, x, y);
                        let b = r.observation();
                        assert_eq!(r.ts_ms(), m.ts_ms);
                        assert_eq!((a.ts_ms, a.weight, a.rss_ss), (b.ts_ms, b.weight, b.rss_ss));
                        // the signal exactly, NAN as NAN
                        assert_eq!(a.rss_dbm.to_bits(), b.rss_dbm.to_bits());
                        // the timing advance's interval exactly
                        assert_eq!(a.ta_lo_m.to_bits(), b.ta_lo_m.to_bits());
                        assert_eq!(a.ta_hi_m.to_bits(), b.ta_hi_m.to_bits());
                        assert!((a.x - b.x).abs() < 1e-3 && (a.y - b.y).abs() < 1e-3);
                        let sigma = if accuracy == Some(100_000.0) {
                            6_553.4 / 1.5
                        } else {
                            a.pos_sigma_m
                        };
                        assert!((sigma - b.pos_sigma_m).abs() < 0.05, "{sigma} {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_candidate_keeps_fewer_reports_than_a_transmitter_with_a_case() {
        let mut cfg = FakeBtsConfig::default();
        (cfg.max_observations, cfg.max_candidate_observations) = (400, 128);
        assert_eq!((kept_cap(true, &cfg), kept_cap(false, &cfg)), (400, 128));
        // never more than with a case, never fewer than 8
        cfg.max_candidate_observations = 1_000;
        assert_eq!(kept_cap(false, &cfg), 400);
        cfg.max_candidate_observations = 2;
        assert_eq!(kept_cap(false, &cfg), 8);
    }

    #[test]
    fn keeps_event_times_far_from_the_epoch_and_before_it() {
        for ts in [
            0i64,
            -1,
            1_793_581_201_123,
            -62_135_596_800_000,
            4_102_444_800_000,
        ] {
            let mut m = report(Some(-80.0), None, None, Rat::Lte);
            m.ts_ms = ts;
            assert_eq!(Reported::of_report(&m, 0.0, 0.0).ts_ms(), ts);
        }
    }
}
