use ports::TokenRevocations;
use time::{Duration, OffsetDateTime};

use crate::support::ctx;

#[tokio::test]
async fn revoke_list_and_purge() {
    let c = ctx().await;
    let r = &c.revocations;
    let now = OffsetDateTime::now_utc();
    assert!(r.active().await.unwrap().is_empty());
    r.revoke("jti-live", now + Duration::hours(1))
        .await
        .unwrap();
    r.revoke("jti-dead", now - Duration::minutes(1))
        .await
        .unwrap();
    // Revoking again is fine and keeps the later expiry.
    r.revoke("jti-live", now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(r.active().await.unwrap(), ["jti-live"]);
    assert_eq!(c.count("SELECT count(*) AS n FROM revoked_tokens").await, 2);
    assert_eq!(
        c.count(
            "SELECT count(*) AS n FROM revoked_tokens \
             WHERE jti = 'jti-live' AND expires_at > now() + interval '30 minutes'"
        )
        .await,
        1
    );
    assert_eq!(r.purge_expired(now).await.unwrap(), 1);
    assert_eq!(r.purge_expired(now).await.unwrap(), 0);
    assert_eq!(r.active().await.unwrap(), ["jti-live"]);
}
