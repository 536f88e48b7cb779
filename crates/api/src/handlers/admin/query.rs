//! The query strings of the admin lists, read the same way everywhere: pairs in order (repeats
//! kept), each value trimmed, an empty value counted as not given (an HTML form's empty field),
//! unknown names ignored, and every bad value named in one 422 `validation_failed`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, FieldProblem};

/// The query string's pairs in order (`web::Query<Vec<(String, String)>>`, which keeps repeats).
pub type QueryPairs = Vec<(String, String)>;

/// Calls `read(name, value)` for every pair with a value (trimmed), in order, and answers `parsed`
/// once every value was read, or one 422 naming each problem `read` returned.
pub fn read_pairs<T>(
    pairs: &[(String, String)],
    parsed: T,
    read: impl FnMut(&mut T, &str, &str) -> Result<(), FieldProblem>,
) -> Result<T, ApiError> {
    let (parsed, errors) = read_pairs_into(pairs, parsed, read);
    validated(parsed, errors)
}

/// [`read_pairs`] for a caller with checks of its own to add: what was read, and the problems.
pub fn read_pairs_into<T>(
    pairs: &[(String, String)],
    parsed: T,
    mut read: impl FnMut(&mut T, &str, &str) -> Result<(), FieldProblem>,
) -> (T, Vec<FieldProblem>) {
    let mut parsed = parsed;
    let mut errors = Vec::new();
    for (name, value) in pairs {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Err(problem) = read(&mut parsed, name, value) {
            errors.push(problem);
        }
    }
    (parsed, errors)
}

/// `parsed` when there is no problem, else one 422 `validation_failed` naming each.
pub fn validated<T>(parsed: T, errors: Vec<FieldProblem>) -> Result<T, ApiError> {
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// An RFC 3339 timestamp with an offset. A `+` left unencoded in the query arrives as a space; it
/// is read as the `+` it was.
pub fn timestamp(name: &str, value: &str) -> Result<OffsetDateTime, FieldProblem> {
    OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&value.replace(' ', "+"), &Rfc3339))
        .map_err(|_| {
            FieldProblem::new(
                name,
                "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-25T10:00:00Z",
            )
        })
}

/// `pairs` as the query string gives them (for tests).
#[cfg(test)]
pub fn pairs(list: &[(&str, &str)]) -> QueryPairs {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_skipped_and_every_problem_is_named() {
        let read = |seen: &mut Vec<String>, name: &str, value: &str| {
            if value == "bad" {
                Err(FieldProblem::new(name, "bad"))
            } else {
                seen.push(format!("{name}={value}"));
                Ok(())
            }
        };
        let got = read_pairs(
            &pairs(&[("a", " 1 "), ("b", ""), ("a", "2")]),
            Vec::new(),
            read,
        );
        assert_eq!(got.ok(), Some(vec!["a=1".to_owned(), "a=2".to_owned()]));
        match read_pairs(
            &pairs(&[("x", "bad"), ("y", "ok"), ("z", "bad")]),
            Vec::new(),
            read,
        ) {
            Err(ApiError::Problem(p)) => {
                assert_eq!(p.code, "validation_failed");
                let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["x", "z"]);
            }
            other => panic!("expected a validation problem, got {other:?}"),
        }
    }

    #[test]
    fn a_plus_sent_as_a_space_is_read_back() {
        assert!(timestamp("t", "2026-11-25T11:00:00.5 01:00").is_ok());
        assert!(timestamp("t", "yesterday").is_err());
    }
}
