//! Memory of a process from `/proc/<pid>/status`: resident set now (`VmRSS`), its
//! peak (`VmHWM`) and the anonymous part of it (`RssAnon`: the heap and stacks, not the
//! binary's code pages, which count in `VmRSS` from the first time they run), in bytes.

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
}
