//! Email to customers and the shop (API.md, "Email"): the [`Channel`] of emails, run by the shared
//! [`DeliveryLoop`] (`crate::delivery`), the same durable, leased, retried machinery as webhooks.
//!
//! The fan-out turns committed events into emails (`domain::email::mails_for`: the customer's
//! when their order is paid, shipped, refunded or cancelled; the shop's for every paid order). One
//! attempt reads the order as it is now, hands it to the [`Mailer`] (templates, SMTP) with the
//! email's fixed `Message-ID`, and decides what follows: done, a retry after the schedule with
//! jitter (a `4xx`, no connection, a timeout), or given up (a `5xx`, the schedule used up).
//! Nothing here runs in a request: a slow or failing mail server never slows an order.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::email::{MailOutcome, message_id, retry_after};
use ports::{
    ClaimedMail, MailQueue, MailRecord, MailTelemetry, Mailer, OrderRepository, OutgoingMail,
    StoreError,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::delivery::{Channel, DeliveryLoop, jitter};
use crate::webhooks::LEASE_MARGIN;

/// The email settings (`MAIL_*`, see the README).
#[derive(Debug, Clone, PartialEq)]
pub struct MailSettings {
    /// `MAIL_TIMEOUT`: one whole attempt, connect to the server's last answer.
    pub timeout: Duration,
    /// `MAIL_RETRY_SCHEDULE`: the waits after each failed attempt (each ±10%).
    pub retry_schedule: Vec<Duration>,
    /// Emails handed to the server at once, per instance.
    pub concurrency: usize,
}

impl MailSettings {
    /// How long a claimed email is held: the attempt's timeout plus the time to record it.
    pub fn lease(&self) -> Duration {
        self.timeout + LEASE_MARGIN
    }
}

impl Default for MailSettings {
    /// 30 s an attempt; retries after 1 min, 5 min, 30 min, 2 h, 6 h, 12 h (about 21 hours in
    /// all); 4 at once.
    fn default() -> Self {
        MailSettings {
            timeout: Duration::from_secs(30),
            retry_schedule: [60, 300, 1_800, 7_200, 21_600, 43_200]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            concurrency: 4,
        }
    }
}

/// The fan-out and delivery loops of email on one instance.
pub type MailWorker = DeliveryLoop<MailChannel>;

/// Emails: the queue, the orders they speak of, the mail server.
pub struct MailChannel {
    queue: Arc<dyn MailQueue>,
    orders: Arc<dyn OrderRepository>,
    mailer: Arc<dyn Mailer>,
    telemetry: Arc<dyn MailTelemetry>,
    settings: MailSettings,
}

impl DeliveryLoop<MailChannel> {
    pub fn new(
        queue: Arc<dyn MailQueue>,
        orders: Arc<dyn OrderRepository>,
        mailer: Arc<dyn Mailer>,
        telemetry: Arc<dyn MailTelemetry>,
        settings: MailSettings,
    ) -> MailWorker {
        DeliveryLoop::of(MailChannel {
            queue,
            orders,
            mailer,
            telemetry,
            settings,
        })
    }
}

impl MailChannel {
    /// The email to send for `claim`, or why there is none.
    async fn outgoing(&self, claim: &ClaimedMail) -> Result<OutgoingMail, MailOutcome> {
        let order = match self.orders.get(claim.order_id).await {
            Ok(Some(order)) => order,
            Ok(None) => {
                return Err(MailOutcome::Permanent(String::from(
                    "the order no longer exists",
                )));
            }
            Err(error) => {
                return Err(MailOutcome::Transient(format!(
                    "reading the order failed: {error}"
                )));
            }
        };
        Ok(OutgoingMail {
            kind: claim.kind,
            message_id: message_id(claim.event_id, &claim.recipient, &self.mailer.domain()),
            to: claim.recipient.clone(),
            order,
            shipment_id: claim.shipment_id,
            refund_id: claim.refund_id,
        })
    }
}

#[async_trait]
impl Channel for MailChannel {
    type Claim = ClaimedMail;
    type Record = MailRecord;

    fn name(&self) -> &'static str {
        "email"
    }

    fn concurrency(&self) -> usize {
        self.settings.concurrency
    }

    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError> {
        self.queue.fan_out(max_events).await
    }

    async fn claim(&self, max: u32, lease_token: Uuid) -> Result<Vec<ClaimedMail>, StoreError> {
        self.queue
            .claim(max, lease_token, self.settings.lease())
            .await
    }

    async fn record(&self, records: &[MailRecord]) -> Result<(), StoreError> {
        self.queue.record(records).await
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.queue.next_due().await
    }

    /// One attempt of `claim`: read the order, write and send the email, decide what follows.
    async fn attempt(&self, claim: ClaimedMail, lease_token: Uuid) -> MailRecord {
        let outcome = match self.outgoing(&claim).await {
            Ok(mail) => {
                match tokio::time::timeout(self.settings.timeout, self.mailer.send(&mail)).await {
                    Ok(outcome) => outcome,
                    Err(_) => MailOutcome::Transient(String::from("the mail server timed out")),
                }
            }
            Err(outcome) => outcome,
        };
        let finished_at = OffsetDateTime::now_utc();
        let attempts = u32::try_from(claim.attempts_before.saturating_add(1)).unwrap_or(1);
        let wait = retry_after(&outcome, attempts, &self.settings.retry_schedule, jitter());
        self.telemetry.attempt(outcome.label(wait.is_some()));
        if let Some(error) = outcome.error() {
            tracing::info!(
                mail = %claim.id,
                event = claim.event_id,
                kind = claim.kind.as_str(),
                attempt = attempts,
                %error,
                retry = wait.is_some(),
                "email not sent"
            );
        }
        MailRecord {
            mail_id: claim.id,
            lease_token,
            sent: outcome.succeeded(),
            error: outcome.error(),
            next_attempt_at: wait.map(|wait| finished_at + wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::email::MailKind;
    use ports::{MockMailQueue, MockMailTelemetry, MockMailer, MockOrderRepository};
    use tokio::sync::watch;

    use super::*;
    use crate::test_support::order;

    fn paid_order() -> ports::Order {
        order(
            Uuid::from_u128(42),
            7,
            domain::OrderStatus::Paid,
            domain::PaymentStatus::Captured,
        )
    }

    fn settings() -> MailSettings {
        MailSettings {
            timeout: Duration::from_millis(200),
            retry_schedule: vec![Duration::from_secs(10), Duration::from_secs(20)],
            concurrency: 2,
        }
    }

    fn claim(attempts_before: i32, order_id: Uuid) -> ClaimedMail {
        ClaimedMail {
            id: Uuid::now_v7(),
            event_id: 7,
            kind: MailKind::OrderPaid,
            recipient: "ann@example.com".into(),
            order_id,
            shipment_id: None,
            refund_id: None,
            attempts_before,
        }
    }

    /// A channel whose mailer answers `outcome`, and whose telemetry expects `label`.
    fn channel(outcome: MailOutcome, label: &'static str) -> MailChannel {
        let order = paid_order();
        let mut orders = MockOrderRepository::new();
        orders
            .expect_get()
            .returning(move |_| Ok(Some(order.clone())));
        let mut mailer = MockMailer::new();
        mailer
            .expect_domain()
            .return_const("shop.example".to_owned());
        mailer.expect_send().times(1).returning(move |mail| {
            assert_eq!(mail.to, "ann@example.com");
            assert_eq!(
                mail.message_id,
                message_id(7, "ann@example.com", "shop.example")
            );
            outcome.clone()
        });
        let mut telemetry = MockMailTelemetry::new();
        telemetry
            .expect_attempt()
            .withf(move |outcome| *outcome == *label)
            .times(1)
            .return_const(());
        MailChannel {
            queue: Arc::new(MockMailQueue::new()),
            orders: Arc::new(orders),
            mailer: Arc::new(mailer),
            telemetry: Arc::new(telemetry),
            settings: settings(),
        }
    }

    #[tokio::test]
    async fn a_sent_email_is_done() {
        let token = Uuid::now_v7();
        let record = channel(MailOutcome::Sent, "sent")
            .attempt(claim(0, paid_order().id), token)
            .await;
        assert!(record.sent);
        assert_eq!(record.lease_token, token);
        assert_eq!(record.next_attempt_at, None);
        assert_eq!(record.error, None);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_on_schedule_then_given_up() {
        let refused = MailOutcome::Transient("451 try again later".into());
        let record = channel(refused.clone(), "retrying")
            .attempt(claim(1, paid_order().id), Uuid::now_v7())
            .await;
        assert!(!record.sent);
        let wait = record.next_attempt_at.unwrap() - OffsetDateTime::now_utc();
        assert!(
            (time::Duration::seconds(17)..=time::Duration::seconds(22)).contains(&wait),
            "the second wait, 20 s ± 10%: {wait}"
        );
        assert_eq!(record.error.as_deref(), Some("451 try again later"));
        let last = channel(refused, "failed")
            .attempt(claim(2, paid_order().id), Uuid::now_v7())
            .await;
        assert_eq!(last.next_attempt_at, None);
    }

    #[tokio::test]
    async fn a_permanent_refusal_is_not_retried() {
        let record = channel(
            MailOutcome::Permanent("550 no such mailbox".into()),
            "failed",
        )
        .attempt(claim(0, paid_order().id), Uuid::now_v7())
        .await;
        assert!(!record.sent);
        assert_eq!(record.next_attempt_at, None);
    }

    /// A mail server that takes the connection and never answers.
    struct Hanging;

    #[async_trait]
    impl Mailer for Hanging {
        fn domain(&self) -> String {
            "shop.example".into()
        }

        async fn send(&self, _mail: &OutgoingMail) -> MailOutcome {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            MailOutcome::Sent
        }
    }

    #[tokio::test]
    async fn a_server_that_hangs_times_out_and_is_retried() {
        let order = paid_order();
        let mut orders = MockOrderRepository::new();
        orders
            .expect_get()
            .returning(move |_| Ok(Some(order.clone())));
        let mut telemetry = MockMailTelemetry::new();
        telemetry
            .expect_attempt()
            .withf(|outcome| outcome == "retrying")
            .times(1)
            .return_const(());
        let channel = MailChannel {
            queue: Arc::new(MockMailQueue::new()),
            orders: Arc::new(orders),
            mailer: Arc::new(Hanging),
            telemetry: Arc::new(telemetry),
            settings: settings(),
        };
        let record = channel
            .attempt(claim(0, paid_order().id), Uuid::now_v7())
            .await;
        assert!(!record.sent);
        assert_eq!(record.error.as_deref(), Some("the mail server timed out"));
        assert!(record.next_attempt_at.is_some());
    }

    #[tokio::test]
    async fn a_vanished_order_gives_up_and_a_failed_read_retries() {
        let mut orders = MockOrderRepository::new();
        orders.expect_get().times(1).returning(|_| Ok(None));
        orders
            .expect_get()
            .times(1)
            .returning(|_| Err(StoreError::Unavailable("down".into())));
        let mut mailer = MockMailer::new();
        mailer.expect_send().never();
        let mut telemetry = MockMailTelemetry::new();
        telemetry.expect_attempt().times(2).return_const(());
        let channel = MailChannel {
            queue: Arc::new(MockMailQueue::new()),
            orders: Arc::new(orders),
            mailer: Arc::new(mailer),
            telemetry: Arc::new(telemetry),
            settings: settings(),
        };
        let gone = channel
            .attempt(claim(0, Uuid::now_v7()), Uuid::now_v7())
            .await;
        assert_eq!(gone.next_attempt_at, None);
        let unread = channel
            .attempt(claim(0, Uuid::now_v7()), Uuid::now_v7())
            .await;
        assert!(unread.next_attempt_at.is_some());
    }

    #[tokio::test]
    async fn the_loop_claims_sends_and_records_then_stops() {
        let order = paid_order();
        let order_id = order.id;
        let mut queue = MockMailQueue::new();
        let handed = Mutex::new(false);
        queue.expect_claim().returning(move |max, _, lease| {
            assert_eq!(lease, settings().lease());
            let mut handed = handed.lock().unwrap();
            if *handed {
                return Ok(Vec::new());
            }
            *handed = true;
            assert_eq!(max, 2);
            Ok(vec![claim(0, order_id), claim(0, order_id)])
        });
        queue.expect_next_due().returning(|| Ok(None));
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let sink = recorded.clone();
        queue.expect_record().returning(move |records| {
            sink.lock().unwrap().extend(records.iter().cloned());
            Ok(())
        });
        let mut orders = MockOrderRepository::new();
        orders
            .expect_get()
            .returning(move |_| Ok(Some(order.clone())));
        let mut mailer = MockMailer::new();
        mailer
            .expect_domain()
            .return_const("shop.example".to_owned());
        mailer
            .expect_send()
            .times(2)
            .returning(|_| MailOutcome::Sent);
        let mut telemetry = MockMailTelemetry::new();
        telemetry.expect_attempt().times(2).return_const(());
        let worker = MailWorker::new(
            Arc::new(queue),
            Arc::new(orders),
            Arc::new(mailer),
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
        assert!(recorded.iter().all(|r| r.sent));
    }
}
