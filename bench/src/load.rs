//! A closed-loop HTTP load: `connections` tasks, each with its own keep-alive connection, each
//! sending its next request when the previous answer has been read, until the duration is over
//! or `max_requests` have been sent in all (whichever comes first).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::http::{Rng, client};
use crate::stats::{Latencies, round3};

/// How much load.
#[derive(Debug, Clone)]
pub struct Plan {
    pub connections: usize,
    pub duration: Duration,
    pub max_requests: u64,
    /// The status of a success; anything else is an error.
    pub expect: u16,
    /// Keep up to this many `(task, Location)` pairs of successful answers.
    pub keep_locations: usize,
}

/// What the load came to.
#[derive(Debug, Default)]
pub struct Outcome {
    pub elapsed: Duration,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    /// Latencies of the successful requests.
    pub latencies: Latencies,
    pub locations: Vec<(usize, String)>,
}

impl Outcome {
    /// `ok`, `rate`, `errors`, the latency summary.
    pub fn figures(self) -> Value {
        let seconds = self.elapsed.as_secs_f64();
        let errors: u64 = self.errors.values().sum();
        let mut out = json!({
            "seconds": round3(seconds),
            "ok": self.ok,
            "rate": round3(self.ok as f64 / seconds.max(1e-9)),
            "errors": errors,
            "error_kinds": self.errors,
            "first_error": self.first_error,
        });
        if let (Value::Object(out), Value::Object(summary)) = (&mut out, self.latencies.summary()) {
            out.extend(summary);
        }
        out
    }
}

/// Builds task `n`'s next request.
pub type Build =
    dyn Fn(usize, &reqwest::Client, &mut Rng) -> reqwest::RequestBuilder + Send + Sync + 'static;

/// Runs the load described by `plan`, each request made by `build`.
pub async fn drive(plan: &Plan, build: Arc<Build>) -> anyhow::Result<Outcome> {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut tasks = Vec::with_capacity(plan.connections);
    for n in 0..plan.connections {
        let http = client()?;
        let build = build.clone();
        let issued = issued.clone();
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            one_connection(n, &http, &plan, deadline, &issued, &*build).await
        }));
    }
    let mut total = Outcome::default();
    for task in tasks {
        let part = task.await?;
        total.ok += part.ok;
        for (kind, count) in part.errors {
            *total.errors.entry(kind).or_default() += count;
        }
        if total.first_error.is_none() {
            total.first_error = part.first_error;
        }
        total.latencies.merge(part.latencies);
        total.locations.extend(part.locations);
    }
    total.elapsed = start.elapsed();
    total.locations.truncate(plan.keep_locations);
    Ok(total)
}

async fn one_connection(
    n: usize,
    http: &reqwest::Client,
    plan: &Plan,
    deadline: Instant,
    issued: &AtomicU64,
    build: &Build,
) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = Rng::new(n as u64 + 1);
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < plan.max_requests {
        let request = build(n, http, &mut rng);
        let sent = Instant::now();
        let error = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match response.bytes().await {
                    Ok(_) if status == plan.expect => {
                        out.latencies.push(sent.elapsed());
                        out.ok += 1;
                        if let Some(location) = location
                            && out.locations.len() < plan.keep_locations
                        {
                            out.locations.push((n, location));
                        }
                        None
                    }
                    Ok(body) => Some((
                        status.to_string(),
                        format!(
                            "{status} {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ),
                    )),
                    Err(e) => Some(("transport".to_owned(), e.to_string())),
                }
            }
            Err(e) => Some(("transport".to_owned(), e.to_string())),
        };
        if let Some((kind, text)) = error {
            let transport = kind == "transport";
            *out.errors.entry(kind).or_default() += 1;
            out.first_error.get_or_insert(text);
            if transport {
                // A refused connection fails at once: do not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}
