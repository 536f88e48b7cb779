//! Accounts: register, sign in, change a password, the current user, the first admin.
//!
//! Passwords and hashes never reach a log line or an audit entry: every use case skips them in its
//! span, and the entries name only who, which account and from where. Security events are audited:
//! a sign-in (`auth.login`), a refused one (`auth.login_failed`, `auth.account_disabled`) and a
//! refused password change (`auth.password_change_failed`) in a short transaction of their own; a
//! password change (`auth.password_changed`) in the transaction that changes it.

use domain::validation::{self, ValidationErrors};
use domain::{Role, UserStatus};
use ports::audit::{action, target};
use ports::{Actor, AuditContext, AuditTarget, CreateUserError, HashError, StoreError, User};

use crate::Deps;

/// Something outside failed (store or hasher); the message is for logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error: {0}")]
pub struct Internal(pub String);

impl From<StoreError> for Internal {
    fn from(error: StoreError) -> Self {
        Internal(error.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Fields `email` and `password`.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// A user with this email (case-insensitively) exists.
    #[error("email taken")]
    EmailTaken,
    /// Store or hasher failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for RegisterError {
    fn from(error: StoreError) -> Self {
        RegisterError::Internal(error.to_string())
    }
}

impl From<HashError> for RegisterError {
    fn from(error: HashError) -> Self {
        RegisterError::Internal(error.to_string())
    }
}

impl From<CreateUserError> for RegisterError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::EmailTaken => RegisterError::EmailTaken,
            CreateUserError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Unknown email or wrong password: the same answer for both.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The right password of a disabled user.
    #[error("account disabled")]
    AccountDisabled,
    /// Store or hasher failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for SignInError {
    fn from(error: StoreError) -> Self {
        SignInError::Internal(error.to_string())
    }
}

impl From<HashError> for SignInError {
    fn from(error: HashError) -> Self {
        SignInError::Internal(error.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangePasswordError {
    /// Field `new_password` (8 to 128 characters).
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// `current_password` is not the user's password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The signed-in user no longer exists.
    #[error("no such user")]
    NotFound,
    /// Store or hasher failure; the message is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ChangePasswordError {
    fn from(error: StoreError) -> Self {
        ChangePasswordError::Internal(error.to_string())
    }
}

impl From<HashError> for ChangePasswordError {
    fn from(error: HashError) -> Self {
        ChangePasswordError::Internal(error.to_string())
    }
}

/// Accounts and credentials.
#[derive(Clone)]
pub struct AuthService {
    pub deps: Deps,
}

fn user_target(id: i64) -> Option<AuditTarget> {
    Some(AuditTarget::new(target::USER, id))
}

impl AuthService {
    pub fn new(deps: Deps) -> AuthService {
        AuthService { deps }
    }

    /// Creates a `CUSTOMER` with a lower-cased `email` and a password of 8 to 128 characters.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &str, password: &str) -> Result<User, RegisterError> {
        let email = validate_credentials(email, password)?;
        let hash = self.deps.hasher.hash(password).await?;
        let user = self
            .deps
            .users
            .create(&email, &hash, Role::Customer)
            .await?;
        tracing::info!(user_id = user.id, "user registered");
        Ok(user)
    }

    /// The user whose email and password these are. An unknown email still costs exactly one
    /// password verification (against the hasher's dummy hash), so both failures take as long;
    /// a disabled user is told so only after their password verified. Every outcome is audited
    /// (`ctx` gives the request id and client address; the actor is the user once signed in).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        ctx: &AuditContext,
    ) -> Result<User, SignInError> {
        let email = email.trim().to_lowercase();
        let credentials = self.deps.users.find_credentials(&email).await?;
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = self.deps.hasher.verify(password, hash).await?;
        match user {
            Some(user) if matches && user.status == UserStatus::Disabled => {
                self.deps
                    .audit
                    .record(&ctx.entry(action::AUTH_ACCOUNT_DISABLED, user_target(user.id)))
                    .await?;
                tracing::info!(user_id = user.id, "sign-in of a disabled user refused");
                Err(SignInError::AccountDisabled)
            }
            Some(user) if matches => {
                let actor = Actor {
                    id: user.id,
                    role: user.role,
                };
                self.deps
                    .audit
                    .record(
                        &ctx.with_actor(actor)
                            .entry(action::AUTH_LOGIN, user_target(user.id)),
                    )
                    .await?;
                tracing::info!(user_id = user.id, "signed in");
                Ok(user)
            }
            user => {
                let target = user.and_then(|u| user_target(u.id));
                self.deps
                    .audit
                    .record(&ctx.entry(action::AUTH_LOGIN_FAILED, target))
                    .await?;
                // The request's own line says as much (401 on the sign-in route).
                tracing::debug!("sign-in refused");
                Err(SignInError::InvalidCredentials)
            }
        }
    }

    /// Changes the password of `ctx.actor` (the signed-in user) from `current_password` to
    /// `new_password` (8 to 128 characters). In one transaction: the new hash, the user's token
    /// generation raised (every token they held stops working, on every instance) and the
    /// `auth.password_changed` entry. Returns the user with their new generation, for a fresh
    /// session. A wrong `current_password` is audited (`auth.password_change_failed`).
    #[tracing::instrument(skip_all, fields(user_id = ctx.actor.map(|a| a.id)))]
    pub async fn change_password(
        &self,
        ctx: &AuditContext,
        current_password: &str,
        new_password: &str,
    ) -> Result<User, ChangePasswordError> {
        let mut errors = ValidationErrors::new();
        validation::password(&mut errors, "new_password", new_password);
        errors.into_result(())?;
        let actor = ctx.actor.ok_or(ChangePasswordError::NotFound)?;
        let credentials = self
            .deps
            .users
            .credentials(actor.id)
            .await?
            .ok_or(ChangePasswordError::NotFound)?;
        let matches = self
            .deps
            .hasher
            .verify(current_password, Some(credentials.password_hash))
            .await?;
        if !matches {
            self.deps
                .audit
                .record(&ctx.entry(action::AUTH_PASSWORD_CHANGE_FAILED, user_target(actor.id)))
                .await?;
            tracing::info!("password change refused: wrong current password");
            return Err(ChangePasswordError::InvalidCredentials);
        }
        let hash = self.deps.hasher.hash(new_password).await?;
        let entry = ctx.entry(action::AUTH_PASSWORD_CHANGED, user_target(actor.id));
        let user = self
            .deps
            .users
            .change_password(actor.id, &hash, &entry)
            .await?
            .ok_or(ChangePasswordError::NotFound)?;
        tracing::info!(
            generation = user.token_generation,
            "password changed; the user's older tokens are revoked"
        );
        Ok(user)
    }

    /// The user with this id, if they still exist.
    #[tracing::instrument(skip(self))]
    pub async fn current_user(&self, id: i64) -> Result<Option<User>, Internal> {
        Ok(self.deps.users.find(id).await?)
    }

    /// Makes `email` an `ADMIN` with this password, creating the user if needed (the
    /// `oms create-admin` command). Same validation as [`AuthService::register`].
    #[tracing::instrument(skip_all)]
    pub async fn create_admin(&self, email: &str, password: &str) -> Result<User, RegisterError> {
        let email = validate_credentials(email, password)?;
        let hash = self.deps.hasher.hash(password).await?;
        let user = self.deps.users.upsert_admin(&email, &hash).await?;
        tracing::info!(user_id = user.id, "admin created or updated");
        Ok(user)
    }
}

/// Validates both fields (errors on `email` and `password`); returns the normalised email.
fn validate_credentials(email: &str, password: &str) -> Result<String, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let email = validation::email(&mut errors, "email", email);
    validation::password(&mut errors, "password", password);
    errors.into_result(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Mocks, user};
    use mockall::predicate::eq;
    use ports::UserCredentials;
    use ports::audit::AuditContext;

    fn service(mocks: Mocks) -> AuthService {
        AuthService::new(mocks.into_deps())
    }

    fn fields(error: &ValidationErrors) -> Vec<&str> {
        error.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[tokio::test]
    async fn register_creates_a_customer_with_a_lower_cased_email() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .with(eq("correct horse"))
            .times(1)
            .returning(|_| Ok("$argon2id$hash".into()));
        mocks
            .users
            .expect_create()
            .with(
                eq("ada@example.com"),
                eq("$argon2id$hash"),
                eq(Role::Customer),
            )
            .times(1)
            .returning(|email, _, role| Ok(user(3, email, role)));
        let created = service(mocks)
            .register(" Ada@Example.com ", "correct horse")
            .await
            .expect("registered");
        assert_eq!(created.id, 3);
        assert_eq!(created.email, "ada@example.com");
        assert_eq!(created.role, Role::Customer);
    }

    #[tokio::test]
    async fn register_validation_names_each_field_and_writes_nothing() {
        let err = service(Mocks::new())
            .register("not-an-email", "short")
            .await
            .expect_err("invalid");
        match err {
            RegisterError::Validation(e) => assert_eq!(fields(&e), ["email", "password"]),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn register_email_taken() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .returning(|_| Ok("$argon2id$hash".into()));
        mocks
            .users
            .expect_create()
            .times(1)
            .returning(|_, _, _| Err(CreateUserError::EmailTaken));
        let err = service(mocks)
            .register("ada@example.com", "correct horse")
            .await
            .expect_err("taken");
        assert_eq!(err, RegisterError::EmailTaken);
    }

    #[tokio::test]
    async fn register_store_failure_is_internal() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .returning(|_| Ok("$argon2id$hash".into()));
        mocks.users.expect_create().returning(|_, _, _| {
            Err(CreateUserError::Store(StoreError::Unavailable(
                "pool timeout".into(),
            )))
        });
        let err = service(mocks)
            .register("ada@example.com", "correct horse")
            .await
            .expect_err("store down");
        assert!(matches!(err, RegisterError::Internal(_)), "{err:?}");
    }

    fn credentials() -> UserCredentials {
        UserCredentials {
            user: user(3, "ada@example.com", Role::Customer),
            password_hash: "$argon2id$hash".into(),
        }
    }

    fn disabled_credentials() -> UserCredentials {
        let mut c = credentials();
        c.user.status = UserStatus::Disabled;
        c
    }

    /// The request's audit context: nobody signed in yet.
    fn request() -> AuditContext {
        AuditContext {
            actor: None,
            request_id: Some("req-7".into()),
            client_ip: Some("192.0.2.1".into()),
        }
    }

    const ADA: Actor = Actor {
        id: 3,
        role: Role::Customer,
    };

    /// Expects exactly one audit entry, and checks it is `expected` (whose text never holds a
    /// password or hash).
    fn expect_entry(mocks: &mut Mocks, expected: ports::AuditEntry) {
        mocks
            .audit
            .expect_record()
            .withf(move |entry| {
                let text = format!("{entry:?}");
                *entry == expected && !text.contains("horse") && !text.contains("argon2")
            })
            .times(1)
            .returning(|_| Ok(()));
    }

    fn entry(action: &str, actor: Option<Actor>, target: Option<AuditTarget>) -> ports::AuditEntry {
        ports::AuditEntry {
            action: action.into(),
            actor,
            target,
            changes: None,
            request_id: Some("req-7".into()),
            client_ip: Some("192.0.2.1".into()),
        }
    }

    #[tokio::test]
    async fn sign_in_with_the_right_password_is_audited_as_the_user() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .with(eq("ada@example.com"))
            .times(1)
            .returning(|_| Ok(Some(credentials())));
        mocks
            .hasher
            .expect_verify()
            .withf(|pw, hash| pw == "correct horse" && hash.as_deref() == Some("$argon2id$hash"))
            .times(1)
            .returning(|_, _| Ok(true));
        expect_entry(
            &mut mocks,
            entry(action::AUTH_LOGIN, Some(ADA), user_target(3)),
        );
        let signed_in = service(mocks)
            .sign_in("ADA@example.com", "correct horse", &request())
            .await
            .expect("signed in");
        assert_eq!(signed_in.id, 3);
    }

    #[tokio::test]
    async fn sign_in_with_a_wrong_password_is_invalid_credentials_and_audited() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .returning(|_| Ok(Some(credentials())));
        mocks
            .hasher
            .expect_verify()
            .withf(|_, hash| hash.is_some())
            .times(1)
            .returning(|_, _| Ok(false));
        expect_entry(
            &mut mocks,
            entry(action::AUTH_LOGIN_FAILED, None, user_target(3)),
        );
        let err = service(mocks)
            .sign_in("ada@example.com", "wrong password", &request())
            .await
            .expect_err("refused");
        assert_eq!(err, SignInError::InvalidCredentials);
    }

    #[tokio::test]
    async fn sign_in_with_an_unknown_email_still_verifies_once() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .with(eq("nobody@example.com"))
            .times(1)
            .returning(|_| Ok(None));
        mocks
            .hasher
            .expect_verify()
            .withf(|pw, hash| pw == "whatever123" && hash.is_none())
            .times(1)
            .returning(|_, _| Ok(false));
        // No target: the email names nobody (and is not stored).
        expect_entry(&mut mocks, entry(action::AUTH_LOGIN_FAILED, None, None));
        let err = service(mocks)
            .sign_in("nobody@example.com", "whatever123", &request())
            .await
            .expect_err("refused");
        assert_eq!(err, SignInError::InvalidCredentials);
    }

    #[tokio::test]
    async fn sign_in_unknown_email_is_refused_even_if_the_hasher_says_yes() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .returning(|_| Ok(None));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(true));
        expect_entry(&mut mocks, entry(action::AUTH_LOGIN_FAILED, None, None));
        let err = service(mocks)
            .sign_in("nobody@example.com", "whatever123", &request())
            .await
            .expect_err("refused");
        assert_eq!(err, SignInError::InvalidCredentials);
    }

    #[tokio::test]
    async fn a_disabled_user_with_the_right_password_is_account_disabled() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .returning(|_| Ok(Some(disabled_credentials())));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(true));
        expect_entry(
            &mut mocks,
            entry(action::AUTH_ACCOUNT_DISABLED, None, user_target(3)),
        );
        let err = service(mocks)
            .sign_in("ada@example.com", "correct horse", &request())
            .await
            .expect_err("disabled");
        assert_eq!(err, SignInError::AccountDisabled);
    }

    #[tokio::test]
    async fn a_disabled_user_with_a_wrong_password_stays_invalid_credentials() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .returning(|_| Ok(Some(disabled_credentials())));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));
        expect_entry(
            &mut mocks,
            entry(action::AUTH_LOGIN_FAILED, None, user_target(3)),
        );
        let err = service(mocks)
            .sign_in("ada@example.com", "wrong password", &request())
            .await
            .expect_err("refused");
        assert_eq!(err, SignInError::InvalidCredentials);
    }

    #[tokio::test]
    async fn sign_in_hasher_failure_is_internal_and_writes_nothing() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find_credentials()
            .returning(|_| Ok(Some(credentials())));
        mocks
            .hasher
            .expect_verify()
            .returning(|_, _| Err(HashError("bad phc".into())));
        let err = service(mocks)
            .sign_in("ada@example.com", "correct horse", &request())
            .await
            .expect_err("internal");
        assert!(matches!(err, SignInError::Internal(_)), "{err:?}");
    }

    /// The request of Ada, signed in.
    fn ada_request() -> AuditContext {
        request().with_actor(ADA)
    }

    #[tokio::test]
    async fn change_password_hashes_and_stores_with_its_entry_in_one_call() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_credentials()
            .with(eq(3))
            .times(1)
            .returning(|_| Ok(Some(credentials())));
        mocks
            .hasher
            .expect_verify()
            .withf(|pw, hash| pw == "correct horse" && hash.as_deref() == Some("$argon2id$hash"))
            .times(1)
            .returning(|_, _| Ok(true));
        mocks
            .hasher
            .expect_hash()
            .with(eq("new battery staple"))
            .times(1)
            .returning(|_| Ok("$argon2id$new".into()));
        let expected = entry(action::AUTH_PASSWORD_CHANGED, Some(ADA), user_target(3));
        mocks
            .users
            .expect_change_password()
            .withf(move |id, hash, audit| *id == 3 && hash == "$argon2id$new" && *audit == expected)
            .times(1)
            .returning(|id, _, _| {
                let mut changed = user(id, "ada@example.com", Role::Customer);
                changed.token_generation = 1;
                Ok(Some(changed))
            });
        // The entry goes with the change, not on its own.
        mocks.audit.expect_record().never();
        let changed = service(mocks)
            .change_password(&ada_request(), "correct horse", "new battery staple")
            .await
            .expect("changed");
        assert_eq!(changed.token_generation, 1);
    }

    #[tokio::test]
    async fn change_password_with_a_wrong_current_one_is_refused_and_audited() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_credentials()
            .returning(|_| Ok(Some(credentials())));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));
        expect_entry(
            &mut mocks,
            entry(
                action::AUTH_PASSWORD_CHANGE_FAILED,
                Some(ADA),
                user_target(3),
            ),
        );
        let err = service(mocks)
            .change_password(&ada_request(), "wrong horse", "new battery staple")
            .await
            .expect_err("refused");
        assert_eq!(err, ChangePasswordError::InvalidCredentials);
    }

    #[tokio::test]
    async fn change_password_validates_the_new_one_before_anything() {
        for bad in ["short", &"x".repeat(129)] {
            let err = service(Mocks::new())
                .change_password(&ada_request(), "correct horse", bad)
                .await
                .expect_err("invalid");
            match err {
                ChangePasswordError::Validation(e) => assert_eq!(fields(&e), ["new_password"]),
                other => panic!("expected validation, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn change_password_of_a_user_gone_is_not_found() {
        let mut mocks = Mocks::new();
        mocks.users.expect_credentials().returning(|_| Ok(None));
        let err = service(mocks)
            .change_password(&ada_request(), "correct horse", "new battery staple")
            .await
            .expect_err("gone");
        assert_eq!(err, ChangePasswordError::NotFound);
    }

    #[tokio::test]
    async fn current_user_found_missing_and_failing() {
        let mut mocks = Mocks::new();
        mocks
            .users
            .expect_find()
            .with(eq(3))
            .returning(|id| Ok(Some(user(id, "ada@example.com", Role::Customer))));
        mocks
            .users
            .expect_find()
            .with(eq(4))
            .returning(|_| Ok(None));
        mocks
            .users
            .expect_find()
            .with(eq(5))
            .returning(|_| Err(StoreError::Internal("boom".into())));
        let auth = service(mocks);
        assert_eq!(
            auth.current_user(3).await.expect("ok").map(|u| u.id),
            Some(3)
        );
        assert_eq!(auth.current_user(4).await, Ok(None));
        assert!(auth.current_user(5).await.is_err());
    }

    #[tokio::test]
    async fn create_admin_validates_hashes_and_upserts() {
        let mut mocks = Mocks::new();
        mocks
            .hasher
            .expect_hash()
            .times(1)
            .returning(|_| Ok("$argon2id$admin".into()));
        mocks
            .users
            .expect_upsert_admin()
            .with(eq("root@example.com"), eq("$argon2id$admin"))
            .times(1)
            .returning(|email, _| Ok(user(1, email, Role::Admin)));
        let auth = service(mocks);
        let admin = auth
            .create_admin("Root@Example.com", "admin password")
            .await
            .expect("admin");
        assert_eq!(admin.role, Role::Admin);
        let err = auth
            .create_admin("root@example.com", "short")
            .await
            .expect_err("too short");
        match err {
            RegisterError::Validation(e) => assert_eq!(fields(&e), ["password"]),
            other => panic!("expected validation, got {other:?}"),
        }
    }
}
