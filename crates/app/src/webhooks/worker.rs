//! Webhook delivery: the relay sink that asks for the fan-out, and the worker that delivers.
//!
//! - [`WebhookSink`] is the event relay's sink: for each batch of committed events it wakes the
//!   fan-out and returns at once (no I/O in the relay's path).
//! - [`DeliveryWorker::run_fan_out_until`] turns committed events into deliveries
//!   ([`DeliveryQueue::fan_out`]: a durable position in the database, so no event is lost when an
//!   instance dies between commit and fan-out, and whichever instance runs next catches up), then
//!   wakes the delivery loop. It also runs every [`FAN_OUT_INTERVAL`] as a safety net.
//! - [`DeliveryWorker::run_until`] keeps up to `WEBHOOK_CONCURRENCY` attempts in flight: it claims due
//!   deliveries under a lease, signs each (Standard Webhooks), sends it, and records the finished
//!   attempts in batches: the next step after the schedule with jitter, giving up, disabling the
//!   endpoint. When nothing is due it sleeps until the next due time, a wake, or at most
//!   [`IDLE_POLL`] (deliveries made due by another instance: a test event, a retry).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::webhook::{NextStep, disable_reason, next_step, signature_header};
use ports::{
    AttemptRecord, ClaimedDelivery, DeliveryQueue, EventSink, OutgoingWebhook, SinkError,
    StoredEvent, WebhookSender, WebhookTelemetry,
};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::WebhookSettings;

/// How often the fan-out runs without being asked.
pub const FAN_OUT_INTERVAL: Duration = Duration::from_secs(5);
/// The longest the delivery loop sleeps when nothing is due.
pub const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a stopping worker waits for its attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1_500);
/// Finished attempts per record transaction, at most.
const RECORD_BATCH: usize = 500;
/// Events per fan-out transaction.
const FAN_OUT_BATCH: u32 = 1_000;
/// The pause after a failed queue read or write.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// The relay sink of webhooks: wakes the fan-out.
pub struct WebhookSink {
    fan_out: Arc<Notify>,
}

#[async_trait]
impl EventSink for WebhookSink {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    async fn deliver(&self, _events: &[StoredEvent]) -> Result<(), SinkError> {
        self.fan_out.notify_one();
        Ok(())
    }
}

/// The fan-out and delivery loops of one instance.
#[derive(Clone)]
pub struct DeliveryWorker {
    queue: Arc<dyn DeliveryQueue>,
    sender: Arc<dyn WebhookSender>,
    telemetry: Arc<dyn WebhookTelemetry>,
    settings: WebhookSettings,
    fan_out: Arc<Notify>,
    wake: Arc<Notify>,
}

/// A finished attempt, before it is recorded.
struct Finished {
    record: AttemptRecord,
}

impl DeliveryWorker {
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        sender: Arc<dyn WebhookSender>,
        telemetry: Arc<dyn WebhookTelemetry>,
        settings: WebhookSettings,
    ) -> DeliveryWorker {
        DeliveryWorker {
            queue,
            sender,
            telemetry,
            settings,
            fan_out: Arc::new(Notify::new()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// What wakes the delivery loop (for the admin use cases that make a delivery due now).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The sink to register with the event relay.
    pub fn sink(&self) -> WebhookSink {
        WebhookSink {
            fan_out: self.fan_out.clone(),
        }
    }

    /// Turns committed events into deliveries whenever the sink asks (and every
    /// [`FAN_OUT_INTERVAL`]), until `stop` turns true.
    pub async fn run_fan_out_until(self, mut stop: watch::Receiver<bool>) {
        loop {
            self.fan_out_now().await;
            tokio::select! {
                () = self.fan_out.notified() => {}
                () = tokio::time::sleep(FAN_OUT_INTERVAL) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            }
        }
    }

    /// Fans out everything committed so far, then wakes the delivery loop.
    pub async fn fan_out_now(&self) {
        loop {
            match self.queue.fan_out(FAN_OUT_BATCH).await {
                Ok(read) if read >= FAN_OUT_BATCH => {
                    self.wake.notify_one();
                }
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "webhook fan-out failed; retried");
                    tokio::time::sleep(ERROR_PAUSE).await;
                    break;
                }
            }
        }
        self.wake.notify_one();
    }

    /// Delivers until `stop` turns true; then waits up to [`SHUTDOWN_GRACE`] for the attempts in
    /// flight and records them (those still running are attempted again after their lease).
    ///
    /// Two loops run side by side, so neither waits for the other's database round trip: this
    /// one claims into the free slots (an attempt frees its slot when its answer is in), and a
    /// recorder ([`DeliveryWorker::record_loop`]) writes finished attempts in batches, then wakes
    /// this one (a recorded success lets the next event of its order go).
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        let concurrency = self.settings.concurrency.max(1);
        let (finished, to_record) = mpsc::unbounded_channel::<AttemptRecord>();
        let recorder = tokio::spawn(self.clone().record_loop(to_record));
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut idle_until: Option<Instant> = None;
        loop {
            while in_flight.try_join_next().is_some() {}
            let free = concurrency.saturating_sub(in_flight.len());
            let mut claimed_all = false;
            if free > 0 && idle_until.is_none_or(|until| Instant::now() >= until) {
                idle_until = None;
                let max = u32::try_from(free).unwrap_or(u32::MAX);
                let lease_token = Uuid::now_v7();
                match self
                    .queue
                    .claim(max, lease_token, self.settings.lease())
                    .await
                {
                    Ok(claims) => {
                        claimed_all = claims.len() == free;
                        for claim in claims {
                            let worker = self.clone();
                            let finished = finished.clone();
                            in_flight.spawn(async move {
                                let record = worker.attempt(claim, lease_token).await;
                                // The recorder ends only after every sender is gone.
                                let _ = finished.send(record.record);
                            });
                        }
                        if !claimed_all && in_flight.is_empty() {
                            idle_until = Some(Instant::now() + self.idle_wait().await);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "webhook claim failed; retried");
                        idle_until = Some(Instant::now() + ERROR_PAUSE);
                    }
                }
            }
            if claimed_all {
                // Possibly more due: claim again once a slot frees.
                tokio::select! {
                    Some(joined) = in_flight.join_next() => {
                        if let Err(error) = joined {
                            tracing::error!(%error, "webhook attempt task failed");
                        }
                        continue;
                    }
                    changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
                }
                continue;
            }
            let sleep_until = idle_until.unwrap_or_else(|| Instant::now() + IDLE_POLL);
            tokio::select! {
                Some(joined) = in_flight.join_next() => {
                    if let Err(error) = joined {
                        tracing::error!(%error, "webhook attempt task failed");
                    }
                    idle_until = None;
                }
                () = self.wake.notified() => {
                    idle_until = None;
                }
                () = tokio::time::sleep_until(sleep_until.into()) => {
                    idle_until = None;
                }
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        drop(finished);
        let grace = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = in_flight.join_next() => if joined.is_none() { break },
                () = &mut grace => break,
            }
        }
        // Attempts still running are dropped (their leases run out); the recorder then drains.
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        let _ = recorder.await;
    }

    /// Records finished attempts until every sender is gone: waits for one, takes whatever else
    /// has finished meanwhile, writes them in one transaction, and wakes the claim loop.
    async fn record_loop(self, mut finished: mpsc::UnboundedReceiver<AttemptRecord>) {
        let mut batch = Vec::new();
        while let Some(first) = finished.recv().await {
            batch.push(first);
            while batch.len() < RECORD_BATCH {
                match finished.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            self.record(&batch).await;
            batch.clear();
            self.wake.notify_one();
        }
    }

    /// How long to sleep when nothing is due: until the next due time, at most [`IDLE_POLL`].
    async fn idle_wait(&self) -> Duration {
        match self.queue.next_due().await {
            Ok(Some(at)) => {
                let wait = at - OffsetDateTime::now_utc();
                Duration::try_from(wait)
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(10), IDLE_POLL)
            }
            Ok(None) => IDLE_POLL,
            Err(error) => {
                tracing::warn!(%error, "webhook next due time unknown");
                IDLE_POLL
            }
        }
    }

    /// Writes `records`, trying a few times; when it still fails the leases run out and the
    /// deliveries are attempted again (at least once).
    async fn record(&self, records: &[AttemptRecord]) {
        let mut tries = 0;
        while let Err(error) = self.queue.record(records).await {
            tries += 1;
            if tries >= 3 {
                tracing::error!(%error, count = records.len(), "webhook attempts not recorded; retried after their lease");
                return;
            }
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }

    /// One attempt of `claim`: sign, send, decide what follows.
    async fn attempt(self, claim: ClaimedDelivery, lease_token: Uuid) -> Finished {
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature =
            signature_header(&claim.secrets, &claim.message_id, timestamp, &claim.payload);
        let request = OutgoingWebhook {
            url: claim.url.clone(),
            message_id: claim.message_id.clone(),
            timestamp,
            signature,
            payload: claim.payload,
        };
        let started = Instant::now();
        let outcome = self.sender.send(&request).await;
        let seconds = started.elapsed().as_secs_f64();
        let finished_at = OffsetDateTime::now_utc();
        let attempts = u32::try_from(claim.attempts_before.saturating_add(1)).unwrap_or(1);
        let step = next_step(&outcome, attempts, &self.settings.retry_schedule, jitter());
        let next_attempt_at = match step {
            NextStep::RetryAfter(wait) => Some(finished_at + wait),
            NextStep::Done | NextStep::GiveUp => None,
        };
        let failing_for = claim
            .failing_since
            .map(|since| Duration::try_from(finished_at - since).unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::ZERO);
        let disable = disable_reason(&outcome, failing_for, self.settings.disable_after);
        let label = match (&outcome, step) {
            (domain::webhook::AttemptOutcome::Gone, _) => "gone",
            (domain::webhook::AttemptOutcome::Blocked { .. }, _) => "blocked",
            (_, NextStep::Done) => "succeeded",
            (_, NextStep::RetryAfter(_)) => "retrying",
            (_, NextStep::GiveUp) => "failed",
        };
        self.telemetry.attempt(label, seconds);
        if !outcome.succeeded() {
            tracing::info!(
                endpoint = %claim.endpoint_id,
                delivery = %claim.id,
                attempt = attempts,
                error = outcome.error().unwrap_or_default(),
                "webhook attempt failed"
            );
        }
        Finished {
            record: AttemptRecord {
                delivery_id: claim.id,
                endpoint_id: claim.endpoint_id,
                lease_token,
                outcome,
                finished_at,
                next_attempt_at,
                disable,
            },
        }
    }
}

/// A jitter in `-1.0..=1.0` (the schedule's ±10%), from the random bits of a v7 UUID (no
/// cryptographic strength needed: it only spreads retries apart).
fn jitter() -> f64 {
    // The low 64 bits: 2 variant bits, then 62 random ones; keep 53 of those.
    let bits = (Uuid::now_v7().as_u128() as u64) << 2;
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::webhook::signing::SECRET_BYTES;
    use domain::webhook::{AttemptOutcome, WebhookSecret};
    use ports::{MockDeliveryQueue, MockWebhookSender, MockWebhookTelemetry};

    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            retry_schedule: vec![Duration::from_secs(10), Duration::from_secs(20)],
            disable_after: Duration::from_secs(3_600),
            concurrency: 4,
            ..WebhookSettings::default()
        }
    }

    fn claim(attempts_before: i32, failing_since: Option<OffsetDateTime>) -> ClaimedDelivery {
        ClaimedDelivery {
            id: Uuid::now_v7(),
            endpoint_id: Uuid::now_v7(),
            message_id: "msg_1".into(),
            url: "https://hooks.example.com/".into(),
            secrets: vec![WebhookSecret::from_random([3; SECRET_BYTES])],
            payload: r#"{"id":7}"#.into(),
            attempts_before,
            event_id: 7,
            queued_at: OffsetDateTime::now_utc(),
            failing_since,
        }
    }

    /// A worker whose sender answers `outcome` (checking the signature) and whose telemetry
    /// expects `label`.
    fn worker(outcome: AttemptOutcome, label: &'static str) -> DeliveryWorker {
        let mut sender = MockWebhookSender::new();
        sender.expect_send().times(1).returning(move |request| {
            let secret = WebhookSecret::from_random([3; SECRET_BYTES]);
            assert_eq!(
                request.signature,
                secret.sign(&request.message_id, request.timestamp, &request.payload)
            );
            assert_eq!(request.message_id, "msg_1");
            outcome.clone()
        });
        let mut telemetry = MockWebhookTelemetry::new();
        telemetry
            .expect_attempt()
            .withf(move |outcome, _| *outcome == *label)
            .times(1)
            .return_const(());
        DeliveryWorker::new(
            Arc::new(MockDeliveryQueue::new()),
            Arc::new(sender),
            Arc::new(telemetry),
            settings(),
        )
    }

    #[tokio::test]
    async fn a_success_ends_the_delivery() {
        let token = Uuid::now_v7();
        let finished = worker(AttemptOutcome::Delivered { status: 200 }, "succeeded")
            .attempt(claim(0, None), token)
            .await;
        assert_eq!(finished.record.lease_token, token);
        assert_eq!(finished.record.next_attempt_at, None);
        assert_eq!(finished.record.disable, None);
    }

    #[tokio::test]
    async fn a_failure_is_retried_after_the_schedule_with_jitter_then_given_up() {
        let before = OffsetDateTime::now_utc();
        let finished = worker(AttemptOutcome::Refused { status: 500 }, "retrying")
            .attempt(claim(1, Some(before)), Uuid::now_v7())
            .await;
        let wait = finished.record.next_attempt_at.unwrap() - finished.record.finished_at;
        assert!(
            (time::Duration::seconds(18)..=time::Duration::seconds(22)).contains(&wait),
            "the second wait, 20 s ± 10%: {wait}"
        );
        assert_eq!(finished.record.disable, None);

        let last = worker(AttemptOutcome::Refused { status: 500 }, "failed")
            .attempt(claim(2, None), Uuid::now_v7())
            .await;
        assert_eq!(last.record.next_attempt_at, None);
    }

    #[tokio::test]
    async fn gone_or_failing_too_long_disables_the_endpoint() {
        let gone = worker(AttemptOutcome::Gone, "gone")
            .attempt(claim(0, None), Uuid::now_v7())
            .await;
        assert!(gone.record.disable.is_some());
        assert!(
            gone.record.next_attempt_at.is_some(),
            "kept for a re-enable"
        );

        let long_ago = OffsetDateTime::now_utc() - time::Duration::hours(2);
        let stale = worker(
            AttemptOutcome::Failed {
                error: "timed out".into(),
            },
            "retrying",
        )
        .attempt(claim(0, Some(long_ago)), Uuid::now_v7())
        .await;
        assert_eq!(
            stale.record.disable.as_deref(),
            Some("no delivery succeeded for 1h")
        );
    }

    #[tokio::test]
    async fn the_loop_claims_sends_and_records_in_batches_then_stops() {
        let mut queue = MockDeliveryQueue::new();
        let handed = Mutex::new(false);
        queue.expect_claim().returning(move |max, _, lease| {
            assert_eq!(lease, settings().lease());
            let mut handed = handed.lock().unwrap();
            if *handed {
                return Ok(Vec::new());
            }
            *handed = true;
            assert_eq!(max, 4);
            Ok(vec![claim(0, None), claim(0, None)])
        });
        queue.expect_next_due().returning(|| Ok(None));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = recorded.clone();
        queue.expect_record().returning(move |records| {
            sink.lock().unwrap().extend(records.iter().cloned());
            Ok(())
        });
        let mut sender = MockWebhookSender::new();
        sender
            .expect_send()
            .times(2)
            .returning(|_| AttemptOutcome::Delivered { status: 202 });
        let mut telemetry = MockWebhookTelemetry::new();
        telemetry.expect_attempt().times(2).return_const(());
        let worker = DeliveryWorker::new(
            Arc::new(queue),
            Arc::new(sender),
            Arc::new(telemetry),
            settings(),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run_until(stopped));
        for _ in 0..200 {
            if recorded.lock().unwrap().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap();
        let recorded = recorded.lock().unwrap();
        assert_eq!(recorded.len(), 2);
        assert!(recorded.iter().all(|r| r.outcome.succeeded()));
    }
}
