//! Memory of a process from `/proc/<pid>/status`: resident set now (`VmRSS`), its
//! peak (`VmHWM`) and the anonymous part of it (`RssAnon`: the heap and stacks, not the
//! binary's code pages, which count in `VmRSS` from the first time they run), in bytes;
//! and [`files_resident`], which maps the binary's code in before a baseline, so that
//! the `VmRSS` growth after it is what the measured code allocated.

/// Resident memory figures of a process, bytes.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct Rss {
    pub(crate) current: u64,
    pub(crate) peak: u64,
    /// Of `current`, anonymous memory.
    #[serde(default)]
    pub(crate) anon: u64,
}

/// This process's memory.
pub(crate) fn own() -> Rss {
    parse(&std::fs::read_to_string("/proc/self/status").unwrap_or_default())
}

/// Fault in every page of this process's readable file mappings (the binary's code and
/// constants, the shared libraries'), as if each had been read; the bytes made
/// resident. Code pages count in `VmRSS` from the first time they run: without this, a
/// state measurement's growth includes whatever code first ran after its baseline
/// (about 1 MB of the binary, whatever the number of keys tracked), which is not state.
/// Needs `MADV_POPULATE_READ` (Linux 5.14); a mapping it refuses stays as it was.
pub(crate) fn files_resident() -> u64 {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut bytes = 0;
    for (start, len) in maps.lines().filter_map(file_mapping) {
        // SAFETY: MADV_POPULATE_READ only faults in the pages of an existing mapping
        // of this process, as reads would; it writes no memory and changes no mapping.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_POPULATE_READ) };
        if rc == 0 {
            bytes += len as u64;
        }
    }
    bytes
}

/// The allocator's view of its heap: bytes in allocated blocks (each rounded up to its
/// size class) and bytes committed to the pages that hold them. What is committed and
/// not in a block is the allocator's slack (freed blocks kept for reuse, pages partly
/// used), resident as far as it was touched.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct HeapUse {
    pub(crate) in_blocks: u64,
    pub(crate) committed: u64,
}

/// Of the process's main heap (mimalloc v3: one heap for all threads).
pub(crate) fn heap_use() -> HeapUse {
    use libmimalloc_sys::{mi_heap_area_t, mi_heap_t};
    extern "C" {
        fn mi_heap_main() -> *mut mi_heap_t;
    }
    unsafe extern "C" fn area(
        _heap: *const mi_heap_t,
        area: *const mi_heap_area_t,
        _block: *mut libc::c_void,
        _block_size: usize,
        arg: *mut libc::c_void,
    ) -> bool {
        // SAFETY: mimalloc passes a valid area; `arg` is the `HeapUse` below.
        let (area, acc) = unsafe { (&*area, &mut *arg.cast::<HeapUse>()) };
        acc.in_blocks += (area.used * area.block_size) as u64;
        acc.committed += area.committed as u64;
        true
    }
    let mut acc = HeapUse::default();
    // SAFETY: visits the main heap's areas only (no blocks), calling `area` with a
    // pointer to `acc`, which outlives the call.
    unsafe {
        libmimalloc_sys::mi_heap_visit_blocks(
            mi_heap_main(),
            false,
            Some(area),
            (&mut acc as *mut HeapUse).cast(),
        );
    }
    acc
}

/// Of the main heap, per block size: (block size, pages, bytes in blocks, bytes
/// committed), largest slack (committed − in blocks) first. A diagnostic of where the
/// allocator's slack is (`CW_BENCH_HEAP_CLASSES=1` prints it from the state children).
pub(crate) fn heap_by_class() -> Vec<(usize, u64, u64, u64)> {
    use libmimalloc_sys::{mi_heap_area_t, mi_heap_t};
    use std::collections::BTreeMap;
    extern "C" {
        fn mi_heap_main() -> *mut mi_heap_t;
    }
    type Classes = BTreeMap<usize, (u64, u64, u64)>;
    unsafe extern "C" fn area(
        _heap: *const mi_heap_t,
        area: *const mi_heap_area_t,
        _block: *mut libc::c_void,
        _block_size: usize,
        arg: *mut libc::c_void,
    ) -> bool {
        // SAFETY: mimalloc passes a valid area; `arg` is the map below.
        let (area, acc) = unsafe { (&*area, &mut *arg.cast::<Classes>()) };
        let e = acc.entry(area.block_size).or_default();
        e.0 += 1;
        e.1 += (area.used * area.block_size) as u64;
        e.2 += area.committed as u64;
        true
    }
    let mut acc = Classes::new();
    // SAFETY: as in `heap_use`, with a pointer to `acc`, which outlives the call.
    unsafe {
        libmimalloc_sys::mi_heap_visit_blocks(
            mi_heap_main(),
            false,
            Some(area),
            (&mut acc as *mut Classes).cast(),
        );
    }
    let mut v: Vec<_> = acc
        .into_iter()
        .map(|(size, (pages, used, committed))| (size, pages, used, committed))
        .collect();
    v.sort_by_key(|&(_, _, used, committed)| std::cmp::Reverse(committed.saturating_sub(used)));
    v
}

/// Print [`heap_by_class`] to standard error when `CW_BENCH_HEAP_CLASSES` is set.
pub(crate) fn print_heap_classes(what: &str) {
    if std::env::var_os("CW_BENCH_HEAP_CLASSES").is_none() {
        return;
    }
    eprintln!("heap by block size, {what}: size pages in_blocks committed slack");
    for (size, pages, used, committed) in heap_by_class() {
        eprintln!(
            "{size:>8} {pages:>4} {used:>9} {committed:>9} {:>9}",
            committed.saturating_sub(used)
        );
    }
}

/// `(start, length)` of a `/proc/self/maps` line that maps a file readable.
fn file_mapping(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_ascii_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let inode = fields.nth(2)?;
    let path = fields.next()?;
    if !perms.starts_with('r') || inode == "0" || !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then(|| (start, end - start))
}

fn parse(status: &str) -> Rss {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    Rss {
        current: field("VmRSS:"),
        peak: field("VmHWM:"),
        anon: field("RssAnon:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let r = parse("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 512 kB\n");
        assert_eq!(
            r,
            Rss {
                current: 1 << 20,
                peak: 2 << 20,
                anon: 1 << 19,
            }
        );
        assert!(own().current > 0);
    }

    #[test]
    fn file_mappings_are_readable_and_named() {
        let code = "55d0c0a00000-55d0c1e00000 r-xp 00200000 fd:00 1234 /usr/bin/cellwatch";
        assert_eq!(file_mapping(code), Some((0x55d0c0a00000, 0x1400000)));
        let heap = "55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0 [heap]";
        assert_eq!(file_mapping(heap), None);
        let anon = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0";
        assert_eq!(file_mapping(anon), None);
        let guard = "7f0000001000-7f0000002000 ---p 00000000 fd:00 1234 /usr/lib/libm.so.6";
        assert_eq!(file_mapping(guard), None);
        // this process's own code is mapped from its binary, and faulting it in
        // leaves it resident
        assert!(files_resident() > 0);
        let after = own();
        assert!(after.current > after.anon);
    }
}
