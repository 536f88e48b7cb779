//! The failure every port can report: the world outside did not do its part.

/// A store (database) failed. Never carries SQL text or data a client could see: the message is
/// for logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached now (pool timeout, connection refused or closed). Retry later;
    /// the API answers 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else that should not happen (a constraint the core should have checked, bad data).
    #[error("store failure: {0}")]
    Internal(String),
}
