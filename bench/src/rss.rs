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
}
