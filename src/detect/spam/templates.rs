//! Templates shared by broadcasting SIMs, across cells and operators: a campaign sends
//! one text (a few words changed) from many SIMs, while a subscriber announcing a new
//! number sends its own. The main fingerprint of every SIM that reaches the opening
//! gate with a broadcast (one message per recipient) is remembered for the campaign
//! window; a SIM whose template lies within `fp_hamming` bits of those of other
//! broadcasters is part of a campaign (`TEMPLATE_CAMPAIGN`), which a one-off burst to
//! a contact book is not (`contrary.rs`, `ONE_OFF_BURST`).
//!
//! Bounded: at most [`MAX_TEMPLATES`] entries, the oldest overwritten first. Only SIMs
//! at the opening gate or with an open case (a few per thousand) are written or
//! looked up, so a linear scan is cheaper than an index.

use super::ids::SimKey;
use super::simhash::hamming;

/// Most (SIM, template) entries remembered.
pub(crate) const MAX_TEMPLATES: usize = 1_024;

#[derive(Debug, Clone)]
struct Entry {
    fp: u64,
    /// The SIM (stage B's key: operator and pseudonym).
    sim: SimKey,
    last_s: u32,
}

/// Recent templates of broadcasting SIMs.
#[derive(Debug, Default)]
pub(crate) struct SharedTemplates {
    entries: Vec<Entry>,
    /// Next entry to overwrite once full.
    next: usize,
}

impl SharedTemplates {
    /// Remember that SIM `sim` broadcast `fp` at `t_s`.
    pub(crate) fn note(&mut self, fp: u64, sim: &SimKey, t_s: u32, max_bits: u32) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.sim == *sim && hamming(e.fp, fp) <= max_bits)
        {
            e.last_s = e.last_s.max(t_s);
            return;
        }
        let e = Entry {
            fp,
            sim: sim.clone(),
            last_s: t_s,
        };
        if self.entries.len() < MAX_TEMPLATES {
            self.entries.push(e);
        } else {
            self.entries[self.next] = e;
            self.next = (self.next + 1) % MAX_TEMPLATES;
        }
    }

    /// How many SIMs other than `sim` broadcast a template within `max_bits` of `fp`
    /// at or after `since_s`.
    pub(crate) fn others(&self, fp: u64, sim: &SimKey, since_s: u32, max_bits: u32) -> u32 {
        let mut seen: [Option<&SimKey>; 8] = [None; 8];
        let mut n = 0u32;
        for e in &self.entries {
            if e.sim == *sim || e.last_s < since_s || hamming(e.fp, fp) > max_bits {
                continue;
            }
            // a SIM with several close variants counts once (the first few are enough)
            let k = (n as usize).min(seen.len());
            if seen[..k].contains(&Some(&e.sim)) {
                continue;
            }
            if k < seen.len() {
                seen[k] = Some(&e.sim);
            }
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> SimKey {
        SimKey::new(0, &format!("{i:08x}"))
    }

    #[test]
    fn other_broadcasters_of_a_close_template_are_counted_once_each() {
        let mut t = SharedTemplates::default();
        let fp = 0x1234_5678_9abc_def0u64;
        t.note(fp, &k(1), 100, 6);
        t.note(fp ^ 0b101, &k(1), 200, 6); // the same SIM, a variant: one entry
        t.note(fp ^ (1 << 40), &k(2), 150, 6);
        t.note(!fp, &k(3), 150, 6); // another text
        assert_eq!(t.entries.len(), 3);
        assert_eq!(t.others(fp, &k(9), 0, 6), 2);
        assert_eq!(
            t.others(fp, &k(1), 0, 6),
            1,
            "the SIM itself is not counted"
        );
        // too old
        assert_eq!(t.others(fp, &k(9), 180, 6), 1);
    }

    #[test]
    fn bounded_oldest_first() {
        let mut t = SharedTemplates::default();
        for i in 0..(MAX_TEMPLATES as u32 + 10) {
            t.note(
                u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                &k(i),
                i,
                0,
            );
        }
        assert_eq!(t.entries.len(), MAX_TEMPLATES);
        assert_eq!(
            t.others(0, &k(u32::MAX), 0, 0),
            0,
            "SIM 0's entry was overwritten"
        );
    }
}
