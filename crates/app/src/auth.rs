//! Accounts: register, sign in, the current user, the first admin.
//!
//! Passwords and hashes never reach a log line: every use case skips them in its span.

use domain::Role;
use domain::validation::{self, ValidationErrors};
use ports::{CreateUserError, HashError, StoreError, User};

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

/// Accounts and credentials.
#[derive(Clone)]
pub struct AuthService {
    pub deps: Deps,
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
    /// password verification (against the hasher's dummy hash), so both failures take as long.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User, SignInError> {
        let email = email.trim().to_lowercase();
        let credentials = self.deps.users.find_credentials(&email).await?;
        let (user, hash) = match credentials {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = self.deps.hasher.verify(password, hash).await?;
        match user {
            Some(user) if matches => {
                tracing::info!(user_id = user.id, "signed in");
                Ok(user)
            }
            _ => {
                // The request's own line says as much (401 on the sign-in route).
                tracing::debug!("sign-in refused");
                Err(SignInError::InvalidCredentials)
            }
        }
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

    #[tokio::test]
    async fn sign_in_with_the_right_password() {
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
        let signed_in = service(mocks)
            .sign_in("ADA@example.com", "correct horse")
            .await
            .expect("signed in");
        assert_eq!(signed_in.id, 3);
    }

    #[tokio::test]
    async fn sign_in_with_a_wrong_password_is_invalid_credentials() {
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
        let err = service(mocks)
            .sign_in("ada@example.com", "wrong password")
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
        let err = service(mocks)
            .sign_in("nobody@example.com", "whatever123")
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
        let err = service(mocks)
            .sign_in("nobody@example.com", "whatever123")
            .await
            .expect_err("refused");
        assert_eq!(err, SignInError::InvalidCredentials);
    }

    #[tokio::test]
    async fn sign_in_hasher_failure_is_internal() {
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
            .sign_in("ada@example.com", "correct horse")
            .await
            .expect_err("internal");
        assert!(matches!(err, SignInError::Internal(_)), "{err:?}");
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
