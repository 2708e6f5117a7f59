//! Extractors that reject with [`ApiError`], so every bad request gets the JSON error shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use sdk::{ShortCode, Token};

use crate::error::ApiError;
use crate::pairing::PairingError;

/// `axum::Json` whose rejections are [`ApiError`]s; also a JSON response.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// The `{token}` of a path. A value that cannot be a token cannot name a record
/// either, so it is `404`, like any unknown token.
#[derive(Debug)]
pub struct TokenParam(pub Token);

impl<S: Send + Sync> FromRequestParts<S> for TokenParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AppPath(raw) = AppPath::<String>::from_request_parts(parts, state).await?;
        parse_token(raw).map(Self)
    }
}

/// Parses a token from a URL; anything that is not a token is an unknown token.
pub fn parse_token(raw: String) -> Result<Token, ApiError> {
    Token::parse(raw).map_err(|_| PairingError::NotFound.into())
}

/// The `{code}` of a path, in any case, with or without its dash. A value that cannot
/// be a code names no token, so it is `404`, like any unknown code.
#[derive(Debug)]
pub struct CodeParam(pub ShortCode);

impl<S: Send + Sync> FromRequestParts<S> for CodeParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AppPath(raw) = AppPath::<String>::from_request_parts(parts, state).await?;
        ShortCode::parse(raw)
            .map(Self)
            .map_err(|_| PairingError::CodeNotFound.into())
    }
}
