//! The admin order filters of `GET /api/admin/orders` and its export, read from the query string.
//!
//! - `status` may repeat (`?status=PAID&status=FULFILLED`: either);
//! - `user_id`: an integer; `email`: exact, case-insensitive, at most 254 characters;
//! - `created_from` (inclusive) and `created_to` (exclusive): RFC 3339 timestamps with an offset
//!   (`2026-11-25T10:00:00Z`, `2026-11-25T11:00:00.5+01:00`). A `+` left unencoded in the query
//!   arrives as a space; it is read as the `+` it was;
//! - `min_total`, `max_total` (inclusive): integers of cents, 0 or more;
//! - `limit` and `cursor`: the list's paging (see [`crate::paging`]).
//!
//! A parameter given with an empty value counts as not given (an HTML form's empty field). Every
//! bad value is named in one 422 `validation_failed` (`errors[].field` is the parameter's name).
//! Parameters not listed here are ignored, as on every list.

use domain::OrderStatus;
use ports::OrderFilter;

use crate::error::{ApiError, FieldProblem};
use crate::handlers::admin::query::{read_pairs, timestamp};

/// The longest `email` filter.
pub const EMAIL_MAX: usize = 254;

/// The parsed query of the order list (the export ignores `limit` and `cursor`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderQuery {
    pub filter: OrderFilter,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Reads the filters and paging parameters of `pairs`.
pub fn parse(pairs: &[(String, String)]) -> Result<OrderQuery, ApiError> {
    read_pairs(pairs, OrderQuery::default(), |query, name, value| {
        let filter = &mut query.filter;
        match name {
            "status" => status(value).map(|s| {
                if !filter.statuses.contains(&s) {
                    filter.statuses.push(s);
                }
            }),
            "user_id" => integer(name, value, i64::MIN).map(|v| filter.user_id = Some(v)),
            "email" => email(value).map(|v| filter.email = Some(v)),
            "created_from" => timestamp(name, value).map(|v| filter.created_from = Some(v)),
            "created_to" => timestamp(name, value).map(|v| filter.created_to = Some(v)),
            "min_total" => integer(name, value, 0).map(|v| filter.min_total = Some(v)),
            "max_total" => integer(name, value, 0).map(|v| filter.max_total = Some(v)),
            "limit" => {
                query.limit = Some(value.to_owned());
                Ok(())
            }
            "cursor" => {
                query.cursor = Some(value.to_owned());
                Ok(())
            }
            _ => Ok(()),
        }
    })
}

fn status(value: &str) -> Result<OrderStatus, FieldProblem> {
    OrderStatus::parse(&value.to_ascii_uppercase())
        .ok_or_else(|| FieldProblem::new("status", "must be PENDING, PAID, FULFILLED or CANCELLED"))
}

fn integer(name: &str, value: &str, min: i64) -> Result<i64, FieldProblem> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= min)
        .ok_or_else(|| {
            let message = if min == 0 {
                "must be an integer of 0 or more".to_owned()
            } else {
                "must be an integer".to_owned()
            };
            FieldProblem::new(name, message)
        })
}

fn email(value: &str) -> Result<String, FieldProblem> {
    if value.chars().count() > EMAIL_MAX || value.chars().any(char::is_control) {
        return Err(FieldProblem::new(
            "email",
            format!("must be at most {EMAIL_MAX} characters without control characters"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
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
    fn every_filter_is_read() {
        let query = parse(&pairs(&[
            ("status", "PAID"),
            ("status", "fulfilled"),
            ("status", "PAID"),
            ("user_id", "7"),
            ("email", " Ada@Example.com "),
            ("created_from", "2026-11-01T00:00:00Z"),
            ("created_to", "2026-11-25T11:00:00.123456 01:00"),
            ("min_total", "0"),
            ("max_total", "5000"),
            ("limit", "10"),
            ("cursor", "abc"),
            ("unknown", "ignored"),
            ("email", ""),
        ]))
        .expect("valid");
        assert_eq!(
            query.filter,
            OrderFilter {
                statuses: vec![OrderStatus::Paid, OrderStatus::Fulfilled],
                user_id: Some(7),
                email: Some("Ada@Example.com".into()),
                created_from: Some(datetime!(2026-11-01 0:00 UTC)),
                created_to: Some(datetime!(2026-11-25 10:00:00.123456 UTC)),
                min_total: Some(0),
                max_total: Some(5000),
            }
        );
        assert_eq!(query.limit.as_deref(), Some("10"));
        assert_eq!(query.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn nothing_given_is_no_filter() {
        assert_eq!(parse(&[]).expect("empty"), OrderQuery::default());
        assert_eq!(
            parse(&pairs(&[("status", ""), ("min_total", " ")])).expect("blank"),
            OrderQuery::default()
        );
    }

    #[test]
    fn every_bad_value_is_named() {
        assert_eq!(fields_of(&[("status", "SHIPPED")]), ["status"]);
        assert_eq!(fields_of(&[("user_id", "x")]), ["user_id"]);
        assert_eq!(fields_of(&[("min_total", "-1")]), ["min_total"]);
        assert_eq!(fields_of(&[("max_total", "1.5")]), ["max_total"]);
        assert_eq!(
            fields_of(&[("created_from", "2026-11-01")]),
            ["created_from"]
        );
        assert_eq!(
            fields_of(&[("created_to", "2026-11-01T00:00:00")]),
            ["created_to"]
        );
        assert_eq!(fields_of(&[("email", "a\u{7}b@example.com")]), ["email"]);
        assert_eq!(
            fields_of(&[("email", &"a".repeat(EMAIL_MAX + 1))]),
            ["email"]
        );
        assert_eq!(
            fields_of(&[("status", "X"), ("user_id", "1"), ("max_total", "y")]),
            ["status", "max_total"]
        );
    }
}
