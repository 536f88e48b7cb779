//! The connection pool: deadpool over diesel-async's `AsyncPgConnection`.

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use ports::StoreError;

use crate::errors::store_error;
use crate::settings::PgSettings;

/// The pool every repository takes.
pub type PgPool = Pool<AsyncPgConnection>;

/// Builds the pool (lazily: no connection is opened until one is needed).
///
/// - waiting for a connection, creating one and recycling one are each bounded in time;
/// - every new connection runs one setup statement that sets `application_name` and
///   `statement_timeout` for the session;
/// - recycling is `Fast` (no test query per checkout): a connection whose socket died is noticed by
///   diesel-async's driver task and discarded, so the common path costs no extra round trip.
pub fn build_pool(s: &PgSettings) -> Result<PgPool, StoreError> {
    let session = SessionSetup {
        application_name: s.application_name.clone(),
        statement_timeout_ms: millis(s.statement_timeout),
        connect_timeout: s.connect_timeout,
    };
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(move |url: &str| session.clone().connect(url.to_owned()));
    let manager = AsyncDieselConnectionManager::new_with_config(s.url.clone(), config);
    Pool::builder(manager)
        .max_size(s.max_size.max(1))
        .wait_timeout(Some(s.wait_timeout))
        .create_timeout(Some(s.connect_timeout))
        .recycle_timeout(Some(s.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Internal(format!("building the connection pool: {e}")))
}

/// `SELECT 1` through the pool: whether the database answers (readiness).
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    let mut conn = pool.get().await.map_err(store_error)?;
    diesel::sql_query("SELECT 1")
        .execute(&mut conn)
        .await
        .map_err(store_error)?;
    Ok(())
}

/// `(size, available)`: connections open now, and how many of them are idle (for metrics).
pub fn pool_status(pool: &PgPool) -> (usize, usize) {
    let status = pool.status();
    (status.size, status.available)
}

/// What every new connection sets up for its session.
#[derive(Clone)]
struct SessionSetup {
    application_name: String,
    statement_timeout_ms: u64,
    connect_timeout: Duration,
}

impl SessionSetup {
    fn connect(
        self,
        url: String,
    ) -> BoxFuture<'static, Result<AsyncPgConnection, ConnectionError>> {
        async move {
            let mut conn =
                tokio::time::timeout(self.connect_timeout, AsyncPgConnection::establish(&url))
                    .await
                    .map_err(|_| {
                        ConnectionError::BadConnection("connecting to PostgreSQL timed out".into())
                    })??;
            // One round trip; binds keep the application name out of the SQL text.
            diesel::sql_query(
                "SELECT set_config('application_name', $1, false), \
                        set_config('statement_timeout', $2, false)",
            )
            .bind::<diesel::sql_types::Text, _>(&self.application_name)
            .bind::<diesel::sql_types::Text, _>(format!("{}ms", self.statement_timeout_ms))
            .execute(&mut conn)
            .await
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
