//! What machine a report was measured on, and the file-descriptor limit the socket-heavy benchmarks need.

/// `nproc`, CPU model, memory and load average, for the header of a report.
pub fn describe() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!(
        "{cpus} CPUs (nproc), {model}, {mem_gib:.1} GiB RAM; load average before the run: {}",
        load_average()
    )
}

/// `/proc/loadavg`'s first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Raise this process's soft `RLIMIT_NOFILE` towards `want` (never above the hard limit).
/// Returns (before, after) soft limits.
#[allow(clippy::unnecessary_cast)] // `rlim_t` is not `u64` on every platform.
pub fn raise_fd_limit(want: u64) -> (u64, u64) {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a plain struct; no other invariants.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        let before = lim.rlim_cur as u64;
        let target = want.min(lim.rlim_max as u64);
        if target > before {
            lim.rlim_cur = target as libc::rlim_t;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return (before, before);
            }
            return (before, target);
        }
        (before, before)
    }
}

/// The command line this process was started with, for the report.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bin = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if args.is_empty() {
        format!("cargo run --release -p auction-bench --bin {bin}")
    } else {
        format!(
            "cargo run --release -p auction-bench --bin {bin} -- {}",
            args.join(" ")
        )
    }
}
