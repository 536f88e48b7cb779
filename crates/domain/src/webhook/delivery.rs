//! What an endpoint subscribes to, and what follows an attempt: success, a retry after the
//! schedule (each wait ±10%), giving up, disabling the endpoint.

use std::time::Duration;

use crate::EventType;
use crate::validation::ValidationErrors;

/// The field every `event_types` failure names.
pub const EVENT_TYPES_FIELD: &str = "event_types";

/// The type of the event `POST /api/admin/webhooks/{id}/test` sends (to that endpoint only).
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// The waits between attempts (API.md): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The event types an endpoint takes: every one (`["*"]`) or those listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    /// Sorted, without repeats, never empty.
    Only(Vec<EventType>),
}

impl EventFilter {
    /// Reads `event_types`: `["*"]`, or one or more known type names (repeats ignored). Empty,
    /// `*` beside other names, or an unknown name: one error on `event_types`.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<EventFilter, ValidationErrors> {
        let fail = |message: String| Err(ValidationErrors::single(EVENT_TYPES_FIELD, message));
        if names.is_empty() {
            return fail(String::from(
                "must name at least one event type, or be [\"*\"]",
            ));
        }
        if names.iter().any(|name| name.as_ref() == "*") {
            return if names.len() == 1 {
                Ok(EventFilter::All)
            } else {
                fail(String::from("\"*\" must be the only element"))
            };
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let Some(kind) = EventType::ALL.into_iter().find(|t| t.as_str() == name) else {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                let shown: String = name.chars().take(64).collect();
                return fail(format!(
                    "unknown event type {shown:?}; known: {}, or \"*\"",
                    known.join(", ")
                ));
            };
            types.push(kind);
        }
        types.sort_by_key(|t| t.as_str());
        types.dedup();
        Ok(EventFilter::Only(types))
    }

    pub fn matches(&self, kind: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(types) => types.contains(&kind),
        }
    }

    /// The names, as stored and shown: `["*"]` or the types.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            EventFilter::All => vec!["*"],
            EventFilter::Only(types) => types.iter().map(|t| t.as_str()).collect(),
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer in time.
    Delivered { status: u16 },
    /// Any other answer (a redirect too: never followed). `410` is [`AttemptOutcome::Gone`].
    Refused { status: u16 },
    /// `410 Gone`: the receiver wants no more.
    Gone,
    /// The address connected to (or the one written in the URL) is forbidden.
    Blocked { reason: String },
    /// No answer: time-out, refused connection, TLS or protocol error.
    Failed { error: String },
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, AttemptOutcome::Delivered { .. })
    }

    /// The HTTP status received, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Delivered { status } | AttemptOutcome::Refused { status } => {
                Some(*status)
            }
            AttemptOutcome::Gone => Some(410),
            AttemptOutcome::Blocked { .. } | AttemptOutcome::Failed { .. } => None,
        }
    }

    /// What the deliveries log shows as `last_error` (`None` after a success).
    pub fn error(&self) -> Option<String> {
        match self {
            AttemptOutcome::Delivered { .. } => None,
            AttemptOutcome::Refused { status } => Some(format!("HTTP {status}")),
            AttemptOutcome::Gone => Some(String::from("HTTP 410 Gone: endpoint disabled")),
            AttemptOutcome::Blocked { reason } => Some(format!("address not allowed: {reason}")),
            AttemptOutcome::Failed { error } => Some(error.clone()),
        }
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered.
    Done,
    /// Try again after this wait (counted from the end of the attempt).
    RetryAfter(Duration),
    /// That was the last attempt: the delivery is `failed`.
    GiveUp,
}

/// What follows the `attempts`-th attempt (1 for the first) that ended with `outcome`. A failed
/// attempt waits `schedule[attempts - 1]` scaled by `1 + jitter / 10` (`jitter` in `-1.0..=1.0`,
/// drawn by the caller: ±10%); after the schedule's last wait has been used, it gives up.
pub fn next_step(
    outcome: &AttemptOutcome,
    attempts: u32,
    schedule: &[Duration],
    jitter: f64,
) -> NextStep {
    if outcome.succeeded() {
        return NextStep::Done;
    }
    match retry_wait(attempts, schedule, jitter) {
        Some(wait) => NextStep::RetryAfter(wait),
        None => NextStep::GiveUp,
    }
}

/// The wait after the `attempts`-th failed attempt (1 for the first): `schedule[attempts - 1]`
/// scaled by `1 + jitter / 10` (`jitter` in `-1.0..=1.0`: ±10%); `None` once the schedule is used
/// up. Webhooks and email retry alike.
pub fn retry_wait(attempts: u32, schedule: &[Duration], jitter: f64) -> Option<Duration> {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    let factor = 1.0 + jitter.clamp(-1.0, 1.0) / 10.0;
    schedule.get(index).map(|wait| wait.mul_f64(factor))
}

/// Why the endpoint must be disabled after a failed attempt, if it must: at once after `410`; after
/// any other failure when none of its deliveries has succeeded for `disable_after`
/// (`failing_for`: since the first failure after its last success, this one included).
pub fn disable_reason(
    outcome: &AttemptOutcome,
    failing_for: Duration,
    disable_after: Duration,
) -> Option<String> {
    match outcome {
        AttemptOutcome::Delivered { .. } => None,
        AttemptOutcome::Gone => Some(String::from("the endpoint answered 410 Gone")),
        _ if failing_for >= disable_after => Some(format!(
            "no delivery succeeded for {}",
            describe(disable_after)
        )),
        _ => None,
    }
}

/// `5d`, `12h`, `30m`, `45s`: the largest whole unit.
fn describe(duration: Duration) -> String {
    let seconds = duration.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_types() {
        assert_eq!(EventFilter::parse(&["*"]), Ok(EventFilter::All));
        let filter = EventFilter::parse(&["order.paid", "order.created", "order.paid"]).unwrap();
        assert_eq!(filter.names(), ["order.created", "order.paid"]);
        assert!(filter.matches(EventType::OrderPaid));
        assert!(!filter.matches(EventType::Shipped));
        assert!(EventFilter::All.matches(EventType::Refunded));
        for bad in [
            &[][..],
            &["order.nope"][..],
            &["*", "order.paid"][..],
            &["webhook.test"][..],
            &[""][..],
        ] {
            let errors = EventFilter::parse(bad).unwrap_err();
            assert!(
                errors.to_string().contains(EVENT_TYPES_FIELD),
                "{bad:?}: {errors}"
            );
        }
    }

    #[test]
    fn retries_along_the_schedule_with_jitter_then_gives_up() {
        let schedule = [Duration::from_secs(10), Duration::from_secs(100)];
        let failed = AttemptOutcome::Refused { status: 500 };
        assert_eq!(
            next_step(&failed, 1, &schedule, 0.0),
            NextStep::RetryAfter(Duration::from_secs(10))
        );
        assert_eq!(
            next_step(&failed, 1, &schedule, 1.0),
            NextStep::RetryAfter(Duration::from_secs(11))
        );
        assert_eq!(
            next_step(&failed, 2, &schedule, -1.0),
            NextStep::RetryAfter(Duration::from_secs(90))
        );
        // Out-of-range jitter is held to ±10%.
        assert_eq!(
            next_step(&failed, 2, &schedule, 7.0),
            NextStep::RetryAfter(Duration::from_secs(110))
        );
        assert_eq!(next_step(&failed, 3, &schedule, 0.0), NextStep::GiveUp);
        assert_eq!(
            next_step(
                &AttemptOutcome::Delivered { status: 204 },
                3,
                &schedule,
                0.0
            ),
            NextStep::Done
        );
        assert_eq!(
            next_step(&AttemptOutcome::Gone, 1, &[], 0.0),
            NextStep::GiveUp
        );
    }

    #[test]
    fn disables_on_gone_and_after_failing_too_long() {
        let day = Duration::from_secs(86_400);
        let refused = AttemptOutcome::Refused { status: 503 };
        assert!(disable_reason(&AttemptOutcome::Gone, Duration::ZERO, day).is_some());
        assert_eq!(disable_reason(&refused, day / 2, day), None);
        assert_eq!(
            disable_reason(&refused, day, day).as_deref(),
            Some("no delivery succeeded for 1d")
        );
        assert_eq!(
            disable_reason(&AttemptOutcome::Delivered { status: 200 }, day * 9, day),
            None
        );
    }

    #[test]
    fn outcomes_report_status_and_error() {
        assert_eq!(AttemptOutcome::Gone.status(), Some(410));
        assert_eq!(AttemptOutcome::Delivered { status: 201 }.error(), None);
        assert_eq!(
            AttemptOutcome::Blocked {
                reason: String::from("loopback")
            }
            .error()
            .as_deref(),
            Some("address not allowed: loopback")
        );
    }
}
