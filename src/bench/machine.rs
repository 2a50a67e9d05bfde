//! The machine a benchmark ran on: CPU model, cores, memory, kernel and load, read
//! from `/proc` so every figure in BENCHMARKS.md says where it was measured.

use serde::Serialize;

/// Description of the host.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu_model: String,
    /// Logical CPUs this process may run on.
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
    pub(crate) hostname: String,
}

impl Machine {
    pub(crate) fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpu_model: cpu_model(&cpuinfo),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_gib: mem_total_kib(&meminfo) / (1024.0 * 1024.0),
            kernel,
            hostname,
        }
    }
}

/// The first `model name` of a `/proc/cpuinfo` text ("unknown" without one).
fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `MemTotal` of a `/proc/meminfo` text, KiB (0 without one).
fn mem_total_kib(meminfo: &str) -> f64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// The 1, 5 and 15 minute load averages now.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub(crate) struct Load(pub(crate) f64, pub(crate) f64, pub(crate) f64);

impl Load {
    pub(crate) fn now() -> Load {
        Load::parse(&std::fs::read_to_string("/proc/loadavg").unwrap_or_default())
    }

    /// The first three fields of a `/proc/loadavg` line (NaN where missing).
    fn parse(text: &str) -> Load {
        let mut it = text
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
        Load(
            it.next().unwrap_or(f64::NAN),
            it.next().unwrap_or(f64::NAN),
            it.next().unwrap_or(f64::NAN),
        )
    }
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} {:.2} {:.2}", self.0, self.1, self.2)
    }
}

/// User + system CPU seconds used so far by every process whose command line
/// contains `needle` (e.g. `clickhouse-server`, `kafka.Kafka`), from `/proc`.
pub(crate) fn cpu_seconds_of(needle: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut total = 0.0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !cmdline
            .split(|&b| b == 0)
            .any(|arg| String::from_utf8_lossy(arg).contains(needle))
        {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        total += stat_cpu_seconds(&stat);
    }
    total
}

/// utime + stime of a `/proc/<pid>/stat` line, seconds (clock ticks of 1/100 s).
pub(crate) fn stat_cpu_seconds(stat: &str) -> f64 {
    // fields after the command name (which may contain spaces) start after ") ";
    // utime and stime are fields 14 and 15 of the line, 11 and 12 (0-based) after it
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        let m = Machine::describe();
        assert!(m.memory_gib > 0.0, "MemTotal read from /proc/meminfo");
    }

    #[test]
    fn cpu_model_and_memory_of_proc_texts() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(cpu_model(cpuinfo), "Intel(R) Xeon(R) CPU @ 2.20GHz");
        assert_eq!(cpu_model("processor\t: 0\n"), "unknown");
        let meminfo = "MemTotal:        8039204 kB\nMemFree:          123456 kB\n";
        assert_eq!(mem_total_kib(meminfo), 8_039_204.0);
        assert_eq!(mem_total_kib(""), 0.0);
    }

    #[test]
    fn load_of_a_loadavg_line() {
        assert_eq!(
            Load::parse("0.52 1.58 12.09 2/389 12345\n"),
            Load(0.52, 1.58, 12.09)
        );
        let missing = Load::parse("");
        assert!(missing.0.is_nan() && missing.1.is_nan() && missing.2.is_nan());
        assert_eq!(Load(0.5, 0.25, 1.0).to_string(), "0.50 0.25 1.00");
    }

    #[test]
    fn cpu_of_a_stat_line() {
        let line = "42 (a b) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0";
        assert_eq!(stat_cpu_seconds(line), 2.0);
    }
}
