//! The event relay: the one path committed events take to their consumers.
//!
//! An [`EventRelay`] pulls notices from the instance's [`EventSource`] (today the `LISTEN`
//! connection) and hands every committed event to each of its [`EventSink`]s (the real-time hub;
//! webhooks and email to come), once and in id order. Event ids are taken in commit order (see
//! `docs/architecture.md`), so "in id order, nothing skipped" is what the relay has to keep:
//!
//! - It remembers the greatest id it handed over (at start, the newest stored event).
//! - A notice's events at or below that id were handed over already: skipped (a duplicate, or an
//!   event the log replay already delivered).
//! - An event further on than the next id leaves a gap: before it, the relay reads the
//!   [`EventLog`] after its last id and hands over whatever it finds (usually nothing: a
//!   rolled-back transaction took those ids).
//! - [`SourceNotice::Resumed`] (every (re)connection of the source, notices sent meanwhile lost):
//!   it reads the log after its last id, page by page, and hands all of it over.
//!
//! A failing log read is retried with backoff ([`RelaySettings`]); when it still fails the relay
//! goes on without it: after a reconnect its last id stays where it was, so the next notice leaves
//! a gap and the read is tried again then; for a gap, the notice's events are handed over and the
//! gap's are not (clients that missed them resume with `since`). A failing sink is logged and
//! does not hold back the others or the next events. Sinks are called one after the other, so each
//! must return quickly ([`EventSink::deliver`]).
//!
//! To add a consumer: implement [`EventSink`] and register it with [`EventRelay::with_sink`] in
//! `api`'s `startup.rs`.

use std::sync::Arc;
use std::time::Duration;

use ports::{EventLog, EventSink, EventSource, SourceNotice, StoreError, StoredEvent};

/// How the relay reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// Events per log read.
    pub batch: u32,
    /// Tries of one log read before the relay goes on without it.
    pub read_attempts: u32,
    /// The pause after the first failed read; it doubles after each (up to 32 times this).
    pub first_retry: Duration,
}

impl Default for RelaySettings {
    /// 500 events a read, 8 tries, 200 ms doubling (about 6 s in all).
    fn default() -> Self {
        RelaySettings {
            batch: 500,
            read_attempts: 8,
            first_retry: Duration::from_millis(200),
        }
    }
}

/// Hands committed events from a source to its sinks, in id order, each once.
pub struct EventRelay {
    source: Box<dyn EventSource>,
    log: Arc<dyn EventLog>,
    sinks: Vec<Arc<dyn EventSink>>,
    settings: RelaySettings,
    /// The greatest id handed over (or where delivery starts); `None` until known.
    last: Option<i64>,
}

impl EventRelay {
    /// A relay with no sink yet, that does not know where to start: call
    /// [`EventRelay::after_latest`], or it reads the newest id at the source's first
    /// [`SourceNotice::Resumed`].
    pub fn new(source: Box<dyn EventSource>, log: Arc<dyn EventLog>) -> EventRelay {
        EventRelay {
            source,
            log,
            sinks: Vec::new(),
            settings: RelaySettings::default(),
            last: None,
        }
    }

    /// Adds a sink; sinks are called in the order they were added.
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>) -> EventRelay {
        self.sinks.push(sink);
        self
    }

    #[must_use]
    pub fn with_settings(mut self, settings: RelaySettings) -> EventRelay {
        self.settings = settings;
        self
    }

    /// Starts delivery after the newest stored event, read now. Do this before clients can
    /// connect: the source's first [`SourceNotice::Resumed`] then replays whatever committed
    /// between this read and its first connection. When the read fails, the relay reads it again at
    /// that notice.
    pub async fn after_latest(mut self) -> EventRelay {
        self.read_start().await;
        self
    }

    /// The greatest id handed to the sinks (or where delivery starts), when known.
    pub fn last_delivered(&self) -> Option<i64> {
        self.last
    }

    /// Relays until the source stops.
    pub async fn run(mut self) {
        while let Some(notice) = self.source.next().await {
            self.handle(notice).await;
        }
        tracing::debug!(last = ?self.last, "event source stopped; relay ends");
    }

    /// Handles one notice of the source.
    pub async fn handle(&mut self, notice: SourceNotice) {
        match notice {
            SourceNotice::Committed(events) => self.committed(events).await,
            SourceNotice::Resumed => match self.last {
                Some(after) => self.catch_up(after, None).await,
                None => self.read_start().await,
            },
        }
    }

    async fn read_start(&mut self) {
        match self.log.latest_id().await {
            Ok(id) => self.last = Some(id),
            Err(error) => tracing::warn!(%error, "event relay: reading the newest event id"),
        }
    }

    async fn committed(&mut self, events: Vec<StoredEvent>) {
        let mut fresh: Vec<StoredEvent> = Vec::with_capacity(events.len());
        for event in events {
            match fresh.last().map(|e| e.id).or(self.last) {
                // Handed over already.
                Some(last) if event.id <= last => {}
                Some(last) if event.id > last.saturating_add(1) => {
                    self.hand_over(std::mem::take(&mut fresh)).await;
                    self.catch_up(last, Some(event.id)).await;
                    if self.last.is_none_or(|l| event.id > l) {
                        fresh.push(event);
                    }
                }
                _ => fresh.push(event),
            }
        }
        self.hand_over(fresh).await;
    }

    /// Hands over every stored event after `after`, page by page, until a page reaches `until`
    /// (when given) or the end of the log.
    async fn catch_up(&mut self, mut after: i64, until: Option<i64>) {
        loop {
            let Some(page) = self.read_after(after).await else {
                return;
            };
            let Some(newest) = page.last().map(|e| e.id) else {
                return;
            };
            let complete = page.len() < self.settings.batch as usize;
            tracing::debug!(
                after,
                events = page.len(),
                "event relay: handing over from the log"
            );
            self.hand_over(page).await;
            after = newest;
            if complete || until.is_some_and(|until| newest >= until) {
                return;
            }
        }
    }

    /// One page of the log after `after`, retried with backoff; `None` when every try failed.
    async fn read_after(&self, after: i64) -> Option<Vec<StoredEvent>> {
        let mut pause = self.settings.first_retry;
        let mut attempt = 1;
        loop {
            match self
                .log
                .events_after(after, None, self.settings.batch)
                .await
            {
                Ok(page) => return Some(page),
                Err(error) if attempt < self.settings.read_attempts => {
                    log_read_failure(&error, after, attempt);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.settings.first_retry * 32);
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(%error, after, "event relay: giving up reading the event log");
                    return None;
                }
            }
        }
    }

    /// Gives `events` (id ascending, all after `last`) to every sink.
    async fn hand_over(&mut self, events: Vec<StoredEvent>) {
        let (Some(first), Some(newest)) = (events.first(), events.last()) else {
            return;
        };
        let (first, newest) = (first.id, newest.id);
        for sink in &self.sinks {
            if let Err(error) = sink.deliver(&events).await {
                let sink = sink.name();
                tracing::error!(%error, sink, first, last = newest, "event sink failed");
            }
        }
        self.last = Some(newest);
    }
}

fn log_read_failure(error: &StoreError, after: i64, attempt: u32) {
    tracing::warn!(%error, after, attempt, "event relay: reading the event log failed; retrying");
}

#[cfg(test)]
mod tests;
