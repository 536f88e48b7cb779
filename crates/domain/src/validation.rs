//! Validation of what users send. Every failure names its field (`items[0].quantity`,
//! `shipping_address.country`) so that a client can show it next to the right input.

use serde::Serialize;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field that failed, in the order checked. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("validation failed: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        ValidationErrors(Vec::new())
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = ValidationErrors::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing failed, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// How a text field treats line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: every control character (newlines included) is refused.
    Single,
    /// Newlines and tabs allowed (a product's description); other control characters refused.
    Multi,
}

/// Trims `value` and checks it is `min..=max` characters without forbidden control characters.
pub fn text(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    lines: Lines,
) -> String {
    let trimmed = value.trim();
    let count = trimmed.chars().count();
    let forbidden = trimmed.chars().any(|c| match lines {
        Lines::Single => c.is_control(),
        Lines::Multi => c.is_control() && !matches!(c, '\n' | '\r' | '\t'),
    });
    if forbidden {
        errors.add(field, "must not contain control characters");
    } else if count < min {
        if min == 1 {
            errors.add(field, "must not be empty");
        } else {
            errors.add(field, format!("must be at least {min} characters"));
        }
    } else if count > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    trimmed.to_owned()
}

/// An optional text field: `None`, and text that is empty once trimmed, both mean "none".
pub fn optional_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    max: usize,
    lines: Lines,
) -> Option<String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    Some(text(errors, field, value, 1, max, lines))
}

/// Checks an integer is within `min..=max`.
pub fn int_range(errors: &mut ValidationErrors, field: &str, value: i64, min: i64, max: i64) {
    if value < min || value > max {
        errors.add(field, format!("must be between {min} and {max}"));
    }
}

pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// Normalises an email (trimmed, lower-cased) and checks its shape.
pub fn email(errors: &mut ValidationErrors, field: &str, value: &str) -> String {
    let email = value.trim().to_lowercase();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
    });
    let bad_chars = email.chars().any(|c| c.is_control() || c.is_whitespace());
    if email.chars().count() > EMAIL_MAX {
        errors.add(field, format!("must be at most {EMAIL_MAX} characters"));
    } else if !well_formed || bad_chars {
        errors.add(field, "must be an email address");
    }
    email
}

/// Checks a password's length (8 to 128 characters). Passwords are never trimmed.
pub fn password(errors: &mut ValidationErrors, field: &str, value: &str) {
    let count = value.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&count) {
        errors.add(
            field,
            format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters"),
        );
    }
}

/// Whether `code` is an officially assigned ISO 3166-1 alpha-2 code (upper case).
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && COUNTRY_CODES.binary_search(&code).is_ok()
}

/// ISO 3166-1 alpha-2, the officially assigned codes, sorted.
const COUNTRY_CODES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_sorted_and_known() {
        assert!(COUNTRY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_country_code("GB"));
        assert!(is_country_code("US"));
        assert!(!is_country_code("gb"));
        assert!(!is_country_code("UK"));
        assert!(!is_country_code("XX"));
        assert!(!is_country_code("GBR"));
    }

    #[test]
    fn text_is_trimmed_and_checked() {
        let mut e = ValidationErrors::new();
        assert_eq!(
            text(&mut e, "name", "  Ada  ", 1, 200, Lines::Single),
            "Ada"
        );
        assert!(e.is_empty());
        text(&mut e, "name", "   ", 1, 200, Lines::Single);
        text(&mut e, "name2", "a\nb", 1, 200, Lines::Single);
        text(&mut e, "name3", &"x".repeat(201), 1, 200, Lines::Single);
        assert_eq!(
            e.0.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
            ["name", "name2", "name3"]
        );
        let mut e = ValidationErrors::new();
        text(&mut e, "description", "line\nline", 0, 5000, Lines::Multi);
        assert!(e.is_empty());
        text(&mut e, "description", "bell\u{7}", 0, 5000, Lines::Multi);
        assert_eq!(e.0.len(), 1);
    }

    #[test]
    fn optional_text_treats_empty_as_none() {
        let mut e = ValidationErrors::new();
        assert_eq!(optional_text(&mut e, "f", None, 10, Lines::Single), None);
        assert_eq!(
            optional_text(&mut e, "f", Some("  "), 10, Lines::Single),
            None
        );
        assert_eq!(
            optional_text(&mut e, "f", Some(" x "), 10, Lines::Single),
            Some("x".to_owned())
        );
        assert!(e.is_empty());
    }

    #[test]
    fn emails() {
        let mut e = ValidationErrors::new();
        assert_eq!(
            email(&mut e, "email", " Ada@Example.COM "),
            "ada@example.com"
        );
        assert!(e.is_empty());
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a@b",
            "a b@x.com",
            "a@@x.com",
            "a@x..com",
        ] {
            let mut e = ValidationErrors::new();
            email(&mut e, "email", bad);
            assert_eq!(e.0.len(), 1, "{bad:?} should be refused");
            assert_eq!(e.0[0].field, "email");
        }
    }

    #[test]
    fn passwords() {
        for (pw, ok) in [
            ("1234567", false),
            ("12345678", true),
            ("é".repeat(128).as_str(), true),
            ("x".repeat(129).as_str(), false),
        ] {
            let mut e = ValidationErrors::new();
            password(&mut e, "password", pw);
            assert_eq!(e.is_empty(), ok, "{pw:?}");
        }
    }
}
