//! One client's stream: optional replay from the event log, then live events, with nothing missed
//! or repeated at the seam.

use std::collections::VecDeque;
use std::sync::Arc;

use ports::{EventLog, StoreError};

use crate::event_json::EventMessage;
use crate::hub::{CloseReason, Hub, Subscription, Viewer};

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

pub struct Feed {
    live: Subscription,
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

impl Feed {
    /// Opens a feed for `viewer`, signed in with the token `jti` of generation `generation` (what
    /// revocation closes). Without `since` it is live only. With `since` it first replays
    /// every stored event after `since` the viewer may see (preceded by `Reset` when `since` is
    /// older than the oldest stored event), then goes live.
    pub async fn open(
        hub: &Hub,
        log: Arc<dyn EventLog>,
        viewer: Viewer,
        jti: &str,
        generation: i64,
        since: Option<i64>,
    ) -> Result<Feed, StoreError> {
        // Subscribe before reading the log, so an event committed meanwhile is in one or the other.
        let live = hub.subscribe(viewer, jti, generation);
        let mut feed = Feed {
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

    /// The next item, or why the stream ended.
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
    use super::*;
    use domain::{EventType, OrderStatus, PaymentStatus, Role};
    use ports::{MockEventLog, StoredEvent};
    use uuid::Uuid;

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

    async fn ids(feed: &mut Feed, n: usize) -> Vec<i64> {
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
        let hub = Hub::new(16);
        let stored = vec![event(1, 2), event(2, 3), event(3, 2), event(4, 2)];
        let mut feed = Feed::open(&hub, log_with(stored, Some(1)), ALICE, "t", 0, Some(1))
            .await
            .expect("open");
        // Event 4 is both stored and live (committed while the feed opened): sent once.
        hub.publish(&event(4, 2));
        hub.publish(&event(5, 2));
        assert_eq!(ids(&mut feed, 3).await, vec![3, 4, 5]);
    }

    #[tokio::test]
    async fn old_since_resets_first_and_future_since_replays_nothing() {
        let hub = Hub::new(16);
        let stored = vec![event(10, 2), event(11, 2)];
        let mut feed = Feed::open(
            &hub,
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

        let mut future = Feed::open(&hub, log_with(stored, Some(10)), ALICE, "t", 0, Some(999))
            .await
            .expect("open");
        hub.publish(&event(12, 2));
        assert_eq!(ids(&mut future, 1).await, vec![12]);
    }

    #[tokio::test]
    async fn without_since_nothing_is_replayed() {
        let hub = Hub::new(16);
        let mut feed = Feed::open(
            &hub,
            log_with(vec![event(1, 2)], Some(1)),
            ALICE,
            "t",
            0,
            None,
        )
        .await
        .expect("open");
        hub.publish(&event(2, 2));
        assert_eq!(ids(&mut feed, 1).await, vec![2]);
    }
}
