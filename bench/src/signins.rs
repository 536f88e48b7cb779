//! `oms-bench signins --setup setup.json --concurrency N --rounds R --pid PID`: R rounds of N
//! sign-ins at once (`POST /api/auth/token` with the bench customers' right password, each an
//! argon2id verification), then the server's memory: what a burst of sign-ins leaves behind,
//! with no allocator tuning.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;

use crate::args::Args;
use crate::http::{Setup, client, token};
use crate::rss::status_kib;
use crate::setup::CUSTOMER_PASSWORD;

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let setup = Setup::load(args.required("setup")?)?;
    let concurrency: usize = args.number("concurrency", 64)?;
    let rounds: usize = args.number("rounds", 3)?;
    let pid: u32 = args.number("pid", 0)?;
    if setup.customers.is_empty() || !(1..=1024).contains(&concurrency) || rounds > 100 {
        bail!("needs customers, 1 to 1024 at once and at most 100 rounds");
    }
    let http = client()?;
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(concurrency * rounds);
    for _ in 0..rounds {
        let mut tasks = Vec::with_capacity(concurrency);
        for n in 0..concurrency {
            let (http, base) = (http.clone(), setup.base.clone());
            let email = setup.customers[n % setup.customers.len()].email.clone();
            tasks.push(tokio::spawn(async move {
                let at = Instant::now();
                token(&http, &base, &email, CUSTOMER_PASSWORD)
                    .await
                    .map(|_| at.elapsed())
            }));
        }
        for task in tasks {
            latencies.push(task.await??);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // The allocator's state settles once the hashing threads are idle again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    latencies.sort();
    let ms = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).map(|d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{}",
        json!({
            "kind": "signins",
            "concurrency": concurrency,
            "rounds": rounds,
            "signins": latencies.len(),
            "seconds": seconds,
            "p50_ms": ms(0.5),
            "p99_ms": ms(0.99),
            "rss_kib": status_kib(pid, "VmRSS"),
            "hwm_kib": status_kib(pid, "VmHWM"),
        })
    );
    Ok(())
}
