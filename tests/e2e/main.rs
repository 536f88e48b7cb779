//! End-to-end tests: the real server over HTTP against a real PostgreSQL, a database per test.
//! One test binary (one link) with a module per area.
//!
//! Test code: a failed `unwrap` is a failed test (helpers outside `#[test]` functions included).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_access;
mod admin_export;
mod admin_order_list;
mod admin_order_status;
mod admin_products;
mod admin_refunds;
mod admin_seed;
mod admin_shipments;
mod admin_stats;
mod admin_support;
mod audit;
mod audit_secrets;
mod bad_input;
mod crash_recovery;
mod customers;
mod email;
mod event_bus;
mod event_feed;
mod journey;
mod oms_process;
mod operations;
mod payments;
mod quote;
mod realtime;
mod reconciler;
mod resilience;
mod security;
mod stripe;
mod webhooks;
mod webhooks_admin;
