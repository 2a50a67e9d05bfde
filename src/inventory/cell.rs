//! One registered cell and the validation rules shared by the CSV and topic paths.

use crate::model::{name_list, CellKey, Rat};
use serde::Serialize;

/// A licensed cell as the inventory knows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct RegisteredCell {
    pub(crate) radio: Rat,
    pub(crate) key: CellKey,
    /// Site position, WGS84 degrees.
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    /// Nominal coverage radius in metres (OpenCellID `range`).
    pub(crate) range_m: f64,
    /// Measurements behind the position (OpenCellID `samples`; 0 for licence data).
    pub(crate) samples: u32,
    pub(crate) arfcn: Option<u32>,
    pub(crate) pci: Option<u16>,
    pub(crate) azimuth_deg: Option<f32>,
    pub(crate) eirp_dbm: Option<f32>,
    /// OpenCellID `unit` (PSC for UMTS, PCI for LTE in OpenCellID exports), if given.
    pub(crate) unit: Option<i64>,
    /// Last update, Unix milliseconds (OpenCellID `updated` is in seconds).
    pub(crate) updated_ms: Option<i64>,
}

/// A row's fields once read as numbers, before the contract's rules are applied.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawCell<'a> {
    pub(crate) radio: &'a str,
    pub(crate) mcc: u64,
    pub(crate) net: u64,
    pub(crate) area: u64,
    pub(crate) cell: u64,
    pub(crate) unit: Option<i64>,
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    pub(crate) range: f64,
    pub(crate) samples: u64,
    /// Unix seconds.
    pub(crate) updated_s: Option<i64>,
    pub(crate) arfcn: Option<u64>,
    pub(crate) pci: Option<u64>,
    pub(crate) azimuth: Option<f64>,
    pub(crate) eirp_dbm: Option<f64>,
}

/// Largest ARFCN of any technology (NR-ARFCN is 22 bits: 0..=3 279 165).
const MAX_ARFCN: u64 = 3_279_165;
/// Largest PCI / PSC / BSIC (NR PCI 0..=1007).
const MAX_PCI: u64 = 1_007;

/// Map an OpenCellID radio name; CDMA and anything else are refused with a reason.
pub(crate) fn parse_radio(radio: &str) -> Result<Rat, String> {
    let upper = radio.trim();
    if let Some(rat) = Rat::ALL
        .into_iter()
        .find(|rat| upper.eq_ignore_ascii_case(rat.as_str()))
    {
        return Ok(rat);
    }
    if upper.eq_ignore_ascii_case("CDMA") {
        Err(format!(
            "radio `CDMA` is not supported ({} only)",
            name_list(&Rat::ALL, Rat::as_str, ", ")
        ))
    } else {
        Err(format!(
            "unknown radio `{}` (expected {})",
            truncate(upper),
            name_list(&Rat::ALL, Rat::as_str, " or ")
        ))
    }
}

impl RawCell<'_> {
    /// Apply the inventory rules; the error is a lowercase reason for the row report.
    pub(crate) fn validate(&self) -> Result<RegisteredCell, String> {
        let radio = parse_radio(self.radio)?;
        let key = self.key(radio)?;
        if !self.lat.is_finite() || !(-90.0..=90.0).contains(&self.lat) {
            return Err(format!("lat {} is outside -90..90", self.lat));
        }
        if !self.lon.is_finite() || !(-180.0..=180.0).contains(&self.lon) {
            return Err(format!("lon {} is outside -180..180", self.lon));
        }
        if !self.range.is_finite() || self.range < 0.0 {
            return Err(format!(
                "range {} must be a non-negative number of metres",
                self.range
            ));
        }
        let samples = u32::try_from(self.samples)
            .map_err(|_| format!("samples {} is too large", self.samples))?;
        let arfcn = match self.arfcn {
            Some(a) if a > MAX_ARFCN => return Err(format!("arfcn {a} is above {MAX_ARFCN}")),
            a => a.map(|a| a as u32),
        };
        let pci = match self.pci {
            Some(p) if p > MAX_PCI => return Err(format!("pci {p} is above {MAX_PCI}")),
            p => p.map(|p| p as u16),
        };
        let azimuth_deg = match self.azimuth {
            Some(a) if !a.is_finite() || !(0.0..=360.0).contains(&a) => {
                return Err(format!("azimuth {a} is outside 0..360 degrees"))
            }
            a => a.map(|a| a as f32),
        };
        let eirp_dbm = match self.eirp_dbm {
            Some(e) if !e.is_finite() || !(-50.0..=100.0).contains(&e) => {
                return Err(format!("eirp_dbm {e} is outside -50..100 dBm"))
            }
            e => e.map(|e| e as f32),
        };
        Ok(RegisteredCell {
            radio,
            key,
            lat: self.lat,
            lon: self.lon,
            range_m: self.range,
            samples,
            arfcn,
            pci,
            azimuth_deg,
            eirp_dbm,
            unit: self.unit,
            updated_ms: self.updated_s.map(|s| s.saturating_mul(1000)),
        })
    }

    fn key(&self, radio: Rat) -> Result<CellKey, String> {
        if self.mcc > 999 {
            return Err(format!("mcc {} is above 999", self.mcc));
        }
        if self.net > 999 {
            return Err(format!("net (mnc) {} is above 999", self.net));
        }
        if self.area > u64::from(radio.max_lac()) {
            return Err(format!(
                "area {} is above the {radio} maximum {}",
                self.area,
                radio.max_lac()
            ));
        }
        if self.cell > radio.max_cid() {
            return Err(format!(
                "cell {} is above the {radio} maximum {}",
                self.cell,
                radio.max_cid()
            ));
        }
        Ok(CellKey {
            mcc: self.mcc as u16,
            mnc: self.net as u16,
            lac: self.area as u32,
            cid: self.cell,
        })
    }
}

/// At most 40 characters of a bad value, for error messages.
pub(crate) fn truncate(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl RegisteredCell {
    /// The topic key `MCC-MNC-LAC-CID`.
    #[cfg(test)]
    pub(crate) fn topic_key(&self) -> String {
        self.key.to_string()
    }

    /// The topic value: a JSON object with the CSV column names
    /// (`radio, mcc, net, area, cell, unit, lon, lat, range, samples, updated, arfcn,
    /// pci, azimuth, eirp_dbm`; absent optional fields are left out).
    #[cfg(test)]
    pub(crate) fn to_topic_value(self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("radio".into(), self.radio.as_str().into());
        obj.insert("mcc".into(), self.key.mcc.into());
        obj.insert("net".into(), self.key.mnc.into());
        obj.insert("area".into(), self.key.lac.into());
        obj.insert("cell".into(), self.key.cid.into());
        if let Some(u) = self.unit {
            obj.insert("unit".into(), u.into());
        }
        obj.insert("lon".into(), self.lon.into());
        obj.insert("lat".into(), self.lat.into());
        obj.insert("range".into(), self.range_m.into());
        obj.insert("samples".into(), self.samples.into());
        if let Some(ms) = self.updated_ms {
            obj.insert("updated".into(), ms.div_euclid(1000).into());
        }
        if let Some(a) = self.arfcn {
            obj.insert("arfcn".into(), a.into());
        }
        if let Some(p) = self.pci {
            obj.insert("pci".into(), p.into());
        }
        if let Some(a) = self.azimuth_deg {
            obj.insert("azimuth".into(), f64::from(a).into());
        }
        if let Some(e) = self.eirp_dbm {
            obj.insert("eirp_dbm".into(), f64::from(e).into());
        }
        serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap_or_default()
    }
}
