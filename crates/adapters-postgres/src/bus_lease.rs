//! The bus publisher's lease ([`PublisherLease`]): a session-level advisory lock
//! ([`PUBLISHER_LOCK_KEY`]) held on a connection of its own. PostgreSQL frees it when that session
//! ends, so an instance that dies (or loses its database connection) hands the lease on by itself,
//! and no two sessions ever hold it at once.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel::sql_types::{BigInt, Bool};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ports::{PublisherLease, StoreError};

/// The advisory lock key of the bus publisher ("oms_pub").
pub const PUBLISHER_LOCK_KEY: i64 = 0x6f6d_735f_7075_6221;

/// The lease, over a connection to `url` opened when it is first taken.
pub struct PgPublisherLease {
    url: String,
    conn: Option<AsyncPgConnection>,
    /// When the session last answered.
    checked: Option<Instant>,
}

/// How long an answer of the session counts as "still held": the publisher asks before every log
/// read, and one `SELECT 1` a second is plenty (a second publisher in the meantime is refused by the
/// stream, see `app::bus`).
const CHECK_EVERY: Duration = Duration::from_millis(500);

impl PgPublisherLease {
    pub fn new(url: String) -> PgPublisherLease {
        PgPublisherLease {
            url,
            conn: None,
            checked: None,
        }
    }
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

#[async_trait]
impl PublisherLease for PgPublisherLease {
    async fn acquire(&mut self) -> Result<bool, StoreError> {
        if self.conn.is_none() {
            let conn = AsyncPgConnection::establish(&self.url)
                .await
                .map_err(|error| StoreError::Unavailable(error.to_string()))?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        let result: Result<Locked, _> = sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<BigInt, _>(PUBLISHER_LOCK_KEY)
            .get_result(conn)
            .await;
        match result {
            Ok(locked) => Ok(locked.locked),
            Err(error) => {
                self.conn = None;
                Err(StoreError::Unavailable(error.to_string()))
            }
        }
    }

    async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if self.checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return true;
        }
        // The lock lives as long as the session: a session that answers still holds it.
        if sql_query("SELECT 1").execute(conn).await.is_ok() {
            self.checked = Some(Instant::now());
            return true;
        }
        self.conn = None;
        self.checked = None;
        false
    }
}
