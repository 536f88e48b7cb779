//! Money as an integer number of cents. Every operation is checked: an overflow is an error,
//! never a wrap or a panic.

use serde::{Deserialize, Serialize};

/// An amount of money in cents (one currency, set by configuration).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// An amount did not fit in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount overflows")]
pub struct MoneyOverflow;

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub fn checked_add(self, other: Cents) -> Result<Cents, MoneyOverflow> {
        self.0.checked_add(other.0).map(Cents).ok_or(MoneyOverflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Cents, MoneyOverflow> {
        self.0.checked_mul(factor).map(Cents).ok_or(MoneyOverflow)
    }

    /// `self × basis_points / 10 000`, rounded half to even to a whole cent.
    pub fn apply_basis_points(self, basis_points: u32) -> Result<Cents, MoneyOverflow> {
        let product = i128::from(self.0) * i128::from(basis_points);
        let quotient = product.div_euclid(10_000);
        let remainder = product.rem_euclid(10_000);
        let rounded = match remainder.cmp(&5_000) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal if quotient % 2 == 0 => quotient,
            std::cmp::Ordering::Equal => quotient + 1,
        };
        i64::try_from(rounded).map(Cents).map_err(|_| MoneyOverflow)
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_points_round_half_to_even() {
        // 2.5 cents → 2, 3.5 cents → 4
        assert_eq!(Cents(125).apply_basis_points(200), Ok(Cents(2)));
        assert_eq!(Cents(175).apply_basis_points(200), Ok(Cents(4)));
        // 0.4999 → 0, 0.5001 → 1
        assert_eq!(Cents(4999).apply_basis_points(1), Ok(Cents(0)));
        assert_eq!(Cents(5001).apply_basis_points(1), Ok(Cents(1)));
        assert_eq!(Cents(10_000).apply_basis_points(2000), Ok(Cents(2000)));
    }

    #[test]
    fn overflow_is_an_error() {
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), Err(MoneyOverflow));
        assert_eq!(Cents(i64::MAX).checked_mul(2), Err(MoneyOverflow));
        assert_eq!(
            Cents(i64::MAX).apply_basis_points(20_000),
            Err(MoneyOverflow)
        );
        assert_eq!(
            Cents(i64::MAX).apply_basis_points(10_000),
            Ok(Cents(i64::MAX))
        );
    }
}
