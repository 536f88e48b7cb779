//! A fresh database per test (feature `testing`).
//!
//! Each [`TestDb`] is `CREATE DATABASE oms_test_<random> TEMPLATE oms_tpl_<hash>`: a copy of a
//! template database migrated once. The template is named after a hash of the migration files
//! (computed by `build.rs`), so a changed migration gets a new template; it is built under
//! `pg_advisory_lock` on the maintenance database, so parallel test processes do not race, and
//! under a temporary name renamed when complete, so a crashed build never leaves a half-migrated
//! template. Dropping a `TestDb` drops its database (`WITH (FORCE)`).
//!
//! The server comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the database named in it is the maintenance database, used only to create and drop others.

use std::time::Duration;

use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

use crate::migrations::run_migrations;
use crate::pool::{PgPool, build_pool};
use crate::settings::PgSettings;

/// Used when `DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The advisory lock guarding template creation ("oms_tmpl").
const TEMPLATE_LOCK_KEY: i64 = 0x6f6d_735f_746d_706c;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database of its own for one test, dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    /// URL of the test database.
    pub url: String,
    /// Its name.
    pub name: String,
    maintenance_url: String,
}

/// The base URL: `DATABASE_URL`, or [`DEFAULT_URL`].
pub fn base_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let base = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

impl TestDb {
    /// Creates a fresh, migrated database. Panics when PostgreSQL cannot be reached (a test
    /// harness has nothing better to do).
    pub async fn new() -> TestDb {
        let maintenance_url = base_url();
        let template = TEMPLATE
            .get_or_init(|| ensure_template(maintenance_url.clone()))
            .await
            .clone();
        let name = format!("oms_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = connect(&maintenance_url).await;
        // Names are ours ([a-z0-9_]), never user input: safe to splice.
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        TestDb {
            url: with_database(&maintenance_url, &name),
            name,
            maintenance_url,
        }
    }

    /// Settings for a pool on this database (size 16, short timeouts).
    pub fn settings(&self) -> PgSettings {
        PgSettings {
            url: self.url.clone(),
            max_size: 16,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(30),
            application_name: "oms-test".into(),
        }
    }

    /// A pool on this database.
    pub fn pool(&self) -> PgPool {
        build_pool(&self.settings()).unwrap_or_else(|e| panic!("building a test pool: {e}"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = self.maintenance_url.clone();
        // Drop runs inside the test's runtime, which must not block on itself: use a thread with
        // its own small runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async {
                    match AsyncPgConnection::establish(&url).await {
                        Ok(mut conn) => {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            if let Err(e) = diesel::sql_query(sql).execute(&mut conn).await {
                                eprintln!("dropping test database {name}: {e}");
                            }
                        }
                        Err(e) => eprintln!("dropping test database {name}: {e}"),
                    }
                }),
                Err(e) => eprintln!("dropping test database {name}: {e}"),
            }
        })
        .join();
        if dropped.is_err() {
            eprintln!("dropping test database {}: the thread panicked", self.name);
        }
    }
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to PostgreSQL ({}): {e}",
            crate::settings::redact_url(url)
        )
    })
}

/// The name of the migrated template, built if missing.
async fn ensure_template(maintenance_url: String) -> String {
    let template = format!("oms_tpl_{}", env!("OMS_MIGRATIONS_HASH"));
    let mut conn = connect(&maintenance_url).await;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("taking the template lock: {e}"));
    drop_leaked_databases(&mut conn).await;
    if !database_exists(&mut conn, &template).await {
        let building = format!("{template}_building");
        for sql in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            diesel::sql_query(&sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        run_migrations(&with_database(&maintenance_url, &building))
            .await
            .unwrap_or_else(|e| panic!("migrating the template database: {e}"));
        let sql = format!("ALTER DATABASE {building} RENAME TO {template}");
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK_KEY)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("releasing the template lock: {e}"));
    template
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Test databases whose process died before dropping them (killed, aborted) are dropped once they
/// are older than [`LEAK_AGE`]: their names hold a UUID v7, which holds the creation time.
async fn drop_leaked_databases(conn: &mut AsyncPgConnection) {
    let Ok(names) =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'oms\\_test\\_%'")
            .load::<Name>(conn)
            .await
    else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    for Name { datname } in names {
        let created = datname
            .strip_prefix("oms_test_")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| Duration::from_secs(ts.to_unix().0));
        if created.is_some_and(|created| now.saturating_sub(created) > LEAK_AGE) {
            let sql = format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)");
            if let Err(e) = diesel::sql_query(&sql).execute(conn).await {
                eprintln!("{sql}: {e}");
            }
        }
    }
}

/// A test database older than this is taken for leaked.
const LEAK_AGE: Duration = Duration::from_secs(3 * 3600);

#[derive(diesel::QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    let row: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(conn)
            .await
            .unwrap_or_else(|e| panic!("looking for the template database: {e}"));
    row.exists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgres://h/", "x"), "postgres://h/x");
    }
}
