//! The revoked session tokens, in memory: checking a token costs no query.
//!
//! Loaded at start-up from the store, updated when this instance revokes a token, when another
//! instance's revocation arrives over `LISTEN oms_revocations`, and reloaded whole after the
//! listener reconnects (a notice may have been missed meanwhile).

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};

use ports::{StoreError, TokenRevocations};

/// The set of revoked `jti`s.
#[derive(Debug, Default)]
pub struct RevokedTokens {
    jtis: RwLock<HashSet<String>>,
}

impl RevokedTokens {
    pub fn contains(&self, jti: &str) -> bool {
        self.jtis
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(jti)
    }

    pub fn insert(&self, jti: impl Into<String>) {
        self.jtis
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(jti.into());
    }

    pub fn len(&self) -> usize {
        self.jtis
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the set with the store's active revocations (expired ones drop out). A revocation
    /// that commits while the query runs may be dropped here, but its `NOTIFY` reaches every
    /// instance, this one included, after the commit, and adds it back.
    pub async fn reload(&self, store: &dyn TokenRevocations) -> Result<usize, StoreError> {
        let active = store.active().await?;
        let fresh: HashSet<String> = active.into_iter().collect();
        let count = fresh.len();
        *self.jtis.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use ports::MockTokenRevocations;

    use super::*;

    #[tokio::test]
    async fn reload_replaces_with_the_stores_set() {
        let revoked = RevokedTokens::default();
        revoked.insert("expired-meanwhile");
        assert!(revoked.contains("expired-meanwhile"));
        let mut store = MockTokenRevocations::new();
        store
            .expect_active()
            .times(1)
            .returning(|| Ok(vec!["a".into(), "b".into()]));
        assert_eq!(revoked.reload(&store).await.expect("reload"), 2);
        assert!(revoked.contains("a") && revoked.contains("b"));
        assert!(!revoked.contains("expired-meanwhile"));
    }
}
