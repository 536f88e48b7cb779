//! Revoked session tokens, shared by every instance: one token (logout, by its `jti`), or every
//! token of a user issued under an older generation (disable, role or password change: the
//! user's `token_generation` was raised).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::audit::AuditEntry;

/// The tokens of `user_id` whose generation (claim `gen`) is below `min_generation` are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserGeneration {
    pub user_id: i64,
    pub min_generation: i64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenRevocations: Send + Sync {
    /// Revokes the token `jti` until `expires_at` (after that it is refused for expiry anyway), and
    /// tells every instance (the adapter notifies them in the same transaction).
    async fn revoke(&self, jti: &str, expires_at: OffsetDateTime) -> Result<(), StoreError>;

    /// [`TokenRevocations::revoke`] and `audit` (the sign-out) in one transaction.
    async fn sign_out(
        &self,
        jti: &str,
        expires_at: OffsetDateTime,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// The current generation of every user whose tokens were revoked at or after `since` (pass
    /// now minus the tokens' lifetime: an older revocation only concerns expired tokens).
    async fn user_generations(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<UserGeneration>, StoreError>;

    /// Every revoked token that has not expired yet.
    async fn active(&self) -> Result<Vec<String>, StoreError>;

    /// Forgets revocations of tokens that expired before `now`.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// What one revocation says, as it travels between instances (a `NOTIFY` payload, a bus message):
/// - a token's `jti`, as it always was (our `jti`s are 32 hex digits: never a `:`);
/// - `user:<user_id>:<generation>`: every token of that user whose generation (claim `gen`) is
///   below `<generation>` is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One token, by its `jti` (logout).
    Token(String),
    /// Every token of a user below a generation.
    User(UserGeneration),
}

const USER_PREFIX: &str = "user:";

impl Revocation {
    /// The payload announcing it.
    pub fn payload(&self) -> String {
        match self {
            Revocation::Token(jti) => jti.clone(),
            Revocation::User(generation) => format!(
                "{USER_PREFIX}{}:{}",
                generation.user_id, generation.min_generation
            ),
        }
    }

    /// Reads a payload: `user:<id>:<generation>` (both decimal integers) is a user's
    /// generation; anything else is a `jti`.
    pub fn parse(payload: &str) -> Revocation {
        let user = payload.strip_prefix(USER_PREFIX).and_then(|rest| {
            let (id, generation) = rest.split_once(':')?;
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(id) || !digits(generation) {
                return None;
            }
            Some(UserGeneration {
                user_id: id.parse().ok()?,
                min_generation: generation.parse().ok()?,
            })
        });
        match user {
            Some(generation) => Revocation::User(generation),
            None => Revocation::Token(payload.to_owned()),
        }
    }
}

/// A revocation as the revocation log holds it: ids ascend in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRevocation {
    pub id: i64,
    pub revocation: Revocation,
}

/// The log of committed revocations, read by the bus publisher (`EVENT_BUS=nats`), which hands
/// them to every instance over the bus.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RevocationLog: Send + Sync {
    /// Up to `limit` revocations with an id above `after`, id ascending. No revocation with a
    /// lower id than one returned commits later.
    async fn revocations_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LoggedRevocation>, StoreError>;
}

/// What a [`RevocationSource`] reports to the instance's revocation set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationNotice {
    /// A token was revoked (its `jti`).
    Revoked(String),
    /// Every token of a user below a generation was revoked (disable, role or password change).
    UserRevoked(UserGeneration),
    /// The source is (again) following: reload the revocations, some may have been missed. Sent
    /// after every connection, the first one too.
    Reconnected,
}

impl From<Revocation> for RevocationNotice {
    fn from(revocation: Revocation) -> RevocationNotice {
        match revocation {
            Revocation::Token(jti) => RevocationNotice::Revoked(jti),
            Revocation::User(generation) => RevocationNotice::UserRevoked(generation),
        }
    }
}

/// Where an instance hears of revocations committed anywhere (`LISTEN`, or the bus).
#[async_trait]
pub trait RevocationSource: Send {
    /// The next notice, waiting for one; `None` once the source has stopped for good.
    async fn next(&mut self) -> Option<RevocationNotice>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_tell_users_from_tokens() {
        let generation = UserGeneration {
            user_id: 42,
            min_generation: 3,
        };
        assert_eq!(Revocation::User(generation).payload(), "user:42:3");
        assert_eq!(Revocation::parse("user:42:3"), Revocation::User(generation));
        let jti = "0192f3b1c2d34e5f8a9b0c1d2e3f4a5b";
        assert_eq!(Revocation::parse(jti), Revocation::Token(jti.into()));
        assert_eq!(Revocation::Token(jti.into()).payload(), jti);
        // Anything not exactly `user:<digits>:<digits>` is a jti.
        for other in [
            "user:",
            "user:42",
            "user:42:",
            "user::3",
            "user:-1:3",
            "user:42:3:1",
            "user:4x:3",
            "user:99999999999999999999:1",
            "USER:42:3",
        ] {
            assert_eq!(
                Revocation::parse(other),
                Revocation::Token(other.into()),
                "{other}"
            );
        }
    }
}
