//! `GET /api/admin/events`: the event feed, the stored order events after `since`, id ascending,
//! for systems that pull them. Each item is the real-time event JSON
//! ([`ports::EventMessage`], the very text the WebSocket sends).
//!
//! Parameters (an empty value counts as not given; unknown parameters are ignored, as on every
//! list; every bad value is named in one 422 `validation_failed`):
//! - `since`: the last event id the consumer has, an integer of 0 or more (default 0);
//! - `type`: one of the event types; may repeat (`?type=order.paid&type=order.refunded`: either);
//! - `order_id`: one order's events (a UUID, any case);
//! - `limit`: 1 to 1,000 (default 100).
//!
//! How `next_since` is chosen and why looping on it misses nothing: [`app::event_feed`].

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use app::event_feed::{FeedPage, FeedQuery, MAX_LIMIT};
use domain::EventType;
use ports::EventMessage;
use uuid::Uuid;

use crate::auth::AdminUser;
use crate::error::{ApiError, FieldProblem, ProblemBody};
use crate::handlers::admin::query::{QueryPairs, read_pairs};
use crate::handlers::realtime::EventDoc;
use crate::state::AppState;

/// `{"items": [...], "next_since"}` (documentation only: the body is written from the events'
/// JSON text, see [`page_json`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EventFeedPage {
    /// The events after `since`, id ascending, each as the real-time channel sends it. When
    /// `since` is older than the retention, `{"type": "stream.reset"}` comes first (refetch your
    /// data), on top of `limit` events.
    items: Vec<EventDoc>,
    /// Pass it as `since` for the next page. The last event's id when the page is full;
    /// otherwise the highest id this read covered, which may be higher than the last event's
    /// (with filters, events of other types or orders were passed over), or `since` when nothing
    /// was there. Never lower than `since`, except when `since` is beyond the latest event: then
    /// it is the latest event's id.
    next_since: i64,
}

/// Reads the parameters of `pairs` (see the module docs).
pub fn parse(pairs: &[(String, String)]) -> Result<FeedQuery, ApiError> {
    read_pairs(
        pairs,
        FeedQuery::default(),
        |query, name, value| match name {
            "since" => since(value).map(|v| query.since = v),
            "type" => event_type(value).map(|kind| {
                if !query.types.contains(&kind) {
                    query.types.push(kind);
                }
            }),
            "order_id" => Uuid::parse_str(value)
                .map(|id| query.order_id = Some(id))
                .map_err(|_| FieldProblem::new("order_id", "must be an order id (a UUID)")),
            "limit" => limit(value).map(|v| query.limit = v),
            _ => Ok(()),
        },
    )
}

fn since(value: &str) -> Result<i64, FieldProblem> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| FieldProblem::new("since", "must be an event id (an integer of 0 or more)"))
}

fn event_type(value: &str) -> Result<EventType, FieldProblem> {
    EventType::parse(value).ok_or_else(|| {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        FieldProblem::new("type", format!("must be one of {}", names.join(", ")))
    })
}

fn limit(value: &str) -> Result<u32, FieldProblem> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            FieldProblem::new("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
        })
}

/// The page as JSON: the events' real-time JSON text as it is, no second serialisation.
pub fn page_json(page: &FeedPage) -> String {
    let messages: Vec<EventMessage> = page.events.iter().map(EventMessage::from_event).collect();
    let reset = page.reset.then(EventMessage::stream_reset);
    let items: Vec<&str> = reset
        .as_deref()
        .into_iter()
        .chain(messages.iter().map(|m| &*m.json))
        .collect();
    format!(
        r#"{{"items":[{}],"next_since":{}}}"#,
        items.join(","),
        page.next_since
    )
}

/// The event feed: the stored order events after `since`, id ascending, with the guarantee of
/// the real-time replay: a consumer that loops on `next_since` misses nothing, not even an event
/// whose id is lower than one it has seen (ids are given in commit order, see the real-time
/// section). Events are kept `EVENT_RETENTION` (default 30 days).
#[utoipa::path(get, path = "/api/admin/events", tag = "admin", operation_id = "admin_event_feed",
    security(("session_cookie" = []), ("bearer" = [])),
    params(
        ("since" = Option<i64>, Query, minimum = 0, description = "The last event id you have (default 0: from the oldest stored event). Beyond the latest event it is read as the latest"),
        ("type" = Option<Vec<String>>, Query, explode = true, description = "Events of this type: `order.created`, `order.paid`, `order.status_changed`, `order.cancelled`, `order.shipped`, `order.refunded`. May repeat (`?type=order.paid&type=order.refunded`: either)"),
        ("order_id" = Option<String>, Query, format = Uuid, description = "Events of this order only"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "1 to 1,000 (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of events, id ascending (`stream.reset` first when `since` is older than the oldest stored event); an empty value of a parameter counts as not given", body = EventFeedPage),
        (status = 401, description = "`unauthenticated`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a bad `since`, `type`, `order_id` or `limit`, named in `errors`", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn event_feed(
    admin: AdminUser,
    query: web::Query<QueryPairs>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = parse(&query)?;
    let page = state.event_feed.read(admin.0.actor(), &query).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(page_json(&page)))
}

#[cfg(test)]
mod tests {
    use domain::{FulfillmentStatus, OrderStatus, PaymentStatus};
    use ports::StoredEvent;
    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::handlers::admin::query::pairs;

    fn fields_of(list: &[(&str, &str)]) -> Vec<String> {
        match parse(&pairs(list)) {
            Err(ApiError::Problem(p)) => {
                assert_eq!(p.code, "validation_failed");
                p.errors.iter().map(|e| e.field.clone()).collect()
            }
            other => panic!("expected a validation problem for {list:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_every_parameter() {
        assert_eq!(parse(&[]).expect("query"), FeedQuery::default());
        assert_eq!(FeedQuery::default().limit, 100);
        let order = "0193A4B2-0000-7000-8000-00000000000A";
        let query = parse(&pairs(&[
            ("since", "42"),
            ("type", "order.paid"),
            ("type", "order.refunded"),
            ("type", "order.paid"),
            ("order_id", order),
            ("limit", "1000"),
            ("cursor", "ignored"),
            ("since", " "),
        ]))
        .expect("query");
        assert_eq!(
            query,
            FeedQuery {
                since: 42,
                types: vec![EventType::OrderPaid, EventType::Refunded],
                order_id: Some(Uuid::parse_str(order).expect("uuid")),
                limit: 1000,
            }
        );
        assert_eq!(
            parse(&pairs(&[("since", "0"), ("limit", "1")]))
                .expect("query")
                .limit,
            1
        );
    }

    #[test]
    fn bad_values_are_named_together() {
        assert_eq!(fields_of(&[("since", "-1")]), ["since"]);
        assert_eq!(fields_of(&[("since", "abc")]), ["since"]);
        assert_eq!(fields_of(&[("since", "1.5")]), ["since"]);
        assert_eq!(fields_of(&[("since", "99999999999999999999")]), ["since"]);
        assert_eq!(fields_of(&[("type", "order.unknown")]), ["type"]);
        assert_eq!(fields_of(&[("type", "ORDER.PAID")]), ["type"]);
        assert_eq!(fields_of(&[("type", "stream.reset")]), ["type"]);
        assert_eq!(
            fields_of(&[("type", "order.paid,order.refunded")]),
            ["type"]
        );
        assert_eq!(fields_of(&[("order_id", "12")]), ["order_id"]);
        assert_eq!(fields_of(&[("limit", "0")]), ["limit"]);
        assert_eq!(fields_of(&[("limit", "1001")]), ["limit"]);
        assert_eq!(fields_of(&[("limit", "-3")]), ["limit"]);
        assert_eq!(
            fields_of(&[
                ("limit", "x"),
                ("since", "y"),
                ("type", "z"),
                ("order_id", "w"),
            ]),
            ["limit", "since", "type", "order_id"]
        );
    }

    fn event(id: i64) -> StoredEvent {
        StoredEvent {
            id,
            kind: EventType::OrderCreated,
            order_id: Uuid::nil(),
            user_id: 7,
            from_status: None,
            to_status: OrderStatus::Pending,
            payment_status: PaymentStatus::Unpaid,
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            total_amount: 1200,
            refunded_amount: 0,
            shipment_id: None,
            refund_id: None,
            amount: None,
            actor: None,
            note: Some("internal".into()),
            occurred_at: datetime!(2026-11-25 10:00:00 UTC),
        }
    }

    fn value_of(page: &FeedPage) -> Value {
        serde_json::from_str(&page_json(page)).expect("json")
    }

    #[test]
    fn a_page_is_the_real_time_json_of_each_event_then_next_since() {
        let page = FeedPage {
            reset: false,
            events: vec![event(3), event(5)],
            next_since: 5,
        };
        let value = value_of(&page);
        assert_eq!(value["next_since"], 5);
        let items = value["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        for (item, stored) in items.iter().zip(&page.events) {
            let real_time: Value =
                serde_json::from_str(&EventMessage::from_event(stored).json).expect("json");
            assert_eq!(item, &real_time);
        }
        assert_eq!(items[0]["id"], 3);
        assert!(items[0].get("note").is_none(), "notes never leave");
    }

    #[test]
    fn a_reset_comes_first_and_an_empty_page_is_still_json() {
        let page = FeedPage {
            reset: true,
            events: vec![event(9)],
            next_since: 9,
        };
        let value = value_of(&page);
        assert_eq!(value["items"][0], json!({"type": "stream.reset"}));
        assert_eq!(value["items"][1]["id"], 9);
        let empty = FeedPage {
            reset: false,
            events: Vec::new(),
            next_since: 0,
        };
        assert_eq!(value_of(&empty), json!({"items": [], "next_since": 0}));
        let reset_only = FeedPage {
            reset: true,
            events: Vec::new(),
            next_since: 8,
        };
        assert_eq!(
            value_of(&reset_only),
            json!({"items": [{"type": "stream.reset"}], "next_since": 8})
        );
    }
}
