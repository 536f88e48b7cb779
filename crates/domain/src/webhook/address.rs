//! Webhook endpoint URLs: the rules of the contract (API.md, "Webhooks and the event feed") and
//! the classes of address a delivery must never connect to (the SSRF defence).
//!
//! # URL rules ([`parse_url`], every failure on the field `url` → 422 `validation_failed`)
//! - absolute, `https://`; `http://` only when the caller allows it (`WEBHOOK_ALLOW_HTTP`);
//! - at most [`URL_MAX`] characters, as given and as normalised;
//! - no user info (`https://user:pass@host/`, and a bare `https://@host/` too);
//! - no control characters (the URL standard would silently drop a tab or newline inside it).
//!
//! URLs are parsed by the `url` crate, the WHATWG URL standard that `reqwest` (the delivery
//! client) parses with too, so the host checked here is the host the client connects to. A hand
//! parser would see hostnames where the standard sees IPv4 addresses (`https://2130706433/`,
//! `https://0x7f.1/` and `https://127.1/` are all 127.0.0.1), the classic way past an address
//! check. The normalised URL (lower-case host, punycode, percent-encoding, a `/` path) is what
//! is stored and called.
//!
//! # Forbidden addresses ([`forbidden_reason`])
//! An address is refused when it is not one of the public internet's: the classes of the contract
//! (loopback, private, link-local, shared, multicast, unspecified), and also the other ranges that
//! IANA's special-purpose registries mark as not globally reachable: broadcast, documentation
//! (IPv4 and IPv6), IPv6 site-local (`fec0::/10`, deprecated but still routed by some stacks) and
//! "reserved" (see the function). IPv6 forms that carry an IPv4 address (IPv4-mapped
//! `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
//! judged by the IPv4 address they reach. Hostnames are judged by what they resolve to, at
//! creation and again on every delivery, by the caller (this crate does no I/O).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::validation::ValidationErrors;

/// The longest URL accepted, in characters.
pub const URL_MAX: usize = 2_048;

/// The field every URL failure names.
pub const URL_FIELD: &str = "url";

/// A webhook URL that passed the rules (normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Url,
}

/// Where a [`WebhookUrl`] points: an address written in the URL, or a name to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookHost<'a> {
    Ip(IpAddr),
    /// Lower-case ASCII (internationalised names in punycode), as the resolver will be asked.
    Domain(&'a str),
}

impl WebhookUrl {
    /// The normalised URL, as stored and called.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed URL (`reqwest` takes it as it is: it re-exports this crate's `Url`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn host(&self) -> WebhookHost<'_> {
        match self.url.host() {
            Some(Host::Ipv4(ip)) => WebhookHost::Ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => WebhookHost::Ip(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => WebhookHost::Domain(name),
            // `parse_url` accepts only http(s), whose URLs always have a host.
            None => WebhookHost::Domain(""),
        }
    }

    /// The port to connect to (the scheme's default when none is written).
    pub fn port(&self) -> u16 {
        self.url
            .port_or_known_default()
            .unwrap_or(if self.url.scheme() == "http" { 80 } else { 443 })
    }

    /// Why the address written in the URL may not be called ([`forbidden_reason`]); `None` for a
    /// hostname (judged once resolved) and for a public address.
    pub fn forbidden_literal(&self) -> Option<&'static str> {
        match self.host() {
            WebhookHost::Ip(ip) => forbidden_reason(ip),
            WebhookHost::Domain(_) => None,
        }
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks `input` (trimmed) against the URL rules (see the module docs); `allow_http` is
/// `WEBHOOK_ALLOW_HTTP`. Every failure is one error on the field `url`. Says nothing about the
/// address: see [`WebhookUrl::forbidden_literal`] and [`forbidden_reason`].
pub fn parse_url(input: &str, allow_http: bool) -> Result<WebhookUrl, ValidationErrors> {
    let fail = |message: &str| Err(ValidationErrors::single(URL_FIELD, message));
    let schemes = if allow_http {
        "https:// or http://"
    } else {
        "https://"
    };
    let input = input.trim();
    if input.chars().any(char::is_control) {
        return fail("must not contain control characters");
    }
    if input.chars().count() > URL_MAX {
        return fail(&format!("must be at most {URL_MAX} characters"));
    }
    let Ok(url) = Url::parse(input) else {
        return fail(&format!("must be an absolute URL starting with {schemes}"));
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return fail(&format!("must start with {schemes}")),
    }
    if !url.username().is_empty() || url.password().is_some() || authority_has_at(input) {
        return fail("must not contain user info (user:password@)");
    }
    if url.host().is_none() {
        return fail(&format!("must be an absolute URL starting with {schemes}"));
    }
    if url.as_str().len() > URL_MAX {
        return fail(&format!(
            "must be at most {URL_MAX} characters once normalised"
        ));
    }
    Ok(WebhookUrl { url })
}

/// Whether the authority of `input` (after `scheme://`, up to the path, query or fragment) holds
/// an `@`: user info, even an empty one that the URL standard drops (`https://@host/`).
fn authority_has_at(input: &str) -> bool {
    let Some((_, rest)) = input.split_once(':') else {
        return false;
    };
    let rest = rest.trim_start_matches(['/', '\\']);
    rest.split(['/', '\\', '?', '#'])
        .next()
        .is_some_and(|authority| authority.contains('@'))
}

/// Why a delivery may not connect to `ip`, or `None` when it is a public address. The reasons:
/// - `"unspecified"`: `0.0.0.0/8` ("this network"; Linux connects `0.0.0.0` to itself), `::`;
/// - `"loopback"`: `127.0.0.0/8`, `::1`;
/// - `"private"`: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` (RFC 1918), `fc00::/7`;
/// - `"link-local"`: `169.254.0.0/16` (cloud metadata services live here), `fe80::/10`;
/// - `"shared"`: `100.64.0.0/10` (carrier-grade NAT);
/// - `"multicast"`: `224.0.0.0/4`, `ff00::/8`;
/// - `"broadcast"`: `255.255.255.255`;
/// - `"documentation"`: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`,
///   `3fff::/20`;
/// - `"site-local"`: `fec0::/10`;
/// - `"reserved"`: `192.0.0.0/24` (IETF protocol assignments), `198.18.0.0/15` (benchmarking),
///   `240.0.0.0/4` (future use), `100::/64` (discard), `2001::/23` (IETF protocol assignments,
///   Teredo included), `64:ff9b:1::/48` (local-use NAT64), IPv4-compatible `::a.b.c.d` of a
///   public address (deprecated), and every IPv6 address outside `2000::/3` (the only block
///   assigned to global unicast) not named above.
///
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4
/// `2002:aabb:ccdd::/48` are judged by the IPv4 address they carry (a mapped or NAT64 public
/// address is allowed: that is how an IPv6-only host reaches it).
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// Whether `ip` lies in `base/prefix`.
const fn in_v4(ip: Ipv4Addr, base: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (ip.to_bits() & mask) == (u32::from_be_bytes(base) & mask)
}

/// Whether `ip` lies in `base/prefix`.
const fn in_v6(ip: Ipv6Addr, base: u128, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (ip.to_bits() & mask) == (base & mask)
}

/// The IPv4 classes, most specific first.
const V4_CLASSES: &[([u8; 4], u32, &str)] = &[
    ([255, 255, 255, 255], 32, "broadcast"),
    ([0, 0, 0, 0], 8, "unspecified"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([10, 0, 0, 0], 8, "private"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 168, 0, 0], 16, "private"),
    ([169, 254, 0, 0], 16, "link-local"),
    ([100, 64, 0, 0], 10, "shared"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([192, 0, 0, 0], 24, "reserved"),
    ([198, 18, 0, 0], 15, "reserved"),
    ([240, 0, 0, 0], 4, "reserved"),
];

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_CLASSES
        .iter()
        .find(|(base, prefix, _)| in_v4(ip, *base, *prefix))
        .map(|(_, _, reason)| *reason)
}

/// The IPv6 classes that carry no IPv4 address, most specific first.
const V6_CLASSES: &[(u128, u32, &str)] = &[
    (0xfc00 << 112, 7, "private"),
    (0xfe80 << 112, 10, "link-local"),
    (0xfec0 << 112, 10, "site-local"),
    (0xff00 << 112, 8, "multicast"),
    (0x2001_0db8 << 96, 32, "documentation"),
    (0x3fff << 112, 20, "documentation"),
    (0x0100 << 112, 64, "reserved"),
    (0x2001 << 112, 23, "reserved"),
    (0x0064_ff9b_0001 << 80, 48, "reserved"),
];

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(ip) {
        return match forbidden_v4(v4) {
            Some(reason) => Some(reason),
            // `::a.b.c.d` (deprecated) reaches nothing a public client should use.
            None if in_v6(ip, 0, 96) => Some("reserved"),
            None => None,
        };
    }
    if let Some((_, _, reason)) = V6_CLASSES
        .iter()
        .find(|(base, prefix, _)| in_v6(ip, *base, *prefix))
    {
        return Some(reason);
    }
    if !in_v6(ip, 0x2000 << 112, 3) {
        return Some("reserved");
    }
    None
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible
/// (`::/96`, `::` and `::1` excepted by the caller), NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`,
/// bits 16 to 48).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = ip.to_bits();
    let low = Ipv4Addr::from_bits((bits & 0xffff_ffff) as u32);
    if in_v6(ip, 0xffff << 32, 96) || in_v6(ip, 0, 96) || in_v6(ip, 0x0064_ff9b << 96, 96) {
        return Some(low);
    }
    if in_v6(ip, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::from_bits(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ok(input: &str) -> WebhookUrl {
        parse_url(input, false).unwrap_or_else(|e| panic!("{input:?} refused: {e}"))
    }

    /// The message of the one error on `url`.
    fn refused(input: &str, allow_http: bool) -> String {
        match parse_url(input, allow_http) {
            Err(errors) => {
                assert_eq!(errors.0.len(), 1, "{input:?}: {errors}");
                assert_eq!(errors.0[0].field, "url");
                errors.0[0].message.clone()
            }
            Ok(url) => panic!("{input:?} accepted as {url}"),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or_else(|_| panic!("{text} is an address"))
    }

    fn reason(text: &str) -> Option<&'static str> {
        forbidden_reason(ip(text))
    }

    #[test]
    fn https_urls_are_accepted_and_normalised() {
        let url = ok("https://hooks.example.com/oms?x=1");
        assert_eq!(url.as_str(), "https://hooks.example.com/oms?x=1");
        assert_eq!(url.host(), WebhookHost::Domain("hooks.example.com"));
        assert_eq!(url.port(), 443);
        assert_eq!(url.forbidden_literal(), None);

        let url = ok("  HTTPS://Hooks.Example.COM:8443  ");
        assert_eq!(url.as_str(), "https://hooks.example.com:8443/");
        assert_eq!(url.port(), 8443);
        assert_eq!(url.to_string(), url.as_str());

        // An internationalised name is asked of the resolver in punycode.
        let url = ok("https://bücher.example/hook");
        assert_eq!(url.host(), WebhookHost::Domain("xn--bcher-kva.example"));
        // A fragment is allowed (never sent) and a path is percent-encoded.
        assert_eq!(
            ok("https://a.example/a b#x").as_str(),
            "https://a.example/a%20b#x"
        );
        assert_eq!(ok("https://a.example:443/").as_str(), "https://a.example/");
    }

    #[test]
    fn http_only_when_allowed() {
        assert_eq!(
            refused("http://hooks.example.com/", false),
            "must start with https://"
        );
        let url = parse_url("http://hooks.example.com/", true).expect("allowed");
        assert_eq!(url.port(), 80);
        assert_eq!(
            parse_url("http://hooks.example.com:8080/x", true)
                .expect("allowed")
                .port(),
            8080
        );
        for other in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "ws://example.com/",
            "wss://example.com/",
            "javascript:alert(1)",
            "data:text/plain,hi",
            "gopher://example.com/",
            "mailto:ops@example.com",
        ] {
            assert_eq!(refused(other, false), "must start with https://", "{other}");
            assert_eq!(
                refused(other, true),
                "must start with https:// or http://",
                "{other}"
            );
        }
    }

    #[test]
    fn relative_and_broken_urls_are_refused() {
        for input in [
            "",
            "   ",
            "hooks.example.com/x",
            "/hook",
            "//hooks.example.com/x",
            "https://",
            "https:// /",
            "https://exa mple.com/",
            "https://[::1/",
            "https://example.com:99999/",
            "https://example.com:port/",
            "https://%zz/",
            "https://a..b%00/",
        ] {
            let message = refused(input, false);
            assert!(
                message.starts_with("must be an absolute URL") || message.contains("control"),
                "{input:?}: {message}"
            );
        }
    }

    #[test]
    fn control_characters_are_refused_even_those_the_standard_drops() {
        for input in [
            "https://exa\nmple.com/",
            "https://example.com/a\tb",
            "https://example.com/a\u{0}b",
            "https://example.com/\u{7f}",
            "https://example.com/a\u{85}b",
        ] {
            assert_eq!(
                refused(input, false),
                "must not contain control characters",
                "{input:?}"
            );
        }
    }

    #[test]
    fn user_info_is_refused_in_every_spelling() {
        for input in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://:pass@example.com/",
            "https://@example.com/",
            "https://:@example.com/",
            "https://good.example@evil.example/",
            "https://a%40b@example.com/",
            "HTTPS://USER@EXAMPLE.COM",
            "https:\\\\user@example.com\\",
        ] {
            assert_eq!(
                refused(input, false),
                "must not contain user info (user:password@)",
                "{input:?}"
            );
        }
        // An `@` after the authority is a path, a query or a fragment.
        assert_eq!(
            ok("https://example.com/@me?to=a@b#c@d").host(),
            WebhookHost::Domain("example.com")
        );
        // The standard reads a backslash as a slash: the `@` is in the path.
        assert_eq!(
            ok("https://example.com\\@evil.example").host(),
            WebhookHost::Domain("example.com")
        );
    }

    #[test]
    fn at_most_2048_characters_given_and_normalised() {
        let base = "https://example.com/";
        let fits = format!("{base}{}", "a".repeat(URL_MAX - base.len()));
        assert_eq!(ok(&fits).as_str().len(), URL_MAX);
        let long = format!("{base}{}", "a".repeat(URL_MAX - base.len() + 1));
        assert_eq!(refused(&long, false), "must be at most 2048 characters");
        // Counted in characters: 2,048 of them may be more bytes.
        let wide = format!("{base}{}", "é".repeat(URL_MAX - base.len()));
        assert_eq!(wide.chars().count(), URL_MAX);
        // ...but percent-encoded they pass the limit.
        assert_eq!(
            refused(&wide, false),
            "must be at most 2048 characters once normalised"
        );
        let spaces = format!("{base}{}", " ".repeat(1_000) + "x");
        assert_eq!(
            refused(&spaces, false),
            "must be at most 2048 characters once normalised"
        );
    }

    #[test]
    fn literal_addresses_are_read_as_the_client_reads_them() {
        // Every one of these is 127.0.0.1 to the URL standard (and to reqwest).
        for input in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0x7f.1/",
            "https://127.1/",
            "https://0177.0.0.1/",
            "https://127.0.0.1./",
            "https://%31%32%37.0.0.1/",
            "https://127。0。0。1/",
        ] {
            let url = ok(input);
            assert_eq!(url.host(), WebhookHost::Ip(ip("127.0.0.1")), "{input}");
            assert_eq!(url.forbidden_literal(), Some("loopback"), "{input}");
        }
        let url = ok("https://[::ffff:127.0.0.1]:8443/x");
        assert_eq!(url.host(), WebhookHost::Ip(ip("::ffff:7f00:1")));
        assert_eq!(url.forbidden_literal(), Some("loopback"));
        assert_eq!(ok("https://[::1]/").forbidden_literal(), Some("loopback"));
        assert_eq!(ok("https://0/").forbidden_literal(), Some("unspecified"));
        assert_eq!(ok("https://10.1/").forbidden_literal(), Some("private"));
        assert_eq!(
            ok("https://169.254.169.254/latest/meta-data/").forbidden_literal(),
            Some("link-local")
        );
        assert_eq!(ok("https://8.8.8.8/").forbidden_literal(), None);
        assert_eq!(ok("https://[2606:4700::1111]/").forbidden_literal(), None);
        // A name is judged once resolved, by the caller.
        assert_eq!(ok("https://localhost/").forbidden_literal(), None);
        assert_eq!(
            ok("https://localhost/").host(),
            WebhookHost::Domain("localhost")
        );
    }

    #[test]
    fn ipv4_classes_of_the_contract() {
        for (address, expected) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("192.168.255.255", "private"),
            ("169.254.0.1", "link-local"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared"),
            ("100.127.255.255", "shared"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("192.0.0.8", "reserved"),
            ("198.18.0.1", "reserved"),
            ("198.19.255.255", "reserved"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
        ] {
            assert_eq!(reason(address), Some(expected), "{address}");
        }
    }

    #[test]
    fn public_ipv4_neighbours_of_the_classes_are_allowed() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "223.255.255.255",
            "192.0.1.255",
            "192.0.3.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.114.0",
            "1.0.0.0",
        ] {
            assert_eq!(reason(address), None, "{address}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (address, expected) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private"),
            ("fd12:3456:789a::1", "private"),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local"),
            ("feff::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::101", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001:db8:ffff::1", "documentation"),
            ("3fff::1", "documentation"),
            ("3fff:0fff::1", "documentation"),
            ("100::1", "reserved"),
            ("2001::1", "reserved"),
            ("2001:1ff::1", "reserved"),
            ("64:ff9b:1::1", "reserved"),
            ("4000::1", "reserved"),
            ("1::1", "reserved"),
            ("fe00::1", "reserved"),
        ] {
            assert_eq!(reason(address), Some(expected), "{address}");
        }
        for address in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2001:db9::1",
            "3fff:1000::1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(reason(address), None, "{address}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_by_the_ipv4_address() {
        for (address, expected) in [
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:100.64.0.1", Some("shared")),
            ("::ffff:0.0.0.0", Some("unspecified")),
            ("::ffff:224.0.0.1", Some("multicast")),
            ("::ffff:8.8.8.8", None),
            // IPv4-compatible (deprecated): a public one is refused too.
            ("::127.0.0.1", Some("loopback")),
            ("::10.0.0.1", Some("private")),
            ("::8.8.8.8", Some("reserved")),
            ("::2", Some("unspecified")),
            // NAT64.
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::192.168.1.1", Some("private")),
            ("64:ff9b::8.8.8.8", None),
            // 6to4: 2002:AABB:CCDD:: carries AA.BB.CC.DD.
            ("2002:7f00:1::1", Some("loopback")),
            ("2002:a00:1::", Some("private")),
            ("2002:a9fe:a9fe::1", Some("link-local")),
            ("2002:808:808::1", None),
        ] {
            assert_eq!(reason(address), expected, "{address}");
        }
    }

    /// An address of `base/prefix` with random host bits.
    fn v4_in(base: [u8; 4], prefix: u32) -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(move |host| {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            Ipv4Addr::from_bits((u32::from_be_bytes(base) & mask) | (host & !mask))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Whatever std calls loopback, private, link-local, multicast, unspecified, broadcast or
        /// documentation is refused; the IPv4-mapped, IPv4-compatible and NAT64 forms of an
        /// address are refused when it is (the mapped and NAT64 forms with the same reason).
        #[test]
        fn every_ipv4_address_and_its_ipv6_forms_agree(bits in any::<u32>()) {
            let v4 = Ipv4Addr::from_bits(bits);
            let reason = forbidden_reason(IpAddr::V4(v4));
            let std_says = v4.is_loopback() || v4.is_private() || v4.is_link_local()
                || v4.is_multicast() || v4.is_unspecified() || v4.is_broadcast()
                || v4.is_documentation() || bits >> 24 == 0;
            if std_says {
                prop_assert!(reason.is_some(), "{v4}");
            }
            prop_assert_eq!(forbidden_reason(IpAddr::V6(v4.to_ipv6_mapped())), reason);
            let nat64 = Ipv6Addr::from_bits((0x0064_ff9b_u128 << 96) | u128::from(bits));
            prop_assert_eq!(forbidden_reason(IpAddr::V6(nat64)), reason);
            let compatible = IpAddr::V6(v4.to_ipv6_compatible());
            if reason.is_some() {
                prop_assert!(forbidden_reason(compatible).is_some(), "{compatible}");
            }
            let six_to_four = Ipv6Addr::from_bits((0x2002_u128 << 112) | (u128::from(bits) << 80));
            prop_assert_eq!(forbidden_reason(IpAddr::V6(six_to_four)), reason);
        }

        /// Every address of each class of the contract gets that class's reason.
        #[test]
        fn the_contracts_ipv4_ranges_are_refused_whole(
            (address, expected) in prop_oneof![
                v4_in([127, 0, 0, 0], 8).prop_map(|a| (a, "loopback")),
                v4_in([10, 0, 0, 0], 8).prop_map(|a| (a, "private")),
                v4_in([172, 16, 0, 0], 12).prop_map(|a| (a, "private")),
                v4_in([192, 168, 0, 0], 16).prop_map(|a| (a, "private")),
                v4_in([169, 254, 0, 0], 16).prop_map(|a| (a, "link-local")),
                v4_in([100, 64, 0, 0], 10).prop_map(|a| (a, "shared")),
                v4_in([224, 0, 0, 0], 4).prop_map(|a| (a, "multicast")),
                v4_in([0, 0, 0, 0], 8).prop_map(|a| (a, "unspecified")),
            ]
        ) {
            prop_assert_eq!(forbidden_reason(IpAddr::V4(address)), Some(expected));
        }

        /// Whatever std calls loopback, multicast or unspecified is refused, and so is every
        /// IPv6 address outside global unicast (`2000::/3`).
        #[test]
        fn every_ipv6_address_outside_global_unicast_is_refused(bits in any::<u128>()) {
            let v6 = Ipv6Addr::from_bits(bits);
            let reason = forbidden_reason(IpAddr::V6(v6));
            if v6.is_loopback() || v6.is_multicast() || v6.is_unspecified() {
                prop_assert!(reason.is_some(), "{v6}");
            }
            let global_unicast = bits >> 125 == 1;
            let carries_v4 = v6.to_ipv4_mapped().is_some() || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000;
            if !global_unicast && !carries_v4 {
                prop_assert!(reason.is_some(), "{v6}");
            }
        }

        /// No input makes the parser panic, and whatever it accepts keeps the rules.
        #[test]
        fn parse_url_keeps_its_rules_on_any_input(input in "\\PC{0,80}", allow_http: bool) {
            if let Ok(url) = parse_url(&input, allow_http) {
                let scheme = url.url().scheme();
                prop_assert!(scheme == "https" || (allow_http && scheme == "http"));
                prop_assert!(url.url().username().is_empty() && url.url().password().is_none());
                prop_assert!(url.as_str().len() <= URL_MAX);
                prop_assert!(url.url().host().is_some());
            }
        }

        /// A well-formed https URL of any name and path is accepted, and parsing its
        /// normalised form again changes nothing.
        #[test]
        fn well_formed_urls_round_trip(
            labels in prop::collection::vec("[a-z0-9]{1,6}(-[a-z0-9]{1,6})?", 1..4),
            tld in "[a-z]{2,6}",
            port in prop::option::of(1u16..),
            path in "(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,12}){0,4}",
        ) {
            let host = format!("{}.{tld}", labels.join("."));
            let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
            let input = format!("https://{host}{port_text}{path}");
            let url = parse_url(&input, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(url.host(), WebhookHost::Domain(&host));
            prop_assert_eq!(url.port(), port.unwrap_or(443));
            let again = parse_url(url.as_str(), false).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, url);
        }
    }
}
