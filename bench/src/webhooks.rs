//! `oms-bench webhooks`: webhook delivery, from an event's commit to its arrival at a receiver.
//!
//! The running server (`WEBHOOK_ALLOW_PRIVATE=true`, `WEBHOOK_ALLOW_HTTP=true`) delivers to one
//! endpoint pointing at a receiver inside this process ([`crate::receiver`]). The endpoint is
//! inserted directly in SQL (an admin API is not assumed), under the event lock, with
//! `after_event_id` = the newest event id, as the server makes one. Events are written by this
//! process in SQL exactly as the server writes them (`crates/adapters-postgres/src/events.rs`):
//! in a transaction that takes the event lock, inserts into `order_events` and sends the events'
//! JSON array on `oms_events` (split under the size limit), then commits. Each order has its
//! `order.created` then its `order.paid` (what a placement with the simulated provider writes),
//! on orders made beforehand in SQL (untimed).
//!
//! `--scenario`:
//! - `throughput` (receiver answers `200` at once) and `flaky` (`500` to `--fail-percent`, 10 by
//!   default, at random): `--events` (20,000) written as fast as one connection can, `--batch`
//!   (100) events per transaction: the `order.created` of 100 orders, then their `order.paid`
//!   (what group commit makes of a burst of placements). Deliveries/s = distinct events answered
//!   `200` / (the last one's arrival − the first transaction's commit);
//! - `latency`: `--rate` (200) events per second for `--seconds` (10): every `2 / rate` s an order's
//!   `order.created` transaction, then its `order.paid` one, on a few connections;
//! - `baseline`: no server, no database: a plain `reqwest` client posts `--events` bodies of the
//!   same shape and headers to the same kind of receiver, `--concurrency` (16, the server's
//!   `WEBHOOK_CONCURRENCY` default) at a time.
//!
//! Latency of a delivery = its arrival (answered `200`) − the event's `occurred_at` (the writing
//! transaction's `now()`, a little before its commit; same machine, same clock). Every scenario
//! waits for all its events to arrive, at most `--max-seconds` (120) after the last commit.
//! Besides, from the queue's own timestamps (deliveries of one attempt): event → queued (the
//! fan-out's `now()`), queued → claimed (`last_attempt_at`), claimed → arrival.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_postgres::{Client, NoTls, Statement};

use crate::args::Args;
use crate::http::ensure_loopback;
use crate::receiver::{Hit, Receiver};
use crate::stats::{Latencies, round3};

/// The server's event lock (`EVENT_LOCK_KEY` in `crates/adapters-postgres/src/events.rs`).
const EVENT_LOCK_KEY: i64 = 0x6f6d_735f_6576_7473;
/// The channel of committed events.
const EVENTS_CHANNEL: &str = "oms_events";
/// `NOTIFY` payloads stay under PostgreSQL's 8000 bytes (the server's limit).
const MAX_PAYLOAD_BYTES: usize = 7_500;
/// Connections writing the paced events of `latency`.
const PACED_CONNECTIONS: usize = 4;
/// The receiver's path (any: the receiver answers every path).
const HOOK_PATH: &str = "/oms-bench/webhook";
/// After the last arrival, how long the last records may take.
const RECORD_WAIT: Duration = Duration::from_secs(10);
/// Endpoints made by the bench carry this description (earlier ones are disabled first).
const DESCRIPTION: &str = "oms-bench";

const INSERT_EVENTS: &str = "\
WITH ins AS (
    INSERT INTO order_events (order_id, user_id, type, from_status, to_status, payment_status,
                              total_amount, actor_id, actor_role)
    SELECT v.order_id::uuid, $2::bigint, $3::text, $4::text, $5::text, $6::text, 1000,
           $7::bigint, $8::text
      FROM unnest($1::text[]) WITH ORDINALITY AS v(order_id, n)
     ORDER BY v.n
    RETURNING id, type, order_id, user_id, from_status, to_status, payment_status,
              fulfillment_status, total_amount, refunded_amount, occurred_at)
SELECT id, json_build_object(
           'id', id, 'type', type, 'order_id', order_id, 'user_id', user_id,
           'from_status', from_status, 'to_status', to_status, 'payment_status', payment_status,
           'fulfillment_status', fulfillment_status, 'total_amount', total_amount,
           'refunded_amount', refunded_amount, 'occurred_at', occurred_at)::text
  FROM ins ORDER BY id";

const NOTIFY: &str = "\
SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n";

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let scenario = args.required("scenario")?;
    let figures = match scenario {
        "baseline" => baseline(args).await?,
        "throughput" | "flaky" | "latency" => delivery(args, scenario).await?,
        other => bail!("--scenario {other:?}: throughput, flaky, latency or baseline"),
    };
    println!("{figures}");
    Ok(())
}

/// The two events of an order, as a placement with the simulated provider writes them.
#[derive(Clone, Copy)]
enum Kind {
    Created,
    Paid,
}

/// The prepared statements of one connection.
struct Statements {
    lock: Statement,
    insert: Statement,
    notify: Statement,
}

/// A connection that writes events.
struct Writer {
    client: Client,
    statements: Statements,
    user_id: i64,
}

impl Writer {
    async fn connect(url: &str, user_id: i64) -> anyhow::Result<Writer> {
        let client = connect(url).await?;
        let statements = Statements {
            lock: client.prepare("SELECT pg_advisory_xact_lock($1)").await?,
            insert: client.prepare(INSERT_EVENTS).await?,
            notify: client.prepare(NOTIFY).await?,
        };
        Ok(Writer {
            client,
            statements,
            user_id,
        })
    }

    /// One transaction: the event lock, one event of `kind` per order, their `NOTIFY`s, commit.
    /// Returns the event ids and when the commit returned.
    async fn append(
        &mut self,
        orders: &[String],
        kind: Kind,
    ) -> anyhow::Result<(Vec<i64>, OffsetDateTime)> {
        let (name, from, to, payment, actor_id, actor_role) = match kind {
            Kind::Created => (
                "order.created",
                None,
                "PENDING",
                "processing",
                Some(self.user_id),
                Some("CUSTOMER"),
            ),
            Kind::Paid => (
                "order.paid",
                Some("PENDING"),
                "PAID",
                "captured",
                None,
                None,
            ),
        };
        let tx = self.client.transaction().await?;
        tx.execute(&self.statements.lock, &[&EVENT_LOCK_KEY])
            .await?;
        let rows = tx
            .query(
                &self.statements.insert,
                &[
                    &orders,
                    &self.user_id,
                    &name,
                    &from,
                    &to,
                    &payment,
                    &actor_id,
                    &actor_role,
                ],
            )
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut jsons = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<_, i64>(0)?);
            jsons.push(row.try_get::<_, String>(1)?);
        }
        let payloads = notify_payloads(&jsons);
        tx.execute(&self.statements.notify, &[&EVENTS_CHANNEL, &payloads])
            .await?;
        tx.commit().await?;
        Ok((ids, OffsetDateTime::now_utc()))
    }
}

/// JSON arrays of `events`, each under [`MAX_PAYLOAD_BYTES`] (as the server splits them).
fn notify_payloads(events: &[String]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 2;
    for json in events {
        if !current.is_empty() && size + json.len() + 1 > MAX_PAYLOAD_BYTES {
            payloads.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += json.len() + 1;
        current.push(json);
    }
    if !current.is_empty() {
        payloads.push(format!("[{}]", current.join(",")));
    }
    payloads
}

/// The database must be on this machine too.
fn ensure_loopback_db(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .context("--db-url must be a postgres:// URL")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    ensure_loopback(&format!("http://{host}"))
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting to the database")?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("oms-bench webhooks: database connection: {error}");
        }
    });
    client.batch_execute("SET TimeZone TO 'UTC'").await?;
    Ok(client)
}

/// What the writers did.
struct Written {
    ids: HashSet<i64>,
    transactions: usize,
    first_commit: OffsetDateTime,
    last_commit: OffsetDateTime,
    /// The paced writers' worst lateness against the schedule.
    behind: Duration,
}

async fn delivery(args: &Args, scenario: &str) -> anyhow::Result<Value> {
    let url = args.required("db-url")?;
    ensure_loopback_db(url)?;
    let paced = scenario == "latency";
    let rate: f64 = args.number("rate", 200.0)?;
    let seconds: f64 = args.number("seconds", 10.0)?;
    let events: usize = if paced {
        (rate * seconds) as usize
    } else {
        args.number("events", 20_000)?
    };
    let batch: usize = args.number("batch", 100)?;
    let max_wait = Duration::from_secs_f64(args.number("max-seconds", 120.0)?);
    let fail_percent: u32 = if scenario == "flaky" {
        args.number("fail-percent", 10)?
    } else {
        0
    };
    let valid = rate > 0.0 && rate <= 10_000.0 && (2..=1_000_000).contains(&events) && batch > 0;
    if !valid {
        bail!("--rate in (0, 10000], --events in [2, 1000000], --batch at least 1");
    }

    let db = connect(url).await?;
    let user_id: i64 = db
        .query_one(
            "SELECT id FROM users ORDER BY role = 'CUSTOMER' DESC, id LIMIT 1",
            &[],
        )
        .await
        .context("no user to own the bench's orders (run oms-bench setup first)")?
        .try_get(0)?;
    db.execute(
        "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = 'oms-bench: finished', \
         updated_at = now() WHERE description = $1 AND enabled",
        &[&DESCRIPTION],
    )
    .await?;
    let orders = make_orders(&db, user_id, events / 2).await?;

    let receiver = Receiver::start(fail_percent).await?;
    let endpoint = create_endpoint(&db, &receiver.url(HOOK_PATH)).await?;
    let commits_before = commits(&db).await;
    let written = if paced {
        write_paced(url, user_id, &orders, rate).await
    } else {
        write_bulk(url, user_id, &orders, batch).await
    };
    let written = match written {
        Ok(written) => written,
        Err(error) => {
            disable(&db, &endpoint).await;
            return Err(error);
        }
    };

    // Wait for every event (bounded).
    let deadline = Instant::now() + max_wait;
    while Instant::now() < deadline {
        if receiver.delivered() >= written.ids.len() && receiver.delivered_all(&written.ids) {
            break;
        }
        sleep(Duration::from_millis(10)).await;
    }
    let waited_out = !receiver.delivered_all(&written.ids);
    // The last attempts' records (bounded), so that the queue's figures are final.
    let settle = Instant::now() + RECORD_WAIT;
    while Instant::now() < settle && pending(&db, &endpoint).await.unwrap_or(0) > 0 {
        sleep(Duration::from_millis(50)).await;
    }
    disable(&db, &endpoint).await;
    // PostgreSQL publishes a backend's counters within a second.
    sleep(Duration::from_millis(1_100)).await;
    let commits = match (commits_before, commits(&db).await) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let hits = receiver.stop().await;
    let queue = queue_figures(&db, &endpoint).await.unwrap_or_else(|e| {
        eprintln!("oms-bench webhooks: reading the queue: {e:#}");
        Value::Null
    });
    let stages = stage_figures(&db, &endpoint, &hits)
        .await
        .unwrap_or_else(|e| {
            eprintln!("oms-bench webhooks: reading the queue's times: {e:#}");
            Value::Null
        });

    let mut figures = delivery_figures(&hits, &written.ids, written.first_commit);
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("kind".to_owned(), json!("webhooks")),
            ("label".to_owned(), json!(scenario)),
            ("fail_percent".to_owned(), json!(fail_percent)),
            ("orders".to_owned(), json!(orders.len())),
            ("transactions".to_owned(), json!(written.transactions)),
            (
                "write_seconds".to_owned(),
                json!(round3(seconds_between(
                    written.first_commit,
                    written.last_commit
                ))),
            ),
            ("timed_out".to_owned(), json!(waited_out)),
            ("db_commits".to_owned(), json!(commits)),
            ("queue".to_owned(), queue),
            ("stages".to_owned(), stages),
        ]);
        if paced {
            map.insert("rate_asked".to_owned(), json!(rate));
            map.insert(
                "behind_ms".to_owned(),
                json!(round3(written.behind.as_secs_f64() * 1000.0)),
            );
        } else {
            map.insert("batch".to_owned(), json!(batch));
        }
    }
    Ok(figures)
}

/// Transactions committed in this database so far (every client's, read-only ones too).
async fn commits(db: &Client) -> Option<i64> {
    let row = db
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await
        .ok()?;
    row.try_get(0).ok()
}

/// The endpoint's pending deliveries.
async fn pending(db: &Client, endpoint: &str) -> anyhow::Result<i64> {
    Ok(db
        .query_one(
            "SELECT count(*) FROM webhook_deliveries \
             WHERE endpoint_id = $1::text::uuid AND status = 'pending'",
            &[&endpoint],
        )
        .await?
        .try_get(0)?)
}

/// `n` orders of `user_id` (paid, one total), made in SQL; their ids.
async fn make_orders(db: &Client, user_id: i64, n: usize) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query(
            "INSERT INTO orders (id, user_id, status, payment_status, payment_collected, \
                                 payment_reference, subtotal, shipping_amount, tax_amount, \
                                 total_amount, currency, shipping_address) \
             SELECT gen_random_uuid(), $1::bigint, 'PAID', 'captured', TRUE, 'oms-bench', 1000, 0, 0, \
                    1000, 'USD', \
                    '{\"name\":\"Bench\",\"line1\":\"1 Main St\",\"line2\":null,\"city\":\"London\",\
                      \"region\":null,\"postal_code\":\"N1 9GU\",\"country\":\"GB\"}'::jsonb \
               FROM generate_series(1, $2::int) \
             RETURNING id::text",
            &[&user_id, &i32::try_from(n)?],
        )
        .await
        .context("making the bench's orders")?;
    rows.iter()
        .map(|r| r.try_get::<_, String>(0).map_err(Into::into))
        .collect()
}

/// An endpoint as the server makes one: under the event lock, starting after the newest event.
async fn create_endpoint(db: &Client, url: &str) -> anyhow::Result<String> {
    db.batch_execute("BEGIN").await?;
    let made = async {
        db.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENT_LOCK_KEY])
            .await?;
        let row = db
            .query_one(
                "INSERT INTO webhook_endpoints (id, url, event_types, description, enabled, \
                                                secret, after_event_id) \
                 VALUES (gen_random_uuid(), $1, '{*}', $2, TRUE, \
                         'whsec_' || encode(decode(substr(md5(random()::text) || \
                                                   md5(random()::text), 1, 48), 'hex'), 'base64'), \
                         (SELECT COALESCE(max(id), 0) FROM order_events)) \
                 RETURNING id::text",
                &[&url, &DESCRIPTION],
            )
            .await?;
        anyhow::Ok(row.try_get::<_, String>(0)?)
    }
    .await;
    match made {
        Ok(id) => {
            db.batch_execute("COMMIT").await?;
            Ok(id)
        }
        Err(error) => {
            let _ = db.batch_execute("ROLLBACK").await;
            Err(error.context("creating the endpoint"))
        }
    }
}

/// Disables the bench's endpoint (its rows stay for inspection).
async fn disable(db: &Client, endpoint: &str) {
    let done = db
        .execute(
            "UPDATE webhook_endpoints SET enabled = FALSE, \
                    disabled_reason = 'oms-bench: finished', updated_at = now() \
             WHERE id = $1::text::uuid",
            &[&endpoint],
        )
        .await;
    if let Err(error) = done {
        eprintln!("oms-bench webhooks: disabling endpoint {endpoint}: {error}");
    }
}

/// `order.created` of `batch` orders, then their `order.paid`, one transaction each, on one
/// connection, as fast as it goes.
async fn write_bulk(
    url: &str,
    user_id: i64,
    orders: &[String],
    batch: usize,
) -> anyhow::Result<Written> {
    let mut writer = Writer::connect(url, user_id).await?;
    let mut ids = HashSet::with_capacity(orders.len() * 2);
    let mut first_commit = None;
    let mut last_commit = OffsetDateTime::now_utc();
    let mut transactions = 0;
    for chunk in orders.chunks(batch) {
        for kind in [Kind::Created, Kind::Paid] {
            let (new, committed) = writer.append(chunk, kind).await?;
            ids.extend(new);
            first_commit.get_or_insert(committed);
            last_commit = committed;
            transactions += 1;
        }
    }
    Ok(Written {
        ids,
        transactions,
        first_commit: first_commit.unwrap_or(last_commit),
        last_commit,
        behind: Duration::ZERO,
    })
}

/// One order every `2 / rate` s: its `order.created` transaction, then its `order.paid` one, on
/// [`PACED_CONNECTIONS`] connections.
async fn write_paced(
    url: &str,
    user_id: i64,
    orders: &[String],
    rate: f64,
) -> anyhow::Result<Written> {
    let (tx, rx) = mpsc::channel::<(usize, Instant)>(orders.len().max(1));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let orders: Arc<Vec<String>> = Arc::new(orders.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..PACED_CONNECTIONS {
        let mut writer = Writer::connect(url, user_id).await?;
        let (rx, orders) = (rx.clone(), orders.clone());
        tasks.push(tokio::spawn(async move {
            let mut commits = Vec::new();
            let mut behind = Duration::ZERO;
            loop {
                let next = rx.lock().await.recv().await;
                let Some((k, due)) = next else { break };
                behind = behind.max(Instant::now().saturating_duration_since(due));
                let order = std::slice::from_ref(&orders[k]);
                for kind in [Kind::Created, Kind::Paid] {
                    commits.push(writer.append(order, kind).await?);
                }
            }
            anyhow::Ok((commits, behind))
        }));
    }
    let start = Instant::now();
    let every = 2.0 / rate;
    for k in 0..orders.len() {
        let due = start + Duration::from_secs_f64(k as f64 * every);
        sleep_until(due).await;
        if tx.send((k, due)).await.is_err() {
            break; // every writer failed: their error is below
        }
    }
    drop(tx);
    let mut written = Written {
        ids: HashSet::new(),
        transactions: 0,
        first_commit: OffsetDateTime::now_utc(),
        last_commit: OffsetDateTime::UNIX_EPOCH,
        behind: Duration::ZERO,
    };
    for task in tasks {
        let (commits, behind) = task.await??;
        written.behind = written.behind.max(behind);
        for (ids, at) in commits {
            written.ids.extend(ids);
            written.transactions += 1;
            written.first_commit = written.first_commit.min(at);
            written.last_commit = written.last_commit.max(at);
        }
    }
    Ok(written)
}

fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64()
}

fn micros_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_microseconds()).unwrap_or(0)
}

/// The receiver's view of a run, for the events `ids` written from `first_commit` on.
fn delivery_figures(hits: &[Hit], ids: &HashSet<i64>, first_commit: OffsetDateTime) -> Value {
    let mut foreign = 0u64;
    let mut failed_answers = 0u64;
    let mut ok_answers = 0u64;
    // Per event: its requests, in arrival order.
    let mut per_event: HashMap<i64, Vec<&Hit>> = HashMap::with_capacity(ids.len());
    for hit in hits {
        match hit.event_id {
            Some(id) if ids.contains(&id) => {
                per_event.entry(id).or_default().push(hit);
                if hit.status == 200 {
                    ok_answers += 1;
                } else {
                    failed_answers += 1;
                }
            }
            _ => foreign += 1,
        }
    }
    let mut latencies = Latencies::default();
    let mut first_try = Latencies::default();
    let mut retried = 0u64;
    let mut id_changed = 0u64;
    let mut unreadable = 0u64;
    let mut last_arrival: Option<OffsetDateTime> = None;
    for requests in per_event.values_mut() {
        requests.sort_by_key(|h| h.arrived);
        if requests.len() > 1 {
            retried += 1;
        }
        let webhook_ids: HashSet<Option<&str>> =
            requests.iter().map(|h| h.webhook_id.as_deref()).collect();
        if webhook_ids.len() > 1 || webhook_ids.contains(&None) {
            id_changed += 1;
        }
        let Some(ok) = requests.iter().find(|h| h.status == 200) else {
            continue;
        };
        last_arrival = Some(last_arrival.map_or(ok.arrived, |l| l.max(ok.arrived)));
        let occurred = ok
            .occurred_at
            .as_deref()
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let Some(occurred) = occurred else {
            unreadable += 1;
            continue;
        };
        let micros = micros_between(occurred, ok.arrived);
        latencies.push_micros(micros);
        if requests.len() == 1 {
            first_try.push_micros(micros);
        }
    }
    let delivered = per_event
        .values()
        .filter(|r| r.iter().any(|h| h.status == 200))
        .count();
    let seconds = last_arrival.map_or(0.0, |l| seconds_between(first_commit, l));
    let rate = if seconds > 0.0 {
        delivered as f64 / seconds
    } else {
        0.0
    };
    let mut figures = json!({
        "events": ids.len(),
        "delivered": delivered,
        "complete": delivered == ids.len(),
        "requests": ok_answers + failed_answers,
        "answered_500": failed_answers,
        "duplicates": ok_answers.saturating_sub(delivered as u64),
        "retried_events": retried,
        "webhook_id_changed": id_changed,
        "foreign_requests": foreign,
        "unreadable_bodies": unreadable,
        "seconds": round3(seconds),
        "rate": round3(rate),
        "first_try": first_try.summary(),
    });
    if let (Value::Object(out), Value::Object(summary)) = (&mut figures, latencies.summary()) {
        out.extend(summary);
    }
    figures
}

/// The endpoint's deliveries by status, and their attempts, from the queue.
async fn queue_figures(db: &Client, endpoint: &str) -> anyhow::Result<Value> {
    let rows = db
        .query(
            "SELECT status, count(*), COALESCE(sum(attempts), 0)::bigint \
             FROM webhook_deliveries WHERE endpoint_id = $1::text::uuid GROUP BY status",
            &[&endpoint],
        )
        .await?;
    let mut out = serde_json::Map::new();
    let mut attempts = 0i64;
    for row in rows {
        let status: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        attempts += row.try_get::<_, i64>(2)?;
        out.insert(status, json!(count));
    }
    out.insert("attempts".to_owned(), json!(attempts));
    Ok(Value::Object(out))
}

/// Where the time went, for the deliveries made in one attempt: event → queued (the fan-out's
/// `now()`), queued → claimed (`last_attempt_at`), claimed → arrival at the receiver.
async fn stage_figures(db: &Client, endpoint: &str, hits: &[Hit]) -> anyhow::Result<Value> {
    let rows = db
        .query(
            "SELECT d.event_id, \
                    EXTRACT(EPOCH FROM d.created_at - e.occurred_at)::float8, \
                    EXTRACT(EPOCH FROM d.last_attempt_at - d.created_at)::float8, \
                    EXTRACT(EPOCH FROM d.last_attempt_at)::float8 \
             FROM webhook_deliveries d JOIN order_events e ON e.id = d.event_id \
             WHERE d.endpoint_id = $1::text::uuid AND d.attempts = 1 \
               AND d.status = 'succeeded'",
            &[&endpoint],
        )
        .await?;
    let arrivals: HashMap<i64, f64> = hits
        .iter()
        .filter(|h| h.status == 200)
        .filter_map(|h| {
            h.event_id
                .map(|id| (id, h.arrived.unix_timestamp_nanos() as f64 / 1e9))
        })
        .collect();
    let (mut queued, mut claimed, mut sent) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let micros = |s: f64| (s.max(0.0) * 1e6) as u64;
    for row in rows {
        let event_id: i64 = row.try_get(0)?;
        queued.push_micros(micros(row.try_get(1)?));
        claimed.push_micros(micros(row.try_get(2)?));
        if let Some(arrived) = arrivals.get(&event_id) {
            sent.push_micros(micros(arrived - row.try_get::<_, f64>(3)?));
        }
    }
    Ok(json!({
        "deliveries": queued.len(),
        "event_to_queued": queued.summary(),
        "queued_to_claimed": claimed.summary(),
        "claimed_to_arrival": sent.summary(),
    }))
}

/// A body of the same shape as the server's (`crates/ports/src/events.rs`).
fn sample_body(id: i64, occurred_at: &str) -> String {
    format!(
        r#"{{"id":{id},"type":"order.paid","order_id":"0193f1b2-7c4d-7e6f-8a9b-0c1d2e3f4a5b","user_id":4,"from_status":"PENDING","to_status":"PAID","payment_status":"captured","fulfillment_status":"unfulfilled","total_amount":1000,"refunded_amount":0,"occurred_at":"{occurred_at}"}}"#
    )
}

/// A plain `reqwest` client posting `--events` bodies, `--concurrency` at a time.
async fn baseline(args: &Args) -> anyhow::Result<Value> {
    let events: usize = args.number("events", 20_000)?;
    let concurrency: usize = args.number("concurrency", 16)?;
    let max_wait = Duration::from_secs_f64(args.number("max-seconds", 120.0)?);
    if events == 0 || events > 1_000_000 || concurrency == 0 || concurrency > 1_000 {
        bail!("--events in [1, 1000000], --concurrency in [1, 1000]");
    }
    let receiver = Receiver::start(0).await?;
    let url = receiver.url(HOOK_PATH);
    // As the server's sender is built (crates/adapters-webhooks), less its checked resolver.
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + max_wait;
    let started = OffsetDateTime::now_utc();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= events {
                    break;
                }
                let now = OffsetDateTime::now_utc();
                let occurred = now.format(&Rfc3339).unwrap_or_default();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", format!("msg_bench{k:026}"))
                    .header("webhook-timestamp", now.unix_timestamp().to_string())
                    .header(
                        "webhook-signature",
                        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
                    )
                    .body(sample_body(k as i64, &occurred))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                    }
                    _ => errors += 1,
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for task in tasks {
        errors += task.await?;
    }
    let hits = receiver.stop().await;
    let ids: HashSet<i64> = (0..events as i64).collect();
    let mut figures = delivery_figures(&hits, &ids, started);
    if let Value::Object(map) = &mut figures {
        map.extend([
            ("kind".to_owned(), json!("webhooks")),
            ("label".to_owned(), json!("baseline")),
            ("concurrency".to_owned(), json!(concurrency)),
            ("errors".to_owned(), json!(errors)),
        ]);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    fn hit(id: i64, webhook_id: &str, arrived: &str, status: u16) -> Hit {
        Hit {
            arrived: at(arrived),
            webhook_id: Some(webhook_id.to_owned()),
            event_id: Some(id),
            occurred_at: Some("2026-12-05T10:00:00Z".to_owned()),
            status,
        }
    }

    #[test]
    fn figures_count_distinct_events_and_retries() {
        let hits = vec![
            hit(1, "msg_a", "2026-12-05T10:00:00.010Z", 200),
            hit(2, "msg_b", "2026-12-05T10:00:00.020Z", 500),
            hit(2, "msg_b", "2026-12-05T10:00:00.150Z", 200),
            hit(3, "msg_c", "2026-12-05T10:00:00.030Z", 500),
            hit(9, "msg_x", "2026-12-05T10:00:00.040Z", 200),
        ];
        let ids: HashSet<i64> = [1, 2, 3].into();
        let f = delivery_figures(&hits, &ids, at("2026-12-05T10:00:00.050Z"));
        assert_eq!(f["delivered"], 2);
        assert_eq!(f["complete"], false);
        assert_eq!(f["requests"], 4);
        assert_eq!(f["answered_500"], 2);
        assert_eq!(f["retried_events"], 1);
        assert_eq!(f["webhook_id_changed"], 0);
        assert_eq!(f["foreign_requests"], 1);
        assert_eq!(f["duplicates"], 0);
        // 2 events from 10:00:00.050 to the last arrival (.150): 20/s.
        assert_eq!(f["rate"], 20.0);
        assert_eq!(f["max_ms"], 150.0);
        assert_eq!(f["first_try"]["max_ms"], 10.0);
    }

    #[test]
    fn payloads_stay_under_the_limit_in_order() {
        let events: Vec<String> = (0..100).map(|k| sample_body(k, "x")).collect();
        let payloads = notify_payloads(&events);
        assert!(payloads.len() > 1);
        let mut seen = Vec::new();
        for p in &payloads {
            assert!(p.len() < MAX_PAYLOAD_BYTES);
            let parsed: Vec<Value> = serde_json::from_str(p).unwrap();
            seen.extend(parsed.iter().map(|v| v["id"].as_i64().unwrap()));
        }
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn the_database_must_be_local() {
        assert!(ensure_loopback_db("postgres://postgres@127.0.0.1:5432/oms_bench").is_ok());
        assert!(ensure_loopback_db("postgresql://u:p@localhost/x?sslmode=disable").is_ok());
        assert!(ensure_loopback_db("postgres://u@db.example.com/x").is_err());
        assert!(ensure_loopback_db("mysql://127.0.0.1/x").is_err());
    }
}
