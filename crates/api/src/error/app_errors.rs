//! The use cases' errors as HTTP problems: one `From` per operation error.

use actix_web::http::StatusCode;
use app::auth::{Internal, RegisterError, SignInError};
use app::catalogue::GetProductError;

use super::{ApiError, Problem};

impl From<Internal> for ApiError {
    fn from(error: Internal) -> Self {
        ApiError::Internal(error.0)
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Validation(errors) => errors.into(),
            RegisterError::EmailTaken => Problem::new(
                StatusCode::CONFLICT,
                "email_taken",
                "Email already registered",
            )
            .into(),
            RegisterError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::InvalidCredentials => ApiError::invalid_credentials(),
            SignInError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl From<GetProductError> for ApiError {
    fn from(error: GetProductError) -> Self {
        match error {
            GetProductError::NotFound => ApiError::not_found(),
            GetProductError::Store(e) => e.into(),
        }
    }
}
