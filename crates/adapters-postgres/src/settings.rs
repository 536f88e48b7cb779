//! How to reach PostgreSQL.

use std::time::Duration;

/// Connection and pool settings (from configuration).
#[derive(Clone)]
pub struct PgSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Connections in the pool, at most.
    pub max_size: usize,
    /// Opening one connection (TCP connect, start-up, session setup), at most.
    pub connect_timeout: Duration,
    /// Waiting for a free pooled connection, at most; then the store is `Unavailable`.
    pub wait_timeout: Duration,
    /// Any one statement, at most (PostgreSQL's `statement_timeout`, set on every connection).
    pub statement_timeout: Duration,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &redact_url(&self.url))
            .field("max_size", &self.max_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

/// The URL with its password (if any) replaced by `***`, for logs. A `password=` query parameter
/// is redacted as well.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://oms:s3cr%40t@db:5432/oms?sslmode=disable"),
            "postgres://oms:***@db:5432/oms?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://oms@db/oms?password=hunter2&x=1"),
            "postgres://oms@db/oms?password=***&x=1"
        );
        assert_eq!(redact_url("postgres://db/oms"), "postgres://db/oms");
        let settings = PgSettings {
            url: "postgres://u:topsecret@h/d".into(),
            max_size: 4,
            connect_timeout: Duration::from_secs(1),
            wait_timeout: Duration::from_secs(1),
            statement_timeout: Duration::from_secs(1),
            application_name: "oms".into(),
        };
        assert!(!format!("{settings:?}").contains("topsecret"));
    }
}
