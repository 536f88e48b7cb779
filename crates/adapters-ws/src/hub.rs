//! Connected clients and the fan-out of events to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use ports::{
    CloseReason, EventMessage, EventSink, LiveEvents, LiveSubscription, SinkError, StoredEvent,
    Viewer,
};
use tokio::sync::mpsc;

/// The [`CloseReason`] stored as `reason as u8` in a client's `closed` flag (0: still open).
fn close_reason_from_u8(value: u8) -> Option<CloseReason> {
    match value {
        1 => Some(CloseReason::Revoked),
        2 => Some(CloseReason::SlowConsumer),
        3 => Some(CloseReason::Shutdown),
        _ => None,
    }
}

struct Client {
    viewer: Viewer,
    jti: Arc<str>,
    /// The token's generation (claim `gen`).
    generation: i64,
    tx: mpsc::Sender<Arc<EventMessage>>,
    closed: Arc<AtomicU8>,
}

#[derive(Default)]
struct Inner {
    clients: Mutex<HashMap<u64, Client>>,
    next_id: AtomicU64,
    delivered: AtomicU64,
    dropped_slow: AtomicU64,
}

/// The hub. Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
    queue_bound: usize,
}

/// A client's live queue. Dropping it leaves the hub.
pub struct Subscription {
    id: u64,
    hub: Hub,
    rx: mpsc::Receiver<Arc<EventMessage>>,
    closed: Arc<AtomicU8>,
}

impl Subscription {
    /// The next live event, or why the stream ended.
    pub async fn recv(&mut self) -> Result<Arc<EventMessage>, CloseReason> {
        match self.rx.recv().await {
            Some(message) => Ok(message),
            None => Err(self.close_reason()),
        }
    }

    fn close_reason(&self) -> CloseReason {
        close_reason_from_u8(self.closed.load(Ordering::Acquire)).unwrap_or(CloseReason::Shutdown)
    }
}

#[async_trait]
impl LiveSubscription for Subscription {
    async fn recv(&mut self) -> Result<Arc<EventMessage>, CloseReason> {
        Subscription::recv(self).await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(self.id);
    }
}

impl Hub {
    /// A hub whose clients may each have `queue_bound` events waiting; a client whose queue is
    /// full when an event arrives is dropped (its stream ends with `SlowConsumer`).
    pub fn new(queue_bound: usize) -> Hub {
        Hub {
            inner: Arc::new(Inner::default()),
            queue_bound: queue_bound.max(1),
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Client>> {
        // A panic while holding the lock leaves the map consistent (every operation on it is a
        // single insert/remove/iteration), so a poisoned lock is safe to keep using.
        self.inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a client signed in with the token `jti` of generation `generation`. Events
    /// published from now on reach its subscription.
    pub fn subscribe(&self, viewer: Viewer, jti: &str, generation: i64) -> Subscription {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.queue_bound);
        let closed = Arc::new(AtomicU8::new(0));
        self.clients().insert(
            id,
            Client {
                viewer,
                jti: Arc::from(jti),
                generation,
                tx,
                closed: Arc::clone(&closed),
            },
        );
        Subscription {
            id,
            hub: self.clone(),
            rx,
            closed,
        }
    }

    fn remove(&self, id: u64) {
        self.clients().remove(&id);
    }

    /// Ends, with `reason`, every client for which `select` is true.
    fn close_where(&self, reason: CloseReason, select: impl Fn(&Client) -> bool) -> usize {
        let mut clients = self.clients();
        let before = clients.len();
        clients.retain(|_, client| {
            if select(client) {
                client.closed.store(reason as u8, Ordering::Release);
                false
            } else {
                true
            }
        });
        before - clients.len()
    }

    /// Delivers one committed event to every client allowed to see it (the relay calls it through
    /// [`EventSink::deliver`]).
    pub fn publish(&self, event: &StoredEvent) {
        self.fan_out(Arc::new(EventMessage::from_event(event)));
    }

    /// Queues `message` for every client allowed to see it.
    fn fan_out(&self, message: Arc<EventMessage>) {
        let mut slow = 0;
        let mut delivered = 0;
        {
            let mut clients = self.clients();
            clients.retain(|_, client| {
                if !client.viewer.may_see(message.user_id) {
                    return true;
                }
                match client.tx.try_send(Arc::clone(&message)) {
                    Ok(()) => {
                        delivered += 1;
                        true
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        client
                            .closed
                            .store(CloseReason::SlowConsumer as u8, Ordering::Release);
                        slow += 1;
                        false
                    }
                    // The client is leaving; its subscription removes it.
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
        }
        self.inner.delivered.fetch_add(delivered, Ordering::Relaxed);
        if slow > 0 {
            self.inner.dropped_slow.fetch_add(slow, Ordering::Relaxed);
            tracing::warn!(clients = slow, "dropped slow real-time clients");
        }
    }

    /// Ends the streams of every client signed in with the token `jti` (logout).
    pub fn revoke(&self, jti: &str) -> usize {
        self.close_where(CloseReason::Revoked, |client| &*client.jti == jti)
    }

    /// Ends the streams of every client of `user_id` signed in with a token of a generation below
    /// `min_generation` (the user was disabled, or changed role or password).
    pub fn revoke_user(&self, user_id: i64, min_generation: i64) -> usize {
        self.close_where(CloseReason::Revoked, |client| {
            client.viewer.user_id == user_id && client.generation < min_generation
        })
    }

    /// Ends every stream (server shutdown).
    pub fn shutdown(&self) -> usize {
        self.close_where(CloseReason::Shutdown, |_| true)
    }

    /// Connected clients now.
    pub fn connected(&self) -> usize {
        self.clients().len()
    }

    /// Messages handed to client queues since start.
    pub fn delivered_total(&self) -> u64 {
        self.inner.delivered.load(Ordering::Relaxed)
    }

    /// Clients dropped for not keeping up, since start.
    pub fn dropped_slow_total(&self) -> u64 {
        self.inner.dropped_slow.load(Ordering::Relaxed)
    }
}

/// The hub is the live fan-out the real-time handlers subscribe to (through `app::live_feed`).
impl LiveEvents for Hub {
    fn subscribe(&self, viewer: Viewer, jti: &str, generation: i64) -> Box<dyn LiveSubscription> {
        Box::new(Hub::subscribe(self, viewer, jti, generation))
    }
}

/// The hub is one sink of the event relay: in-memory fan-out that never waits (a client whose
/// queue is full is dropped), so it never holds the relay up, and never fails.
#[async_trait]
impl EventSink for Hub {
    fn name(&self) -> &'static str {
        "hub"
    }

    async fn deliver(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
        for event in events {
            self.publish(event);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{EventType, OrderStatus, PaymentStatus, Role};
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
            total_amount: 100,
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

    const ADMIN: Viewer = Viewer {
        user_id: 1,
        role: Role::Admin,
    };
    const ALICE: Viewer = Viewer {
        user_id: 2,
        role: Role::Customer,
    };
    const BOB: Viewer = Viewer {
        user_id: 3,
        role: Role::Customer,
    };

    #[tokio::test]
    async fn admins_see_all_customers_their_own() {
        let hub = Hub::new(8);
        let mut admin = hub.subscribe(ADMIN, "a", 0);
        let mut alice = hub.subscribe(ALICE, "b", 0);
        let mut bob = hub.subscribe(BOB, "c", 0);
        hub.publish(&event(1, ALICE.user_id));
        hub.publish(&event(2, BOB.user_id));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(1));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(2));
        assert_eq!(alice.recv().await.map(|m| m.id), Ok(1));
        assert_eq!(bob.recv().await.map(|m| m.id), Ok(2));
        assert!(
            alice.rx.try_recv().is_err(),
            "alice must not see bob's event"
        );
        assert_eq!(hub.delivered_total(), 4);
    }

    #[tokio::test]
    async fn as_a_sink_it_delivers_a_batch_in_order() {
        let hub = Hub::new(8);
        let mut admin = hub.subscribe(ADMIN, "a", 0);
        let sink: &dyn EventSink = &hub;
        assert_eq!(sink.name(), "hub");
        let batch = [event(1, ALICE.user_id), event(2, BOB.user_id)];
        assert_eq!(sink.deliver(&batch).await, Ok(()));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(1));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(2));
    }

    #[tokio::test]
    async fn a_slow_client_is_dropped_without_stalling_others() {
        let hub = Hub::new(2);
        let mut slow = hub.subscribe(ALICE, "slow", 0);
        let mut fast = hub.subscribe(ADMIN, "fast", 0);
        for id in 1..=5 {
            hub.publish(&event(id, ALICE.user_id));
            assert_eq!(fast.recv().await.map(|m| m.id), Ok(id));
        }
        assert_eq!(hub.connected(), 1);
        assert_eq!(slow.recv().await.map(|m| m.id), Ok(1));
        assert_eq!(slow.recv().await.map(|m| m.id), Ok(2));
        assert_eq!(
            slow.recv().await.map(|m| m.id),
            Err(CloseReason::SlowConsumer)
        );
        assert_eq!(hub.dropped_slow_total(), 1);
    }

    #[tokio::test]
    async fn revoke_closes_only_that_token_and_drop_leaves() {
        let hub = Hub::new(4);
        let mut a = hub.subscribe(ALICE, "token-a", 0);
        let b = hub.subscribe(ALICE, "token-b", 0);
        assert_eq!(hub.revoke("token-a"), 1);
        assert_eq!(a.recv().await.map(|m| m.id), Err(CloseReason::Revoked));
        assert_eq!(hub.connected(), 1);
        drop(b);
        assert_eq!(hub.connected(), 0);
        let mut c = hub.subscribe(BOB, "token-c", 0);
        assert_eq!(hub.shutdown(), 1);
        assert_eq!(c.recv().await.map(|m| m.id), Err(CloseReason::Shutdown));
    }

    #[tokio::test]
    async fn revoke_user_closes_that_users_older_tokens_only() {
        let hub = Hub::new(4);
        let mut old = hub.subscribe(ALICE, "old", 0);
        let mut older = hub.subscribe(ALICE, "older", 1);
        let fresh = hub.subscribe(ALICE, "fresh", 2);
        let bob = hub.subscribe(BOB, "bob", 0);
        assert_eq!(hub.revoke_user(ALICE.user_id, 2), 2);
        assert_eq!(old.recv().await.map(|m| m.id), Err(CloseReason::Revoked));
        assert_eq!(older.recv().await.map(|m| m.id), Err(CloseReason::Revoked));
        assert_eq!(hub.connected(), 2);
        assert_eq!(hub.revoke_user(ALICE.user_id, 2), 0, "again: nothing left");
        drop((fresh, bob));
    }

    #[tokio::test]
    async fn through_the_port_it_is_the_same_hub() {
        let hub = Hub::new(4);
        let live: &dyn LiveEvents = &hub;
        let mut alice = live.subscribe(ALICE, "token-a", 0);
        let mut admin = live.subscribe(ADMIN, "token-admin", 0);
        assert_eq!(hub.connected(), 2);
        hub.publish(&event(1, BOB.user_id));
        hub.publish(&event(2, ALICE.user_id));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(1));
        assert_eq!(admin.recv().await.map(|m| m.id), Ok(2));
        assert_eq!(alice.recv().await.map(|m| m.id), Ok(2), "not bob's event");
        assert_eq!(hub.revoke("token-a"), 1);
        assert_eq!(alice.recv().await.map(|m| m.id), Err(CloseReason::Revoked));
        drop(admin);
        assert_eq!(hub.connected(), 0, "dropping the boxed subscription leaves");
    }
}
