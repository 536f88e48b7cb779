//! The one `LISTEN` connection of an instance: it hears what every instance commits.
//!
//! A dedicated `AsyncPgConnection` (never a pooled one: `LISTEN` belongs to its session) listens to
//! [`EVENTS_CHANNEL`] and [`REVOCATIONS_CHANNEL`] and forwards each notification as a [`Notice`].
//! When the connection is lost it reconnects with exponential backoff (100 ms doubling to 5 s).
//! After every successful `LISTEN` (the first one too) it sends [`Notice::Reconnected`]:
//! notifications sent while it was not listening are lost, so the consumer replays the event log
//! after the last id it delivered and reloads the revocation list (which also closes the window
//! between loading that list at start-up and the first `LISTEN`).
//!
//! The connection is also checked with `SELECT 1` every [`KEEPALIVE`] of silence, so a connection
//! that died without a word (a network partition) is noticed too.
//!
//! Two ways to consume it:
//! - [`spawn`] (the server): the events side is a [`PgEventSource`], the [`EventSource`] port the
//!   event relay (`app::relay`) reads; revocations come on a source of their own
//!   ([`PgRevocationSource`]), for the in-memory revocation set. Each hears every (re)connection.
//!   (`EVENT_BUS=nats` needs no listener: both come over the bus.)
//! - [`spawn_listener`]: every [`Notice`] on one channel, in the order heard (its tests).

use std::pin::pin;
use std::time::Duration;

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use ports::{
    EventSource, Revocation, RevocationNotice, RevocationSource, SourceNotice, StoredEvent,
    UserGeneration,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::events::{EVENTS_CHANNEL, REVOCATIONS_CHANNEL, parse_events_payload};
use crate::settings::redact_url;

/// What the listener tells its consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Events committed by some instance, in id order (`actor` and `note` are `None`).
    Events(Vec<StoredEvent>),
    /// A token was revoked (its `jti`).
    Revoked(String),
    /// Every token of a user below a generation was revoked (disable, role or password change).
    UserRevoked(UserGeneration),
    /// The listener is (again) listening: replay what may have been missed.
    Reconnected,
}

/// The events side of the listener: the [`EventSource`] of the event relay. `Committed` for each
/// `oms_events` notification (in the order heard: commit order), `Resumed` after every `LISTEN`.
/// Ends when the listener stops.
pub struct PgEventSource {
    rx: mpsc::UnboundedReceiver<SourceNotice>,
}

#[async_trait]
impl EventSource for PgEventSource {
    async fn next(&mut self) -> Option<SourceNotice> {
        self.rx.recv().await
    }
}

/// The revocations side of the listener: `Revoked`/`UserRevoked` for each `oms_revocations`
/// notification, `Reconnected` after every `LISTEN`. Ends when the listener stops.
pub struct PgRevocationSource {
    rx: mpsc::Receiver<RevocationNotice>,
}

#[async_trait]
impl RevocationSource for PgRevocationSource {
    async fn next(&mut self) -> Option<RevocationNotice> {
        self.rx.recv().await
    }
}

/// A running listener, as [`spawn`] returns it.
pub struct Listener {
    /// Committed events and reconnections, for the event relay.
    pub events: PgEventSource,
    /// Revocations and reconnections, for the revocation set.
    pub revocations: PgRevocationSource,
    /// Ends when `shutdown` turns `true`, or when both consumers are gone.
    pub task: JoinHandle<()>,
}

/// How many revocation notices may wait for their consumer before the listener waits.
pub const REVOCATION_QUEUE: usize = 1024;

/// Starts the listener with its two consumers (see the module documentation). The events side
/// is unbounded so that a relay busy replaying the log never holds up revocations (a notice is a
/// few events; while the relay catches up nothing else grows it).
pub fn spawn(url: String, shutdown: watch::Receiver<bool>) -> Listener {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (revocations_tx, revocations_rx) = mpsc::channel(REVOCATION_QUEUE);
    let outlet = Outlet::Split {
        events: events_tx,
        revocations: revocations_tx,
    };
    Listener {
        events: PgEventSource { rx: events_rx },
        revocations: PgRevocationSource { rx: revocations_rx },
        task: tokio::spawn(run(url, outlet, shutdown)),
    }
}

/// Where notices go.
enum Outlet {
    /// Every notice on one channel ([`spawn_listener`]).
    One(mpsc::Sender<Notice>),
    /// Events to the relay, revocations to theirs; both hear reconnections ([`spawn`]).
    Split {
        events: mpsc::UnboundedSender<SourceNotice>,
        revocations: mpsc::Sender<RevocationNotice>,
    },
}

impl Outlet {
    /// Hands `notice` on; `false` once nobody listens any more.
    async fn send(&self, notice: Notice) -> bool {
        match self {
            Outlet::One(tx) => tx.send(notice).await.is_ok(),
            Outlet::Split {
                events,
                revocations,
            } => {
                // A consumer that is gone misses what it would have been told; the other goes on.
                match notice {
                    Notice::Events(batch) => {
                        let _ = events.send(SourceNotice::Committed(batch));
                    }
                    Notice::Reconnected => {
                        let _ = events.send(SourceNotice::Resumed);
                        let _ = revocations.send(RevocationNotice::Reconnected).await;
                    }
                    Notice::Revoked(jti) => {
                        let _ = revocations.send(RevocationNotice::Revoked(jti)).await;
                    }
                    Notice::UserRevoked(generation) => {
                        let _ = revocations
                            .send(RevocationNotice::UserRevoked(generation))
                            .await;
                    }
                }
                !(events.is_closed() && revocations.is_closed())
            }
        }
    }
}

/// First pause after a lost connection.
pub const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Silence after which the connection is probed.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// Starts the listener task with one consumer of every [`Notice`]. It ends when `shutdown` turns
/// `true` (or its sender is dropped), or when `tx`'s receiver is gone.
pub fn spawn_listener(
    url: String,
    tx: mpsc::Sender<Notice>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(run(url, Outlet::One(tx), shutdown))
}

/// Why one connection's loop ended.
enum Ended {
    /// Stop for good.
    Stop,
    /// The connection failed: reconnect.
    Lost,
}

async fn run(url: String, tx: Outlet, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = BACKOFF_START;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match connect(&url).await {
            Ok(mut conn) => {
                tracing::info!(url = %redact_url(&url), "listening for notifications");
                backoff = BACKOFF_START;
                // Also after the first LISTEN: whatever was committed before it (a revocation
                // during start-up) is only in the tables, so consumers re-read them now.
                if !tx.send(Notice::Reconnected).await {
                    return;
                }
                match listen(&mut conn, &tx, &mut shutdown).await {
                    Ended::Stop => return,
                    Ended::Lost => tracing::warn!("notification connection lost; reconnecting"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis(), "cannot listen for notifications");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut shutdown) => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    let mut conn = tokio::time::timeout(Duration::from_secs(10), AsyncPgConnection::establish(url))
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    // Several statements: the simple query protocol (`batch_execute`), one round trip.
    conn.batch_execute(&format!(
        "SET application_name = 'oms-listener'; LISTEN {EVENTS_CHANNEL}; LISTEN {REVOCATIONS_CHANNEL}"
    ))
    .await
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Resolves when shutdown is asked for (or nobody can ask any more).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        // The sender is gone: nobody will ever ask; treat as a stop.
    }
}

async fn listen(
    conn: &mut AsyncPgConnection,
    tx: &Outlet,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    loop {
        let next = {
            let mut notifications = pin!(conn.notifications_stream());
            tokio::select! {
                n = notifications.next() => Some(n),
                _ = tokio::time::sleep(KEEPALIVE) => None,
                _ = stopped(shutdown) => return Ended::Stop,
            }
        };
        let notification = match next {
            // Silence: probe the connection.
            None => match diesel::sql_query("SELECT 1").execute(conn).await {
                Ok(_) => continue,
                Err(_) => return Ended::Lost,
            },
            Some(None) | Some(Some(Err(_))) => return Ended::Lost,
            Some(Some(Ok(n))) => n,
        };
        let notice = match notification.channel.as_str() {
            EVENTS_CHANNEL => match parse_events_payload(&notification.payload) {
                Ok(events) => Notice::Events(events),
                Err(e) => {
                    tracing::error!(error = %e, "ignoring a malformed event notification");
                    continue;
                }
            },
            REVOCATIONS_CHANNEL => match Revocation::parse(&notification.payload) {
                Revocation::Token(jti) => Notice::Revoked(jti),
                Revocation::User(generation) => Notice::UserRevoked(generation),
            },
            _ => continue,
        };
        if !tx.send(notice).await {
            return Ended::Stop;
        }
    }
}
