//! A webhook receiver for `oms-bench webhooks`: a minimal HTTP/1.1 server on `127.0.0.1:0` (plain
//! tokio, no framework: it must cost the measured server as little as possible) that answers every
//! `POST` at once, `200`, or `500` to a given share of requests at random, and records for each
//! request its arrival time, its `webhook-id` header, the body's `id` and `occurred_at`, and the
//! status it answered.
//!
//! It reads `Content-Length` bodies only (what `reqwest` sends for a body of known size), keeps
//! connections alive, answers pipelined requests in order, and bounds everything: a head of at most
//! [`MAX_HEAD`] bytes, a body of at most [`MAX_BODY`], a connection idle for [`IDLE`] is closed, and
//! every connection ends when the receiver stops.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::http::Rng;

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// The longest request body read.
const MAX_BODY: usize = 1024 * 1024;
/// A connection with no request for this long is closed.
const IDLE: Duration = Duration::from_secs(30);

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
const FAIL: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";
const BAD: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// When its body had arrived whole.
    pub arrived: OffsetDateTime,
    pub webhook_id: Option<String>,
    /// The body's `id` (the event id).
    pub event_id: Option<i64>,
    /// The body's `occurred_at`, as sent.
    pub occurred_at: Option<String>,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Deserialize)]
struct Body {
    id: i64,
    occurred_at: String,
}

#[derive(Default)]
struct State {
    hits: Vec<Hit>,
    /// Event ids answered `200` at least once.
    delivered: HashSet<i64>,
}

/// A running receiver; stops when [`Receiver::stop`] is called or it is dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `127.0.0.1:0`; answers `500` to `fail_percent` % of requests, at random.
    pub async fn start(fail_percent: u32) -> anyhow::Result<Receiver> {
        if fail_percent > 100 {
            bail!("fail percent {fail_percent} is over 100");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, state.clone(), fail_percent, stop_rx));
        Ok(Receiver {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Distinct event ids answered `200` so far.
    pub fn delivered(&self) -> usize {
        lock(&self.state).delivered.len()
    }

    /// Whether every one of `ids` was answered `200` at least once.
    pub fn delivered_all(&self, ids: &HashSet<i64>) -> bool {
        let state = lock(&self.state);
        state.delivered.len() >= ids.len() && ids.iter().all(|id| state.delivered.contains(id))
    }

    /// Stops accepting and closes every connection; returns every request seen.
    pub async fn stop(mut self) -> Vec<Hit> {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = timeout(Duration::from_secs(5), task).await;
        }
        std::mem::take(&mut lock(&self.state).hits)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    fail_percent: u32,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let mut seed = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors, say: pause rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let conn = Connection {
                    state: state.clone(),
                    fail_percent,
                    rng: Rng::new(seed),
                };
                connections.spawn(conn.serve(stream, stop.clone()));
            }
            _ = stop.changed() => break,
        }
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

struct Connection {
    state: Arc<Mutex<State>>,
    fail_percent: u32,
    rng: Rng,
}

impl Connection {
    async fn serve(mut self, mut stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            // Answer every whole request already in the buffer.
            loop {
                match parse_request(&buf) {
                    Parsed::Incomplete => break,
                    Parsed::Bad => {
                        let _ = stream.write_all(BAD).await;
                        return;
                    }
                    Parsed::Request {
                        consumed,
                        webhook_id,
                        body,
                        close,
                    } => {
                        let arrived = OffsetDateTime::now_utc();
                        let fail = self.rng.below(100) < self.fail_percent as usize;
                        let answer = if fail { FAIL } else { OK };
                        self.record(arrived, webhook_id, &buf[body], fail);
                        buf.drain(..consumed);
                        if stream.write_all(answer).await.is_err() || close {
                            return;
                        }
                    }
                }
            }
            let read = tokio::select! {
                read = timeout(IDLE, stream.read(&mut chunk)) => read,
                _ = stop.changed() => return,
            };
            match read {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
    }

    fn record(&self, arrived: OffsetDateTime, webhook_id: Option<String>, body: &[u8], fail: bool) {
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        let event_id = parsed.as_ref().map(|b| b.id);
        let hit = Hit {
            arrived,
            webhook_id,
            event_id,
            occurred_at: parsed.map(|b| b.occurred_at),
            status: if fail { 500 } else { 200 },
        };
        let mut state = lock(&self.state);
        if let (false, Some(id)) = (fail, event_id) {
            state.delivered.insert(id);
        }
        state.hits.push(hit);
    }
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Incomplete,
    Bad,
    Request {
        /// Bytes of the buffer this request takes.
        consumed: usize,
        webhook_id: Option<String>,
        /// Where its body is in the buffer.
        body: std::ops::Range<usize>,
        /// `Connection: close` was asked.
        close: bool,
    },
}

/// The first request of `buf`, if whole.
fn parse_request(buf: &[u8]) -> Parsed {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Parsed::Bad
        } else {
            Parsed::Incomplete
        };
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Parsed::Bad;
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    if !request_line.ends_with("HTTP/1.1") && !request_line.ends_with("HTTP/1.0") {
        return Parsed::Bad;
    }
    let mut length = 0usize;
    let mut webhook_id = None;
    let mut close = request_line.ends_with("HTTP/1.0");
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Bad;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) if n <= MAX_BODY => length = n,
                _ => return Parsed::Bad,
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are not read: nothing the bench sends uses them.
            return Parsed::Bad;
        } else if name.eq_ignore_ascii_case("webhook-id") {
            webhook_id = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let body_start = head_end + 4;
    if buf.len() < body_start + length {
        return Parsed::Incomplete;
    }
    Parsed::Request {
        consumed: body_start + length,
        webhook_id,
        body: body_start..body_start + length,
        close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_whole_or_not_at_all() {
        let body = r#"{"id":7,"occurred_at":"2026-12-05T10:00:00Z"}"#;
        let request = format!(
            "POST /hook HTTP/1.1\r\nHost: x\r\nWebhook-Id: msg_1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let bytes = request.as_bytes();
        assert_eq!(parse_request(&bytes[..20]), Parsed::Incomplete);
        assert_eq!(parse_request(&bytes[..bytes.len() - 1]), Parsed::Incomplete);
        let mut two = bytes.to_vec();
        two.extend_from_slice(bytes);
        match parse_request(&two) {
            Parsed::Request {
                consumed,
                webhook_id,
                body: range,
                close,
            } => {
                assert_eq!(consumed, bytes.len());
                assert_eq!(webhook_id.as_deref(), Some("msg_1"));
                assert_eq!(&two[range], body.as_bytes());
                assert!(!close);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Bad
        );
        assert_eq!(parse_request(&vec![b'a'; MAX_HEAD + 1]), Parsed::Bad);
    }

    #[tokio::test]
    async fn answers_and_records() {
        let receiver = Receiver::start(0).await.unwrap();
        let client = reqwest::Client::new();
        for id in 1..=3 {
            let response = client
                .post(receiver.url("/hook"))
                .header("webhook-id", format!("msg_{id}"))
                .body(format!(
                    r#"{{"id":{id},"occurred_at":"2026-12-05T10:00:00Z"}}"#
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        assert_eq!(receiver.delivered(), 3);
        assert!(receiver.delivered_all(&[1, 2, 3].into()));
        assert!(!receiver.delivered_all(&[1, 2, 3, 4].into()));
        let hits = receiver.stop().await;
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[2].event_id, Some(3));
        assert_eq!(hits[2].webhook_id.as_deref(), Some("msg_3"));

        let failing = Receiver::start(100).await.unwrap();
        let response = client
            .post(failing.url("/hook"))
            .body(r#"{"id":1,"occurred_at":"x"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(failing.delivered(), 0);
        assert_eq!(failing.stop().await[0].status, 500);
    }
}
