//! The bus publisher (`EVENT_BUS=nats`): hands committed events from the [`EventLog`] to the
//! [`EventBus`], each once and in id order (which is commit order), from one instance at a time.
//!
//! Every instance runs a [`BusPublisher`]; the one that holds the [`PublisherLease`] publishes, the
//! others wait to take over. The publisher starts from what the stream holds (its last event id:
//! a new or emptied stream is filled again from the log, so PostgreSQL stays the record), reads
//! the log after it, publishes a page with each event's id as message id and its predecessor's as
//! the expected last id, and goes on from the last one the stream took. Should two publishers ever
//! overlap (a holder cut off from the database but not from NATS), the stream refuses the stale
//! one's publishes (a repeated id is dropped, a wrong predecessor refused), and a refused publish
//! sends this one back to reading what the stream holds. So the stream holds every committed
//! event once, in order.
//!
//! Token revocations go the same way, from the [`RevocationLog`] to their own stream: each log is a
//! `Lane`, and every round publishes a page of each.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ports::{
    BusError, EventBus, EventLog, LoggedRevocation, PublisherLease, RevocationLog, StoreError,
    StoredEvent,
};
use tokio::sync::watch;

/// How the publisher paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherSettings {
    /// How often the log is read for new events when the last read found none.
    pub poll: Duration,
    /// How often a waiting instance tries to take the lease.
    pub standby: Duration,
    /// Events per log read and publish.
    pub page: u32,
}

impl Default for PublisherSettings {
    /// 10 ms, 1 s, 500 events.
    fn default() -> Self {
        PublisherSettings {
            poll: Duration::from_millis(10),
            standby: Duration::from_secs(1),
            page: 500,
        }
    }
}

/// Publishes committed events (and revocations) to the bus while this instance holds the lease.
pub struct BusPublisher {
    events: EventLane,
    revocations: RevocationLane,
    lease: Box<dyn PublisherLease>,
    settings: PublisherSettings,
}

/// Sleeps `wait`; `true` when `stop` turned true meanwhile.
async fn stopped_during(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// One log handed to one stream: its items carry ids ascending in commit order.
#[async_trait]
trait Lane: Send + Sync {
    type Item: Send + Sync;
    /// For logs.
    const WHAT: &'static str;
    fn id(item: &Self::Item) -> i64;
    async fn stream_last(&self) -> Result<i64, BusError>;
    async fn read_after(&self, after: i64, limit: u32) -> Result<Vec<Self::Item>, StoreError>;
    async fn publish(&self, items: &[Self::Item], previous: i64) -> Result<(), BusError>;
}

struct EventLane {
    log: Arc<dyn EventLog>,
    bus: Arc<dyn EventBus>,
}

#[async_trait]
impl Lane for EventLane {
    type Item = StoredEvent;
    const WHAT: &'static str = "events";
    fn id(item: &StoredEvent) -> i64 {
        item.id
    }
    async fn stream_last(&self) -> Result<i64, BusError> {
        self.bus.last_published().await
    }
    async fn read_after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.log.events_after(after, None, limit).await
    }
    async fn publish(&self, items: &[StoredEvent], previous: i64) -> Result<(), BusError> {
        self.bus.publish(items, previous).await
    }
}

struct RevocationLane {
    log: Arc<dyn RevocationLog>,
    bus: Arc<dyn EventBus>,
}

#[async_trait]
impl Lane for RevocationLane {
    type Item = LoggedRevocation;
    const WHAT: &'static str = "revocations";
    fn id(item: &LoggedRevocation) -> i64 {
        item.id
    }
    async fn stream_last(&self) -> Result<i64, BusError> {
        self.bus.last_revocation_published().await
    }
    async fn read_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LoggedRevocation>, StoreError> {
        self.log.revocations_after(after, limit).await
    }
    async fn publish(&self, items: &[LoggedRevocation], previous: i64) -> Result<(), BusError> {
        self.bus.publish_revocations(items, previous).await
    }
}

/// What one step of a lane did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Published a page (there may be more).
    Published,
    /// Nothing new.
    Idle,
    /// The bus or the log failed: wait a while.
    Failed,
    /// The stream refused the page: start again soon from what it holds.
    Refused,
}

/// Where a lane stands: the id of the last item the stream holds, once known; after a failure,
/// when to try again (a failing lane waits on its own: the other one goes on at full pace).
#[derive(Debug, Default)]
struct Cursor {
    last: Option<i64>,
    retry_at: Option<tokio::time::Instant>,
}

impl Cursor {
    /// [`Cursor::try_step`], unless the lane failed less than `standby` ago (then `Idle`).
    async fn step<L: Lane>(&mut self, lane: &L, page: u32, standby: Duration) -> Step {
        if self
            .retry_at
            .is_some_and(|at| tokio::time::Instant::now() < at)
        {
            return Step::Idle;
        }
        let step = self.try_step(lane, page).await;
        self.retry_at = (step == Step::Failed).then(|| tokio::time::Instant::now() + standby);
        step
    }

    /// Reads the lane's log after the stream's last item and publishes one page.
    async fn try_step<L: Lane>(&mut self, lane: &L, page: u32) -> Step {
        let previous = match self.last {
            Some(previous) => previous,
            None => match lane.stream_last().await {
                Ok(previous) => {
                    self.last = Some(previous);
                    previous
                }
                Err(error) => {
                    tracing::warn!(%error, lane = L::WHAT, "reading the stream's last item failed");
                    return Step::Failed;
                }
            },
        };
        let items = match lane.read_after(previous, page).await {
            Ok(items) => items,
            Err(error) => {
                tracing::warn!(%error, lane = L::WHAT, "reading the log for the bus failed");
                return Step::Failed;
            }
        };
        let Some(newest) = items.last().map(L::id) else {
            return Step::Idle;
        };
        match lane.publish(&items, previous).await {
            Ok(()) => {
                self.last = Some(newest);
                Step::Published
            }
            Err(error) => {
                tracing::warn!(%error, lane = L::WHAT, "publishing to the bus failed; starting from the stream's last item");
                self.last = None;
                Step::Refused
            }
        }
    }
}

impl BusPublisher {
    pub fn new(
        log: Arc<dyn EventLog>,
        revocations: Arc<dyn RevocationLog>,
        bus: Arc<dyn EventBus>,
        lease: Box<dyn PublisherLease>,
        settings: PublisherSettings,
    ) -> BusPublisher {
        BusPublisher {
            events: EventLane {
                log,
                bus: bus.clone(),
            },
            revocations: RevocationLane {
                log: revocations,
                bus,
            },
            lease,
            settings,
        }
    }

    /// Waits for the lease, then publishes until it is lost (then waits again), until `stop`.
    pub async fn run_until(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.lease.acquire().await {
                Ok(true) => {
                    tracing::info!("this instance publishes events to the bus");
                    if self.publish_while_held(&mut stop).await {
                        return;
                    }
                    tracing::warn!("the bus publisher lease was lost; waiting to take it again");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "taking the bus publisher lease failed"),
            }
            if stopped_during(&mut stop, self.settings.standby).await {
                return;
            }
        }
    }

    /// Publishes while the lease holds; `true` when `stop` ended it. Each round publishes a page of
    /// each lane, then pauses: not at all when a page went out (there may be more), else `poll`.
    /// A lane whose bus or log failed sits out for `standby` (the other goes on).
    async fn publish_while_held(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut events = Cursor::default();
        let mut revocations = Cursor::default();
        loop {
            if *stop.borrow() {
                return true;
            }
            if !self.lease.still_held().await {
                return false;
            }
            let (page, standby) = (self.settings.page, self.settings.standby);
            let steps = [
                events.step(&self.events, page, standby).await,
                revocations.step(&self.revocations, page, standby).await,
            ];
            if steps.contains(&Step::Published) {
                continue;
            }
            if stopped_during(stop, self.settings.poll).await {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ports::{
        MockEventBus, MockEventLog, MockPublisherLease, MockRevocationLog, Revocation,
        UserGeneration,
    };

    use super::*;
    use crate::test_support::event;

    fn settings() -> PublisherSettings {
        PublisherSettings {
            poll: Duration::from_millis(1),
            standby: Duration::from_millis(1),
            page: 2,
        }
    }

    /// A log of events 1..=5 (3 is a rolled-back id: missing).
    fn log() -> MockEventLog {
        let mut log = MockEventLog::new();
        log.expect_events_after().returning(|after, user, limit| {
            assert_eq!(user, None);
            Ok([1, 2, 4, 5]
                .into_iter()
                .filter(|id| *id > after)
                .take(limit as usize)
                .map(event)
                .collect())
        });
        log
    }

    /// A revocation log with nothing in it, and a bus whose revocations' stream is empty.
    fn no_revocations(bus: &mut MockEventBus) -> Arc<MockRevocationLog> {
        bus.expect_last_revocation_published().returning(|| Ok(0));
        bus.expect_publish_revocations().never();
        let mut log = MockRevocationLog::new();
        log.expect_revocations_after()
            .returning(|_, _| Ok(Vec::new()));
        Arc::new(log)
    }

    fn held() -> MockPublisherLease {
        let mut lease = MockPublisherLease::new();
        lease.expect_acquire().returning(|| Ok(true));
        lease.expect_still_held().returning(|| true);
        lease
    }

    /// Runs `publisher` until the bus has taken event 5, then stops it.
    async fn run(publisher: BusPublisher, published: Arc<Mutex<Vec<i64>>>) {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(publisher.run_until(stopped));
        for _ in 0..500 {
            if published.lock().unwrap().last() == Some(&5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn publishes_every_event_once_in_order_from_the_streams_last() {
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut bus = MockEventBus::new();
        bus.expect_last_published().times(1).returning(|| Ok(1));
        let sink = published.clone();
        bus.expect_publish()
            .returning(move |events: &[StoredEvent], previous| {
                let mut published = sink.lock().unwrap();
                assert_eq!(previous, published.last().copied().unwrap_or(1));
                published.extend(events.iter().map(|e| e.id));
                Ok(())
            });
        let revocations = no_revocations(&mut bus);
        let publisher = BusPublisher::new(
            Arc::new(log()),
            revocations,
            Arc::new(bus),
            Box::new(held()),
            settings(),
        );
        run(publisher, published.clone()).await;
        assert_eq!(*published.lock().unwrap(), vec![2, 4, 5]);
    }

    #[tokio::test]
    async fn a_refused_publish_starts_again_from_what_the_stream_holds() {
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut bus = MockEventBus::new();
        // Empty at first; after the refusal, another publisher had stored 1 and 2.
        let reads = Mutex::new(vec![2, 0]);
        bus.expect_last_published()
            .returning(move || Ok(reads.lock().unwrap().pop().unwrap_or(2)));
        let sink = published.clone();
        let refused = Mutex::new(false);
        bus.expect_publish()
            .returning(move |events: &[StoredEvent], previous| {
                let mut refused = refused.lock().unwrap();
                if !*refused {
                    *refused = true;
                    assert_eq!(previous, 0);
                    return Err(BusError("wrong last msg id".into()));
                }
                sink.lock().unwrap().extend(events.iter().map(|e| e.id));
                Ok(())
            });
        let revocations = no_revocations(&mut bus);
        let publisher = BusPublisher::new(
            Arc::new(log()),
            revocations,
            Arc::new(bus),
            Box::new(held()),
            settings(),
        );
        run(publisher, published.clone()).await;
        assert_eq!(*published.lock().unwrap(), vec![4, 5]);
    }

    #[tokio::test]
    async fn without_the_lease_nothing_is_published() {
        let mut lease = MockPublisherLease::new();
        lease.expect_acquire().returning(|| Ok(false));
        let mut bus = MockEventBus::new();
        bus.expect_publish().never();
        bus.expect_last_published().never();
        bus.expect_last_revocation_published().never();
        bus.expect_publish_revocations().never();
        let publisher = BusPublisher::new(
            Arc::new(MockEventLog::new()),
            Arc::new(MockRevocationLog::new()),
            Arc::new(bus),
            Box::new(lease),
            settings(),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(publisher.run_until(stopped));
        tokio::time::sleep(Duration::from_millis(20)).await;
        stop.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn revocations_go_to_their_own_stream_once_each_from_its_last() {
        let mut bus = MockEventBus::new();
        bus.expect_last_published().returning(|| Ok(5));
        bus.expect_publish().never();
        // The revocations' stream holds 1 already.
        bus.expect_last_revocation_published()
            .times(1)
            .returning(|| Ok(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let sink = published.clone();
        bus.expect_publish_revocations()
            .returning(move |items: &[LoggedRevocation], previous| {
                let mut published = sink.lock().unwrap();
                assert_eq!(previous, published.last().copied().unwrap_or(1));
                published.extend(items.iter().map(|r| r.id));
                Ok(())
            });
        let logged = |id: i64| LoggedRevocation {
            id,
            revocation: if id % 2 == 0 {
                Revocation::Token(format!("jti-{id}"))
            } else {
                Revocation::User(UserGeneration {
                    user_id: id,
                    min_generation: 2,
                })
            },
        };
        let mut revocations = MockRevocationLog::new();
        revocations
            .expect_revocations_after()
            .returning(move |after, limit| {
                Ok([1, 2, 4, 5]
                    .into_iter()
                    .filter(|id| *id > after)
                    .take(limit as usize)
                    .map(logged)
                    .collect())
            });
        let publisher = BusPublisher::new(
            Arc::new(log()),
            Arc::new(revocations),
            Arc::new(bus),
            Box::new(held()),
            settings(),
        );
        run(publisher, published.clone()).await;
        assert_eq!(*published.lock().unwrap(), vec![2, 4, 5]);
    }

    #[tokio::test]
    async fn a_failing_revocations_stream_does_not_hold_up_the_events() {
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut bus = MockEventBus::new();
        bus.expect_last_published().times(1).returning(|| Ok(0));
        let sink = published.clone();
        bus.expect_publish()
            .returning(move |events: &[StoredEvent], _| {
                sink.lock().unwrap().extend(events.iter().map(|e| e.id));
                Ok(())
            });
        // The revocations' stream cannot be read: tried at most once per standby.
        let tries = Arc::new(Mutex::new(0));
        let counted = tries.clone();
        bus.expect_last_revocation_published().returning(move || {
            *counted.lock().unwrap() += 1;
            Err(BusError("subjects overlap".into()))
        });
        let settings = PublisherSettings {
            poll: Duration::from_millis(1),
            standby: Duration::from_secs(60),
            page: 1,
        };
        let publisher = BusPublisher::new(
            Arc::new(log()),
            Arc::new(MockRevocationLog::new()),
            Arc::new(bus),
            Box::new(held()),
            settings,
        );
        // One event per page: four pages in well under a standby.
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(publisher.run_until(stopped));
        for _ in 0..500 {
            if published.lock().unwrap().last() == Some(&5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(*published.lock().unwrap(), vec![1, 2, 4, 5]);
        assert_eq!(*tries.lock().unwrap(), 1);
    }
}
