//! Extractors that reject with [`ApiError`], so every bad request gets the JSON error shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use sdk::{ShortCode, Token};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::pairing::PairingError;

/// `axum::Json` for a body that must be a JSON object (every body the API reads is one),
/// whose rejections are [`ApiError`]s; also a JSON response.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The JSON as sent, its content type, size and syntax checked; then what it says.
        // (serde would read an array into a struct too, element by element.)
        let axum::Json(raw) = axum::Json::<Box<RawValue>>::from_request(request, state).await?;
        let json = raw.get().trim_start();
        if !json.starts_with('{') {
            return Err(ApiError::unacceptable(format!(
                "the body must be a JSON object, not {}",
                json_kind(json)
            )));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(json.as_bytes())?;
        Ok(Self(value))
    }
}

/// What the JSON value `json` is, told by its first character.
fn json_kind(json: &str) -> &'static str {
    match json.chars().next() {
        Some('[') => "an array",
        Some('"') => "a string",
        Some('t' | 'f') => "a boolean",
        Some('n') => "null",
        _ => "a number",
    }
}

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
