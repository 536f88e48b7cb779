//! Integration tests of the PostgreSQL adapters, against a real server. Every test gets its own
//! database (`TestDb`), so they run in parallel. One binary, so it links once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod bench;
mod concurrency;
mod constraints;
mod customers;
mod events;
mod group_commit;
mod idempotency;
mod listener;
mod mail_queue;
mod migrations;
mod orders;
mod payments_simulated;
mod pool;
mod products;
mod refunds;
mod refunds_simulated;
mod revocations;
mod round_trips;
mod shipments;
mod stats;
mod support;
mod users;
mod webhook_queue;
mod webhooks;
