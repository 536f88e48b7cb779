//! A payment provider that behaves like a card processor's test mode, keeping its charges in
//! PostgreSQL (`simulated_charges`) so that a restarted server can still ask what happened.
//!
//! Tokens: `tok_visa` is captured; `tok_chargeDeclined` and every unknown token are declined;
//! `tok_timeout` is captured but answers only after the caller's timeout has run out (so the order
//! is left `processing` and the reconciler later finds the charge captured); `tok_error` fails
//! without charging. Every answer is delayed by `latency`.
//!
//! Refunds of part of a charge (`refund_amount`) are keyed by our refund id. Two more card tokens
//! charge like `tok_visa` and choose how their order's refunds go: `tok_refund_fails` (every refund
//! is refused), `tok_refund_timeout` (a refund is made but answers only after the caller's
//! timeout, so the refund stays `pending` until the reconciler asks).
//!
//! Charges are keyed by order id and attempt: the same attempt again returns its first outcome
//! (a decline too) and charges nothing; a later attempt replaces a declined charge (the customer
//! pays again with another card); once a charge was captured (or refunded) every attempt returns
//! it and nothing is charged again.
//!
//! A real provider plugs in the same way (as `adapters-stripe` does): implement
//! `ports::PaymentGateway` (charge with the order id and attempt as the provider's idempotency key,
//! lookup by order, refund), select it in the api's `payments.rs` by `PAYMENT_PROVIDER`, and keep
//! its secrets in `secrecy` types.

use std::time::Duration;

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use ports::{
    ChargeOutcome, ChargeRequest, ChargeState, PaymentError, PaymentGateway, RefundOutcome,
    RefundRequest, RefundState,
};
use uuid::Uuid;

use crate::cached::Cached;
use crate::errors::store_error;
use crate::pool::PgPool;

pub const TOKEN_SUCCESS: &str = "tok_visa";
pub const TOKEN_DECLINED: &str = "tok_chargeDeclined";
pub const TOKEN_TIMEOUT: &str = "tok_timeout";
pub const TOKEN_ERROR: &str = "tok_error";
pub const TOKEN_REFUND_FAILS: &str = "tok_refund_fails";
pub const TOKEN_REFUND_TIMEOUT: &str = "tok_refund_timeout";

#[derive(Clone)]
pub struct SimulatedPaymentGateway {
    pool: PgPool,
    latency: Duration,
    /// How long `tok_timeout` waits before answering: longer than the caller's timeout.
    hang: Duration,
}

#[derive(QueryableByName)]
struct ChargeRow {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    reference: Option<String>,
}

fn provider_error(e: diesel::result::Error) -> PaymentError {
    PaymentError::Provider(store_error(e).to_string())
}

impl SimulatedPaymentGateway {
    /// `caller_timeout` is the server's `PAYMENT_TIMEOUT_MS`: `tok_timeout` answers 1 s after it.
    pub fn new(
        pool: PgPool,
        latency: Duration,
        caller_timeout: Duration,
    ) -> SimulatedPaymentGateway {
        SimulatedPaymentGateway {
            pool,
            latency,
            hang: caller_timeout + Duration::from_secs(1),
        }
    }

    async fn conn(
        &self,
    ) -> Result<
        diesel_async::pooled_connection::deadpool::Object<diesel_async::AsyncPgConnection>,
        PaymentError,
    > {
        self.pool
            .get()
            .await
            .map_err(|e| PaymentError::Provider(store_error(e).to_string()))
    }

    /// Records a charge outcome unless the order already has a captured or refunded charge, or a
    /// declined one of this attempt or a later one; returns the charge as it stands after the call.
    async fn record(
        &self,
        request: &ChargeRequest,
        status: &str,
    ) -> Result<ChargeRow, PaymentError> {
        let mut conn = self.conn().await?;
        let reference = (status == "captured").then(|| format!("sim_{}", Uuid::now_v7().simple()));
        let upsert = diesel::sql_query(
            "INSERT INTO simulated_charges \
               (order_id, token, amount, currency, status, reference, attempt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (order_id) DO UPDATE SET token = EXCLUDED.token, amount = EXCLUDED.amount, \
               currency = EXCLUDED.currency, status = EXCLUDED.status, \
               reference = EXCLUDED.reference, attempt = EXCLUDED.attempt, updated_at = now() \
             WHERE simulated_charges.status = 'declined' \
               AND simulated_charges.attempt < EXCLUDED.attempt \
             RETURNING status, reference",
        )
        .bind::<SqlUuid, _>(request.order_id)
        .bind::<Text, _>(&request.token)
        .bind::<BigInt, _>(request.amount)
        .bind::<Text, _>(&request.currency)
        .bind::<Text, _>(status)
        .bind::<Nullable<Text>, _>(reference)
        .bind::<Integer, _>(i32::try_from(request.attempt).unwrap_or(i32::MAX));
        let inserted: Option<ChargeRow> = Cached(upsert)
            .get_result(&mut conn)
            .await
            .map(Some)
            .or_else(|e| match e {
                diesel::result::Error::NotFound => Ok(None),
                e => Err(provider_error(e)),
            })?;
        match inserted {
            Some(row) => Ok(row),
            // An earlier charge was captured or refunded: it stands.
            None => self
                .existing(request.order_id)
                .await?
                .ok_or_else(|| PaymentError::Provider("charge vanished during an upsert".into())),
        }
    }

    async fn existing(&self, order_id: Uuid) -> Result<Option<ChargeRow>, PaymentError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT status, reference FROM simulated_charges WHERE order_id = $1")
            .bind::<SqlUuid, _>(order_id)
            .get_result(&mut conn)
            .await
            .map(Some)
            .or_else(|e| match e {
                diesel::result::Error::NotFound => Ok(None),
                e => Err(provider_error(e)),
            })
    }
}

fn outcome(row: ChargeRow) -> ChargeOutcome {
    match (row.status.as_str(), row.reference) {
        ("captured" | "refunded", Some(reference)) => ChargeOutcome::Captured { reference },
        _ => ChargeOutcome::Declined {
            reason: "card declined".into(),
        },
    }
}

#[async_trait]
impl PaymentGateway for SimulatedPaymentGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, PaymentError> {
        tokio::time::sleep(self.latency).await;
        match request.token.as_str() {
            TOKEN_ERROR => Err(PaymentError::Provider(
                "simulated provider error (nothing charged)".into(),
            )),
            TOKEN_SUCCESS | TOKEN_REFUND_FAILS | TOKEN_REFUND_TIMEOUT => {
                Ok(outcome(self.record(request, "captured").await?))
            }
            TOKEN_TIMEOUT => {
                let row = self.record(request, "captured").await?;
                tokio::time::sleep(self.hang).await;
                Ok(outcome(row))
            }
            // `tok_chargeDeclined` and any token the provider does not know.
            _ => Ok(outcome(self.record(request, "declined").await?)),
        }
    }

    async fn lookup(&self, order_id: Uuid) -> Result<ChargeState, PaymentError> {
        tokio::time::sleep(self.latency).await;
        Ok(match self.existing(order_id).await? {
            None => ChargeState::NotCharged,
            Some(row) => match (row.status.as_str(), row.reference) {
                ("captured", Some(reference)) => ChargeState::Captured { reference },
                ("refunded", _) => ChargeState::Refunded,
                _ => ChargeState::Declined,
            },
        })
    }

    async fn refund(&self, order_id: Uuid) -> Result<(), PaymentError> {
        tokio::time::sleep(self.latency).await;
        let mut conn = self.conn().await?;
        diesel::sql_query(
            "UPDATE simulated_charges SET status = 'refunded', updated_at = now() \
             WHERE order_id = $1 AND status = 'captured'",
        )
        .bind::<SqlUuid, _>(order_id)
        .execute(&mut conn)
        .await
        .map_err(provider_error)?;
        Ok(())
    }

    async fn refund_amount(&self, request: &RefundRequest) -> Result<RefundOutcome, PaymentError> {
        tokio::time::sleep(self.latency).await;
        let mut conn = self.conn().await?;
        let charge = self.existing_token(request.order_id).await?;
        let refused = match charge.as_ref() {
            None => Some("no captured charge"),
            Some((status, _)) if status != "captured" => Some("no captured charge"),
            Some((_, token)) if token == TOKEN_REFUND_FAILS => Some("refund refused"),
            Some(_) => None,
        };
        let reference = format!("simre_{}", Uuid::now_v7().simple());
        // Once per refund id: a repeated call finds the first outcome.
        Cached(
            diesel::sql_query(
                "INSERT INTO simulated_refunds (refund_id, order_id, amount, status, reference) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (refund_id) DO NOTHING",
            )
            .bind::<SqlUuid, _>(request.refund_id)
            .bind::<SqlUuid, _>(request.order_id)
            .bind::<BigInt, _>(request.amount)
            .bind::<Text, _>(if refused.is_some() {
                "refused"
            } else {
                "succeeded"
            })
            .bind::<Nullable<Text>, _>(refused.is_none().then_some(reference)),
        )
        .execute(&mut conn)
        .await
        .map_err(provider_error)?;
        drop(conn);
        let state = self.refund_row(request.refund_id).await?;
        if charge.is_some_and(|(_, token)| token == TOKEN_REFUND_TIMEOUT) {
            tokio::time::sleep(self.hang).await;
        }
        match state {
            Some((status, Some(reference))) if status == "succeeded" => {
                Ok(RefundOutcome::Refunded { reference })
            }
            _ => Ok(RefundOutcome::Refused {
                reason: refused.unwrap_or("refund refused").to_owned(),
            }),
        }
    }

    async fn refund_state(&self, refund_id: Uuid) -> Result<RefundState, PaymentError> {
        tokio::time::sleep(self.latency).await;
        Ok(match self.refund_row(refund_id).await? {
            None => RefundState::NotRefunded,
            Some((status, Some(reference))) if status == "succeeded" => {
                RefundState::Refunded { reference }
            }
            Some(_) => RefundState::Refused,
        })
    }
}

impl SimulatedPaymentGateway {
    /// The order's charge: its status and token.
    async fn existing_token(
        &self,
        order_id: Uuid,
    ) -> Result<Option<(String, String)>, PaymentError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Text)]
            token: String,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<Row> =
            diesel::sql_query("SELECT status, token FROM simulated_charges WHERE order_id = $1")
                .bind::<SqlUuid, _>(order_id)
                .load(&mut conn)
                .await
                .map_err(provider_error)?;
        Ok(rows.into_iter().next().map(|r| (r.status, r.token)))
    }

    /// A refund's status and reference.
    async fn refund_row(
        &self,
        refund_id: Uuid,
    ) -> Result<Option<(String, Option<String>)>, PaymentError> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = Nullable<Text>)]
            reference: Option<String>,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT status, reference FROM simulated_refunds WHERE refund_id = $1",
        )
        .bind::<SqlUuid, _>(refund_id)
        .load(&mut conn)
        .await
        .map_err(provider_error)?;
        Ok(rows.into_iter().next().map(|r| (r.status, r.reference)))
    }
}
