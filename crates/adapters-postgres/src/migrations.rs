//! The schema migrations, embedded in the binary from `/migrations`.

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use ports::StoreError;

use crate::errors::store_error;

/// Every migration of `/migrations`.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Applies the pending migrations to the database at `url`; returns how many ran.
///
/// diesel's migration harness is synchronous: it runs on a blocking thread through
/// `AsyncConnectionWrapper`, which drives the async connection on this runtime.
pub async fn run_migrations(url: &str) -> Result<usize, StoreError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn =
            AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).map_err(store_error)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| StoreError::Internal(format!("running migrations: {e}")))?;
        for version in &applied {
            tracing::info!(%version, "migration applied");
        }
        Ok(applied.len())
    })
    .await
    .map_err(|e| StoreError::Internal(format!("migration task failed: {e}")))?
}
