//! One real-time client's stream (`GET /api/ws`, `GET /api/events`): optional replay from the
//! [`EventLog`] after `since`, then live events from the [`LiveEvents`] port, with nothing missed
//! or repeated at the seam. Transport-agnostic: the API writes what [`LiveFeed::next`] yields in its
//! own framing.
//!
//! # Why the seam loses and repeats nothing
//! Event ids are assigned in commit order (see `docs/architecture.md`), and the live fan-out is a
//! sink of the event relay ([`crate::relay`]), which hands it every committed event once and in id
//! order, so the live side is id-ascending. A feed that resumes from `since` subscribes to live
//! events *first*, then replays the stored events after `since`: an event committed meanwhile is
//! in the log, in the live queue, or both. Then it goes live, skipping what the replay already
//! sent (ids up to the last one yielded).

use std::collections::VecDeque;
use std::sync::Arc;

use ports::{
    CloseReason, EventLog, EventMessage, LiveEvents, LiveSubscription, StoreError, Viewer,
};

/// How many stored events one replay query reads.
const REPLAY_BATCH: u32 = 500;

/// What a feed yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// `since` is older than the retention: the client should refetch its data.
    Reset,
    Event(Arc<EventMessage>),
}

/// Why a feed ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEnd {
    Closed(CloseReason),
    /// Replay could not read the event log.
    Store(StoreError),
}

/// One client's stream (see the module docs).
pub struct LiveFeed {
    live: Box<dyn LiveSubscription>,
    log: Arc<dyn EventLog>,
    viewer: Viewer,
    /// Stored events read but not yet yielded.
    replay: VecDeque<Arc<EventMessage>>,
    /// `Some(after)` while the log may hold more events after `after` to replay.
    replay_after: Option<i64>,
    /// The greatest id yielded: live events up to it were already replayed.
    last_sent: i64,
    reset_pending: bool,
}

impl LiveFeed {
    /// Opens a feed for `viewer`, signed in with the token `jti` of generation `generation` (what
    /// revocation closes). Without `since` it is live only. With `since` it first replays
    /// every stored event after `since` the viewer may see (preceded by `Reset` when `since` is
    /// older than the oldest stored event), then goes live.
    pub async fn open(
        live: &dyn LiveEvents,
        log: Arc<dyn EventLog>,
        viewer: Viewer,
        jti: &str,
        generation: i64,
        since: Option<i64>,
    ) -> Result<LiveFeed, StoreError> {
        // Subscribe before reading the log, so an event committed meanwhile is in one or the other.
        let live = live.subscribe(viewer, jti, generation);
        let mut feed = LiveFeed {
            live,
            log,
            viewer,
            replay: VecDeque::new(),
            replay_after: None,
            last_sent: i64::MIN,
            reset_pending: false,
        };
        if let Some(since) = since {
            let latest = feed.log.latest_id().await?;
            // A `since` in the future replays nothing (and does not hide later live events).
            let since = since.min(latest);
            if let Some(oldest) = feed.log.oldest_id().await? {
                // Ids can have gaps (rolled-back transactions), so this may reset a client that
                // missed nothing: the safe direction (it refetches).
                feed.reset_pending = since < oldest - 1;
            }
            feed.replay_after = Some(since);
            feed.last_sent = since;
        }
        Ok(feed)
    }

    /// The next item, or why the stream ended. Cancel-safe (the WebSocket's `select!` relies on
    /// it): a cancelled replay read is made again at the next call, and a cancelled
    /// [`LiveSubscription::recv`] loses nothing.
    pub async fn next(&mut self) -> Result<FeedItem, FeedEnd> {
        if self.reset_pending {
            self.reset_pending = false;
            return Ok(FeedItem::Reset);
        }
        loop {
            if let Some(message) = self.replay.pop_front() {
                self.last_sent = message.id;
                return Ok(FeedItem::Event(message));
            }
            if let Some(after) = self.replay_after {
                let batch = self
                    .log
                    .events_after(after, self.viewer.owner_filter(), REPLAY_BATCH)
                    .await
                    .map_err(FeedEnd::Store)?;
                let full = batch.len() >= REPLAY_BATCH as usize;
                self.replay_after = match batch.last() {
                    Some(last) if full => Some(last.id),
                    _ => None,
                };
                self.replay.extend(
                    batch
                        .iter()
                        .filter(|event| self.viewer.may_see(event.user_id))
                        .map(|event| Arc::new(EventMessage::from_event(event))),
                );
                continue;
            }
            let message = self.live.recv().await.map_err(FeedEnd::Closed)?;
            if message.id > self.last_sent {
                self.last_sent = message.id;
                return Ok(FeedItem::Event(message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use domain::{EventType, OrderStatus, PaymentStatus, Role};
    use mockall::Sequence;
    use ports::{MockEventLog, MockLiveEvents, MockLiveSubscription, StoredEvent};
    use tokio::sync::mpsc;
    use uuid::Uuid;

    use super::*;

    fn event(id: i64, owner: i64) -> StoredEvent {
        StoredEvent {
            id,
            kind: EventType::OrderCreated,
            order_id: Uuid::nil(),
            user_id: owner,
            from_status: None,
            to_status: OrderStatus::Pending,
            payment_status: PaymentStatus::Unpaid,
            total_amount: 1,
            fulfillment_status: domain::FulfillmentStatus::Unfulfilled,
            refunded_amount: 0,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor: None,
            note: None,
            occurred_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    const ALICE: Viewer = Viewer {
        user_id: 2,
        role: Role::Customer,
    };

    /// A tiny in-memory fan-out with the port's contract: a subscriber gets what it may see of
    /// what is published after it subscribed; `close` ends every stream with a reason.
    #[derive(Default)]
    struct FakeLive {
        clients: Mutex<Vec<(Viewer, mpsc::UnboundedSender<Arc<EventMessage>>)>>,
        closed: Arc<Mutex<Option<CloseReason>>>,
    }

    struct FakeSubscription {
        rx: mpsc::UnboundedReceiver<Arc<EventMessage>>,
        closed: Arc<Mutex<Option<CloseReason>>>,
    }

    impl FakeLive {
        fn publish(&self, event: &StoredEvent) {
            let message = Arc::new(EventMessage::from_event(event));
            for (viewer, tx) in self.clients.lock().expect("lock").iter() {
                if viewer.may_see(message.user_id) {
                    let _ = tx.send(Arc::clone(&message));
                }
            }
        }

        fn close(&self, reason: CloseReason) {
            *self.closed.lock().expect("lock") = Some(reason);
            self.clients.lock().expect("lock").clear();
        }
    }

    impl LiveEvents for FakeLive {
        fn subscribe(&self, viewer: Viewer, _: &str, _: i64) -> Box<dyn LiveSubscription> {
            let (tx, rx) = mpsc::unbounded_channel();
            self.clients.lock().expect("lock").push((viewer, tx));
            Box::new(FakeSubscription {
                rx,
                closed: Arc::clone(&self.closed),
            })
        }
    }

    #[async_trait]
    impl LiveSubscription for FakeSubscription {
        async fn recv(&mut self) -> Result<Arc<EventMessage>, CloseReason> {
            match self.rx.recv().await {
                Some(message) => Ok(message),
                None => Err(self
                    .closed
                    .lock()
                    .expect("lock")
                    .unwrap_or(CloseReason::Shutdown)),
            }
        }
    }

    fn log_with(events: Vec<StoredEvent>, oldest: Option<i64>) -> Arc<dyn EventLog> {
        let mut log = MockEventLog::new();
        let latest = events.iter().map(|e| e.id).max().unwrap_or(0);
        log.expect_latest_id().returning(move || Ok(latest));
        log.expect_oldest_id().returning(move || Ok(oldest));
        log.expect_events_after()
            .returning(move |after, owner, limit| {
                Ok(events
                    .iter()
                    .filter(|e| e.id > after && owner.is_none_or(|o| o == e.user_id))
                    .take(limit as usize)
                    .cloned()
                    .collect())
            });
        Arc::new(log)
    }

    async fn ids(feed: &mut LiveFeed, n: usize) -> Vec<i64> {
        let mut out = Vec::new();
        for _ in 0..n {
            match feed.next().await {
                Ok(FeedItem::Event(m)) => out.push(m.id),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    #[tokio::test]
    async fn replay_then_live_without_gap_or_duplicate() {
        let live = FakeLive::default();
        let stored = vec![event(1, 2), event(2, 3), event(3, 2), event(4, 2)];
        let mut feed = LiveFeed::open(&live, log_with(stored, Some(1)), ALICE, "t", 0, Some(1))
            .await
            .expect("open");
        // Event 4 is both stored and live (committed while the feed opened): sent once.
        live.publish(&event(4, 2));
        live.publish(&event(5, 2));
        assert_eq!(ids(&mut feed, 3).await, vec![3, 4, 5]);
    }

    #[tokio::test]
    async fn old_since_resets_first_and_future_since_replays_nothing() {
        let live = FakeLive::default();
        let stored = vec![event(10, 2), event(11, 2)];
        let mut feed = LiveFeed::open(
            &live,
            log_with(stored.clone(), Some(10)),
            ALICE,
            "t",
            0,
            Some(3),
        )
        .await
        .expect("open");
        assert_eq!(feed.next().await, Ok(FeedItem::Reset));
        assert_eq!(ids(&mut feed, 2).await, vec![10, 11]);

        let mut future =
            LiveFeed::open(&live, log_with(stored, Some(10)), ALICE, "t", 0, Some(999))
                .await
                .expect("open");
        live.publish(&event(12, 2));
        assert_eq!(ids(&mut future, 1).await, vec![12]);
    }

    #[tokio::test]
    async fn without_since_nothing_is_replayed() {
        let live = FakeLive::default();
        let mut feed = LiveFeed::open(
            &live,
            log_with(vec![event(1, 2)], Some(1)),
            ALICE,
            "t",
            0,
            None,
        )
        .await
        .expect("open");
        live.publish(&event(2, 2));
        assert_eq!(ids(&mut feed, 1).await, vec![2]);
    }

    #[tokio::test]
    async fn the_stream_ends_with_the_close_reason_or_the_store_error() {
        let live = FakeLive::default();
        let mut feed = LiveFeed::open(&live, log_with(Vec::new(), None), ALICE, "t", 0, None)
            .await
            .expect("open");
        live.close(CloseReason::Revoked);
        assert_eq!(
            feed.next().await,
            Err(FeedEnd::Closed(CloseReason::Revoked))
        );

        let mut log = MockEventLog::new();
        log.expect_latest_id().returning(|| Ok(5));
        log.expect_oldest_id().returning(|| Ok(Some(1)));
        log.expect_events_after()
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        let mut feed = LiveFeed::open(&live, Arc::new(log), ALICE, "t", 0, Some(2))
            .await
            .expect("open");
        assert_eq!(
            feed.next().await,
            Err(FeedEnd::Store(StoreError::Unavailable("down".into())))
        );
    }

    #[tokio::test]
    async fn it_subscribes_before_reading_the_log_with_the_viewer_and_token() {
        let mut seq = Sequence::new();
        let mut live = MockLiveEvents::new();
        live.expect_subscribe()
            .withf(|viewer, jti, generation| *viewer == ALICE && jti == "jti-1" && *generation == 4)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| {
                let mut sub = MockLiveSubscription::new();
                sub.expect_recv().returning(|| Err(CloseReason::Shutdown));
                Box::new(sub)
            });
        let mut log = MockEventLog::new();
        log.expect_latest_id()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(7));
        log.expect_oldest_id()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(Some(1)));
        log.expect_events_after()
            .withf(|after, owner, _| *after == 5 && *owner == Some(ALICE.user_id))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(vec![event(6, 2)]));
        let mut feed = LiveFeed::open(&live, Arc::new(log), ALICE, "jti-1", 4, Some(5))
            .await
            .expect("open");
        assert_eq!(ids(&mut feed, 1).await, vec![6]);
        assert_eq!(
            feed.next().await,
            Err(FeedEnd::Closed(CloseReason::Shutdown))
        );
    }
}
