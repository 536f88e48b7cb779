//! The event bus on NATS JetStream (API.md, "Event bus"; `EVENT_BUS=nats`).
//!
//! - [`NatsBus`]: the [`EventBus`] the one publisher writes to (`app::bus::BusPublisher`): each
//!   committed event once, subject `{prefix}.{user_id}.{order_id}`, the event JSON as payload,
//!   `Nats-Msg-Id` = its id (the stream drops a repeat), `Nats-Expected-Last-Msg-Id` = its
//!   predecessor's (the stream refuses a gap or a reorder).
//! - [`NatsEventSource`]: the [`EventSource`] of an instance's event relay: an ordered push
//!   consumer of the stream from the moment it starts (`Resumed` then, and after every
//!   re-creation: the relay catches up from the event log, PostgreSQL being the record).
//! - Token revocations travel the same way on a second stream, `{NATS_STREAM}_REVOCATIONS`
//!   (subject `{prefix}-revocations`, outside the events' `{prefix}.>`): the publisher writes the
//!   revocation log to it ([`EventBus::publish_revocations`], message id = the log's id), and every
//!   instance follows it with an ordered consumer ([`NatsRevocationSource`]: `Reconnected` at each
//!   (re)creation, when the instance reloads its revocation set from PostgreSQL).
//!
//! The streams are created when missing (file storage, `NATS_REPLICAS` replicas, a two-minute
//! duplicate window; events kept `EVENT_RETENTION`, revocations a day).

pub mod testing;

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, ServerAddr};
use async_trait::async_trait;
use futures_util::StreamExt;
use ports::{
    BusError, EventBus, EventSource, LoggedRevocation, Revocation, RevocationNotice,
    RevocationSource, SourceNotice, StoredEvent,
};
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

/// How long the revocations' stream keeps a message (instances read it live; a new one reloads
/// from PostgreSQL).
const REVOCATIONS_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Which of the two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Events,
    Revocations,
}

impl NatsConfig {
    /// The subject of token revocations.
    pub fn revocations_subject(&self) -> String {
        format!("{}-revocations", self.subject_prefix)
    }

    /// The name of the revocations' stream.
    pub fn revocations_stream(&self) -> String {
        format!("{}_REVOCATIONS", self.stream)
    }

    /// The subjects a consumer of `which` follows.
    fn filter(&self, which: Which) -> String {
        match which {
            Which::Events => format!("{}.>", self.subject_prefix),
            Which::Revocations => self.revocations_subject(),
        }
    }

    /// The configuration of `which`.
    fn stream_config(&self, which: Which) -> stream::Config {
        let (name, max_age) = match which {
            Which::Events => (self.stream.clone(), self.retention),
            Which::Revocations => (self.revocations_stream(), REVOCATIONS_RETENTION),
        };
        stream::Config {
            name,
            subjects: vec![self.filter(which)],
            num_replicas: self.replicas.max(1),
            duplicate_window: DUPLICATE_WINDOW,
            max_age,
            storage: stream::StorageType::File,
            ..stream::Config::default()
        }
    }
}

/// The stream `which`, created when missing.
async fn stream_of(
    js: &jetstream::Context,
    config: &NatsConfig,
    which: Which,
) -> Result<stream::Stream, BusError> {
    let stream_config = config.stream_config(which);
    let name = stream_config.name.clone();
    js.get_or_create_stream(stream_config)
        .await
        .map_err(|error| BusError(format!("stream {name}: {error}")))
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

/// One message to publish: its id (the message id) and what it carries.
struct Outgoing {
    id: i64,
    subject: String,
    payload: String,
}

impl NatsBus {
    /// The id of the last message of `which` (its `Nats-Msg-Id`), 0 when it holds none.
    async fn last_id(&self, which: Which) -> Result<i64, BusError> {
        let mut stream = stream_of(&self.js, &self.config, which).await?;
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
            .ok_or_else(|| BusError(format!("message {last} has no id")))
    }

    /// Publishes `messages` to `which`, the first directly after `previous` (0: the stream is
    /// empty), each with its id as message id and its predecessor's as the expected last one.
    async fn publish_chain(
        &self,
        which: Which,
        messages: Vec<Outgoing>,
        previous: i64,
    ) -> Result<(), BusError> {
        let mut acks = Vec::with_capacity(messages.len());
        let mut before = previous;
        for Outgoing {
            id,
            subject,
            payload,
        } in messages
        {
            let mut message = PublishMessage::build()
                .payload(payload.into())
                .message_id(id.to_string());
            message = if before == 0 {
                // An empty stream: its last sequence, which is past 0 once messages aged out.
                message.expected_last_sequence(self.empty_stream_sequence(which).await?)
            } else {
                message.expected_last_message_id(before.to_string())
            };
            let ack = self
                .js
                .send_publish(subject, message)
                .await
                .map_err(|error| BusError(format!("publishing {id}: {error}")))?;
            acks.push((id, ack));
            before = id;
        }
        for (id, ack) in acks {
            ack.await
                .map_err(|error| BusError(format!("message {id} not taken: {error}")))?;
        }
        Ok(())
    }

    /// The last sequence of `which`, which must hold no message (else the publisher's idea of
    /// it is stale: refused, it reads the stream again).
    async fn empty_stream_sequence(&self, which: Which) -> Result<u64, BusError> {
        let mut stream = stream_of(&self.js, &self.config, which).await?;
        let info = stream
            .info()
            .await
            .map_err(|error| BusError(format!("stream info: {error}")))?;
        if info.state.messages > 0 {
            return Err(BusError(String::from(
                "the stream is not empty: read its last message again",
            )));
        }
        Ok(info.state.last_sequence)
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn last_published(&self) -> Result<i64, BusError> {
        self.last_id(Which::Events).await
    }

    async fn publish(&self, events: &[StoredEvent], previous: i64) -> Result<(), BusError> {
        let messages = events
            .iter()
            .map(|event| Outgoing {
                id: event.id,
                subject: subject(&self.config.subject_prefix, event),
                payload: event.to_json(),
            })
            .collect();
        self.publish_chain(Which::Events, messages, previous).await
    }

    async fn last_revocation_published(&self) -> Result<i64, BusError> {
        self.last_id(Which::Revocations).await
    }

    async fn publish_revocations(
        &self,
        revocations: &[LoggedRevocation],
        previous: i64,
    ) -> Result<(), BusError> {
        let subject = self.config.revocations_subject();
        let messages = revocations
            .iter()
            .map(|logged| Outgoing {
                id: logged.id,
                subject: subject.clone(),
                payload: logged.revocation.payload(),
            })
            .collect();
        self.publish_chain(Which::Revocations, messages, previous)
            .await
    }
}

/// What an instance hears from one stream, from when it starts following: [`NatsEventSource`]
/// or [`NatsRevocationSource`].
pub struct NatsSource<T> {
    rx: mpsc::UnboundedReceiver<T>,
}

/// The instance's source of committed events.
pub type NatsEventSource = NatsSource<SourceNotice>;
/// The instance's source of token revocations.
pub type NatsRevocationSource = NatsSource<RevocationNotice>;

impl<T: Clone + Send + Sync + 'static> NatsSource<T> {
    fn start(
        follower: Follower<T>,
        client: Client,
        config: NatsConfig,
        stop: watch::Receiver<bool>,
    ) -> (NatsSource<T>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(follower.run(client, config, tx, stop));
        (NatsSource { rx }, task)
    }
}

#[async_trait]
impl EventSource for NatsEventSource {
    async fn next(&mut self) -> Option<SourceNotice> {
        self.rx.recv().await
    }
}

impl NatsEventSource {
    /// Follows the events' stream until `stop` (see the module docs).
    pub fn spawn(
        client: Client,
        config: NatsConfig,
        stop: watch::Receiver<bool>,
    ) -> (NatsEventSource, tokio::task::JoinHandle<()>) {
        let follower = Follower {
            which: Which::Events,
            resumed: SourceNotice::Resumed,
            read: read_event,
        };
        NatsSource::start(follower, client, config, stop)
    }
}

#[async_trait]
impl RevocationSource for NatsRevocationSource {
    async fn next(&mut self) -> Option<RevocationNotice> {
        self.rx.recv().await
    }
}

impl NatsRevocationSource {
    /// Follows the revocations' stream until `stop` (see the module docs).
    pub fn spawn(
        client: Client,
        config: NatsConfig,
        stop: watch::Receiver<bool>,
    ) -> (NatsRevocationSource, tokio::task::JoinHandle<()>) {
        let follower = Follower {
            which: Which::Revocations,
            resumed: RevocationNotice::Reconnected,
            read: read_revocation,
        };
        NatsSource::start(follower, client, config, stop)
    }
}

/// An event message: one committed event.
fn read_event(payload: &[u8]) -> Result<SourceNotice, String> {
    let event = std::str::from_utf8(payload)
        .map_err(|error| error.to_string())
        .and_then(StoredEvent::from_json)?;
    Ok(SourceNotice::Committed(vec![event]))
}

/// A revocation message: a jti or `user:<id>:<generation>`.
fn read_revocation(payload: &[u8]) -> Result<RevocationNotice, String> {
    let payload = std::str::from_utf8(payload).map_err(|error| error.to_string())?;
    if payload.is_empty() {
        return Err(String::from("an empty revocation"));
    }
    Ok(RevocationNotice::from(Revocation::parse(payload)))
}

/// Follows one stream with an ordered consumer, re-created after a failure.
struct Follower<T> {
    which: Which,
    /// Sent at each (re)creation: what came before may have been missed.
    resumed: T,
    /// A message's payload, or why it is not ours.
    read: fn(&[u8]) -> Result<T, String>,
}

impl<T: Clone + Send + Sync + 'static> Follower<T> {
    async fn run(
        self,
        client: Client,
        config: NatsConfig,
        tx: mpsc::UnboundedSender<T>,
        mut stop: watch::Receiver<bool>,
    ) {
        let js = jetstream::new(client.clone());
        loop {
            tokio::select! {
                ended = self.follow(&client, &js, &config, &tx) => {
                    if let Err(error) = ended {
                        tracing::warn!(%error, stream = ?self.which, "following the stream failed; following again");
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

    /// One ordered consumer, from now: `resumed`, then every message it delivers.
    async fn follow(
        &self,
        client: &Client,
        js: &jetstream::Context,
        config: &NatsConfig,
        tx: &mpsc::UnboundedSender<T>,
    ) -> Result<(), BusError> {
        let stream = stream_of(js, config, self.which).await?;
        let consumer = stream
            .create_consumer(OrderedConfig {
                deliver_subject: client.new_inbox(),
                filter_subject: config.filter(self.which),
                deliver_policy: DeliverPolicy::New,
                ..OrderedConfig::default()
            })
            .await
            .map_err(|error| BusError(format!("consumer: {error}")))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|error| BusError(format!("consumer messages: {error}")))?;
        if tx.send(self.resumed.clone()).is_err() {
            return Ok(());
        }
        while let Some(message) = messages.next().await {
            let message = message.map_err(|error| BusError(format!("consumer: {error}")))?;
            match (self.read)(&message.payload) {
                Ok(notice) => {
                    if tx.send(notice).is_err() {
                        return Ok(());
                    }
                }
                // Not ours (something else published on our subjects): skipped.
                Err(error) => {
                    tracing::warn!(subject = %message.subject, %error, "unreadable message on the stream")
                }
            }
        }
        Err(BusError(String::from("the consumer ended")))
    }
}
