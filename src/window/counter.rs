//! Compact saturating counters stored in window buckets.
//!
//! Per-key window state is kept for millions of SIMs, so a bucket holds the smallest
//! integer that fits: `u16` (saturates at 65 535) or `u32`, or a fixed array of them
//! when one window counts several quantities (e.g. `sms_out`, `new_recipients`,
//! `offnet_out`) with a single shared ring head. Adding never overflows: it saturates.
//! Sums over a window are returned in a wider total (`u64`) so they never saturate.

use std::fmt::Debug;

/// A bucket value of a [`super::BucketRing`].
pub trait Counter: Copy + PartialEq + Debug {
    /// What one event adds (`u32` for scalar counters, `[u32; K]` for arrays).
    type Amount: Copy + Debug;
    /// A sum over buckets (`u64`, `[u64; K]`); never saturates for a ring of at most
    /// 2^32 buckets.
    type Total: Copy + PartialEq + Debug;

    /// The empty bucket.
    const ZERO: Self;
    /// The zero total.
    const ZERO_TOTAL: Self::Total;

    /// `self += amount`, saturating at the type's maximum.
    fn add_saturating(&mut self, amount: Self::Amount);
    /// `total += self`.
    fn accumulate_into(self, total: &mut Self::Total);
    fn is_zero(&self) -> bool;
}

/// A scalar counter: an amount is added in `u32` and the result saturates at the
/// counter's maximum.
macro_rules! scalar_counter {
    ($t:ty) => {
        impl Counter for $t {
            type Amount = u32;
            type Total = u64;
            const ZERO: Self = 0;
            const ZERO_TOTAL: u64 = 0;

            #[inline]
            fn add_saturating(&mut self, amount: u32) {
                *self =
                    <$t>::try_from(u32::from(*self).saturating_add(amount)).unwrap_or(<$t>::MAX);
            }
            #[inline]
            fn accumulate_into(self, total: &mut u64) {
                *total += u64::from(self);
            }
            #[inline]
            fn is_zero(&self) -> bool {
                *self == 0
            }
        }
    };
}

scalar_counter!(u8);
scalar_counter!(u16);
scalar_counter!(u32);

/// An array of scalar counters: one per quantity, saturating independently.
impl<C: Counter<Amount = u32, Total = u64>, const K: usize> Counter for [C; K] {
    type Amount = [u32; K];
    type Total = [u64; K];
    const ZERO: Self = [C::ZERO; K];
    const ZERO_TOTAL: [u64; K] = [0; K];

    #[inline]
    fn add_saturating(&mut self, amount: [u32; K]) {
        for (c, a) in self.iter_mut().zip(amount) {
            c.add_saturating(a);
        }
    }
    #[inline]
    fn accumulate_into(self, total: &mut [u64; K]) {
        for (t, c) in total.iter_mut().zip(self) {
            c.accumulate_into(t);
        }
    }
    #[inline]
    fn is_zero(&self) -> bool {
        self.iter().all(C::is_zero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_saturate() {
        let mut a: u16 = 65_000;
        a.add_saturating(1_000);
        assert_eq!(a, u16::MAX);
        let mut b: u32 = u32::MAX - 1;
        b.add_saturating(5);
        assert_eq!(b, u32::MAX);
        let mut c: [u16; 2] = [1, 65_535];
        c.add_saturating([2, 1]);
        assert_eq!(c, [3, 65_535]);
        let mut t = [0u64; 2];
        c.accumulate_into(&mut t);
        c.accumulate_into(&mut t);
        assert_eq!(t, [6, 131_070]);
        assert!(<[u32; 3]>::ZERO.is_zero());
    }
}
