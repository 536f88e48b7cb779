//! The revoked session tokens, in memory: checking a token costs no query.
//!
//! Two kinds of entry:
//! - a revoked `jti` (logout): that one token is refused;
//! - a user's minimum valid generation: every token of that user whose `gen` claim is below it
//!   is refused (disable, role change, password change raise the user's `token_generation`).
//!
//! Loaded at start-up from the store (the revoked `jti`s that have not expired, and the
//! generations of the users whose tokens were revoked within the tokens' lifetime: an older
//! revocation only concerns expired tokens), updated when this instance revokes, when another
//! instance's revocation arrives over `LISTEN oms_revocations`, and reloaded whole after the
//! listener reconnects (a notice may have been missed meanwhile).

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use ports::{StoreError, TokenRevocations, UserGeneration};
use time::OffsetDateTime;

use super::jwt::Session;

/// How much further back than the tokens' lifetime user generations are loaded: a token issued
/// under the old generation by a sign-in that read it just before the change lives until its
/// issue time plus the lifetime, a little after the change plus the lifetime.
pub const GENERATION_MARGIN: time::Duration = time::Duration::minutes(5);

/// The revoked `jti`s and each user's minimum valid generation.
#[derive(Debug, Default)]
pub struct RevokedTokens {
    jtis: RwLock<HashSet<String>>,
    /// user id → the lowest `gen` still valid.
    users: RwLock<HashMap<i64, i64>>,
}

impl RevokedTokens {
    pub fn contains(&self, jti: &str) -> bool {
        self.jtis
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(jti)
    }

    /// Whether the token of `session` is revoked: its `jti`, or its generation is below its
    /// user's minimum.
    pub fn is_revoked(&self, session: &Session) -> bool {
        self.is_below_generation(session.user_id, session.generation) || self.contains(&session.jti)
    }

    /// Whether a token of `user_id` issued under `generation` is revoked by a generation change.
    pub fn is_below_generation(&self, user_id: i64, generation: i64) -> bool {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user_id)
            .is_some_and(|min| generation < *min)
    }

    pub fn insert(&self, jti: impl Into<String>) {
        self.jtis
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(jti.into());
    }

    /// Revokes the user's tokens below `generation.min_generation` (a lower one than already
    /// known changes nothing: notices may arrive out of order across a reload).
    pub fn revoke_user(&self, generation: UserGeneration) {
        let mut users = self.users.write().unwrap_or_else(PoisonError::into_inner);
        let min = users.entry(generation.user_id).or_insert(i64::MIN);
        *min = (*min).max(generation.min_generation);
    }

    /// Revoked `jti`s.
    pub fn len(&self) -> usize {
        self.jtis
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Users with a minimum generation.
    pub fn users_len(&self) -> usize {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Replaces both sets with the store's: the active `jti` revocations (expired ones drop out)
    /// and the generations of users revoked since `now - ttl -` [`GENERATION_MARGIN`]. A
    /// revocation that commits while the queries run may be missed here, but its `NOTIFY` reaches
    /// every instance, this one included, after the commit, and adds it back. Returns the number
    /// of `jti`s and of users.
    pub async fn reload(
        &self,
        store: &dyn TokenRevocations,
        now: OffsetDateTime,
        ttl: std::time::Duration,
    ) -> Result<(usize, usize), StoreError> {
        let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX);
        let since = now
            .checked_sub(ttl)
            .and_then(|t| t.checked_sub(GENERATION_MARGIN))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let active = store.active().await?;
        let generations = store.user_generations(since).await?;
        let fresh: HashSet<String> = active.into_iter().collect();
        let users: HashMap<i64, i64> = generations
            .into_iter()
            .map(|g| (g.user_id, g.min_generation))
            .collect();
        let counts = (fresh.len(), users.len());
        *self.jtis.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        *self.users.write().unwrap_or_else(PoisonError::into_inner) = users;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use domain::Role;
    use ports::MockTokenRevocations;
    use time::macros::datetime;

    use super::*;

    fn session(user_id: i64, generation: i64, jti: &str) -> Session {
        Session {
            user_id,
            role: Role::Customer,
            jti: jti.into(),
            generation,
            issued_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn reload_replaces_with_the_stores_sets() {
        let revoked = RevokedTokens::default();
        revoked.insert("expired-meanwhile");
        revoked.revoke_user(UserGeneration {
            user_id: 99,
            min_generation: 4,
        });
        assert!(revoked.contains("expired-meanwhile"));
        let mut store = MockTokenRevocations::new();
        store
            .expect_active()
            .times(1)
            .returning(|| Ok(vec!["a".into(), "b".into()]));
        let now = datetime!(2026-12-04 12:00 UTC);
        store
            .expect_user_generations()
            // 12 hours of tokens, and the margin.
            .withf(|since| *since == datetime!(2026-12-03 23:55 UTC))
            .times(1)
            .returning(|_| {
                Ok(vec![UserGeneration {
                    user_id: 7,
                    min_generation: 2,
                }])
            });
        let counts = revoked
            .reload(&store, now, std::time::Duration::from_secs(12 * 3600))
            .await
            .expect("reload");
        assert_eq!(counts, (2, 1));
        assert!(revoked.contains("a") && revoked.contains("b"));
        assert!(!revoked.contains("expired-meanwhile"));
        assert!(revoked.is_below_generation(7, 1));
        assert!(!revoked.is_below_generation(99, 0), "dropped by the reload");
    }

    #[test]
    fn tokens_below_the_users_generation_are_revoked() {
        let revoked = RevokedTokens::default();
        assert!(!revoked.is_revoked(&session(7, 0, "j0")));
        revoked.revoke_user(UserGeneration {
            user_id: 7,
            min_generation: 2,
        });
        assert!(revoked.is_revoked(&session(7, 0, "j0")));
        assert!(revoked.is_revoked(&session(7, 1, "j1")));
        assert!(!revoked.is_revoked(&session(7, 2, "j2")));
        assert!(!revoked.is_revoked(&session(8, 0, "j3")), "other users");
        // A late, lower notice does not lower the minimum.
        revoked.revoke_user(UserGeneration {
            user_id: 7,
            min_generation: 1,
        });
        assert!(revoked.is_revoked(&session(7, 1, "j1")));
        // A revoked jti of the current generation is still revoked.
        revoked.insert("j2");
        assert!(revoked.is_revoked(&session(7, 2, "j2")));
        assert_eq!(revoked.users_len(), 1);
    }
}
