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

use std::sync::Arc;
use std::time::Duration;

use ports::{EventBus, EventLog, PublisherLease};
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

/// Publishes committed events to the bus while this instance holds the lease.
pub struct BusPublisher {
    log: Arc<dyn EventLog>,
    bus: Arc<dyn EventBus>,
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

impl BusPublisher {
    pub fn new(
        log: Arc<dyn EventLog>,
        bus: Arc<dyn EventBus>,
        lease: Box<dyn PublisherLease>,
        settings: PublisherSettings,
    ) -> BusPublisher {
        BusPublisher {
            log,
            bus,
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

    /// Publishes while the lease holds; `true` when `stop` ended it.
    async fn publish_while_held(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut last: Option<i64> = None;
        loop {
            if *stop.borrow() {
                return true;
            }
            if !self.lease.still_held().await {
                return false;
            }
            let previous = match last {
                Some(previous) => previous,
                None => match self.bus.last_published().await {
                    Ok(previous) => {
                        last = Some(previous);
                        previous
                    }
                    Err(error) => {
                        tracing::warn!(%error, "reading the stream's last event failed");
                        if stopped_during(stop, self.settings.standby).await {
                            return true;
                        }
                        continue;
                    }
                },
            };
            let events = match self
                .log
                .events_after(previous, None, self.settings.page)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "reading the event log for the bus failed");
                    if stopped_during(stop, self.settings.standby).await {
                        return true;
                    }
                    continue;
                }
            };
            let Some(newest) = events.last().map(|e| e.id) else {
                if stopped_during(stop, self.settings.poll).await {
                    return true;
                }
                continue;
            };
            match self.bus.publish(&events, previous).await {
                Ok(()) => last = Some(newest),
                Err(error) => {
                    tracing::warn!(%error, "publishing to the bus failed; starting from the stream's last event");
                    last = None;
                    if stopped_during(stop, self.settings.poll).await {
                        return true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ports::{BusError, MockEventBus, MockEventLog, MockPublisherLease, StoredEvent};

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
        let publisher =
            BusPublisher::new(Arc::new(log()), Arc::new(bus), Box::new(held()), settings());
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
        let publisher =
            BusPublisher::new(Arc::new(log()), Arc::new(bus), Box::new(held()), settings());
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
        let publisher = BusPublisher::new(
            Arc::new(MockEventLog::new()),
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
}
