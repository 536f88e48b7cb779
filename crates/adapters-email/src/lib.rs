//! Email over SMTP ([`SmtpMailer`], the [`Mailer`] port): the templates in `templates/` (text
//! and HTML, HTML auto-escaped) written out with `minijinja`, sent with `lettre` (tokio, rustls on
//! ring).
//!
//! `SMTP_URL` is lettre's: `smtp://host:port` (plain, or STARTTLS when the server offers it),
//! `smtp://host:port?tls=required` (STARTTLS or fail), `smtps://user:pass@host` (TLS from the
//! start). The attempt's outcome follows the server's answer: `2xx` sent, `4xx` and anything
//! without an answer (no connection, TLS, a timeout) transient, `5xx` permanent.

mod view;

use std::time::Duration;

use async_trait::async_trait;
use domain::email::{MailKind, MailOutcome};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use ports::{Mailer, OutgoingMail};

pub use view::MailView;

/// The templates, kept in files and compiled into the binary: `{kind}.txt` and `{kind}.html` for
/// every [`MailKind`], with the shared parts they include.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../templates/layout.html")),
    ("_lines.html", include_str!("../templates/_lines.html")),
    ("_lines.txt", include_str!("../templates/_lines.txt")),
    ("_address.html", include_str!("../templates/_address.html")),
    ("_address.txt", include_str!("../templates/_address.txt")),
    (
        "order_paid.txt",
        include_str!("../templates/order_paid.txt"),
    ),
    (
        "order_paid.html",
        include_str!("../templates/order_paid.html"),
    ),
    ("new_order.txt", include_str!("../templates/new_order.txt")),
    (
        "new_order.html",
        include_str!("../templates/new_order.html"),
    ),
    ("shipped.txt", include_str!("../templates/shipped.txt")),
    ("shipped.html", include_str!("../templates/shipped.html")),
    ("refunded.txt", include_str!("../templates/refunded.txt")),
    ("refunded.html", include_str!("../templates/refunded.html")),
    ("cancelled.txt", include_str!("../templates/cancelled.txt")),
    (
        "cancelled.html",
        include_str!("../templates/cancelled.html"),
    ),
];

/// A bad email setting: the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("SMTP_URL: {0}")]
    Url(String),
    #[error("MAIL_FROM: {0}")]
    From(String),
    #[error("email templates: {0}")]
    Templates(String),
}

/// An email written out: subject, text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The templates, ready to write emails.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads every template (a broken one fails here, at start-up, not at the first email).
    pub fn load() -> Result<Templates, MailConfigError> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|error| MailConfigError::Templates(format!("{name}: {error}")))?;
        }
        for kind in MailKind::ALL {
            for ext in ["txt", "html"] {
                let name = format!("{}.{ext}", kind.as_str());
                env.get_template(&name)
                    .map_err(|error| MailConfigError::Templates(format!("{name}: {error}")))?;
            }
        }
        Ok(Templates { env })
    }

    /// Writes `mail` out.
    pub fn write(&self, mail: &OutgoingMail) -> Result<Written, String> {
        let view = MailView::of(mail);
        let render = |ext: &str| {
            let name = format!("{}.{ext}", mail.kind.as_str());
            self.env
                .get_template(&name)
                .and_then(|template| template.render(minijinja::value::Serde(&view)))
                .map_err(|error| format!("{name}: {error}"))
        };
        Ok(Written {
            subject: view.subject.clone(),
            text: render("txt")?,
            html: render("html")?,
        })
    }
}

/// Sends emails through one SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
    templates: Templates,
}

impl SmtpMailer {
    /// A mailer for `SMTP_URL` and `MAIL_FROM` (`Shop <orders@shop.example>` or a bare address);
    /// each SMTP command waits at most `timeout`. Connects lazily (a mail server that is down at
    /// start-up only delays emails).
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<SmtpMailer, MailConfigError> {
        let from: Mailbox = from
            .parse()
            .map_err(|error| MailConfigError::From(format!("not an email address ({error})")))?;
        let domain = from.email.domain().to_owned();
        // lettre's own message would repeat the URL, password included: say what is wrong only.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                MailConfigError::Url(String::from(
                    "expected smtp://host:port, smtps://user:pass@host, or ?tls=required",
                ))
            })?
            .timeout(Some(timeout))
            .build();
        Ok(SmtpMailer {
            transport,
            from,
            domain,
            templates: Templates::load()?,
        })
    }

    fn message(&self, mail: &OutgoingMail) -> Result<Message, String> {
        let written = self.templates.write(mail)?;
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|error| format!("recipient: {error}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(written.subject)
            .message_id(Some(mail.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                written.text,
                written.html,
            ))
            .map_err(|error| format!("building the email: {error}"))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn domain(&self) -> String {
        self.domain.clone()
    }

    async fn send(&self, mail: &OutgoingMail) -> MailOutcome {
        let message = match self.message(mail) {
            Ok(message) => message,
            // A template or address that cannot be written will not improve with time.
            Err(error) => return MailOutcome::Permanent(error),
        };
        match self.transport.send(message).await {
            Ok(_) => MailOutcome::Sent,
            Err(error) => outcome_of(&error),
        }
    }
}

/// The outcome of a failed send: the server's code and first line when it answered.
fn outcome_of(error: &lettre::transport::smtp::Error) -> MailOutcome {
    let text = match error.status() {
        Some(code) => format!("the mail server answered {code}"),
        None if error.is_timeout() => String::from("the mail server timed out"),
        None => String::from("the mail server could not be reached"),
    };
    if error.is_permanent() {
        MailOutcome::Permanent(text)
    } else {
        MailOutcome::Transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_both_templates_and_they_parse() {
        let templates = Templates::load();
        assert!(templates.is_ok(), "{:?}", templates.err());
    }

    /// (The pooled transport is built and dropped on a runtime, as in the server.)
    #[tokio::test]
    async fn a_bad_setting_names_its_variable_and_never_repeats_the_url() {
        let timeout = Duration::from_secs(1);
        let bad_url = SmtpMailer::new("smtp://user:hunter2@[bad", "a@b.example", timeout);
        let error = bad_url.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("SMTP_URL"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let bad_from = SmtpMailer::new("smtp://127.0.0.1:2525", "not an address", timeout);
        let error = bad_from.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("MAIL_FROM"), "{error}");
        let mailer = SmtpMailer::new("smtp://127.0.0.1:2525", "Shop <o@shop.example>", timeout);
        assert_eq!(
            mailer.map(|m| m.domain()).ok().as_deref(),
            Some("shop.example")
        );
    }
}
