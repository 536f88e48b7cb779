//! The event feed (`GET /api/admin/events`): the stored order events after a position, for
//! systems that pull them (an ERP, a warehouse), with the guarantee of the real-time replay: a
//! consumer that loops on `next_since` misses nothing.
//!
//! # Why looping on `next_since` misses nothing
//! Event ids are taken and committed one transaction at a time (the event log's contract, see
//! [`ports::EventLog`]), so once an event is visible every event with a lower id that will ever
//! commit is visible too. A read of "the events after `since`" is therefore complete up to the
//! highest id it could see, with no need to hold back below an in-flight writer. Each page:
//! 1. reads the latest id `L` (everything up to `L` has committed);
//! 2. reads the matching events after `since` (at most `limit`);
//! 3. reads the oldest id still stored, to tell whether `since` is older than the retention
//!    (read after the events, so a purge that ran meanwhile is seen).
//!
//! `next_since` is the last event's id when the page is full. When it is not, the read returned
//! every matching event up to at least `L`, so `next_since` is `L` when that is higher: a consumer
//! with a narrow filter (one order, a rare type) moves forward instead of reading the same stretch
//! of the log again on every poll. Unfiltered, that is the last event's id, or `since` when there
//! is none.
//!
//! As in the real-time replay, a `since` beyond the latest id is read as the latest id (a feed
//! position from a restored or reset database does not stall the consumer until the ids catch up),
//! and a `since` older than the oldest stored event (`since < oldest - 1`; gaps from rolled-back
//! writes may make it reset a consumer that missed nothing, the safe direction) puts a reset first.
//! After a reset `next_since` is at least `oldest - 1`, so the next page does not reset again.

use domain::{EventType, Role};
use ports::{EventQuery, StoreError, StoredEvent};
use uuid::Uuid;

use crate::{Actor, Deps};

/// The page size when the consumer gives none.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest page. Refusing a larger one (422) is the API's job; [`EventFeed::read`] clamps.
pub const MAX_LIMIT: u32 = 1_000;

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    /// The last event id the consumer has (0 for the start).
    pub since: i64,
    /// Events of any of these types; every type when empty.
    pub types: Vec<EventType>,
    pub order_id: Option<Uuid>,
    pub limit: u32,
}

impl Default for FeedQuery {
    fn default() -> Self {
        FeedQuery {
            since: 0,
            types: Vec::new(),
            order_id: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// `since` is older than the retention: events the consumer never saw may be gone, it should
    /// refetch its data (`{"type": "stream.reset"}` first).
    pub reset: bool,
    /// Id ascending.
    pub events: Vec<StoredEvent>,
    /// Where the next page starts (see the module docs).
    pub next_since: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFeedError {
    /// Only admins read the feed (the API checks the role first).
    #[error("only admins read the event feed")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct EventFeed {
    pub deps: Deps,
}

impl EventFeed {
    pub fn new(deps: Deps) -> EventFeed {
        EventFeed { deps }
    }

    /// One page of the events after `query.since` matching its filters (see the module docs).
    /// `limit` is clamped to `1..=MAX_LIMIT` and a negative `since` read as 0.
    #[tracing::instrument(skip(self, actor, query), fields(user_id = actor.id, since = query.since))]
    pub async fn read(&self, actor: Actor, query: &FeedQuery) -> Result<FeedPage, EventFeedError> {
        if actor.role != Role::Admin {
            return Err(EventFeedError::Forbidden);
        }
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let latest = self.deps.events.latest_id().await?;
        let after = query.since.max(0).min(latest);
        let events = self
            .deps
            .events
            .events_matching(&EventQuery {
                after_id: after,
                types: query.types.clone(),
                order_id: query.order_id,
                user_id: None,
                limit,
            })
            .await?;
        let oldest = self.deps.events.oldest_id().await?;
        let reset = oldest.is_some_and(|oldest| after < oldest.saturating_sub(1));
        let full = events.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let last = events.last().map(|e| e.id);
        let next_since = match last {
            Some(last) if full => last,
            _ => {
                let mut next = last.unwrap_or(after).max(latest);
                if reset {
                    next = next.max(oldest.map_or(after, |o| o.saturating_sub(1)));
                }
                next
            }
        };
        Ok(FeedPage {
            reset,
            events,
            next_since,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use domain::{FulfillmentStatus, OrderStatus, PaymentStatus};
    use mockall::Sequence;

    use super::*;
    use crate::test_support::{ADMIN, CUSTOMER, Mocks, NOW};

    const ORDER_A: Uuid = Uuid::from_u128(0xa);
    const ORDER_B: Uuid = Uuid::from_u128(0xb);

    fn event(id: i64, kind: EventType, order_id: Uuid) -> StoredEvent {
        StoredEvent {
            id,
            kind,
            order_id,
            user_id: 7,
            from_status: None,
            to_status: OrderStatus::Pending,
            payment_status: PaymentStatus::Unpaid,
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            total_amount: 100,
            refunded_amount: 0,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor: None,
            note: None,
            occurred_at: NOW,
        }
    }

    /// A log holding `stored` (ids ascending) that filters like the real one, and records every
    /// query it was asked.
    fn log(mocks: &mut Mocks, stored: Vec<StoredEvent>, queries: Arc<Mutex<Vec<EventQuery>>>) {
        let latest = stored.last().map_or(0, |e| e.id);
        let oldest = stored.first().map(|e| e.id);
        mocks
            .events
            .expect_latest_id()
            .returning(move || Ok(latest));
        mocks
            .events
            .expect_oldest_id()
            .returning(move || Ok(oldest));
        mocks.events.expect_events_matching().returning(move |q| {
            queries.lock().expect("lock").push(q.clone());
            Ok(stored
                .iter()
                .filter(|e| e.id > q.after_id)
                .filter(|e| q.types.is_empty() || q.types.contains(&e.kind))
                .filter(|e| q.order_id.is_none_or(|o| o == e.order_id))
                .take(q.limit as usize)
                .cloned()
                .collect())
        });
    }

    fn ids(page: &FeedPage) -> Vec<i64> {
        page.events.iter().map(|e| e.id).collect()
    }

    fn stored() -> Vec<StoredEvent> {
        vec![
            event(10, EventType::OrderCreated, ORDER_A),
            event(11, EventType::OrderCreated, ORDER_B),
            event(12, EventType::OrderPaid, ORDER_A),
            event(14, EventType::OrderCancelled, ORDER_B),
            event(15, EventType::OrderStatusChanged, ORDER_A),
        ]
    }

    async fn read(stored: Vec<StoredEvent>, query: FeedQuery) -> (FeedPage, Vec<EventQuery>) {
        let queries = Arc::new(Mutex::new(Vec::new()));
        let mut mocks = Mocks::new();
        log(&mut mocks, stored, queries.clone());
        let page = EventFeed::new(mocks.into_deps())
            .read(ADMIN, &query)
            .await
            .expect("page");
        let asked = queries.lock().expect("lock").clone();
        (page, asked)
    }

    #[tokio::test]
    async fn pages_follow_next_since_to_the_end_without_gap_or_repeat() {
        let mut since = 9;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let (page, _) = read(
                stored(),
                FeedQuery {
                    since,
                    limit: 2,
                    ..FeedQuery::default()
                },
            )
            .await;
            assert!(!page.reset);
            seen.extend(ids(&page));
            if page.events.is_empty() {
                assert_eq!(page.next_since, since, "an empty page stays where it is");
                break;
            }
            since = page.next_since;
        }
        assert_eq!(seen, [10, 11, 12, 14, 15]);
        assert_eq!(since, 15);
    }

    #[tokio::test]
    async fn a_full_page_ends_at_its_last_event_and_asks_with_every_filter() {
        let (page, asked) = read(
            stored(),
            FeedQuery {
                since: 9,
                types: vec![EventType::OrderCreated, EventType::OrderPaid],
                order_id: Some(ORDER_A),
                limit: 2,
            },
        )
        .await;
        assert_eq!(ids(&page), [10, 12]);
        assert_eq!(page.next_since, 12);
        assert_eq!(
            asked,
            [EventQuery {
                after_id: 9,
                types: vec![EventType::OrderCreated, EventType::OrderPaid],
                order_id: Some(ORDER_A),
                user_id: None,
                limit: 2,
            }]
        );
    }

    #[tokio::test]
    async fn a_filtered_page_that_is_not_full_moves_to_the_latest_id() {
        // Order B's events are 11 and 14; the log goes on to 15, which the read covered.
        let (page, _) = read(
            stored(),
            FeedQuery {
                since: 9,
                order_id: Some(ORDER_B),
                ..FeedQuery::default()
            },
        )
        .await;
        assert_eq!(ids(&page), [11, 14]);
        assert_eq!(page.next_since, 15);
        // A type that never occurs: empty, but past everything read.
        let (page, _) = read(
            stored(),
            FeedQuery {
                since: 9,
                types: vec![EventType::Refunded],
                ..FeedQuery::default()
            },
        )
        .await;
        assert!(page.events.is_empty());
        assert_eq!(page.next_since, 15);
    }

    #[tokio::test]
    async fn the_latest_id_is_read_before_the_events_and_the_oldest_after() {
        // An event committed after the latest id was read must not be skipped by next_since: the
        // order of the reads is what makes the jump to the latest id safe.
        let mut mocks = Mocks::new();
        let mut seq = Sequence::new();
        mocks
            .events
            .expect_latest_id()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(15));
        mocks
            .events
            .expect_events_matching()
            .times(1)
            .in_sequence(&mut seq)
            // Event 16 committed between the two reads, and is of another order.
            .returning(|_| Ok(vec![event(11, EventType::OrderCreated, ORDER_B)]));
        mocks
            .events
            .expect_oldest_id()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(Some(10)));
        let page = EventFeed::new(mocks.into_deps())
            .read(
                ADMIN,
                &FeedQuery {
                    since: 9,
                    order_id: Some(ORDER_B),
                    ..FeedQuery::default()
                },
            )
            .await
            .expect("page");
        assert_eq!(page.next_since, 15, "not 16: the read may not have seen it");
    }

    #[tokio::test]
    async fn a_since_older_than_the_oldest_event_resets_first() {
        // 10 is the oldest: a consumer at 8 may have missed 9, gone with the retention.
        let (page, _) = read(
            stored(),
            FeedQuery {
                since: 8,
                limit: 2,
                ..FeedQuery::default()
            },
        )
        .await;
        assert!(page.reset);
        assert_eq!(ids(&page), [10, 11]);
        assert_eq!(page.next_since, 11);
        // At 9 (just before the oldest) nothing is lost.
        let (page, _) = read(
            stored(),
            FeedQuery {
                since: 9,
                ..FeedQuery::default()
            },
        )
        .await;
        assert!(!page.reset);
    }

    #[tokio::test]
    async fn after_a_reset_with_nothing_read_the_next_page_does_not_reset_again() {
        // The log was empty when the latest id was read (everything purged), and event 20
        // committed before the oldest id was read: the consumer at 5 may have missed 6 to 19.
        let mut mocks = Mocks::new();
        mocks.events.expect_latest_id().returning(|| Ok(0));
        mocks.events.expect_oldest_id().returning(|| Ok(Some(20)));
        mocks
            .events
            .expect_events_matching()
            .returning(|_| Ok(Vec::new()));
        let feed = EventFeed::new(mocks.into_deps());
        let first = feed
            .read(
                ADMIN,
                &FeedQuery {
                    since: 5,
                    ..FeedQuery::default()
                },
            )
            .await
            .expect("page");
        assert!(first.reset);
        assert!(first.events.is_empty());
        assert_eq!(
            first.next_since, 19,
            "just before the oldest: 20 comes next"
        );
        let mut mocks = Mocks::new();
        mocks.events.expect_latest_id().returning(|| Ok(20));
        mocks.events.expect_oldest_id().returning(|| Ok(Some(20)));
        mocks
            .events
            .expect_events_matching()
            .withf(|q| q.after_id == 19)
            .returning(|_| Ok(vec![event(20, EventType::OrderCreated, ORDER_A)]));
        let second = EventFeed::new(mocks.into_deps())
            .read(
                ADMIN,
                &FeedQuery {
                    since: first.next_since,
                    ..FeedQuery::default()
                },
            )
            .await
            .expect("page");
        assert!(!second.reset);
        assert_eq!(ids(&second), [20]);
    }

    #[tokio::test]
    async fn a_since_in_the_future_reads_from_the_latest_id() {
        let (page, asked) = read(
            stored(),
            FeedQuery {
                since: 1_000,
                ..FeedQuery::default()
            },
        )
        .await;
        assert!(!page.reset);
        assert!(page.events.is_empty());
        assert_eq!(asked[0].after_id, 15);
        assert_eq!(page.next_since, 15);
    }

    #[tokio::test]
    async fn an_empty_log_neither_resets_nor_moves_below_zero() {
        let (page, asked) = read(
            Vec::new(),
            FeedQuery {
                since: 0,
                ..FeedQuery::default()
            },
        )
        .await;
        assert!(!page.reset);
        assert!(page.events.is_empty());
        assert_eq!(page.next_since, 0);
        assert_eq!(asked[0].after_id, 0);
    }

    #[tokio::test]
    async fn limit_is_clamped_and_a_negative_since_read_as_zero() {
        let (_, asked) = read(
            stored(),
            FeedQuery {
                since: -5,
                limit: 50_000,
                ..FeedQuery::default()
            },
        )
        .await;
        assert_eq!(asked[0].limit, MAX_LIMIT);
        assert_eq!(asked[0].after_id, 0);
        let (_, asked) = read(
            stored(),
            FeedQuery {
                limit: 0,
                ..FeedQuery::default()
            },
        )
        .await;
        assert_eq!(asked[0].limit, 1);
    }

    #[tokio::test]
    async fn a_customer_reads_nothing() {
        assert_eq!(
            EventFeed::new(Mocks::new().into_deps())
                .read(CUSTOMER, &FeedQuery::default())
                .await,
            Err(EventFeedError::Forbidden)
        );
    }
}
