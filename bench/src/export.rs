//! `oms-bench export`: `GET /api/admin/orders/export` (every order), read as fast as it comes,
//! bounded by `--max-seconds`: rows per second, time to the first byte, and the server's memory
//! (`VmRSS` sampled every 100 ms, and `VmHWM`, its peak since it started: start the server fresh
//! for this so the peak is the export's).

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use serde_json::json;

use crate::args::Args;
use crate::http::{ensure_loopback, token};
use crate::rss::{Sampler, status_kib};
use crate::stats::round3;

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let base = args.required("base")?.trim_end_matches('/').to_owned();
    ensure_loopback(&base)?;
    let pid: u32 = args.number("pid", 0)?;
    let max = Duration::from_secs_f64(args.number("max-seconds", 120.0)?);
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(max + Duration::from_secs(5))
        .build()?;
    let admin = token(
        &http,
        &base,
        args.required("admin-email")?,
        args.required("admin-password")?,
    )
    .await?;
    let hwm_before = status_kib(pid, "VmHWM");
    let rss_before = status_kib(pid, "VmRSS");
    let sampler = Sampler::start(Some(pid));
    let start = Instant::now();
    let response = http
        .get(format!("{base}/api/admin/orders/export"))
        .bearer_auth(&admin)
        .send()
        .await?;
    let status = response.status().as_u16();
    let mut body = response.bytes_stream();
    let (mut lines, mut bytes, mut first_byte) = (0u64, 0u64, None);
    let mut completed = false;
    let mut error = None;
    let deadline = tokio::time::Instant::now() + max;
    loop {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => break,
            Ok(None) => {
                completed = true;
                break;
            }
            Ok(Some(Ok(chunk))) => {
                first_byte.get_or_insert_with(|| start.elapsed());
                lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                bytes += chunk.len() as u64;
            }
            Ok(Some(Err(e))) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(body);
    let rss = sampler.map(Sampler::finish).unwrap_or_default();
    let rows = lines.saturating_sub(1);
    println!(
        "{}",
        json!({
            "kind": "export",
            "status": status,
            "completed": completed,
            "error": error,
            "rows": rows,
            "megabytes": round3(bytes as f64 / 1e6),
            "seconds": round3(seconds),
            "rows_per_s": round3(rows as f64 / seconds.max(1e-9)),
            "first_byte_ms": round3(first_byte.unwrap_or_default().as_secs_f64() * 1000.0),
            "rss_before_kib": rss_before,
            "rss_max_kib": rss.max_kib,
            "hwm_before_kib": hwm_before,
            "hwm_kib": status_kib(pid, "VmHWM"),
        })
    );
    Ok(())
}
