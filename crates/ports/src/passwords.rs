//! Password hashing (argon2id in production), off the async threads.

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A new salted hash of `password` (PHC string).
    async fn hash(&self, password: &str) -> Result<String, HashError>;

    /// Whether `password` matches `hash`. With `hash: None` (an unknown email) it verifies against
    /// a dummy hash and returns `false`, so that both failures cost the same time.
    async fn verify(&self, password: &str, hash: Option<String>) -> Result<bool, HashError>;
}
