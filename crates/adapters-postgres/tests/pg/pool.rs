use std::time::Duration;

use adapters_postgres::{PgSettings, build_pool, ping, pool_status, run_migrations};
use ports::StoreError;

use crate::support::ctx;

#[tokio::test]
async fn ping_and_status() {
    let c = ctx().await;
    ping(&c.pool).await.unwrap();
    let (size, available) = pool_status(&c.pool);
    assert!(size >= 1 && available <= size);
    // Migrations are already applied to a copy of the template: nothing left to run.
    assert_eq!(run_migrations(&c.db.url).await.unwrap(), 0);
}

#[tokio::test]
async fn session_settings_are_applied() {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let c = ctx().await;
    let mut settings = c.db.settings();
    settings.application_name = "oms-settings-test".into();
    settings.statement_timeout = Duration::from_millis(1500);
    let pool = build_pool(&settings).unwrap();
    let mut conn = pool.get().await.unwrap();
    use diesel_async::RunQueryDsl;
    let name: Setting = diesel::sql_query("SELECT current_setting('application_name') AS value")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(name.value, "oms-settings-test");
    let timeout: Setting =
        diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(timeout.value, "1500ms");
    // A statement over the timeout is a transient failure.
    let err = diesel::sql_query("SELECT pg_sleep(3)")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(matches!(
        adapters_postgres::store_error(err),
        StoreError::Unavailable(_)
    ));
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable() {
    let settings = PgSettings {
        // Nothing listens on port 1.
        url: "postgres://postgres:secret@127.0.0.1:1/postgres".into(),
        max_size: 2,
        connect_timeout: Duration::from_secs(2),
        wait_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(2),
        application_name: "oms-test".into(),
    };
    assert!(!format!("{settings:?}").contains("secret"));
    let pool = build_pool(&settings).unwrap();
    assert!(matches!(ping(&pool).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(
        run_migrations(&settings.url).await,
        Err(StoreError::Unavailable(_))
    ));
}
