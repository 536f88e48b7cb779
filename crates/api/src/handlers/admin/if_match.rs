//! `If-Match` on admin writes (RFC 9110 §13.1.1, strong comparison).
//!
//! An order's or product's `ETag` is its version in quotes (`"3"`). The header may be `*` (any
//! current version), one entity tag, or a list. A weak tag (`W/"3"`) or anything that is not one
//! of ours can never match: 412 `precondition_failed`, as when the resource changed meanwhile.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header;

use crate::error::{ApiError, Problem};

/// The strong `ETag` of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// What the request's `If-Match` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header, or `*`: no condition on the version.
    Any,
    /// Any of these versions (at least one).
    Versions(Vec<i64>),
    /// Tags that can never match (weak or foreign ones).
    Never,
}

impl IfMatch {
    /// The version to make the write conditional on, given a way to read the current one (used
    /// only for a list of several tags): `Ok(None)` for no condition, 412 when nothing can match.
    pub async fn expected_version<F, Fut>(self, current: F) -> Result<Option<i64>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<i64, ApiError>>,
    {
        match self {
            IfMatch::Any => Ok(None),
            IfMatch::Never => Err(precondition_failed()),
            IfMatch::Versions(versions) => match versions.as_slice() {
                [one] => Ok(Some(*one)),
                _ => {
                    let version = current().await?;
                    if versions.contains(&version) {
                        Ok(Some(version))
                    } else {
                        Err(precondition_failed())
                    }
                }
            },
        }
    }
}

/// The same answer as a version mismatch in the store.
pub fn precondition_failed() -> ApiError {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "Precondition failed",
    )
    .detail("the resource changed since the ETag in If-Match; fetch it again")
    .into()
}

/// Reads every `If-Match` header of `req`.
pub fn if_match(req: &HttpRequest) -> IfMatch {
    let mut values = req.headers().get_all(header::IF_MATCH).peekable();
    if values.peek().is_none() {
        return IfMatch::Any;
    }
    let mut versions = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag == "*" {
                return IfMatch::Any;
            }
            if let Some(version) = strong_version(tag) {
                versions.push(version);
            }
        }
    }
    if versions.is_empty() {
        IfMatch::Never
    } else {
        IfMatch::Versions(versions)
    }
}

/// `"3"` → 3; weak tags and anything else → `None`.
fn strong_version(tag: &str) -> Option<i64> {
    let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn parsed(values: &[&str]) -> IfMatch {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header((header::IF_MATCH, *v));
        }
        if_match(&req.to_http_request())
    }

    #[test]
    fn headers_are_read() {
        assert_eq!(parsed(&[]), IfMatch::Any);
        assert_eq!(parsed(&["*"]), IfMatch::Any);
        assert_eq!(parsed(&["\"3\""]), IfMatch::Versions(vec![3]));
        assert_eq!(
            parsed(&["\"3\", \"5\"", "\"7\""]),
            IfMatch::Versions(vec![3, 5, 7])
        );
        for never in ["W/\"3\"", "3", "\"x\"", "\"\"", "\"-1\"", "garbage"] {
            assert_eq!(parsed(&[never]), IfMatch::Never, "{never}");
        }
        assert_eq!(etag(12), "\"12\"");
    }

    #[actix_web::test]
    async fn expected_versions() {
        let current = || async { Ok(5) };
        assert_eq!(
            IfMatch::Any.expected_version(current).await.ok(),
            Some(None)
        );
        assert_eq!(
            IfMatch::Versions(vec![2])
                .expected_version(current)
                .await
                .ok(),
            Some(Some(2))
        );
        assert_eq!(
            IfMatch::Versions(vec![2, 5])
                .expected_version(current)
                .await
                .ok(),
            Some(Some(5))
        );
        assert!(
            IfMatch::Versions(vec![2, 3])
                .expected_version(current)
                .await
                .is_err()
        );
        assert!(IfMatch::Never.expected_version(current).await.is_err());
    }
}
