//! The process's memory allocator: mimalloc, tuned to hand memory back.
//!
//! Records are parsed on one thread and freed on another (the replay's parse stage,
//! the service's parallel parse). glibc's allocator spends about a fifth of a
//! spam-only replay in that pattern (arena consolidation, cross-thread frees);
//! mimalloc frees to the owning thread's page without locks. Declared here, in the
//! library, so that the binary, tests and benchmarks all measure the same allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit`, `mi_option_purge_delay` and
/// `mi_option_generic_collect` in mimalloc.h (v3).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_OPTION_GENERIC_COLLECT: libmimalloc_sys::mi_option_t = 34;

/// Commit memory when it is used and return freed memory at once: the state of
/// millions of SIMs is the memory target (≤ 256 bytes each, by RSS), and mimalloc's
/// defaults (eagerly committed arenas, purging after a delay) hold more. A thread's
/// heap is also collected (its empty pages given back) every 1,000 allocations that
/// need a new page instead of every 10,000: between collections the pages that held
/// buffers and hash tables outgrown by their owners stay committed, which was a third
/// of the fake-BTS detector's heap growth (2,038 → 1,663 bytes per cell identity on
/// the medium scenario, no measurable CPU). Call first thing in `main`, before threads
/// start.
pub fn tune() {
    // SAFETY: plain option setters of the allocator, with valid option ids.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_GENERIC_COLLECT, 1_000);
    }
}

/// Keep memory freed by the service's batches and bursts for `ms` milliseconds
/// before returning it to the OS (`sink.free_memory_hold_ms`), instead of at once as
/// [`tune`] sets for the memory targets. The service frees and allocates the same
/// buffers every burst (parsed records, hold queues, the parse helper's heap), and
/// memory handed back is zero-filled by the kernel again at its next use: a page
/// fault per 4 KiB. Called when the service starts; mimalloc reads the option each
/// time it considers purging, so it applies from then on.
pub fn hold_freed_memory(ms: u64) {
    let ms = libc::c_long::try_from(ms).unwrap_or(libc::c_long::MAX);
    // SAFETY: a plain option setter of the allocator, with a valid option id.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms);
    }
}

/// How many `T` fit in the block the allocator hands out for `want` of them: its
/// size classes are about a fifth apart, so a buffer of exactly `want` leaves the
/// rest of its block unused and unaccounted. A growing buffer that takes the whole
/// block grows less often and says what it holds.
pub fn fitting_capacity<T>(want: usize) -> usize {
    let size = std::mem::size_of::<T>();
    if size == 0 || want == 0 {
        return want;
    }
    // SAFETY: a pure function of the size, allocating nothing.
    let block = unsafe { libmimalloc_sys::mi_good_size(want.saturating_mul(size)) };
    (block / size).max(want)
}
