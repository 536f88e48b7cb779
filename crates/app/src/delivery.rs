//! The durable delivery machinery that webhooks and email share: a relay sink that wakes a
//! fan-out, and a loop that claims due deliveries under a lease, attempts them side by side and
//! records the outcomes in batches.
//!
//! A [`Channel`] says what its deliveries are (a webhook `POST`, an email) and where they are
//! kept; [`DeliveryLoop`] runs it:
//!
//! - [`DeliverySink`] is the event relay's sink: for each batch of committed events it wakes the
//!   fan-out and returns at once (no I/O in the relay's path, so a slow receiver or mail server
//!   never slows the relay, let alone an order).
//! - [`DeliveryLoop::run_fan_out_until`] turns committed events into deliveries
//!   ([`Channel::fan_out`]: a durable position in the database, so no event is lost when an
//!   instance dies between commit and fan-out, and whichever instance runs next catches up), then
//!   wakes the delivery loop. It also runs every [`FAN_OUT_INTERVAL`] as a safety net.
//! - [`DeliveryLoop::run_until`] keeps up to [`Channel::concurrency`] attempts in flight: it claims
//!   due deliveries under a lease, attempts each ([`Channel::attempt`]), and records the finished
//!   attempts in batches. When nothing is due it sleeps until the next due time, a wake, or at most
//!   [`IDLE_POLL`] (deliveries made due by another instance: a test event, a retry).
//!
//! At least once: a delivery is recorded only after its attempt ended; an instance that dies
//! mid-attempt leaves a lease that runs out, and another instance attempts it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ports::{EventSink, SinkError, StoreError, StoredEvent};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

/// How often the fan-out runs without being asked.
pub const FAN_OUT_INTERVAL: Duration = Duration::from_secs(5);
/// The longest the delivery loop sleeps when nothing is due.
pub const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a stopping loop waits for its attempts in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1_500);
/// Finished attempts per record transaction, at most.
const RECORD_BATCH: usize = 500;
/// Events per fan-out transaction.
const FAN_OUT_BATCH: u32 = 1_000;
/// The pause after a failed queue read or write.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// One kind of durable delivery: its queue and what one attempt is.
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// A delivery claimed for one attempt.
    type Claim: Send + 'static;
    /// What to record of a finished attempt.
    type Record: Send + Sync + 'static;

    /// A short name for logs and the relay ("webhooks", "email").
    fn name(&self) -> &'static str;

    /// Attempts in flight per instance.
    fn concurrency(&self) -> usize;

    /// Turns committed events past the channel's durable position into deliveries, at most
    /// `max_events` events; returns how many events it read.
    async fn fan_out(&self, max_events: u32) -> Result<u32, StoreError>;

    /// Claims up to `max` due deliveries under `lease_token`.
    async fn claim(&self, max: u32, lease_token: Uuid) -> Result<Vec<Self::Claim>, StoreError>;

    /// Makes one attempt; never fails otherwise (the record says what happened).
    async fn attempt(&self, claim: Self::Claim, lease_token: Uuid) -> Self::Record;

    /// Records finished attempts (each only while its lease still holds the delivery).
    async fn record(&self, records: &[Self::Record]) -> Result<(), StoreError>;

    /// The soonest future time a pending delivery falls due or a lease runs out.
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError>;
}

/// The relay sink of a channel: wakes its fan-out.
pub struct DeliverySink {
    name: &'static str,
    fan_out: Arc<Notify>,
}

#[async_trait]
impl EventSink for DeliverySink {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn deliver(&self, _events: &[StoredEvent]) -> Result<(), SinkError> {
        self.fan_out.notify_one();
        Ok(())
    }
}

/// The fan-out and delivery loops of one channel on one instance.
pub struct DeliveryLoop<C> {
    channel: Arc<C>,
    fan_out: Arc<Notify>,
    wake: Arc<Notify>,
}

impl<C> Clone for DeliveryLoop<C> {
    fn clone(&self) -> Self {
        DeliveryLoop {
            channel: self.channel.clone(),
            fan_out: self.fan_out.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<C: Channel> DeliveryLoop<C> {
    pub fn of(channel: C) -> DeliveryLoop<C> {
        DeliveryLoop {
            channel: Arc::new(channel),
            fan_out: Arc::new(Notify::new()),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The channel (for its attempts in unit tests).
    pub fn channel(&self) -> &C {
        &self.channel
    }

    /// What wakes the delivery loop (for use cases that make a delivery due now).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The sink to register with the event relay.
    pub fn sink(&self) -> DeliverySink {
        DeliverySink {
            name: self.channel.name(),
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
            match self.channel.fan_out(FAN_OUT_BATCH).await {
                Ok(read) if read >= FAN_OUT_BATCH => {
                    self.wake.notify_one();
                }
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, channel = self.channel.name(), "fan-out failed; retried");
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
    /// recorder ([`DeliveryLoop::record_loop`]) writes finished attempts in batches, then wakes
    /// this one (a recorded success may let the next delivery of its order go).
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        let name = self.channel.name();
        let concurrency = self.channel.concurrency().max(1);
        let (finished, to_record) = mpsc::unbounded_channel::<C::Record>();
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
                match self.channel.claim(max, lease_token).await {
                    Ok(claims) => {
                        claimed_all = claims.len() == free;
                        for claim in claims {
                            let channel = self.channel.clone();
                            let finished = finished.clone();
                            in_flight.spawn(async move {
                                let record = channel.attempt(claim, lease_token).await;
                                // The recorder ends only after every sender is gone.
                                let _ = finished.send(record);
                            });
                        }
                        if !claimed_all && in_flight.is_empty() {
                            idle_until = Some(Instant::now() + self.idle_wait().await);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, channel = name, "claim failed; retried");
                        idle_until = Some(Instant::now() + ERROR_PAUSE);
                    }
                }
            }
            if claimed_all {
                // Possibly more due: claim again once a slot frees.
                tokio::select! {
                    Some(joined) = in_flight.join_next() => {
                        if let Err(error) = joined {
                            tracing::error!(%error, channel = name, "attempt task failed");
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
                        tracing::error!(%error, channel = name, "attempt task failed");
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
    async fn record_loop(self, mut finished: mpsc::UnboundedReceiver<C::Record>) {
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
        match self.channel.next_due().await {
            Ok(Some(at)) => {
                let wait = at - OffsetDateTime::now_utc();
                Duration::try_from(wait)
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(10), IDLE_POLL)
            }
            Ok(None) => IDLE_POLL,
            Err(error) => {
                tracing::warn!(%error, channel = self.channel.name(), "next due time unknown");
                IDLE_POLL
            }
        }
    }

    /// Writes `records`, trying a few times; when it still fails the leases run out and the
    /// deliveries are attempted again (at least once).
    async fn record(&self, records: &[C::Record]) {
        let mut tries = 0;
        while let Err(error) = self.channel.record(records).await {
            tries += 1;
            if tries >= 3 {
                tracing::error!(%error, channel = self.channel.name(), count = records.len(),
                    "attempts not recorded; retried after their lease");
                return;
            }
            tokio::time::sleep(ERROR_PAUSE).await;
        }
    }
}

/// A jitter in `-1.0..=1.0` (a retry schedule's ±10%), from the random bits of a v7 UUID (no
/// cryptographic strength needed: it only spreads retries apart).
pub fn jitter() -> f64 {
    // The low 64 bits: 2 variant bits, then 62 random ones; keep 53 of those.
    let bits = (Uuid::now_v7().as_u128() as u64) << 2;
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    unit * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_range() {
        for _ in 0..1_000 {
            let j = jitter();
            assert!((-1.0..=1.0).contains(&j), "{j}");
        }
    }
}
