//! Folding one SMS-volume record into its SIM's state (stage A): spread the record's
//! counts over the SIM's windows and note what it says about the SIM and its cell.

use super::ids::hash64;
use super::secs_ceil;
use super::state::{field, flag, spread_add, spread_add_scalar, SimState, Specs, AGE_UNKNOWN};
use crate::model::SmsVolume;

/// The interval a record reports, in event time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct RecordSpan {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    /// The end, whole seconds rounded up.
    pub(crate) t_s: u32,
    /// The start, whole seconds rounded up.
    pub(crate) window_start_s: u32,
}

impl RecordSpan {
    #[inline]
    pub(crate) fn of(r: &SmsVolume) -> RecordSpan {
        RecordSpan::at(r.window_start_ms, r.window_secs)
    }

    /// The interval of `window_secs` from `start_ms`.
    #[inline]
    pub(crate) fn at(start_ms: i64, window_secs: u32) -> RecordSpan {
        let end_ms = start_ms + i64::from(window_secs) * 1000;
        RecordSpan {
            start_ms,
            end_ms,
            t_s: secs_ceil(end_ms),
            window_start_s: secs_ceil(start_ms),
        }
    }
}

/// What folding a record left for farm grouping.
#[derive(Debug, Clone, Copy)]
pub(super) struct Folded {
    /// 64-bit digest of the record's serving cell, if it names one.
    pub(crate) cell_hash: Option<u64>,
}

/// Add the record's counts to the SIM's windows and note its age, identity check, cell
/// (the last TAC is kept beside the table, `sims.rs`).
#[inline]
pub(super) fn fold(st: &mut SimState, r: &SmsVolume, specs: &Specs, span: &RecordSpan) -> Folded {
    let (start_ms, end_ms) = (span.start_ms, span.end_ms);
    let distinct = r.distinct_recipients.unwrap_or(0);
    let new = r.new_recipients.unwrap_or(0);
    let calls = r
        .calls_out
        .unwrap_or(0)
        .saturating_add(r.calls_in.unwrap_or(0));
    let sms_in = r.sms_in.unwrap_or(0);
    spread_add(
        &mut st.medium,
        &specs.medium,
        start_ms,
        end_ms,
        [r.sms_out, distinct, new],
    );
    spread_add_scalar(&mut st.long, &specs.long, start_ms, end_ms, r.sms_out);
    if calls > 0 || sms_in > 0 {
        spread_add(&mut st.aux, &specs.aux, start_ms, end_ms, [calls, sms_in]);
    }
    st.last_seen_s = st.last_seen_s.max(span.t_s);
    st.first_seen_s = st.first_seen_s.min(span.window_start_s);
    st.records = st.records.saturating_add(1);
    st.fields |= field::of(r);
    if let Some(age) = r.sim_age_days {
        st.age_days = age.min(u32::from(AGE_UNKNOWN - 1)) as u16;
    }
    if let Some(k) = r.kyc_verified {
        st.set(flag::KYC_KNOWN, true);
        st.set(flag::KYC_VERIFIED, k);
    }
    Folded {
        cell_hash: note_cell(st, r),
    }
}

/// The record's serving cell: its digest, and the SIM's streak of sending records from
/// one cell (for `STATIONARY`).
#[inline]
fn note_cell(st: &mut SimState, r: &SmsVolume) -> Option<u64> {
    let cell_hash = r.cell.map(|c| {
        hash64(&[
            &c.mcc.to_le_bytes(),
            &c.mnc.to_le_bytes(),
            &c.lac.to_le_bytes(),
            &c.cid.to_le_bytes(),
        ])
    });
    if let Some(h) = cell_hash {
        let c = (h as u16).max(1);
        if r.sms_out > 0 {
            st.cell_streak = if c == st.cell {
                st.cell_streak.saturating_add(1)
            } else {
                1
            };
        }
        st.cell = c;
    }
    cell_hash
}
