//! The CSV export of the admin's orders, produced by the store itself.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::{OrderFilter, StoreError};

/// The CSV bytes of an export, in chunks, in order. The stream ends with `Err` (and nothing after
/// it) when the store fails midway.
pub type CsvChunks = Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrderExport: Send + Sync {
    /// The orders matching `filter` as the contract's CSV (API.md, "Admin orders": the header row,
    /// then one row per order, newest first, every cell formatted and neutralised).
    ///
    /// Returns once the store has produced the header and the first row (or found none), so that
    /// a store that cannot start is this call's `Err` (`Unavailable` when it cannot be reached or
    /// too many exports run), not a cut body. The stream reads ahead at most a few chunks of
    /// about 64 KiB: it moves as fast as it is polled. Dropping it stops the export and releases
    /// everything it holds (its database connection included).
    async fn export_csv(&self, filter: &OrderFilter) -> Result<CsvChunks, StoreError>;
}
