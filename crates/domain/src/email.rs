//! Email (API.md, "Email"): which committed events make which emails, to whom; the email's fixed
//! `Message-ID`; what follows an attempt; money as people read it.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::order::events::EventType;

/// Events that occurred longer ago than this when they are turned into emails are passed over: a
/// server that ran without a mail server and is given one does not send old news.
pub const STALE_AFTER: Duration = Duration::from_secs(86_400);

/// What an email says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// To the customer: the order is paid (lines, amounts, address).
    OrderPaid,
    /// To the shop (`ADMIN_EMAIL`): a new paid order.
    NewOrder,
    /// To the customer: a shipment left (its units, carrier and tracking).
    Shipped,
    /// To the customer: money given back.
    Refunded,
    /// To the customer: the order was cancelled.
    Cancelled,
}

impl MailKind {
    pub const ALL: [MailKind; 5] = [
        MailKind::OrderPaid,
        MailKind::NewOrder,
        MailKind::Shipped,
        MailKind::Refunded,
        MailKind::Cancelled,
    ];

    /// The stored name, also the template's.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::OrderPaid => "order_paid",
            MailKind::NewOrder => "new_order",
            MailKind::Shipped => "shipped",
            MailKind::Refunded => "refunded",
            MailKind::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<MailKind> {
        MailKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

/// Who an email goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// The order's owner.
    Customer,
    /// The shop's address (`ADMIN_EMAIL`).
    Shop,
}

/// What an event says, as far as email cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailTrigger {
    pub kind: EventType,
    /// The shipment the event reports (`order.shipped`, or the completing `order.status_changed`).
    pub reports_shipment: bool,
    /// The refund the event reports (`order.refunded`, or the completing `order.status_changed`).
    pub reports_refund: bool,
}

/// The emails one committed event makes: the customer's when their order is paid, shipped,
/// refunded or cancelled, and the shop's for every paid order (when `shop` is configured).
/// A shipment or refund that completes the order is named `order.status_changed`, and is still a
/// shipment or refund email. A cancellation that refunds says so in its one email.
pub fn mails_for(trigger: MailTrigger, shop: bool) -> Vec<(MailKind, Recipient)> {
    match trigger.kind {
        EventType::OrderPaid if shop => vec![
            (MailKind::OrderPaid, Recipient::Customer),
            (MailKind::NewOrder, Recipient::Shop),
        ],
        EventType::OrderPaid => vec![(MailKind::OrderPaid, Recipient::Customer)],
        EventType::Shipped => vec![(MailKind::Shipped, Recipient::Customer)],
        EventType::Refunded => vec![(MailKind::Refunded, Recipient::Customer)],
        EventType::OrderCancelled => vec![(MailKind::Cancelled, Recipient::Customer)],
        EventType::OrderStatusChanged if trigger.reports_shipment => {
            vec![(MailKind::Shipped, Recipient::Customer)]
        }
        EventType::OrderStatusChanged if trigger.reports_refund => {
            vec![(MailKind::Refunded, Recipient::Customer)]
        }
        EventType::OrderStatusChanged | EventType::OrderCreated => Vec::new(),
    }
}

/// The email's `Message-ID`, the same for every attempt of one event to one recipient (so a mail
/// client or server shows a resent email once): `<oms.{event}.{16 hex of the address's
/// SHA-256}@{domain}>`. The address is hashed so that it does not travel in other headers.
pub fn message_id(event_id: i64, recipient: &str, domain: &str) -> String {
    let digest = Sha256::digest(recipient.trim().to_lowercase().as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("<oms.{event_id}.{tag}@{domain}>")
}

/// The short label people use for an order: the last 8 characters of its id (its random tail;
/// the web app shows the same).
pub fn short_number(order_id: &str) -> &str {
    let start = order_id.len().saturating_sub(8);
    order_id.get(start..).unwrap_or(order_id)
}

/// How an attempt to hand an email to the mail server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// The server took it (`250`).
    Sent,
    /// A transient failure: a `4xx` answer, no connection, a timeout. Tried again.
    Transient(String),
    /// The server refused it for good (`5xx`: no such mailbox, refused sender). Not tried again.
    Permanent(String),
}

impl MailOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, MailOutcome::Sent)
    }

    /// The error for the delivery's record (none when sent).
    pub fn error(&self) -> Option<String> {
        match self {
            MailOutcome::Sent => None,
            MailOutcome::Transient(error) | MailOutcome::Permanent(error) => Some(error.clone()),
        }
    }

    /// The metric label.
    pub fn label(&self, retried: bool) -> &'static str {
        match (self, retried) {
            (MailOutcome::Sent, _) => "sent",
            (MailOutcome::Transient(_), true) => "retrying",
            (MailOutcome::Transient(_), false) | (MailOutcome::Permanent(_), _) => "failed",
        }
    }
}

/// When the next attempt is due after the `attempts`-th (1 for the first) ended with `outcome`:
/// `None` when the email is done (sent, refused for good, or the schedule used up).
pub fn retry_after(
    outcome: &MailOutcome,
    attempts: u32,
    schedule: &[Duration],
    jitter: f64,
) -> Option<Duration> {
    match outcome {
        MailOutcome::Transient(_) => crate::webhook::retry_wait(attempts, schedule, jitter),
        MailOutcome::Sent | MailOutcome::Permanent(_) => None,
    }
}

/// `cents` as an amount of `currency` the way an English-language receipt writes it: `$1,234.56`,
/// `€9.90`, `£0.05`, `-$3.00`, and for other codes `1,234.56 CHF`. Amounts are in hundredths of the
/// currency unit throughout the system.
pub fn format_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let amount = format!("{grouped}.{:02}", abs % 100);
    let symbol = match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" | "CNY" => Some("¥"),
        "INR" => Some("₹"),
        _ => None,
    };
    match symbol {
        Some(symbol) => format!("{sign}{symbol}{amount}"),
        None => format!("{sign}{amount} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(kind: EventType) -> MailTrigger {
        MailTrigger {
            kind,
            reports_shipment: false,
            reports_refund: false,
        }
    }

    #[test]
    fn paid_orders_mail_the_customer_and_the_shop_when_configured() {
        assert_eq!(
            mails_for(trigger(EventType::OrderPaid), true),
            vec![
                (MailKind::OrderPaid, Recipient::Customer),
                (MailKind::NewOrder, Recipient::Shop)
            ]
        );
        assert_eq!(
            mails_for(trigger(EventType::OrderPaid), false),
            vec![(MailKind::OrderPaid, Recipient::Customer)]
        );
        assert!(mails_for(trigger(EventType::OrderCreated), true).is_empty());
    }

    #[test]
    fn a_completing_shipment_or_refund_is_still_mailed_as_one() {
        let completing_shipment = MailTrigger {
            reports_shipment: true,
            ..trigger(EventType::OrderStatusChanged)
        };
        assert_eq!(
            mails_for(completing_shipment, true),
            vec![(MailKind::Shipped, Recipient::Customer)]
        );
        let completing_refund = MailTrigger {
            reports_refund: true,
            ..trigger(EventType::OrderStatusChanged)
        };
        assert_eq!(
            mails_for(completing_refund, false),
            vec![(MailKind::Refunded, Recipient::Customer)]
        );
        assert!(mails_for(trigger(EventType::OrderStatusChanged), true).is_empty());
        assert_eq!(
            mails_for(trigger(EventType::OrderCancelled), true),
            vec![(MailKind::Cancelled, Recipient::Customer)]
        );
    }

    #[test]
    fn message_ids_are_fixed_per_event_and_recipient() {
        let a = message_id(42, "Ann@Example.com", "shop.example");
        assert_eq!(a, message_id(42, "ann@example.com ", "shop.example"));
        assert_ne!(a, message_id(43, "ann@example.com", "shop.example"));
        assert_ne!(a, message_id(42, "bob@example.com", "shop.example"));
        assert!(
            a.starts_with("<oms.42.") && a.ends_with("@shop.example>"),
            "{a}"
        );
        assert!(!a.contains("ann"), "the address does not show: {a}");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in MailKind::ALL {
            assert_eq!(MailKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(MailKind::parse("nope"), None);
    }

    #[test]
    fn short_numbers_are_the_ids_tail() {
        assert_eq!(
            short_number("0192f0c4-7f2e-7a40-9a8e-3c1d2b4a5e6f"),
            "2b4a5e6f"
        );
        assert_eq!(short_number("abc"), "abc");
    }

    #[test]
    fn transient_failures_are_retried_on_schedule_permanent_ones_are_not() {
        let schedule = [Duration::from_secs(10), Duration::from_secs(60)];
        let transient = MailOutcome::Transient("451 try later".into());
        assert_eq!(
            retry_after(&transient, 1, &schedule, 0.0),
            Some(Duration::from_secs(10))
        );
        assert_eq!(retry_after(&transient, 3, &schedule, 0.0), None);
        let permanent = MailOutcome::Permanent("550 no such user".into());
        assert_eq!(retry_after(&permanent, 1, &schedule, 0.0), None);
        assert_eq!(retry_after(&MailOutcome::Sent, 1, &schedule, 0.0), None);
        assert_eq!(transient.label(true), "retrying");
        assert_eq!(transient.label(false), "failed");
        assert_eq!(MailOutcome::Sent.label(false), "sent");
    }

    #[test]
    fn money_reads_like_a_receipt() {
        assert_eq!(format_money(123_456, "USD"), "$1,234.56");
        assert_eq!(format_money(990, "EUR"), "€9.90");
        assert_eq!(format_money(5, "GBP"), "£0.05");
        assert_eq!(format_money(-300, "USD"), "-$3.00");
        assert_eq!(format_money(100_000_000, "CHF"), "1,000,000.00 CHF");
        assert_eq!(format_money(0, "USD"), "$0.00");
        assert_eq!(format_money(i64::MIN, "USD"), "-$92,233,720,368,547,758.08");
    }
}
