//! Group commit: concurrent writes of one kind share a transaction, so they share its commit.
//!
//! Every transaction that appends events holds the event lock, and PostgreSQL's own `NOTIFY` lock,
//! until its commit record is flushed to disk (see [`crate::events`]). Writers of events therefore
//! commit one at a time, each waiting for its own flush: on a disk that flushes in ~2 ms, about
//! 400 such commits per second for the whole cluster, whatever the number of cores. A placement
//! needs two (the placement, then `PAID`).
//!
//! [`GroupCommit`] lifts that bound the way PostgreSQL's WAL writer does for plain commits: writes
//! that arrive while a transaction of their kind is running wait for it, then run together in the
//! next one, with one event lock, one `NOTIFY` and one flush. Nobody waits for a timer: a write
//! that finds nothing running starts at once, alone, so a quiet server answers as fast as before.
//!
//! - Each job is checked on its own (rows locked first, then the decision made in Rust); a job that
//!   is refused (short stock, a forbidden transition) writes nothing and does not affect the others.
//! - Jobs with the same key (the same order) never share a transaction: the later one waits for the
//!   next, and sees what the earlier one committed.
//! - If the database refuses the shared transaction (a constraint), each of its jobs is retried in
//!   a transaction of its own, so one bad write cannot fail its neighbours. If the database is
//!   unreachable or gives up (which may happen after a commit), every job gets that error and
//!   nothing is retried: a retry could write twice.
//! - A shared transaction runs in a task of its own: a caller that goes away (a client that hangs
//!   up) does not abandon the others' writes half-way. A caller whose job is alone runs it in
//!   place, as a plain write would: nobody else depends on that future. A job that is queued is
//!   written even if its caller goes away before its turn, like a write whose caller hangs up
//!   just after the commit.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use ports::StoreError;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::sync::{Mutex, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::pool::PgPool;

/// At most this many jobs share a transaction (the rest wait for the next one).
pub(crate) const MAX_BATCH: usize = 64;

/// A write that can share a transaction with others of its kind.
pub(crate) trait BatchJob: Send + Sync + Sized + 'static {
    type Output: Send + 'static;

    /// Jobs with the same key never share a transaction.
    fn key(&self) -> Option<Uuid>;

    /// Runs `jobs` inside the caller's transaction: one output per job, in order. A job's own
    /// refusal is its output; an `Err` rolls the whole transaction back.
    fn run<'a>(
        conn: &'a mut AsyncPgConnection,
        jobs: &'a [Self],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>, DieselError>>;

    /// The output of a job whose transaction failed with `error`.
    fn failed(error: StoreError) -> Self::Output;
}

struct Queued<J: BatchJob> {
    ticket: u64,
    job: J,
    reply: oneshot::Sender<J::Output>,
}

/// The queue of one kind of job (see the module docs).
pub(crate) struct GroupCommit<J: BatchJob> {
    queue: StdMutex<VecDeque<Queued<J>>>,
    /// Held by the task running a transaction: one at a time per kind (per server instance).
    running: Arc<Mutex<()>>,
    tickets: AtomicU64,
}

impl<J: BatchJob> Default for GroupCommit<J> {
    fn default() -> Self {
        GroupCommit {
            queue: StdMutex::new(VecDeque::new()),
            running: Arc::new(Mutex::new(())),
            tickets: AtomicU64::new(0),
        }
    }
}

impl<J: BatchJob> GroupCommit<J> {
    /// Runs `job`, alone or with others, and returns its output once its transaction has ended.
    pub(crate) async fn submit(&self, pool: &PgPool, job: J) -> J::Output {
        let (reply, mut answer) = oneshot::channel();
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        self.lock_queue().push_back(Queued { ticket, job, reply });
        loop {
            let running = Arc::clone(&self.running).lock_owned().await;
            match answer.try_recv() {
                Ok(output) => return output,
                Err(TryRecvError::Closed) => return J::failed(lost()),
                // Not answered and nothing running: our job is still queued.
                Err(TryRecvError::Empty) => {}
            }
            let batch = self.take();
            if let [only] = batch.as_slice()
                && only.ticket == ticket
            {
                // Our job alone (a quiet server): run it here, as a plain write would, without
                // a task hop. Nobody else's write depends on this future being polled.
                run_batch(pool, batch).await;
                drop(running);
                continue;
            }
            let pool = pool.clone();
            // Logged under the span of the request that runs it.
            let task = tokio::spawn(
                async move {
                    run_batch(&pool, batch).await;
                    drop(running);
                }
                .instrument(tracing::Span::current()),
            );
            // A panicked task drops the replies: its callers get `lost()`.
            let _ = task.await;
        }
    }

    /// How many jobs wait in the queue (for tests and metrics). A job leaves it when a
    /// transaction takes it, before that transaction asks the pool for a connection.
    pub(crate) fn queued(&self) -> usize {
        self.lock_queue().len()
    }

    /// Up to [`MAX_BATCH`] queued jobs in arrival order, at most one per key.
    fn take(&self) -> Vec<Queued<J>> {
        let mut queue = self.lock_queue();
        let mut keys = HashSet::new();
        let mut batch = Vec::new();
        let mut later = VecDeque::new();
        while let Some(queued) = queue.pop_front() {
            if batch.len() == MAX_BATCH {
                later.push_back(queued);
                later.extend(queue.drain(..));
                break;
            }
            match queued.job.key() {
                Some(key) if !keys.insert(key) => later.push_back(queued),
                _ => batch.push(queued),
            }
        }
        *queue = later;
        batch
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued<J>>> {
        // The queue is only pushed to and drained: a panic elsewhere cannot leave it half-done.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Each job's output, in job order; a job the batch left unanswered (a bug) gets an internal
/// error rather than a made-up answer.
pub(crate) fn answers<J: BatchJob>(outputs: Vec<Option<J::Output>>) -> Vec<J::Output> {
    outputs
        .into_iter()
        .map(|output| output.unwrap_or_else(|| J::failed(unanswered())))
        .collect()
}

fn unanswered() -> StoreError {
    StoreError::Internal("a write of a shared transaction was left unanswered".into())
}

fn lost() -> StoreError {
    StoreError::Unavailable("the write's transaction was abandoned".into())
}

async fn run_batch<J: BatchJob>(pool: &PgPool, batch: Vec<Queued<J>>) {
    let (jobs, replies): (Vec<J>, Vec<oneshot::Sender<J::Output>>) =
        batch.into_iter().map(|q| (q.job, q.reply)).unzip();
    let outputs = match run_together(pool, &jobs).await {
        Ok(outputs) if outputs.len() == jobs.len() => outputs,
        Ok(_) => jobs.iter().map(|_| J::failed(unanswered())).collect(),
        // Alone; or the database could not be reached or gave up (it may even have committed,
        // if the connection died during `COMMIT`): a retry could write twice, and would only
        // wait again. Every job gets the error (the API answers 503: try again later).
        Err(error) if jobs.len() == 1 || matches!(error, StoreError::Unavailable(_)) => {
            jobs.iter().map(|_| J::failed(error.clone())).collect()
        }
        // The database refused something in it (a constraint): find which job, alone.
        Err(error) => {
            tracing::warn!(%error, jobs = jobs.len(), "shared transaction failed: retrying each job alone");
            let mut outputs = Vec::with_capacity(jobs.len());
            for job in jobs.chunks(1) {
                outputs.push(match run_together(pool, job).await {
                    Ok(mut one) if one.len() == 1 => one.remove(0),
                    Ok(_) => J::failed(unanswered()),
                    Err(error) => J::failed(error),
                });
            }
            outputs
        }
    };
    for (reply, output) in replies.into_iter().zip(outputs) {
        // The caller may have gone away; its write is done all the same.
        let _ = reply.send(output);
    }
}

/// One transaction for `jobs`.
///
/// Its statements take arrays (one element per job) and stay prepared, so PostgreSQL plans each
/// once and keeps that generic plan for arrays of any length. Such a plan once turned into
/// sequential scans after some large batches (seen in the bench's real-time scenario: a lone
/// status change took 11 ms instead of 5), so the transaction turns sequential scans off (for this
/// transaction only: every table its statements read has the index they look rows up by). Planning
/// every statement for its values instead (`plan_cache_mode = force_custom_plan`, the first fix)
/// cost more than the writes: pgbench running a placement's statements spent 3.2 ms of backend CPU
/// per order with it and 1.4 ms with this (`bench/README.md`, "PostgreSQL's side of a
/// placement"). One round trip more per transaction, shared by its jobs.
async fn run_together<J: BatchJob>(
    pool: &PgPool,
    jobs: &[J],
) -> Result<Vec<J::Output>, StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    conn.transaction(async |conn| {
        Cached(diesel::sql_query("SET LOCAL enable_seqscan = off"))
            .execute(conn)
            .await?;
        J::run(conn, jobs).await
    })
    .await
    .map_err(store_error)
}
