//! Driver and pool errors → [`StoreError`], in one place.
//!
//! The messages built here are for logs only (the API never shows a `StoreError`'s text), and they
//! never hold bind values: diesel's errors carry the server's message, not the query's data.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError as ManagerError;
use diesel_async::pooled_connection::deadpool::PoolError;
use ports::StoreError;

/// Anything the database side can fail with.
#[derive(Debug)]
pub enum DbFailure {
    Query(DieselError),
    Pool(PoolError),
    Connect(diesel::ConnectionError),
    /// The export's own `tokio_postgres` connection.
    Driver(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for DbFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        DbFailure::Driver(e)
    }
}

impl From<DieselError> for DbFailure {
    fn from(e: DieselError) -> Self {
        DbFailure::Query(e)
    }
}

impl From<PoolError> for DbFailure {
    fn from(e: PoolError) -> Self {
        DbFailure::Pool(e)
    }
}

impl From<diesel::ConnectionError> for DbFailure {
    fn from(e: diesel::ConnectionError) -> Self {
        DbFailure::Connect(e)
    }
}

/// Translates a database failure: the database cannot be reached or gave up on us (pool timeout,
/// connection refused or closed, server shutting down, statement timeout) → `Unavailable` (the
/// API answers 503 and the caller may retry); anything else → `Internal`.
pub fn store_error(e: impl Into<DbFailure>) -> StoreError {
    match e.into() {
        DbFailure::Query(e) => query_error(e),
        DbFailure::Pool(e) => match e {
            PoolError::Timeout(kind) => {
                StoreError::Unavailable(format!("connection pool timeout ({kind:?})"))
            }
            PoolError::Closed => StoreError::Unavailable("connection pool closed".into()),
            PoolError::Backend(ManagerError::ConnectionError(e)) => {
                StoreError::Unavailable(format!("cannot connect: {e}"))
            }
            PoolError::Backend(ManagerError::QueryError(e)) => query_error(e),
            PoolError::PostCreateHook(e) => {
                StoreError::Unavailable(format!("connection setup failed: {e}"))
            }
            PoolError::NoRuntimeSpecified => {
                StoreError::Internal("connection pool has no runtime".into())
            }
        },
        DbFailure::Connect(e) => StoreError::Unavailable(format!("cannot connect: {e}")),
        DbFailure::Driver(e) => driver_error(&e),
    }
}

fn query_error(e: DieselError) -> StoreError {
    match &e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => StoreError::Unavailable(format!("connection lost: {}", info.message())),
        DieselError::DatabaseError(_, info) if is_transient_message(info.message()) => {
            StoreError::Unavailable(info.message().to_owned())
        }
        DieselError::BrokenTransactionManager => {
            StoreError::Unavailable("connection left in a broken transaction state".into())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// A `tokio_postgres` failure (the export's connection): no server error (refused, closed, I/O)
/// or a server error of class 08 (connection), 53 (resources) or 57 (operator intervention:
/// timeout, shutdown) → `Unavailable`; anything else → `Internal`.
fn driver_error(e: &tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        None => StoreError::Unavailable(format!("database connection: {e}")),
        Some(db)
            if ["08", "53", "57"]
                .iter()
                .any(|c| db.code().code().starts_with(c)) =>
        {
            StoreError::Unavailable(db.message().to_owned())
        }
        Some(db) => StoreError::Internal(format!("{}: {}", db.code().code(), db.message())),
    }
}

/// Server errors that mean "try again later". diesel does not expose the SQLSTATE, so these are
/// recognised by PostgreSQL's (English, untranslated by `lc_messages=C` servers) messages:
/// 57014 statement timeout, 57P01..57P03 shutdown / cannot connect now, 53300 too many connections.
fn is_transient_message(message: &str) -> bool {
    const TRANSIENT: [&str; 5] = [
        "canceling statement due to statement timeout",
        "terminating connection",
        "the database system is shutting down",
        "the database system is starting up",
        "too many clients already",
    ];
    TRANSIENT.iter().any(|t| message.contains(t))
}

/// The name of the unique constraint (or unique index) `e` violated, if it is a unique violation.
pub fn unique_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name()
        }
        _ => None,
    }
}

/// Whether `e` violated the unique constraint or index named `constraint`.
pub fn violates_unique(e: &DieselError, constraint: &str) -> bool {
    unique_violation(e) == Some(constraint)
}

/// Whether `e` violated a CHECK constraint (the database's backstop), and which.
pub fn check_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
            info.constraint_name()
        }
        _ => None,
    }
}

/// An error inside a transaction: the database's, or the operation's own (which rolls back too).
#[derive(Debug)]
pub(crate) enum TxError<E> {
    Db(DieselError),
    Op(E),
}

impl<E> From<DieselError> for TxError<E> {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl<E: From<ports::StoreError>> TxError<E> {
    /// The operation's error, with database failures translated by [`store_error`].
    pub(crate) fn into_op(self) -> E {
        match self {
            TxError::Db(e) => E::from(store_error(e)),
            TxError::Op(e) => e,
        }
    }
}
