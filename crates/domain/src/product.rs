//! Product fields and their validation.

use crate::validation::{self, Lines, ValidationErrors};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const SKU_MIN: usize = 2;
pub const SKU_MAX: usize = 64;
/// An `image_url` is at most 2,048 characters.
pub const IMAGE_URL_MAX: usize = 2048;
/// Prices and stock are 0 to 2,147,483,647.
pub const AMOUNT_MAX: i64 = i32::MAX as i64;

/// A new product as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProductInput {
    pub name: String,
    pub description: Option<String>,
    pub price: i64,
    pub stock_quantity: i64,
    pub sku: String,
    pub image_url: Option<String>,
}

/// A valid new product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: Option<String>,
    pub price: i64,
    pub stock_quantity: i64,
    pub sku: String,
    pub image_url: Option<String>,
}

/// How a patch changes stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// Set to this absolute value.
    Set(i64),
    /// Add this (negative takes away), never below 0.
    Delta(i64),
}

/// A partial update as sent. `description: Some(None)` clears the description, and
/// `image_url: Some(None)` the image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductPatchInput {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub image_url: Option<Option<String>>,
    pub price: Option<i64>,
    pub sku: Option<String>,
    pub archived: Option<bool>,
    pub stock_quantity: Option<i64>,
    pub stock_delta: Option<i64>,
}

/// A valid partial update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub image_url: Option<Option<String>>,
    pub price: Option<i64>,
    pub sku: Option<String>,
    pub archived: Option<bool>,
    pub stock: Option<StockChange>,
}

fn sku(errors: &mut ValidationErrors, value: &str) -> String {
    let sku = value.trim();
    let len = sku.chars().count();
    if !(SKU_MIN..=SKU_MAX).contains(&len) {
        errors.add("sku", format!("must be {SKU_MIN} to {SKU_MAX} characters"));
    } else if !sku
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.add("sku", "may hold only A-Z, a-z, 0-9, '-' and '_'");
    }
    sku.to_owned()
}

fn name(errors: &mut ValidationErrors, value: &str) -> String {
    validation::text(errors, "name", value, 1, NAME_MAX, Lines::Single)
}

fn description(errors: &mut ValidationErrors, value: Option<&str>) -> Option<String> {
    validation::optional_text(errors, "description", value, DESCRIPTION_MAX, Lines::Multi)
}

/// Why an `image_url` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImageUrlError {
    #[error("must be at most {IMAGE_URL_MAX} characters")]
    TooLong,
    #[error("must not contain control characters or spaces")]
    BadCharacters,
    /// Neither `https://host/...` nor a path starting with one `/`.
    #[error("must be an absolute https:// URL or a path starting with /")]
    NotHttpsOrPath,
}

/// Checks an image URL: `None` (absent, `null` or empty once trimmed) means no image; else an
/// absolute `https://` URL with a host and no user info, or a path on this site starting with
/// `/` (not `//`, which a browser reads as another host), at most 2,048 characters, without
/// spaces or control characters.
pub fn parse_image_url(value: Option<&str>) -> Result<Option<String>, ImageUrlError> {
    let Some(url) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if url.chars().count() > IMAGE_URL_MAX {
        return Err(ImageUrlError::TooLong);
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ImageUrlError::BadCharacters);
    }
    if url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\") {
        return Ok(Some(url.to_owned()));
    }
    // `https:///host` would be read as `https://host`: the host must follow the `//` itself.
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        && url
            .get(8..)
            .is_some_and(|rest| !rest.starts_with(['/', '\\']));
    let parsed = url::Url::parse(url).ok().filter(|u| {
        https
            && u.scheme() == "https"
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.username().is_empty()
            && u.password().is_none()
    });
    match parsed {
        Some(_) => Ok(Some(url.to_owned())),
        None => Err(ImageUrlError::NotHttpsOrPath),
    }
}

fn image_url(errors: &mut ValidationErrors, value: Option<&str>) -> Option<String> {
    parse_image_url(value).unwrap_or_else(|e| {
        errors.add("image_url", e.to_string());
        None
    })
}

/// Validates a new product.
pub fn validate_new_product(input: &NewProductInput) -> Result<NewProduct, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let name = name(&mut errors, &input.name);
    let description = description(&mut errors, input.description.as_deref());
    validation::int_range(&mut errors, "price", input.price, 0, AMOUNT_MAX);
    validation::int_range(
        &mut errors,
        "stock_quantity",
        input.stock_quantity,
        0,
        AMOUNT_MAX,
    );
    let sku = sku(&mut errors, &input.sku);
    let image_url = image_url(&mut errors, input.image_url.as_deref());
    errors.into_result(NewProduct {
        name,
        description,
        price: input.price,
        stock_quantity: input.stock_quantity,
        sku,
        image_url,
    })
}

/// Validates a partial update; `stock_quantity` and `stock_delta` together are refused.
pub fn validate_product_patch(input: &ProductPatchInput) -> Result<ProductPatch, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let name = input.name.as_deref().map(|n| name(&mut errors, n));
    let description = input
        .description
        .as_ref()
        .map(|d| description(&mut errors, d.as_deref()));
    if let Some(price) = input.price {
        validation::int_range(&mut errors, "price", price, 0, AMOUNT_MAX);
    }
    let sku = input.sku.as_deref().map(|s| sku(&mut errors, s));
    let image_url = input
        .image_url
        .as_ref()
        .map(|u| image_url(&mut errors, u.as_deref()));
    let stock = match (input.stock_quantity, input.stock_delta) {
        (Some(_), Some(_)) => {
            errors.add(
                "stock_delta",
                "send either stock_quantity or stock_delta, not both",
            );
            None
        }
        (Some(quantity), None) => {
            validation::int_range(&mut errors, "stock_quantity", quantity, 0, AMOUNT_MAX);
            Some(StockChange::Set(quantity))
        }
        (None, Some(delta)) => {
            validation::int_range(&mut errors, "stock_delta", delta, -AMOUNT_MAX, AMOUNT_MAX);
            Some(StockChange::Delta(delta))
        }
        (None, None) => None,
    };
    errors.into_result(ProductPatch {
        name,
        description,
        image_url,
        price: input.price,
        sku,
        archived: input.archived,
        stock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> NewProductInput {
        NewProductInput {
            name: " Widget ".into(),
            description: Some("A widget.\nThe best.".into()),
            price: 1999,
            stock_quantity: 10,
            sku: "WID-001_a".into(),
            image_url: Some(" /images/widget.svg ".into()),
        }
    }

    #[test]
    fn valid_product() {
        let p = validate_new_product(&input()).expect("valid");
        assert_eq!(p.name, "Widget");
        assert_eq!(p.sku, "WID-001_a");
        assert_eq!(p.image_url.as_deref(), Some("/images/widget.svg"));
    }

    #[test]
    fn image_urls() {
        for ok in [
            "/images/a.svg",
            "/",
            "https://cdn.example.com/a.png?w=200#x",
            "HTTPS://CDN.EXAMPLE.COM/A.PNG",
            "https://[2001:db8::1]/a.png",
        ] {
            assert_eq!(parse_image_url(Some(ok)), Ok(Some(ok.to_owned())), "{ok}");
        }
        for none in [None, Some(""), Some("   ")] {
            assert_eq!(parse_image_url(none), Ok(None));
        }
        let longest = format!("/{}", "a".repeat(IMAGE_URL_MAX - 1));
        assert!(parse_image_url(Some(&longest)).is_ok());
        assert_eq!(
            parse_image_url(Some(&format!("{longest}a"))),
            Err(ImageUrlError::TooLong)
        );
        for bad in [
            "http://example.com/a.png",
            "//example.com/a.png",
            "/\\example.com/a.png",
            "images/a.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "https:///a.png",
            "https://user:pass@example.com/a.png",
            "ftp://example.com/a.png",
        ] {
            assert_eq!(
                parse_image_url(Some(bad)),
                Err(ImageUrlError::NotHttpsOrPath),
                "{bad}"
            );
        }
        for bad in ["/a b.png", "/a\nb", "https://example.com/\u{7}"] {
            assert_eq!(
                parse_image_url(Some(bad)),
                Err(ImageUrlError::BadCharacters),
                "{bad}"
            );
        }
        let mut i = input();
        i.image_url = Some("http://x.example/a.png".into());
        assert_eq!(
            validate_new_product(&i).expect_err("http").0[0].field,
            "image_url"
        );
        let clear = ProductPatchInput {
            image_url: Some(None),
            ..Default::default()
        };
        assert_eq!(
            validate_product_patch(&clear).expect("valid").image_url,
            Some(None)
        );
        let empty = ProductPatchInput {
            image_url: Some(Some(" ".into())),
            ..Default::default()
        };
        assert_eq!(
            validate_product_patch(&empty).expect("valid").image_url,
            Some(None)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = NewProductInput {
            name: "".into(),
            description: Some("x".repeat(5001)),
            price: -1,
            stock_quantity: AMOUNT_MAX + 1,
            sku: "a b".into(),
            image_url: Some("ftp://x".into()),
        };
        let err = validate_new_product(&bad).expect_err("invalid");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "description",
                "price",
                "stock_quantity",
                "sku",
                "image_url"
            ]
        );
        for bad_sku in ["a", &"a".repeat(65), "ab!", "ab.c"] {
            let mut i = input();
            i.sku = bad_sku.into();
            assert!(validate_new_product(&i).is_err(), "{bad_sku:?}");
        }
    }

    #[test]
    fn patch_rules() {
        let both = ProductPatchInput {
            stock_quantity: Some(1),
            stock_delta: Some(1),
            ..Default::default()
        };
        assert_eq!(
            validate_product_patch(&both).expect_err("both").0[0].field,
            "stock_delta"
        );
        let delta = ProductPatchInput {
            stock_delta: Some(-5),
            description: Some(None),
            ..Default::default()
        };
        let patch = validate_product_patch(&delta).expect("valid");
        assert_eq!(patch.stock, Some(StockChange::Delta(-5)));
        assert_eq!(patch.description, Some(None));
        assert_eq!(
            validate_product_patch(&ProductPatchInput::default()),
            Ok(ProductPatch::default())
        );
    }
}
