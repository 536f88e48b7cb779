use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mockall::Sequence;
use mockall::predicate::eq;
use ports::{MockEventLog, MockEventSink, SinkError};

use super::*;
use crate::test_support::event;

fn committed(ids: &[i64]) -> SourceNotice {
    SourceNotice::Committed(ids.iter().copied().map(event).collect())
}

/// A source that yields its notices, then stops.
struct FakeSource(VecDeque<SourceNotice>);

#[async_trait]
impl EventSource for FakeSource {
    async fn next(&mut self) -> Option<SourceNotice> {
        self.0.pop_front()
    }
}

fn source(notices: Vec<SourceNotice>) -> Box<dyn EventSource> {
    Box::new(FakeSource(notices.into()))
}

/// The batches a sink received, as ids.
type Received = Arc<Mutex<Vec<Vec<i64>>>>;

/// A sink that records every batch, failing with `fail` when given.
fn recording_sink(fail: Option<SinkError>) -> (Arc<dyn EventSink>, Received) {
    let received: Received = Arc::default();
    let mut sink = MockEventSink::new();
    sink.expect_name().return_const("recording");
    let log = Arc::clone(&received);
    sink.expect_deliver().returning(move |events| {
        log.lock()
            .expect("not poisoned")
            .push(events.iter().map(|e| e.id).collect());
        fail.clone().map_or(Ok(()), Err)
    });
    (Arc::new(sink), received)
}

fn batches(received: &Received) -> Vec<Vec<i64>> {
    received.lock().expect("not poisoned").clone()
}

/// A log whose newest event is `latest` and that reads `stored` (filtered and limited as the port
/// says).
fn log_of(latest: i64, stored: Vec<i64>) -> MockEventLog {
    let mut log = MockEventLog::new();
    log.expect_latest_id().returning(move || Ok(latest));
    log.expect_events_after()
        .returning(move |after, owner, limit| {
            assert_eq!(owner, None, "the relay reads every event");
            Ok(stored
                .iter()
                .filter(|id| **id > after)
                .take(limit as usize)
                .copied()
                .map(event)
                .collect())
        });
    log
}

async fn relay(log: MockEventLog, notices: Vec<SourceNotice>, sink: Arc<dyn EventSink>) {
    EventRelay::new(source(notices), Arc::new(log))
        .with_sink(sink)
        .with_settings(RelaySettings {
            batch: 2,
            ..RelaySettings::default()
        })
        .after_latest()
        .await
        .run()
        .await;
}

#[tokio::test]
async fn delivers_in_id_order_and_ignores_duplicates() {
    let (sink, received) = recording_sink(None);
    relay(
        log_of(10, vec![]),
        vec![
            SourceNotice::Resumed,
            committed(&[11, 12]),
            committed(&[12, 13]),
            committed(&[11]),
            committed(&[13, 14]),
        ],
        sink,
    )
    .await;
    assert_eq!(batches(&received), vec![vec![11, 12], vec![13], vec![14]]);
}

#[tokio::test]
async fn starts_after_the_newest_stored_event() {
    let (sink, received) = recording_sink(None);
    // 9 and 10 committed before the relay started: not delivered, even if a notice says so.
    relay(log_of(10, vec![9, 10]), vec![committed(&[9, 10, 11])], sink).await;
    assert_eq!(batches(&received), vec![vec![11]]);
}

#[tokio::test]
async fn a_gap_is_filled_from_the_log_in_order() {
    let (sink, received) = recording_sink(None);
    relay(
        log_of(10, vec![11, 12, 13, 14, 15, 16]),
        // 12 to 14 were never notified; the notice of 15 and 16 comes.
        vec![committed(&[11]), committed(&[15, 16])],
        sink,
    )
    .await;
    // Read after 11 in pages of 2 until the page reaches 15; 16 is read with it: all once.
    assert_eq!(
        batches(&received),
        vec![vec![11], vec![12, 13], vec![14, 15], vec![16]]
    );
}

#[tokio::test]
async fn a_gap_of_rolled_back_ids_costs_one_read_and_delivers_the_notice() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    log.expect_latest_id().returning(|| Ok(10));
    log.expect_events_after()
        .with(eq(11), eq(None), eq(2))
        .times(1)
        .returning(|_, _, _| Ok(vec![event(14)]));
    relay(log, vec![committed(&[11, 14])], sink).await;
    assert_eq!(batches(&received), vec![vec![11], vec![14]]);
}

#[tokio::test]
async fn a_reconnect_replays_from_the_last_id_then_skips_what_it_replayed() {
    let (sink, received) = recording_sink(None);
    relay(
        log_of(10, vec![11, 12, 13, 14, 15]),
        vec![
            SourceNotice::Resumed,
            committed(&[11, 12]),
            // Notices of 13 to 15 lost while reconnecting.
            SourceNotice::Resumed,
            committed(&[14, 15, 16]),
        ],
        sink,
    )
    .await;
    assert_eq!(
        batches(&received),
        vec![vec![11, 12], vec![13, 14], vec![15], vec![16]]
    );
}

#[tokio::test]
async fn a_failing_sink_does_not_stop_the_others_nor_later_events() {
    let (failing, failed) = recording_sink(Some(SinkError::Internal("down".into())));
    let (healthy, received) = recording_sink(None);
    EventRelay::new(
        source(vec![committed(&[11]), committed(&[12, 13])]),
        Arc::new(log_of(10, vec![])),
    )
    .with_sink(failing)
    .with_sink(healthy)
    .after_latest()
    .await
    .run()
    .await;
    assert_eq!(batches(&failed), vec![vec![11], vec![12, 13]]);
    assert_eq!(batches(&received), vec![vec![11], vec![12, 13]]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_read_is_retried() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    let mut seq = Sequence::new();
    log.expect_latest_id().returning(|| Ok(10));
    log.expect_events_after()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(StoreError::Unavailable("restarting".into())));
    log.expect_events_after()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![event(11)]));
    relay(log, vec![SourceNotice::Resumed, committed(&[11, 12])], sink).await;
    assert_eq!(batches(&received), vec![vec![11], vec![12]]);
}

#[tokio::test(start_paused = true)]
async fn a_replay_that_gives_up_is_tried_again_at_the_next_notice() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    let mut seq = Sequence::new();
    log.expect_latest_id().returning(|| Ok(10));
    log.expect_events_after()
        .times(RelaySettings::default().read_attempts as usize)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
    log.expect_events_after()
        .with(eq(10), eq(None), eq(2))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![event(11)]));
    relay(log, vec![SourceNotice::Resumed, committed(&[12])], sink).await;
    assert_eq!(batches(&received), vec![vec![11], vec![12]]);
}

#[tokio::test(start_paused = true)]
async fn a_gap_that_cannot_be_read_still_delivers_the_notice() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    log.expect_latest_id().returning(|| Ok(10));
    log.expect_events_after()
        .times(RelaySettings::default().read_attempts as usize)
        .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
    relay(log, vec![committed(&[13, 14])], sink).await;
    assert_eq!(batches(&received), vec![vec![13, 14]]);
}

#[tokio::test]
async fn an_unknown_start_is_read_again_at_the_first_resume() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    let mut seq = Sequence::new();
    log.expect_latest_id()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Err(StoreError::Unavailable("starting".into())));
    log.expect_latest_id()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(12));
    relay(log, vec![SourceNotice::Resumed, committed(&[12, 13])], sink).await;
    assert_eq!(batches(&received), vec![vec![13]]);
}

#[tokio::test]
async fn without_any_start_notices_are_delivered_as_they_come() {
    let (sink, received) = recording_sink(None);
    let mut log = MockEventLog::new();
    log.expect_latest_id()
        .returning(|| Err(StoreError::Unavailable("down".into())));
    let mut relay = EventRelay::new(source(vec![]), Arc::new(log))
        .with_sink(sink)
        .after_latest()
        .await;
    assert_eq!(relay.last_delivered(), None);
    relay.handle(committed(&[5, 6])).await;
    relay.handle(committed(&[6, 7])).await;
    assert_eq!(relay.last_delivered(), Some(7));
    assert_eq!(batches(&received), vec![vec![5, 6], vec![7]]);
}

#[test]
fn the_relay_can_run_on_its_own_task() {
    fn spawnable<T: Send + 'static>(_: &T) {}
    let relay = EventRelay::new(source(vec![]), Arc::new(MockEventLog::new()));
    spawnable(&relay.run());
}
