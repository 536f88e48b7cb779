//! Webhooks in PostgreSQL: the endpoints and the deliveries log as admins use them
//! ([`endpoints`]), and the durable delivery queue the worker uses ([`queue`]).

pub mod endpoints;
pub mod queue;

pub use endpoints::PgWebhookStore;
pub use queue::PgDeliveryQueue;

use diesel::sql_query;
use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The due time of the pending deliveries of a disabled endpoint: past any real one, so they
/// leave the front of the claim's index (a disabled endpoint's backlog is never walked by claims)
/// and show no `next_attempt_at`. Enabling the endpoint makes them due now.
pub(crate) const PARKED_FROM: &str = "9999-01-01 00:00:00+00";

/// Locks `endpoint_id`'s deliveries (only the pending ones when `pending_only`) ahead of the
/// endpoint's own row. The delivery recorder (`queue::record_on`) locks deliveries first and then
/// their endpoint; an admin write that took the endpoint first and then its deliveries (a delete's
/// cascade, the parking of a disable) could deadlock with it and be the one PostgreSQL aborts (a
/// 500 seen in CI). Taking them in the recorder's order makes the write wait instead.
pub(crate) async fn lock_deliveries(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    pending_only: bool,
) -> Result<usize, diesel::result::Error> {
    let pending = if pending_only {
        " AND status = 'pending'"
    } else {
        ""
    };
    sql_query(format!(
        "SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1{pending} FOR UPDATE"
    ))
    .bind::<SqlUuid, _>(endpoint_id)
    .execute(conn)
    .await
}

/// Parks the pending deliveries of a disabled endpoint (see [`PARKED_FROM`]).
pub(crate) async fn park(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
) -> Result<usize, diesel::result::Error> {
    sql_query(format!(
        "UPDATE webhook_deliveries SET next_attempt_at = '{PARKED_FROM}' \
         WHERE endpoint_id = $1 AND status = 'pending'"
    ))
    .bind::<SqlUuid, _>(endpoint_id)
    .execute(conn)
    .await
}

/// Makes the parked deliveries of a re-enabled endpoint due now.
pub(crate) async fn unpark(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
) -> Result<usize, diesel::result::Error> {
    sql_query(format!(
        "UPDATE webhook_deliveries SET next_attempt_at = now() \
         WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at >= '{PARKED_FROM}'"
    ))
    .bind::<SqlUuid, _>(endpoint_id)
    .execute(conn)
    .await
}

/// A due time as shown: none for a parked delivery.
pub(crate) fn shown_due(at: Option<time::OffsetDateTime>) -> Option<time::OffsetDateTime> {
    at.filter(|at| at.year() < 9999)
}
