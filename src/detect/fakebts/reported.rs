//! A report kept for localisation, in 36 bytes instead of the 72 of an
//! [`Observation`]: the fields a report gives (event time, local position, signal,
//! GPS accuracy, timing advance and its technology), from which
//! [`Reported::observation`] derives the solver's observation exactly as
//! [`Observation::of_report`] does. Transmitters keep up to
//! `fakebts.max_observations` of these and misplaced registered cells a few hundred,
//! so they were most of the detector's memory per identity. Packed to 4-byte
//! alignment (the 8-byte fields would round 36 bytes up to 40), with the timing
//! advance and technology in one 16-bit field.

use super::locate::Observation;
use super::rules::ta_step_m;
use crate::model::{CellMeasurement, Rat};

/// No timing advance in [`Reported::ta_rat`]'s 13 bits (the contract's largest is 4095).
const NO_TA: u16 = 0x1fff;

/// One report as localisation needs it.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
pub(crate) struct Reported {
    pub(crate) ts_ms: i64,
    /// Reporter position, local metres.
    pub(crate) x: f64,
    pub(crate) y: f64,
    /// Signal as reported (`NAN` when none).
    pub(super) signal_dbm: f32,
    /// GPS accuracy as reported (30 m when none).
    pub(super) accuracy_m: f32,
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
        Reported {
            ts_ms: m.ts_ms,
            x,
            y,
            signal_dbm: m.signal_dbm.unwrap_or(f32::NAN),
            accuracy_m: m.accuracy_m.unwrap_or(30.0),
            ta_rat: ta | (rat << 13),
            identity: u16::MAX,
        }
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

    /// The solver's observation: what [`Observation::of_report`] gives for the report.
    pub(crate) fn observation(&self) -> Observation {
        let o = Observation::new(
            self.ts_ms,
            self.x,
            self.y,
            self.rss_dbm(),
            f64::from(self.accuracy_m).max(1.0) / 1.5,
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
    fn is_small_and_gives_the_same_observation() {
        assert!(std::mem::size_of::<Reported>() <= 36);
        for signal in [None, Some(-84.9f32), Some(-113.25)] {
            for accuracy in [None, Some(0.2f32), Some(4.2), Some(3000.0)] {
                for ta in [None, Some(0u16), Some(7), Some(4095)] {
                    for rat in Rat::ALL {
                        let m = report(signal, accuracy, ta, rat);
                        let a = Observation::of_report(&m, 12.5, -3.25);
                        let b = Reported::of_report(&m, 12.5, -3.25).observation();
                        // Debug tells every distinct f64 apart (NAN included)
                        assert_eq!(format!("{a:?}"), format!("{b:?}"));
                    }
                }
            }
        }
    }
}
