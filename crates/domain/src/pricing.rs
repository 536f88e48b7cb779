//! The pricing rules: amounts are computed from the database's prices, never taken from a client.
//!
//! - `subtotal` = Σ `unit_price × quantity`
//! - `shipping` = the flat rate, or 0 when `subtotal` ≥ the free-shipping threshold
//! - `tax` = (`subtotal` + `shipping`) × the destination's rate in basis points, half to even
//! - `total` = `subtotal` + `shipping` + `tax`

use std::collections::BTreeMap;

use crate::money::{Cents, MoneyOverflow};

/// Tax rates by ISO 3166-1 alpha-2 country (upper case), in basis points (2000 = 20 %).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaxRates(BTreeMap<String, u32>);

/// A `TAX_RATES` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tax rate entry {0:?}: expected CC=basis_points, e.g. GB=2000")]
pub struct InvalidTaxRates(pub String);

impl TaxRates {
    pub fn new(rates: impl IntoIterator<Item = (String, u32)>) -> TaxRates {
        TaxRates(
            rates
                .into_iter()
                .map(|(country, bp)| (country.to_ascii_uppercase(), bp))
                .collect(),
        )
    }

    /// Parses `GB=2000,DE=1900` (spaces allowed, empty means no taxes).
    pub fn parse(spec: &str) -> Result<TaxRates, InvalidTaxRates> {
        let mut rates = BTreeMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || InvalidTaxRates(entry.to_owned());
            let (country, bp) = entry.split_once('=').ok_or_else(bad)?;
            let country = country.trim().to_ascii_uppercase();
            if !crate::validation::is_country_code(&country) {
                return Err(bad());
            }
            let bp: u32 = bp.trim().parse().map_err(|_| bad())?;
            if bp > 100_000 {
                return Err(bad());
            }
            rates.insert(country, bp);
        }
        Ok(TaxRates(rates))
    }

    /// The rate for `country` (any case); countries not listed pay none.
    pub fn rate_for(&self, country: &str) -> u32 {
        self.0
            .get(&country.to_ascii_uppercase())
            .copied()
            .unwrap_or(0)
    }
}

/// The shop's pricing settings, passed in as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingRules {
    pub shipping_flat: Cents,
    pub free_shipping_threshold: Cents,
    pub tax_rates: TaxRates,
}

impl Default for PricingRules {
    fn default() -> Self {
        PricingRules {
            shipping_flat: Cents(500),
            free_shipping_threshold: Cents(5000),
            tax_rates: TaxRates::default(),
        }
    }
}

/// One order line with the price the database holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedLine {
    pub unit_price: Cents,
    pub quantity: u32,
}

/// The amounts of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// `unit_price × quantity` for each line, in the order given.
    pub line_totals: Vec<Cents>,
    pub subtotal: Cents,
    pub shipping: Cents,
    pub tax: Cents,
    pub total: Cents,
}

/// Pricing failed: an amount would not fit (the API answers 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("the order's amounts are too large")]
    Overflow,
    #[error("a price or quantity is negative")]
    Negative,
}

impl From<MoneyOverflow> for PricingError {
    fn from(_: MoneyOverflow) -> Self {
        PricingError::Overflow
    }
}

/// Prices an order shipped to `country`.
pub fn price_order(
    lines: &[PricedLine],
    country: &str,
    rules: &PricingRules,
) -> Result<Totals, PricingError> {
    let mut line_totals = Vec::with_capacity(lines.len());
    let mut subtotal = Cents::ZERO;
    for line in lines {
        if line.unit_price.0 < 0 {
            return Err(PricingError::Negative);
        }
        let line_total = line.unit_price.checked_mul(i64::from(line.quantity))?;
        subtotal = subtotal.checked_add(line_total)?;
        line_totals.push(line_total);
    }
    let shipping = if subtotal >= rules.free_shipping_threshold {
        Cents::ZERO
    } else {
        rules.shipping_flat
    };
    let taxable = subtotal.checked_add(shipping)?;
    let tax = taxable.apply_basis_points(rules.tax_rates.rate_for(country))?;
    let total = taxable.checked_add(tax)?;
    Ok(Totals {
        line_totals,
        subtotal,
        shipping,
        tax,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> PricingRules {
        PricingRules {
            shipping_flat: Cents(500),
            free_shipping_threshold: Cents(5000),
            tax_rates: TaxRates::parse("GB=2000, de=1900").expect("valid"),
        }
    }

    fn line(unit_price: i64, quantity: u32) -> PricedLine {
        PricedLine {
            unit_price: Cents(unit_price),
            quantity,
        }
    }

    #[test]
    fn shipping_below_and_at_threshold() {
        let below = price_order(&[line(1000, 2)], "US", &rules()).expect("prices");
        assert_eq!(below.subtotal, Cents(2000));
        assert_eq!(below.shipping, Cents(500));
        assert_eq!(below.tax, Cents(0));
        assert_eq!(below.total, Cents(2500));

        let at = price_order(&[line(2500, 2)], "us", &rules()).expect("prices");
        assert_eq!(at.shipping, Cents(0));
        assert_eq!(at.total, Cents(5000));
    }

    #[test]
    fn tax_by_country_any_case() {
        let gb = price_order(&[line(1999, 1), line(1, 3)], "gb", &rules()).expect("prices");
        assert_eq!(gb.line_totals, vec![Cents(1999), Cents(3)]);
        assert_eq!(gb.subtotal, Cents(2002));
        // (2002 + 500) × 20 % = 500.4 → 500
        assert_eq!(gb.tax, Cents(500));
        assert_eq!(gb.total, Cents(3002));
        let de = price_order(&[line(1000, 1)], "DE", &rules()).expect("prices");
        // (1000 + 500) × 19 % = 285
        assert_eq!(de.tax, Cents(285));
    }

    #[test]
    fn half_cent_tax_rounds_to_even() {
        let r = PricingRules {
            shipping_flat: Cents(0),
            free_shipping_threshold: Cents(0),
            tax_rates: TaxRates::parse("FR=500").expect("valid"),
        };
        // 10 × 5 % = 0.5 → 0; 30 × 5 % = 1.5 → 2
        assert_eq!(
            price_order(&[line(10, 1)], "FR", &r).expect("prices").tax,
            Cents(0)
        );
        assert_eq!(
            price_order(&[line(30, 1)], "FR", &r).expect("prices").tax,
            Cents(2)
        );
    }

    #[test]
    fn overflow_is_an_error() {
        let lines = vec![line(i64::MAX / 2, 3)];
        assert_eq!(
            price_order(&lines, "GB", &rules()),
            Err(PricingError::Overflow)
        );
        // The subtotal fits, the tax on it does not.
        let lines = vec![line(i64::MAX - 100, 1)];
        assert_eq!(
            price_order(&lines, "GB", &rules()),
            Err(PricingError::Overflow)
        );
        assert!(price_order(&lines, "US", &rules()).is_ok());
    }

    #[test]
    fn tax_rates_parse() {
        assert_eq!(TaxRates::parse("").expect("empty").rate_for("GB"), 0);
        assert!(TaxRates::parse("GB").is_err());
        assert!(TaxRates::parse("GB=abc").is_err());
        assert!(TaxRates::parse("XX=100").is_err());
        assert!(TaxRates::parse("GB=-1").is_err());
    }

    proptest! {
        #[test]
        fn totals_add_up(
            lines in prop::collection::vec((0i64..=i64::from(i32::MAX), 1u32..=1000), 1..100),
            country in prop::sample::select(vec!["GB", "DE", "US", "gb"]),
        ) {
            let lines: Vec<PricedLine> = lines.into_iter().map(|(p, q)| line(p, q)).collect();
            let totals = price_order(&lines, country, &rules()).expect("fits in i64");
            let sum: i64 = lines.iter().map(|l| l.unit_price.0 * i64::from(l.quantity)).sum();
            prop_assert_eq!(totals.subtotal.0, sum);
            prop_assert_eq!(
                totals.line_totals.iter().map(|c| c.0).sum::<i64>(),
                totals.subtotal.0
            );
            prop_assert_eq!(
                totals.total.0,
                totals.subtotal.0 + totals.shipping.0 + totals.tax.0
            );
            prop_assert!(totals.tax.0 >= 0 && totals.shipping.0 >= 0);
        }

        #[test]
        fn no_input_panics(
            lines in prop::collection::vec((any::<i64>(), any::<u32>()), 0..20),
            flat in any::<i64>(),
            threshold in any::<i64>(),
            bp in any::<u32>(),
        ) {
            let r = PricingRules {
                shipping_flat: Cents(flat),
                free_shipping_threshold: Cents(threshold),
                tax_rates: TaxRates::new([("GB".to_owned(), bp)]),
            };
            let lines: Vec<PricedLine> = lines.into_iter().map(|(p, q)| line(p, q)).collect();
            if let Ok(t) = price_order(&lines, "GB", &r) {
                prop_assert_eq!(
                    i128::from(t.total.0),
                    i128::from(t.subtotal.0) + i128::from(t.shipping.0) + i128::from(t.tax.0)
                );
            }
        }
    }
}
