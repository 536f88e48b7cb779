//! What a customer asks for when placing an order, and its validation.

use serde::{Deserialize, Serialize};

use crate::validation::{self, Lines, ValidationErrors};

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 1000;
pub const ADDRESS_TEXT_MAX: usize = 200;
pub const POSTAL_CODE_MAX: usize = 20;

/// One line as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub product_id: i64,
    pub quantity: i64,
}

/// A shipping address as sent (optional text: `None` or empty both mean none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressInput {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
}

/// A valid shipping address: trimmed, country upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
}

/// One line of a valid order, after lines of the same product were merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: i64,
    pub quantity: u32,
    /// The index of the first line sent for this product: errors about the line name it.
    pub first_index: usize,
}

/// A valid order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidOrder {
    /// Merged lines, in the order their products first appeared.
    pub lines: Vec<OrderLine>,
    pub address: ShippingAddress,
}

/// Validates an order request: 1 to 100 lines, quantities 1 to 1000, the address; then merges
/// lines of the same product.
pub fn validate_order(
    items: &[LineInput],
    address: &AddressInput,
) -> Result<ValidOrder, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if items.is_empty() {
        errors.add("items", "must hold at least one line");
    } else if items.len() > MAX_LINES {
        errors.add("items", format!("must hold at most {MAX_LINES} lines"));
    }
    let mut lines: Vec<OrderLine> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let before = errors.0.len();
        if item.product_id < 1 {
            errors.add(format!("items[{index}].product_id"), "must be a product id");
        }
        validation::int_range(
            &mut errors,
            &format!("items[{index}].quantity"),
            item.quantity,
            1,
            MAX_QUANTITY,
        );
        if errors.0.len() != before {
            continue;
        }
        let quantity = u32::try_from(item.quantity).unwrap_or(0);
        match lines.iter_mut().find(|l| l.product_id == item.product_id) {
            Some(line) => line.quantity = line.quantity.saturating_add(quantity),
            None => lines.push(OrderLine {
                product_id: item.product_id,
                quantity,
                first_index: index,
            }),
        }
    }
    let address = validate_address(&mut errors, "shipping_address", address);
    errors.into_result(ValidOrder { lines, address })
}

fn validate_address(
    errors: &mut ValidationErrors,
    prefix: &str,
    input: &AddressInput,
) -> ShippingAddress {
    let field = |name: &str| format!("{prefix}.{name}");
    let required = |errors: &mut ValidationErrors, name: &str, value: &str| {
        validation::text(
            errors,
            &field(name),
            value,
            1,
            ADDRESS_TEXT_MAX,
            Lines::Single,
        )
    };
    let name = required(errors, "name", &input.name);
    let line1 = required(errors, "line1", &input.line1);
    let city = required(errors, "city", &input.city);
    let line2 = validation::optional_text(
        errors,
        &field("line2"),
        input.line2.as_deref(),
        ADDRESS_TEXT_MAX,
        Lines::Single,
    );
    let region = validation::optional_text(
        errors,
        &field("region"),
        input.region.as_deref(),
        ADDRESS_TEXT_MAX,
        Lines::Single,
    );
    let postal_code = validation::optional_text(
        errors,
        &field("postal_code"),
        input.postal_code.as_deref(),
        POSTAL_CODE_MAX,
        Lines::Single,
    );
    let country = input.country.trim().to_ascii_uppercase();
    if !validation::is_country_code(&country) {
        errors.add(
            field("country"),
            "must be an ISO 3166-1 alpha-2 country code",
        );
    }
    ShippingAddress {
        name,
        line1,
        line2,
        city,
        region,
        postal_code,
        country,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> AddressInput {
        AddressInput {
            name: " Ada Lovelace ".into(),
            line1: "1 Main St".into(),
            line2: Some("".into()),
            city: "London".into(),
            region: None,
            postal_code: Some("N1 9GU".into()),
            country: "gb".into(),
        }
    }

    fn line(product_id: i64, quantity: i64) -> LineInput {
        LineInput {
            product_id,
            quantity,
        }
    }

    #[test]
    fn valid_order_is_normalised_and_merged() {
        let order =
            validate_order(&[line(7, 2), line(3, 1), line(7, 5)], &address()).expect("valid");
        assert_eq!(
            order.lines,
            vec![
                OrderLine {
                    product_id: 7,
                    quantity: 7,
                    first_index: 0
                },
                OrderLine {
                    product_id: 3,
                    quantity: 1,
                    first_index: 1
                },
            ]
        );
        assert_eq!(order.address.name, "Ada Lovelace");
        assert_eq!(order.address.country, "GB");
        assert_eq!(order.address.line2, None);
    }

    #[test]
    fn each_failure_names_its_field() {
        let mut bad = address();
        bad.country = "UK".into();
        bad.city = "\n".into();
        bad.name = "x".repeat(201);
        bad.postal_code = Some("1".repeat(21));
        let err =
            validate_order(&[line(1, 0), line(0, 1), line(2, 1001)], &bad).expect_err("invalid");
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[0].quantity",
                "items[1].product_id",
                "items[2].quantity",
                "shipping_address.name",
                "shipping_address.city",
                "shipping_address.postal_code",
                "shipping_address.country",
            ]
        );
    }

    #[test]
    fn line_count_bounds() {
        assert_eq!(
            validate_order(&[], &address()).expect_err("empty").0[0].field,
            "items"
        );
        let many: Vec<LineInput> = (1..=101).map(|id| line(id, 1)).collect();
        assert_eq!(
            validate_order(&many, &address()).expect_err("too many").0[0].field,
            "items"
        );
        let hundred: Vec<LineInput> = (1..=100).map(|id| line(id, 1000)).collect();
        assert_eq!(
            validate_order(&hundred, &address())
                .expect("valid")
                .lines
                .len(),
            100
        );
    }
}
