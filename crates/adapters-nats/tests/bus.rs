//! The NATS adapter against a real NATS server with JetStream: `NATS_TEST_URL`, else the one on
//! 127.0.0.1:4222, else a private `nats-server` started here (Debian's package; `make test`
//! installs it when missing). Each test has its own stream and subjects, deleted after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use adapters_nats::testing::nats_url;
use adapters_nats::{NatsBus, NatsConfig, NatsEventSource, NatsRevocationSource, connect};
use async_nats::jetstream;
use domain::{EventType, FulfillmentStatus, OrderStatus, PaymentStatus};
use ports::{
    EventBus, EventSource, LoggedRevocation, Revocation, RevocationNotice, RevocationSource,
    SourceNotice, StoredEvent, UserGeneration,
};
use time::OffsetDateTime;
use tokio::sync::watch;
use uuid::Uuid;

fn config() -> NatsConfig {
    let tag = Uuid::now_v7().simple().to_string();
    NatsConfig {
        urls: nats_url(),
        stream: format!("OMS_TEST_{tag}"),
        replicas: 1,
        subject_prefix: format!("oms-test.{tag}"),
        retention: Duration::from_secs(3600),
    }
}

fn event(id: i64) -> StoredEvent {
    StoredEvent {
        id,
        kind: EventType::OrderCreated,
        order_id: Uuid::from_u128(id as u128),
        user_id: 7,
        from_status: None,
        to_status: OrderStatus::Pending,
        payment_status: PaymentStatus::Unpaid,
        fulfillment_status: FulfillmentStatus::Unfulfilled,
        total_amount: 1_000 + id,
        refunded_amount: 0,
        shipment_id: None,
        refund_id: None,
        amount: None,
        actor: None,
        note: None,
        occurred_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
    }
}

fn events(ids: &[i64]) -> Vec<StoredEvent> {
    ids.iter().copied().map(event).collect()
}

/// Every message of the stream: (subject, `Nats-Msg-Id`, event).
async fn stored(
    client: &async_nats::Client,
    config: &NatsConfig,
) -> Vec<(String, i64, StoredEvent)> {
    let js = jetstream::new(client.clone());
    let mut stream = js.get_stream(&config.stream).await.unwrap();
    let info = stream.info().await.unwrap().clone();
    let mut out = Vec::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        if info.state.messages == 0 {
            break;
        }
        let message = stream.get_raw_message(seq).await.unwrap();
        let id = message
            .headers
            .get("Nats-Msg-Id")
            .unwrap()
            .as_str()
            .parse()
            .unwrap();
        let event = StoredEvent::from_json(std::str::from_utf8(&message.payload).unwrap()).unwrap();
        out.push((message.subject.to_string(), id, event));
    }
    out
}

async fn delete(client: &async_nats::Client, config: &NatsConfig) {
    let js = jetstream::new(client.clone());
    let _ = js.delete_stream(&config.stream).await;
    let _ = js.delete_stream(&config.revocations_stream()).await;
}

#[tokio::test]
async fn publishes_each_event_once_in_order_and_refuses_gaps() {
    let config = config();
    let client = connect(&config).await.unwrap();
    let bus = NatsBus::new(client.clone(), config.clone());
    assert_eq!(
        bus.last_published().await.unwrap(),
        0,
        "a new stream is empty"
    );

    bus.publish(&events(&[1, 2, 4]), 0).await.unwrap();
    assert_eq!(bus.last_published().await.unwrap(), 4);
    // A repeat (a publisher that took over and re-read too little) is dropped by the stream.
    bus.publish(&events(&[4]), 2).await.ok();
    // A gap or a stale predecessor is refused, and nothing after it is stored.
    assert!(bus.publish(&events(&[9]), 7).await.is_err());
    assert!(bus.publish(&events(&[5, 6]), 2).await.is_err());
    bus.publish(&events(&[5, 6]), 4).await.unwrap();

    let stored = stored(&client, &config).await;
    let ids: Vec<i64> = stored.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(ids, vec![1, 2, 4, 5, 6]);
    for (subject, id, event) in &stored {
        assert_eq!(event, &self::event(*id), "the payload is the event's JSON");
        assert_eq!(
            subject,
            &format!(
                "{}.7.{}",
                config.subject_prefix,
                Uuid::from_u128(*id as u128)
            )
        );
    }
    delete(&client, &config).await;
}

#[tokio::test]
async fn a_deleted_stream_is_created_again_empty() {
    let config = config();
    let client = connect(&config).await.unwrap();
    let bus = NatsBus::new(client.clone(), config.clone());
    assert_eq!(bus.last_published().await.unwrap(), 0);
    bus.publish(&events(&[1, 2]), 0).await.unwrap();
    delete(&client, &config).await;
    assert!(
        bus.publish(&events(&[3]), 2).await.is_err(),
        "no stream: refused"
    );
    assert_eq!(
        bus.last_published().await.unwrap(),
        0,
        "so the publisher refills it from the log"
    );
    bus.publish(&events(&[1, 2, 3]), 0).await.unwrap();
    assert_eq!(bus.last_published().await.unwrap(), 3);
    delete(&client, &config).await;
}

#[tokio::test]
async fn the_source_resumes_then_hands_over_what_is_published_in_order() {
    let config = config();
    let client = connect(&config).await.unwrap();
    let bus = NatsBus::new(client.clone(), config.clone());
    assert_eq!(bus.last_published().await.unwrap(), 0);
    bus.publish(&events(&[1]), 0).await.unwrap(); // before the source: not handed over
    let (_stop, stopped) = watch::channel(false);
    let (mut source, _task) = NatsEventSource::spawn(client.clone(), config.clone(), stopped);
    let first = tokio::time::timeout(Duration::from_secs(10), source.next())
        .await
        .unwrap();
    assert_eq!(first, Some(SourceNotice::Resumed));
    bus.publish(&events(&[2, 3, 5]), 1).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), source.next())
            .await
            .unwrap()
        {
            Some(SourceNotice::Committed(batch)) => seen.extend(batch.into_iter().map(|e| e.id)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec![2, 3, 5]);
    delete(&client, &config).await;
}

#[tokio::test]
async fn a_stream_whose_messages_aged_out_takes_the_log_again() {
    let config = config();
    let client = connect(&config).await.unwrap();
    let bus = NatsBus::new(client.clone(), config.clone());
    assert_eq!(bus.last_published().await.unwrap(), 0);
    bus.publish(&events(&[1, 2]), 0).await.unwrap();
    // What `max_age` does: no message left, but the sequence is past 0.
    jetstream::new(client.clone())
        .get_stream(&config.stream)
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();
    assert_eq!(bus.last_published().await.unwrap(), 0);
    bus.publish(&events(&[3, 4]), 0).await.unwrap();
    assert_eq!(bus.last_published().await.unwrap(), 4);
    // A publisher that still believes the stream empty is refused.
    assert!(bus.publish(&events(&[5]), 0).await.is_err());
    let ids: Vec<i64> = stored(&client, &config)
        .await
        .iter()
        .map(|(_, id, _)| *id)
        .collect();
    assert_eq!(ids, vec![3, 4]);
    delete(&client, &config).await;
}

fn logged(id: i64) -> LoggedRevocation {
    LoggedRevocation {
        id,
        revocation: if id % 2 == 0 {
            Revocation::Token(format!("{id:032x}"))
        } else {
            Revocation::User(UserGeneration {
                user_id: id,
                min_generation: id + 1,
            })
        },
    }
}

#[tokio::test]
async fn revocations_travel_on_their_own_stream_once_each_in_order() {
    let config = config();
    let client = connect(&config).await.unwrap();
    let bus = NatsBus::new(client.clone(), config.clone());
    assert_eq!(bus.last_revocation_published().await.unwrap(), 0);
    bus.publish_revocations(&[logged(1)], 0).await.unwrap(); // before the source
    let (_stop, stopped) = watch::channel(false);
    let (mut source, _task) = NatsRevocationSource::spawn(client.clone(), config.clone(), stopped);
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), source.next())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(next().await, RevocationNotice::Reconnected);
    bus.publish_revocations(&[logged(2), logged(3)], 1)
        .await
        .unwrap();
    // A repeat is dropped; a gap is refused.
    bus.publish_revocations(&[logged(3)], 2).await.ok();
    assert!(bus.publish_revocations(&[logged(9)], 7).await.is_err());
    bus.publish_revocations(&[logged(4)], 3).await.unwrap();
    assert_eq!(bus.last_revocation_published().await.unwrap(), 4);
    for id in [2, 3, 4] {
        assert_eq!(next().await, RevocationNotice::from(logged(id).revocation));
    }
    // The events' stream is untouched, and its consumers hear none of it.
    assert_eq!(bus.last_published().await.unwrap(), 0);
    delete(&client, &config).await;
}
