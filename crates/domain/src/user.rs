//! Who acts on the system, and the rules of changing an account's status or role.
//!
//! An admin changes another user's [`UserStatus`] or [`Role`] with an [`AccountChange`]. Two rules
//! guard it, in this order:
//! 1. [`check_not_self`]: an admin never changes their own status or role (sending either field
//!    for oneself is refused, whatever its value), so nobody locks themselves out by accident;
//! 2. [`plan_account_change`]: the last active admin is never disabled or demoted. The caller
//!    counts the *other* active admins under a lock that every such change takes, so two admins
//!    demoting each other at the same moment leave one admin.
//!
//! A change that leaves both fields as they are is no change at all (`Ok(None)`).

use serde::{Deserialize, Serialize};

/// A user's role. Customers see their own orders; admins see and move every order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "CUSTOMER",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "CUSTOMER" => Some(Role::Customer),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a user may sign in. A disabled user's tokens are all revoked, and signing in with the
/// right password is refused (`account_disabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<UserStatus> {
        match s {
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            _ => None,
        }
    }
}

impl std::fmt::Display for UserStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the last-admin rule looks at of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub role: Role,
    pub status: UserStatus,
}

impl Account {
    /// An `ADMIN` who is `active`: what the last-admin rule counts.
    pub fn is_active_admin(self) -> bool {
        self.role == Role::Admin && self.status == UserStatus::Active
    }
}

/// An admin's change of another user: the fields sent (absent = unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountChange {
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
}

impl AccountChange {
    /// Neither field was sent.
    pub fn is_empty(self) -> bool {
        self.status.is_none() && self.role.is_none()
    }

    /// The account after the change.
    pub fn apply(self, current: Account) -> Account {
        Account {
            role: self.role.unwrap_or(current.role),
            status: self.status.unwrap_or(current.status),
        }
    }
}

/// Why a change of an account is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountChangeRefusal {
    /// An admin sent `status` or `role` for their own account.
    #[error("an admin cannot change their own status or role")]
    CannotChangeSelf,
    /// The change would leave no active admin.
    #[error("the last active admin cannot be disabled or demoted")]
    LastAdmin,
}

/// Rule 1: `actor_id` may not send `status` or `role` for their own account (`target_id`). Checked
/// before anything is read, so it wins over every other answer of the change.
pub fn check_not_self(
    actor_id: i64,
    target_id: i64,
    change: AccountChange,
) -> Result<(), AccountChangeRefusal> {
    if actor_id == target_id && !change.is_empty() {
        Err(AccountChangeRefusal::CannotChangeSelf)
    } else {
        Ok(())
    }
}

/// Rule 2, given the account as it is now and how many active admins there are besides it:
/// `Ok(None)` when nothing would change, `Ok(Some(after))` for a change to make, `LastAdmin`
/// when an active admin would stop being one while no other active admin remains.
pub fn plan_account_change(
    current: Account,
    change: AccountChange,
    other_active_admins: u64,
) -> Result<Option<Account>, AccountChangeRefusal> {
    let after = change.apply(current);
    if after == current {
        return Ok(None);
    }
    if current.is_active_admin() && !after.is_active_admin() && other_active_admins == 0 {
        return Err(AccountChangeRefusal::LastAdmin);
    }
    Ok(Some(after))
}

/// Both rules in order, for a store that decides under its lock: [`check_not_self`], then
/// [`plan_account_change`].
pub fn decide_account_change(
    actor_id: i64,
    target_id: i64,
    current: Account,
    change: AccountChange,
    other_active_admins: u64,
) -> Result<Option<Account>, AccountChangeRefusal> {
    check_not_self(actor_id, target_id, change)?;
    plan_account_change(current, change, other_active_admins)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE_ADMIN: Account = Account {
        role: Role::Admin,
        status: UserStatus::Active,
    };
    const ACTIVE_CUSTOMER: Account = Account {
        role: Role::Customer,
        status: UserStatus::Active,
    };
    const DISABLED_ADMIN: Account = Account {
        role: Role::Admin,
        status: UserStatus::Disabled,
    };

    fn change(status: Option<UserStatus>, role: Option<Role>) -> AccountChange {
        AccountChange { status, role }
    }

    #[test]
    fn statuses_and_roles_round_trip() {
        for status in [UserStatus::Active, UserStatus::Disabled] {
            assert_eq!(UserStatus::parse(status.as_str()), Some(status));
        }
        for role in [Role::Customer, Role::Admin] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(UserStatus::parse("Active"), None);
        assert_eq!(UserStatus::parse("banned"), None);
    }

    #[test]
    fn an_admin_cannot_send_their_own_status_or_role() {
        let disable = change(Some(UserStatus::Disabled), None);
        let demote = change(None, Some(Role::Customer));
        let same = change(Some(UserStatus::Active), Some(Role::Admin));
        for c in [disable, demote, same] {
            assert_eq!(
                check_not_self(1, 1, c),
                Err(AccountChangeRefusal::CannotChangeSelf),
                "{c:?}"
            );
            assert_eq!(check_not_self(1, 2, c), Ok(()), "{c:?}");
        }
        // Nothing sent: nothing to refuse.
        assert_eq!(check_not_self(1, 1, AccountChange::default()), Ok(()));
    }

    #[test]
    fn the_last_active_admin_is_neither_disabled_nor_demoted() {
        for c in [
            change(Some(UserStatus::Disabled), None),
            change(None, Some(Role::Customer)),
            change(Some(UserStatus::Disabled), Some(Role::Customer)),
        ] {
            assert_eq!(
                plan_account_change(ACTIVE_ADMIN, c, 0),
                Err(AccountChangeRefusal::LastAdmin),
                "{c:?}"
            );
            assert_eq!(
                plan_account_change(ACTIVE_ADMIN, c, 1),
                Ok(Some(c.apply(ACTIVE_ADMIN))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn changes_that_keep_an_active_admin_need_no_other() {
        // Promoting a customer, disabling a customer, re-enabling an admin.
        assert_eq!(
            plan_account_change(ACTIVE_CUSTOMER, change(None, Some(Role::Admin)), 0),
            Ok(Some(ACTIVE_ADMIN))
        );
        assert_eq!(
            plan_account_change(ACTIVE_CUSTOMER, change(Some(UserStatus::Disabled), None), 0),
            Ok(Some(Account {
                role: Role::Customer,
                status: UserStatus::Disabled
            }))
        );
        assert_eq!(
            plan_account_change(DISABLED_ADMIN, change(Some(UserStatus::Active), None), 0),
            Ok(Some(ACTIVE_ADMIN))
        );
        // A disabled admin is not counted: demoting one is never the last admin's demotion.
        assert_eq!(
            plan_account_change(DISABLED_ADMIN, change(None, Some(Role::Customer)), 0),
            Ok(Some(Account {
                role: Role::Customer,
                status: UserStatus::Disabled
            }))
        );
    }

    #[test]
    fn the_same_values_are_no_change() {
        assert_eq!(
            plan_account_change(ACTIVE_ADMIN, change(Some(UserStatus::Active), None), 0),
            Ok(None)
        );
        assert_eq!(
            plan_account_change(ACTIVE_CUSTOMER, AccountChange::default(), 0),
            Ok(None)
        );
        assert_eq!(
            plan_account_change(
                ACTIVE_CUSTOMER,
                change(Some(UserStatus::Active), Some(Role::Customer)),
                0
            ),
            Ok(None)
        );
    }

    #[test]
    fn cannot_change_self_wins_over_last_admin() {
        let demote = change(None, Some(Role::Customer));
        assert_eq!(
            decide_account_change(1, 1, ACTIVE_ADMIN, demote, 0),
            Err(AccountChangeRefusal::CannotChangeSelf)
        );
        assert_eq!(
            decide_account_change(2, 1, ACTIVE_ADMIN, demote, 0),
            Err(AccountChangeRefusal::LastAdmin)
        );
        assert_eq!(
            decide_account_change(2, 1, ACTIVE_ADMIN, demote, 3),
            Ok(Some(ACTIVE_CUSTOMER))
        );
    }
}
