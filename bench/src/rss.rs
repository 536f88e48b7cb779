//! The server's memory, from `/proc/PID/status` (`VmRSS`: now; `VmHWM`: the peak since start).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use crate::args::Args;

/// A `kB` field of `/proc/PID/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&text, field)
}

/// The CPU time the process has used (user + system), from `/proc/PID/stat` (fields 14 and 15,
/// in clock ticks of 1/100 s: Linux's `USER_HZ` on every architecture it runs on here).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&text)
}

/// Fields after the command (which is in parentheses and may hold spaces): state is field 3,
/// utime field 14, stime field 15.
fn parse_stat_cpu(text: &str) -> Option<f64> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn parse_status_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Samples `VmRSS` every 100 ms on its own thread until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(u64, u64, u64)>,
}

/// What a [`Sampler`] saw, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct RssSeen {
    pub max_kib: u64,
    pub mean_kib: u64,
}

impl Sampler {
    /// `None` without a pid (nothing sampled).
    pub fn start(pid: Option<u32>) -> Option<Sampler> {
        let pid = pid?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut max, mut sum, mut n) = (0u64, 0u64, 0u64);
            // Bounded: at most one hour of samples even if never stopped.
            for _ in 0..36_000 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    max = max.max(kib);
                    sum += kib;
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (max, sum, n)
        });
        Some(Sampler { stop, handle })
    }

    pub fn finish(self) -> RssSeen {
        self.stop.store(true, Ordering::Relaxed);
        let (max, sum, n) = self.handle.join().unwrap_or((0, 0, 0));
        RssSeen {
            max_kib: max,
            mean_kib: sum.checked_div(n).unwrap_or(0),
        }
    }
}

/// `oms-bench rss --pid PID --label L`: the server's memory now.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let pid: u32 = args.number("pid", 0)?;
    let label = args.required("label")?;
    println!(
        "{}",
        json!({
            "kind": "rss",
            "label": label,
            "rss_kib": status_kib(pid, "VmRSS"),
            "hwm_kib": status_kib(pid, "VmHWM"),
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let text = "Name:\toms\nVmHWM:\t   35040 kB\nVmRSS:\t   33600 kB\n";
        assert_eq!(parse_status_kib(text, "VmRSS"), Some(33_600));
        assert_eq!(parse_status_kib(text, "VmHWM"), Some(35_040));
        assert_eq!(parse_status_kib(text, "VmSwap"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(status_kib(std::process::id(), "VmRSS").is_some_and(|k| k > 0));
    }

    #[test]
    fn cpu_time_is_user_plus_system_ticks() {
        let stat =
            "4242 (oms serve) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 75 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat_cpu(stat), Some(3.25));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }
}
