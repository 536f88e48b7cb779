//! `oms-bench pgbench`: runs `pgbench` on a script for a fixed time (`-T`, and killed if it
//! overruns by a minute), with per-transaction logging (`-l`), and reports its transactions per
//! second, failures and the latency percentiles of its transactions (one transaction = one run
//! of the script = one order placement).
//!
//! `pgbench -n -M <mode> -c N -j min(N, 2) -T S -l -f SCRIPT -D k=v… URL`; the mode is
//! `prepared` unless `--protocol` says otherwise (every statement parsed and planned once per
//! connection: the database at its best).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::args::Args;
use crate::stats::{Latencies, round3};

pub fn run(args: &Args) -> anyhow::Result<()> {
    let label = args.required("label")?;
    let clients: u32 = args.number("clients", 16)?;
    let seconds: u64 = args.number("seconds", 15)?;
    let script = args.required("script")?;
    let url = args.required("url")?;
    let protocol = args.get("protocol").unwrap_or("prepared");
    let program = args.get("pgbench").unwrap_or("pgbench");
    let dir =
        std::env::temp_dir().join(format!("oms-bench-pgbench-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(
        &dir, program, label, clients, seconds, script, url, protocol, args,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let figures = result?;
    println!("{figures}");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_in(
    dir: &Path,
    program: &str,
    label: &str,
    clients: u32,
    seconds: u64,
    script: &str,
    url: &str,
    protocol: &str,
    args: &Args,
) -> anyhow::Result<serde_json::Value> {
    let mut command = Command::new(program);
    command
        .args(["-n", "-M", protocol, "-c", &clients.to_string()])
        .args(["-j", &clients.clamp(1, 2).to_string()])
        .args(["-T", &seconds.to_string(), "-l", "--log-prefix"])
        .arg(dir.join("tx"))
        .arg("-f")
        .arg(script);
    for define in args.all("define") {
        command.args(["-D", define]);
    }
    let stdout = dir.join("stdout");
    let stderr = dir.join("stderr");
    let mut child = command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout)?)
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let limit = Instant::now() + Duration::from_secs(seconds + 60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("pgbench overran its time by a minute: killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = std::fs::read_to_string(&stdout)?;
    let err = std::fs::read_to_string(&stderr)?;
    let latencies = read_logs(dir)?;
    let number = |prefix: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    let tps = number("tps = ");
    let error_tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    let mut figures = json!({
        "kind": "pgbench",
        "label": label,
        "connections": clients,
        "protocol": protocol,
        "exit_ok": status.success(),
        "rate": tps.map(round3),
        "ok": number("number of transactions actually processed:"),
        "errors": number("number of failed transactions:").unwrap_or(0.0),
        "error": (!status.success() || tps.is_none()).then_some(error_tail),
    });
    if let (serde_json::Value::Object(out), serde_json::Value::Object(summary)) =
        (&mut figures, latencies.summary())
    {
        out.extend(summary);
    }
    Ok(figures)
}

/// Latencies of the successful transactions from pgbench's per-transaction logs
/// (`client_id transaction_no time script_no time_epoch time_us`, `time` in microseconds, or a
/// word for a failed one).
fn read_logs(dir: &Path) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::default();
    let logs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("tx."))
        })
        .collect();
    for log in logs {
        for line in std::fs::read_to_string(&log)?.lines() {
            if let Some(micros) = line.split_whitespace().nth(2).and_then(|t| t.parse().ok()) {
                latencies.push_micros(micros);
            }
        }
    }
    Ok(latencies)
}
