//! Webhook delivery: the [`Channel`] of webhooks, run by the shared [`DeliveryLoop`]
//! (`crate::delivery`: fan-out, claims under a lease, attempts side by side, batched records).
//!
//! One attempt signs the delivery (Standard Webhooks), sends it, and decides what follows: the next
//! step after the schedule with jitter, giving up, disabling the endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::webhook::{NextStep, disable_reason, next_step, signature_header};
use ports::{
    AttemptRecord, ClaimedDelivery, DeliveryQueue, OutgoingWebhook, StoreError, WebhookSender,
    WebhookTelemetry,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::WebhookSettings;
use crate::delivery::{Channel, DeliveryLoop, DeliverySink, jitter};

/// The relay sink of webhooks: wakes the fan-out.
pub type WebhookSink = DeliverySink;

/// The fan-out and delivery loops of webhooks on one instance.
pub type DeliveryWorker = DeliveryLoop<WebhookChannel>;

/// Webhook deliveries: the queue, the HTTP sender, the settings.
pub struct WebhookChannel {
    queue: Arc<dyn DeliveryQueue>,
    sender: Arc<dyn WebhookSender>,
    telemetry: Arc<dyn WebhookTelemetry>,
    settings: WebhookSettings,
}

impl DeliveryLoop<WebhookChannel> {
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        sender: Arc<dyn WebhookSender>,
        telemetry: Arc<dyn WebhookTelemetry>,
        settings: WebhookSettings,
    ) -> DeliveryWorker {
        DeliveryLoop::of(WebhookChannel {
            queue,
            sender,
            telemetry,
            settings,
        })
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    type Claim = ClaimedDelivery;
    type Record = AttemptRecord;

    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn concurrency(&self) -> usize {
        self.settings.concurrency
    }

    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError> {
        self.queue.fan_out(max_events).await
    }

    async fn claim(&self, max: u32, lease_token: Uuid) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.queue
            .claim(max, lease_token, self.settings.lease())
            .await
    }

    async fn record(&self, records: &[AttemptRecord]) -> Result<(), StoreError> {
        self.queue.record(records).await
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.queue.next_due().await
    }

    /// One attempt of `claim`: sign, send, decide what follows.
    async fn attempt(&self, claim: ClaimedDelivery, lease_token: Uuid) -> AttemptRecord {
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
        AttemptRecord {
            delivery_id: claim.id,
            endpoint_id: claim.endpoint_id,
            lease_token,
            outcome,
            finished_at,
            next_attempt_at,
            disable,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::webhook::signing::SECRET_BYTES;
    use domain::webhook::{AttemptOutcome, WebhookSecret};
    use ports::{MockDeliveryQueue, MockWebhookSender, MockWebhookTelemetry};
    use tokio::sync::watch;

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
            .channel()
            .attempt(claim(0, None), token)
            .await;
        assert_eq!(finished.lease_token, token);
        assert_eq!(finished.next_attempt_at, None);
        assert_eq!(finished.disable, None);
    }

    #[tokio::test]
    async fn a_failure_is_retried_after_the_schedule_with_jitter_then_given_up() {
        let before = OffsetDateTime::now_utc();
        let finished = worker(AttemptOutcome::Refused { status: 500 }, "retrying")
            .channel()
            .attempt(claim(1, Some(before)), Uuid::now_v7())
            .await;
        let wait = finished.next_attempt_at.unwrap() - finished.finished_at;
        assert!(
            (time::Duration::seconds(18)..=time::Duration::seconds(22)).contains(&wait),
            "the second wait, 20 s ± 10%: {wait}"
        );
        assert_eq!(finished.disable, None);

        let last = worker(AttemptOutcome::Refused { status: 500 }, "failed")
            .channel()
            .attempt(claim(2, None), Uuid::now_v7())
            .await;
        assert_eq!(last.next_attempt_at, None);
    }

    #[tokio::test]
    async fn gone_or_failing_too_long_disables_the_endpoint() {
        let gone = worker(AttemptOutcome::Gone, "gone")
            .channel()
            .attempt(claim(0, None), Uuid::now_v7())
            .await;
        assert!(gone.disable.is_some());
        assert!(gone.next_attempt_at.is_some(), "kept for a re-enable");

        let long_ago = OffsetDateTime::now_utc() - time::Duration::hours(2);
        let stale = worker(
            AttemptOutcome::Failed {
                error: "timed out".into(),
            },
            "retrying",
        )
        .channel()
        .attempt(claim(0, Some(long_ago)), Uuid::now_v7())
        .await;
        assert_eq!(
            stale.disable.as_deref(),
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
