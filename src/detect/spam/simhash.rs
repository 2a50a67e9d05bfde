//! Near-duplicate content: Hamming distance between 64-bit SimHash fingerprints, and a
//! banded index that finds the fingerprints within a few bits of a query.
//!
//! A SimHash of two texts that differ by a few words differs in a few bits (Charikar
//! 2002; Manku et al., WWW 2007 use 64-bit hashes and ≤ 3 bits). With `bands` blocks
//! of the 64 bits, any two fingerprints within `bands - 1` bits share at least one
//! block exactly (pigeonhole), so looking up each block finds every candidate.

/// Number of differing bits between two fingerprints.
#[inline]
pub(crate) fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Splits a fingerprint into `bands` contiguous blocks, returned as (band, block value).
#[cfg(test)]
pub(crate) fn bands(fp: u64, bands: u32) -> impl Iterator<Item = (u8, u64)> {
    let bands = bands.clamp(1, 16);
    let width = 64 / bands;
    (0..bands).map(move |i| {
        let lo = i * width;
        let w = if i == bands - 1 { 64 - lo } else { width };
        let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
        (i as u8, (fp >> lo) & mask)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hamming_counts_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0b1011, 0b0001), 2);
        assert_eq!(hamming(u64::MAX, 0), 64);
    }

    #[test]
    fn near_fingerprints_share_a_band() {
        let a = 0x1234_5678_9abc_def0u64;
        let b = a ^ (1 << 3) ^ (1 << 40) ^ (1 << 62); // 3 bits apart
        let ba: Vec<_> = bands(a, 4).collect();
        let bb: Vec<_> = bands(b, 4).collect();
        assert!(ba.iter().zip(&bb).any(|(x, y)| x == y));
        // blocks reassemble the fingerprint
        let back = ba
            .iter()
            .fold(0u64, |acc, &(i, v)| acc | (v << (u32::from(i) * 16)));
        assert_eq!(back, a);
    }
}
