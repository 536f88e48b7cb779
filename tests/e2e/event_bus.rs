//! `EVENT_BUS=nats` against a real NATS server with JetStream ([`adapters_nats::testing`]): two
//! instances whose clients get every event once and in order while both take writes, the stream
//! holding each committed event once in commit order, a deleted stream refilled from the log, and
//! the publisher's instance killed with `kill -9` (another takes over), and token revocations
//! reaching the other instance over the bus with no `LISTEN` connection at all.

use std::time::Duration;

use adapters_nats::testing::nats_url;
use async_nats::jetstream;
use e2e::{TestApp, eventually, spawn_app_with};
use uuid::Uuid;

use crate::oms_process::OmsProcess;
use crate::realtime::{next_event, place, stored_ids, ws_connect};

const WAIT: Duration = Duration::from_secs(20);

/// A stream and subjects of this test's own.
struct Stream {
    name: String,
    prefix: String,
}

impl Stream {
    fn new() -> Stream {
        let tag = Uuid::now_v7().simple().to_string();
        Stream {
            name: format!("OMS_E2E_{tag}"),
            prefix: format!("oms-e2e.{tag}"),
        }
    }

    fn apply(&self, settings: &mut api::config::Settings) {
        settings.bus.kind = api::config::BusKind::Nats;
        settings.bus.nats_url = nats_url();
        settings.bus.nats_stream = self.name.clone();
        settings.bus.nats_subject_prefix = self.prefix.clone();
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EVENT_BUS", "nats".to_owned()),
            ("NATS_URL", nats_url()),
            ("NATS_STREAM", self.name.clone()),
            ("NATS_SUBJECT_PREFIX", self.prefix.clone()),
        ]
    }

    async fn context(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(nats_url()).await.unwrap())
    }

    /// The event ids the stream holds (`Nats-Msg-Id`), in stream order.
    async fn ids(&self) -> Vec<i64> {
        let js = self.context().await;
        let Ok(mut stream) = js.get_stream(&self.name).await else {
            return Vec::new();
        };
        let state = stream.info().await.unwrap().state.clone();
        let mut ids = Vec::new();
        if state.messages == 0 {
            return ids;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(seq).await.unwrap();
            let id = message.headers.get("Nats-Msg-Id").unwrap().as_str();
            ids.push(id.parse().unwrap());
        }
        ids
    }

    /// Waits until the stream holds exactly the events the database holds.
    async fn holds_all_of(&self, app: &TestApp) -> Vec<i64> {
        eventually(
            "the stream holds every stored event once, in order",
            WAIT,
            async || {
                let stored = stored_ids(app).await;
                (self.ids().await == stored).then_some(stored)
            },
        )
        .await
    }

    async fn delete(&self) {
        let js = self.context().await;
        let _ = js.delete_stream(&self.name).await;
        let _ = js.delete_stream(format!("{}_REVOCATIONS", self.name)).await;
    }
}

/// Reads `n` events from `ws`, returning their ids.
async fn read_ids(ws: &mut crate::realtime::Ws, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(next_event(ws).await["id"].as_i64().unwrap());
    }
    ids
}

#[tokio::test]
async fn clients_of_both_instances_get_every_event_once_in_order_from_the_stream() {
    let stream = Stream::new();
    let a = std::sync::Arc::new(spawn_app_with(|s| stream.apply(s)).await);
    let b = std::sync::Arc::new(a.second_instance().await);
    let product = a.product("Lamp", 1_500, 1_000).await;
    let admin = a.admin().await;
    let token = a.bearer(&admin.email).await;
    let mut on_a = ws_connect(&a, &token, None).await;
    let mut on_b = ws_connect(&b, &token, None).await;
    let before = stored_ids(&a).await.len();

    // Four writers, two on each instance, placing at once.
    let mut writers = Vec::new();
    for i in 0..4 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let customer = app.customer().await;
        writers.push(tokio::spawn(async move {
            for _ in 0..5 {
                place(&app, &customer, product.id).await;
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let stored = stored_ids(&a).await;
    let new: Vec<i64> = stored[before..].to_vec();
    assert_eq!(new.len(), 20);
    assert_eq!(
        read_ids(&mut on_a, 20).await,
        new,
        "instance a: every event once, in order"
    );
    assert_eq!(
        read_ids(&mut on_b, 20).await,
        new,
        "instance b: every event once, in order"
    );
    stream.holds_all_of(&a).await;
    stream.delete().await;
}

#[tokio::test]
async fn a_deleted_stream_is_refilled_from_the_log() {
    let stream = Stream::new();
    let app = spawn_app_with(|s| stream.apply(s)).await;
    let product = app.product("Lamp", 1_500, 100).await;
    let customer = app.customer().await;
    place(&app, &customer, product.id).await;
    stream.holds_all_of(&app).await;

    stream.delete().await;
    let admin = app.admin().await;
    let token = app.bearer(&admin.email).await;
    let mut ws = ws_connect(&app, &token, None).await;
    let order = place(&app, &customer, product.id).await;
    let held = stream.holds_all_of(&app).await;
    assert!(
        held.len() >= 2,
        "the old events are back, then the new one: {held:?}"
    );
    let event = next_event(&mut ws).await;
    assert_eq!(event["order_id"], order.as_str(), "live delivery goes on");
    stream.delete().await;
}

#[tokio::test]
async fn when_the_publishers_instance_is_killed_another_takes_over() {
    let stream = Stream::new();
    // The database, with an instance on the default bus (it publishes nothing to NATS).
    let base = e2e::spawn_app().await;
    let product = base.product("Lamp", 1_500, 100).await;
    let env = stream.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = OmsProcess::start(base.database_url(), &env);
    eventually("the process publishes", WAIT, async || {
        let logs = first.logs.lock().unwrap();
        logs.iter()
            .any(|line| line.contains("this instance publishes events to the bus"))
            .then_some(())
    })
    .await;
    // A second instance on NATS waits for the lease meanwhile.
    let second = base.instance_with(|s| stream.apply(s)).await;
    let customer = second.customer().await;
    place(&second, &customer, product.id).await;
    stream.holds_all_of(&second).await;

    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let admin = second.admin().await;
    let token = second.bearer(&admin.email).await;
    let mut ws = ws_connect(&second, &token, None).await;
    for _ in 0..3 {
        place(&second, &customer, product.id).await;
    }
    stream.holds_all_of(&second).await;
    let stored = stored_ids(&second).await;
    assert_eq!(
        read_ids(&mut ws, 3).await,
        stored[stored.len() - 3..].to_vec()
    );
    stream.delete().await;
}

/// `GET /api/auth/me` on `app` with `bearer`: its status.
async fn me(app: &TestApp, bearer: &str) -> u16 {
    e2e::plain_client()
        .get(app.url("/api/auth/me"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn revocations_reach_every_instance_over_the_bus_without_listen() {
    let stream = Stream::new();
    let a = spawn_app_with(|s| stream.apply(s)).await;
    let b = a.second_instance().await;
    let admin = a.admin().await;
    let customer = a.customer().await;
    let logged_out = b.bearer(&customer.email).await;
    let other = b.bearer(&customer.email).await;
    let mut ws = ws_connect(&b, &logged_out, None).await;
    assert_eq!(
        (me(&b, &logged_out).await, me(&b, &other).await),
        (200, 200)
    );
    // Neither instance listens: revocations come over NATS too.
    let listening = "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND application_name = 'oms-listener'";
    assert_eq!(e2e::count(&a.pool, listening).await, 0);

    // A logout on `a` (one token) ends it on `b` within a second, socket included.
    let out = e2e::plain_client()
        .post(a.url("/api/auth/logout"))
        .bearer_auth(&logged_out)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    eventually(
        "b to refuse the logged-out token",
        Duration::from_secs(1),
        async || (me(&b, &logged_out).await == 401).then_some(()),
    )
    .await;
    assert_eq!(
        crate::customers::close_code(&mut ws).await,
        tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Policy
    );
    assert_eq!(me(&b, &other).await, 200, "the other session lives on");

    // Disabling the user on `a` (every token below a generation) ends the other one on `b`.
    let response = crate::customers::change(
        &a,
        &admin,
        customer.user_id,
        serde_json::json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    eventually(
        "b to refuse the disabled user's token",
        Duration::from_secs(1),
        async || (me(&b, &other).await == 401).then_some(()),
    )
    .await;
    stream.delete().await;
}
