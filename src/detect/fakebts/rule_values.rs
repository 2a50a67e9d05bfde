//! The mean value and last threshold of each rule that fired for a transmitter (its
//! case lists them), kept only for the rules that did: a transmitter fires two or
//! three of the 16 rules, and the dense table (16 sums, counts and thresholds) it
//! replaces was 256 bytes of every transmitter.

use super::rules::RULE_COUNT;

/// One rule's values.
#[derive(Debug, Clone, Copy)]
struct Slot {
    sum: f64,
    n: u32,
    /// The threshold of the last report it fired on.
    threshold: f32,
}

/// Per rule that fired: the sum and count of its values and its last threshold.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleValues {
    /// Bit per rule with a slot.
    present: u32,
    /// One slot per bit of `present`, in rule order.
    slots: Vec<Slot>,
}

const _: () = assert!(RULE_COUNT <= 32);

impl RuleValues {
    /// Index in `slots` of `rule`'s slot (or where it goes).
    fn slot(&self, rule: usize) -> usize {
        (self.present & ((1u32 << rule) - 1)).count_ones() as usize
    }

    /// `rule` fired on a report with `value` against `threshold`.
    pub(crate) fn add(&mut self, rule: usize, value: f32, threshold: f32) {
        let i = self.slot(rule);
        let bit = 1u32 << rule;
        if self.present & bit == 0 {
            self.present |= bit;
            self.slots.insert(
                i,
                Slot {
                    sum: 0.0,
                    n: 0,
                    threshold,
                },
            );
        }
        let s = &mut self.slots[i];
        s.sum += f64::from(value);
        s.n = s.n.saturating_add(1);
        s.threshold = threshold;
    }

    /// Whether `rule` fired at least once.
    pub(crate) fn fired(&self, rule: usize) -> bool {
        self.present & (1u32 << rule) != 0
    }

    /// The mean of `rule`'s values and its last threshold; `(0, 0)` when it never fired.
    pub(crate) fn mean_and_threshold(&self, rule: usize) -> (f64, f32) {
        if self.present & (1u32 << rule) == 0 {
            return (0.0, 0.0);
        }
        let s = self.slots[self.slot(rule)];
        (s.sum / f64::from(s.n), s.threshold)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_means_and_last_thresholds_per_rule() {
        let mut v = RuleValues::default();
        assert_eq!(v.mean_and_threshold(3), (0.0, 0.0));
        v.add(9, 2.0, 1.5);
        v.add(3, 1.0, 0.5);
        v.add(9, 4.0, 2.5);
        v.add(15, -1.0, -3.0);
        v.add(0, 8.0, 7.0);
        assert_eq!(v.mean_and_threshold(9), (3.0, 2.5));
        assert_eq!(v.mean_and_threshold(3), (1.0, 0.5));
        assert_eq!(v.mean_and_threshold(15), (-1.0, -3.0));
        assert_eq!(v.mean_and_threshold(0), (8.0, 7.0));
        assert_eq!(v.mean_and_threshold(4), (0.0, 0.0));
        assert!(v.heap_bytes() >= 4 * 16);
    }
}
