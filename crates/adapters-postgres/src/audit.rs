//! [`AuditLog`] over `audit_log`, and [`insert`] for writes that store their entry in their own
//! transaction. The table is append-only (a trigger refuses `UPDATE`, `DELETE` and `TRUNCATE`);
//! [`PgAuditLog::purge`] goes through `audit_purges`, whose trigger is the one way past it.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::Role;
use ports::{
    Actor, AuditEntry, AuditLog, AuditQuery, AuditTarget, Changes, StoreError, StoredAuditEntry,
};
use serde_json::Value;
use time::OffsetDateTime;

use crate::errors::store_error;
use crate::pool::PgPool;
use crate::schema::audit_log;

/// Inserts `entry` on `conn`: call it inside the transaction of the change it records.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    entry: &AuditEntry,
) -> Result<(), diesel::result::Error> {
    insert_all(conn, std::slice::from_ref(entry)).await
}

/// Inserts several entries in one statement (a batch of changes in one transaction).
pub async fn insert_all(
    conn: &mut AsyncPgConnection,
    entries: &[AuditEntry],
) -> Result<(), diesel::result::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                audit_log::action.eq(e.action.as_str()),
                audit_log::actor_id.eq(e.actor.map(|a| a.id)),
                audit_log::actor_role.eq(e.actor.map(|a| a.role.as_str())),
                audit_log::target_type.eq(e.target.as_ref().map(|t| t.kind.as_str())),
                audit_log::target_id.eq(e.target.as_ref().map(|t| t.id.as_str())),
                audit_log::changes.eq(e.changes.as_ref().map(Changes::to_json)),
                audit_log::request_id.eq(e.request_id.as_deref()),
                audit_log::client_ip.eq(e.client_ip.as_deref()),
            )
        })
        .collect();
    diesel::insert_into(audit_log::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Clone)]
pub struct PgAuditLog {
    pool: PgPool,
}

impl PgAuditLog {
    pub fn new(pool: PgPool) -> PgAuditLog {
        PgAuditLog { pool }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
struct AuditRow {
    id: i64,
    occurred_at: OffsetDateTime,
    action: String,
    actor_id: Option<i64>,
    actor_role: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    changes: Option<Value>,
    request_id: Option<String>,
    client_ip: Option<String>,
}

impl AuditRow {
    fn entry(self) -> Result<StoredAuditEntry, StoreError> {
        let actor = match (self.actor_id, self.actor_role) {
            (Some(id), Some(role)) => Some(Actor {
                id,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Internal(format!("unknown role {role:?}")))?,
            }),
            _ => None,
        };
        let target = match (self.target_type, self.target_id) {
            (Some(kind), Some(id)) => Some(AuditTarget { kind, id }),
            _ => None,
        };
        let changes = match self.changes {
            Some(Value::Object(map)) => Some(Changes(
                map.into_iter()
                    .map(|(field, value)| match value {
                        Value::Array(mut pair) if pair.len() == 2 => {
                            let new = pair.pop().unwrap_or(Value::Null);
                            let old = pair.pop().unwrap_or(Value::Null);
                            (field, [old, new])
                        }
                        other => (field, [Value::Null, other]),
                    })
                    .collect(),
            )),
            _ => None,
        };
        Ok(StoredAuditEntry {
            id: self.id,
            occurred_at: self.occurred_at,
            entry: AuditEntry {
                action: self.action,
                actor,
                target,
                changes,
                request_id: self.request_id,
                client_ip: self.client_ip,
            },
        })
    }
}

#[async_trait]
impl AuditLog for PgAuditLog {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        insert(&mut conn, entry).await.map_err(store_error)
    }

    async fn list(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEntry>, StoreError> {
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let mut q = audit_log::table
            .select(AuditRow::as_select())
            .order(audit_log::id.desc())
            .limit(i64::from(query.limit))
            .into_boxed();
        if let Some(action) = &query.action {
            q = q.filter(audit_log::action.eq(action.clone()));
        }
        if let Some(actor_id) = query.actor_id {
            q = q.filter(audit_log::actor_id.eq(actor_id));
        }
        if let Some(kind) = &query.target_type {
            q = q.filter(audit_log::target_type.eq(kind.clone()));
        }
        if let Some(id) = &query.target_id {
            q = q.filter(audit_log::target_id.eq(id.clone()));
        }
        if let Some(from) = query.created_from {
            q = q.filter(audit_log::occurred_at.ge(from));
        }
        if let Some(to) = query.created_to {
            q = q.filter(audit_log::occurred_at.lt(to));
        }
        if let Some(before) = query.before_id {
            q = q.filter(audit_log::id.lt(before));
        }
        let rows: Vec<AuditRow> = q.load(&mut conn).await.map_err(store_error)?;
        rows.into_iter().map(AuditRow::entry).collect()
    }

    /// Asks for the purge only when an entry older than `cutoff` exists (one probe of
    /// `audit_log_occurred_idx`), or when the cutoff is too young (so that the trigger refuses it):
    /// housekeeping runs every few minutes on every instance, and a purge of nothing would leave
    /// an `audit_purges` row each time.
    async fn purge(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
        use diesel::sql_types::{BigInt, Timestamptz};
        #[derive(QueryableByName)]
        struct Deleted {
            #[diesel(sql_type = BigInt)]
            deleted: i64,
        }
        let mut conn = self.pool.get().await.map_err(store_error)?;
        let deleted: Option<Deleted> = diesel::sql_query(
            "INSERT INTO audit_purges (cutoff) \
             SELECT $1 WHERE $1 > now() - interval '1 day' \
                          OR EXISTS (SELECT 1 FROM audit_log WHERE occurred_at < $1) \
             RETURNING deleted",
        )
        .bind::<Timestamptz, _>(cutoff)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(store_error)?;
        Ok(deleted.map_or(0, |d| u64::try_from(d.deleted).unwrap_or(0)))
    }
}
