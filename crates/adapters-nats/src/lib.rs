//! The event bus on NATS JetStream (API.md, "Event bus"; `EVENT_BUS=nats`).
//!
//! - [`NatsBus`]: the [`EventBus`] the one publisher writes to (`app::bus::BusPublisher`): each
//!   committed event once, subject `{prefix}.{user_id}.{order_id}`, the event JSON as payload,
//!   `Nats-Msg-Id` = its id (the stream drops a repeat), `Nats-Expected-Last-Msg-Id` = its
//!   predecessor's (the stream refuses a gap or a reorder).
//! - [`NatsEventSource`]: the [`EventSource`] of an instance's event relay: an ordered push
//!   consumer of the stream from the moment it starts (`Resumed` then, and after every
//!   re-creation: the relay catches up from the event log, PostgreSQL being the record).
//!
//! The stream is created when missing (subjects `{prefix}.>`, file storage, `NATS_REPLICAS`
//! replicas, a two-minute duplicate window, events kept `EVENT_RETENTION`).

pub mod testing;

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, ServerAddr};
use async_trait::async_trait;
use futures_util::StreamExt;
use ports::{BusError, EventBus, EventSource, SourceNotice, StoredEvent};
use tokio::sync::{mpsc, watch};

/// Where the stream is and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// `NATS_URL`: one URL or several, comma-separated (a cluster).
    pub urls: String,
    /// `NATS_STREAM`.
    pub stream: String,
    /// `NATS_REPLICAS`.
    pub replicas: usize,
    /// The subjects' first tokens (`oms.events`): a consumer filters on
    /// `{prefix}.{user_id}.{order_id}`.
    pub subject_prefix: String,
    /// How long the stream keeps events (`EVENT_RETENTION`, as the event log).
    pub retention: Duration,
}

/// How long the stream remembers message ids for dropping repeats.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// The pause before following the stream again after a failure.
const RETRY: Duration = Duration::from_millis(500);

/// Connects to `config.urls` (retrying in the background when the servers go away).
pub async fn connect(config: &NatsConfig) -> Result<Client, BusError> {
    let servers: Vec<ServerAddr> = config
        .urls
        .split(',')
        .map(|url| url.trim().parse::<ServerAddr>())
        .collect::<Result<_, _>>()
        .map_err(|error| BusError(format!("NATS_URL: {error}")))?;
    async_nats::ConnectOptions::new()
        .name("oms")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(servers)
        .await
        .map_err(|error| BusError(format!("connecting to NATS: {error}")))
}

/// The stream's configuration.
fn stream_config(config: &NatsConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        num_replicas: config.replicas.max(1),
        duplicate_window: DUPLICATE_WINDOW,
        max_age: config.retention,
        storage: stream::StorageType::File,
        ..stream::Config::default()
    }
}

/// The stream, created when missing.
async fn stream_of(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> Result<stream::Stream, BusError> {
    js.get_or_create_stream(stream_config(config))
        .await
        .map_err(|error| BusError(format!("stream {}: {error}", config.stream)))
}

/// The subject of `event`.
pub fn subject(prefix: &str, event: &StoredEvent) -> String {
    format!("{prefix}.{}.{}", event.user_id, event.order_id)
}

/// The stream, as the publisher writes it.
#[derive(Clone)]
pub struct NatsBus {
    js: jetstream::Context,
    config: NatsConfig,
}

impl NatsBus {
    pub fn new(client: Client, config: NatsConfig) -> NatsBus {
        NatsBus {
            js: jetstream::new(client),
            config,
        }
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn last_published(&self) -> Result<i64, BusError> {
        let mut stream = stream_of(&self.js, &self.config).await?;
        let info = stream
            .info()
            .await
            .map_err(|error| BusError(format!("stream info: {error}")))?;
        if info.state.messages == 0 {
            return Ok(0);
        }
        let last = info.state.last_sequence;
        let message = stream
            .get_raw_message(last)
            .await
            .map_err(|error| BusError(format!("message {last}: {error}")))?;
        message
            .headers
            .get("Nats-Msg-Id")
            .and_then(|id| id.as_str().parse::<i64>().ok())
            .ok_or_else(|| BusError(format!("message {last} has no event id")))
    }

    async fn publish(&self, events: &[StoredEvent], previous: i64) -> Result<(), BusError> {
        let mut acks = Vec::with_capacity(events.len());
        let mut before = previous;
        for event in events {
            let mut message = PublishMessage::build()
                .payload(event.to_json().into())
                .message_id(event.id.to_string());
            message = if before == 0 {
                message.expected_last_sequence(0)
            } else {
                message.expected_last_message_id(before.to_string())
            };
            let ack = self
                .js
                .send_publish(subject(&self.config.subject_prefix, event), message)
                .await
                .map_err(|error| BusError(format!("publishing event {}: {error}", event.id)))?;
            acks.push((event.id, ack));
            before = event.id;
        }
        for (id, ack) in acks {
            ack.await
                .map_err(|error| BusError(format!("event {id} not taken: {error}")))?;
        }
        Ok(())
    }
}

/// The instance's source of committed events: the stream, from when it starts following.
pub struct NatsEventSource {
    rx: mpsc::UnboundedReceiver<SourceNotice>,
}

#[async_trait]
impl EventSource for NatsEventSource {
    async fn next(&mut self) -> Option<SourceNotice> {
        self.rx.recv().await
    }
}

impl NatsEventSource {
    /// Follows the stream until `stop` (see the module docs).
    pub fn spawn(
        client: Client,
        config: NatsConfig,
        stop: watch::Receiver<bool>,
    ) -> (NatsEventSource, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(follow_until(client, config, tx, stop));
        (NatsEventSource { rx }, task)
    }
}

async fn follow_until(
    client: Client,
    config: NatsConfig,
    tx: mpsc::UnboundedSender<SourceNotice>,
    mut stop: watch::Receiver<bool>,
) {
    let js = jetstream::new(client.clone());
    loop {
        tokio::select! {
            ended = follow(&client, &js, &config, &tx) => {
                if let Err(error) = ended {
                    tracing::warn!(%error, "following the event stream failed; following again");
                }
            }
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        if tx.is_closed() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
    }
}

/// One ordered consumer, from now: `Resumed`, then every event it delivers.
async fn follow(
    client: &Client,
    js: &jetstream::Context,
    config: &NatsConfig,
    tx: &mpsc::UnboundedSender<SourceNotice>,
) -> Result<(), BusError> {
    let stream = stream_of(js, config).await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_subject: client.new_inbox(),
            filter_subject: format!("{}.>", config.subject_prefix),
            deliver_policy: DeliverPolicy::New,
            ..OrderedConfig::default()
        })
        .await
        .map_err(|error| BusError(format!("consumer: {error}")))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|error| BusError(format!("consumer messages: {error}")))?;
    if tx.send(SourceNotice::Resumed).is_err() {
        return Ok(());
    }
    while let Some(message) = messages.next().await {
        let message = message.map_err(|error| BusError(format!("consumer: {error}")))?;
        let event = std::str::from_utf8(&message.payload)
            .map_err(|error| error.to_string())
            .and_then(StoredEvent::from_json);
        match event {
            Ok(event) => {
                if tx.send(SourceNotice::Committed(vec![event])).is_err() {
                    return Ok(());
                }
            }
            // Not ours (something else published on our subjects): skipped.
            Err(error) => {
                tracing::warn!(subject = %message.subject, %error, "unreadable event on the stream")
            }
        }
    }
    Err(BusError(String::from("the consumer ended")))
}
