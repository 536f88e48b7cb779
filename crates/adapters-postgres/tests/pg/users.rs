use domain::Role;
use ports::{CreateUserError, UserRepository};

use crate::support::ctx;

#[tokio::test]
async fn create_find_and_credentials() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    assert_eq!(ada.email, "ada@example.com");
    assert_eq!(ada.role, Role::Customer);

    let found = c.users.find(ada.id).await.unwrap().unwrap();
    assert_eq!(found, ada);
    assert_eq!(c.users.find(ada.id + 1000).await.unwrap(), None);

    let creds = c
        .users
        .find_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, ada);
    assert_eq!(creds.password_hash, "$argon2id$fake");
    // Case-insensitive, whatever the caller passes.
    assert!(
        c.users
            .find_credentials("ADA@example.com")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        c.users
            .find_credentials("bob@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn duplicate_email_is_refused_case_insensitively() {
    let c = ctx().await;
    c.customer("ada@example.com").await;
    for email in ["ada@example.com", "ADA@Example.COM"] {
        let err = c
            .users
            .create(email, "h", Role::Customer)
            .await
            .unwrap_err();
        assert_eq!(err, CreateUserError::EmailTaken, "{email}");
    }
    assert_eq!(c.count("SELECT count(*) AS n FROM users").await, 1);
}

#[tokio::test]
async fn upsert_admin_promotes_or_creates() {
    let c = ctx().await;
    let ada = c.customer("ada@example.com").await;
    let admin = c
        .users
        .upsert_admin("ada@example.com", "new-hash")
        .await
        .unwrap();
    assert_eq!(admin.id, ada.id);
    assert_eq!(admin.role, Role::Admin);
    let creds = c
        .users
        .find_credentials("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.password_hash, "new-hash");
    assert_eq!(creds.user.role, Role::Admin);

    let root = c.users.upsert_admin("root@example.com", "h").await.unwrap();
    assert_ne!(root.id, ada.id);
    assert_eq!(root.role, Role::Admin);
    assert_eq!(c.count("SELECT count(*) AS n FROM users").await, 2);
}
