//! A cache hint for the per-key state tables and held events: on large inputs a
//! record's state (its SIM's windows, the table's index entry, the event itself in the
//! hold queue) is out of the nearest caches, and the lines of one record are
//! independent misses. Asking for them together lets the misses overlap instead of
//! following each other (perf on the medium replay, BENCHMARKS.md, stop 31).

/// Ask the CPU to bring cache lines `lines` (64 bytes each, counted from the start of
/// `*value`, those within its size) into the nearest cache, without waiting: a hint,
/// nothing is read and nothing can fault. A no-op off x86-64 and for `None`.
#[inline(always)]
pub(crate) fn prefetch_lines<T>(value: Option<&T>, lines: std::ops::Range<usize>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v) = value {
        let base = (v as *const T).cast::<i8>();
        for line in lines {
            let offset = line * 64;
            if offset >= std::mem::size_of::<T>() {
                break;
            }
            // SAFETY: SSE is part of x86-64's baseline, so the instruction exists;
            // a prefetch reads nothing and cannot fault, whatever the address (here
            // one inside `*value`).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.wrapping_add(offset),
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, lines);
}
