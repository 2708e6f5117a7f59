//! The API's one error type and its JSON shape: `{"error": {"code", "message"}}`, plus
//! `field` when one field of the request is to blame.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sdk::{ErrorBody, ErrorCode, ErrorDetail, ValidationError};

use crate::pairing::PairingError;
use crate::store::{BoxError, StoreError};

/// The `Retry-After` of an overloaded store's `503`, in seconds.
const OVERLOADED_RETRY_AFTER_SECONDS: u64 = 1;

/// Everything a request can fail with; each variant knows its status and code. What the
/// pairing rules refuse comes as [`PairingError`], which picks its own status and code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400 Bad Request`: the body is not JSON, or the path or query is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// `401 Unauthorized`: the API key is missing or wrong.
    #[error("a valid API key is required: send Authorization: Bearer <key>")]
    Unauthorized,
    /// `403 Forbidden`: without API keys, a request from a foreign site or for a host name
    /// that is not this server's.
    #[error("{0}")]
    Forbidden(String),
    /// `408 Request Timeout`: the request took longer than its deadline.
    #[error("the request took longer than {} s; send it again", .0.as_secs())]
    RequestTimeout(std::time::Duration),
    /// `429 Too Many Requests`: over the key's rate, or too many short-code attempts.
    #[error("too many requests: retry in {} s", crate::auth::retry_after_seconds(*retry_after))]
    RateLimited {
        /// How long until a request would be allowed.
        retry_after: std::time::Duration,
    },
    /// `422 Unprocessable Entity`: what was sent is not acceptable; `field` names the body
    /// field, query parameter or header at fault, when one is.
    #[error("{message}")]
    InvalidField {
        /// The request field that is wrong, such as `ttl_seconds` or `events[0]`.
        field: Option<String>,
        /// What is wrong with it, in the API's words.
        message: String,
    },
    /// `404 Not Found`: no such route.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// `404 Not Found`: the tenant has no webhook endpoint with this id.
    #[error("no webhook endpoint with this id")]
    WebhookNotFound,
    /// `405 Method Not Allowed`: the path exists, the method does not.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// `413 Payload Too Large`: the body is over the limit.
    #[error("request body is larger than {} KiB", crate::BODY_LIMIT_BYTES / 1024)]
    PayloadTooLarge,
    /// `415 Unsupported Media Type`: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// What the pairing rules refused (`404`, `409`, `422`), or a store failure (`503`
    /// when overloaded, else `500`).
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// `500 Internal Server Error`: a fault of ours; the cause is logged, not shown.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    /// `422`: `field` is wrong, as `message` says.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// `422`: the request is not acceptable as a whole (no one field is to blame).
    pub fn unacceptable(message: impl Into<String>) -> Self {
        Self::InvalidField {
            field: None,
            message: message.into(),
        }
    }

    /// The request field to blame, if there is one.
    fn field(&self) -> Option<String> {
        match self {
            Self::InvalidField { field, .. } => field.clone(),
            Self::Pairing(PairingError::CodeOutlivesToken { .. }) => {
                Some("code_ttl_seconds".to_owned())
            }
            _ => None,
        }
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, ErrorCode::RequestTimeout),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Self::InvalidField { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField)
            }
            Self::RouteNotFound(_) | Self::WebhookNotFound => {
                (StatusCode::NOT_FOUND, ErrorCode::NotFound)
            }
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            Self::Pairing(error) => pairing_status_and_code(error),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }

    /// What the client is told: the error itself, except for faults of ours, whose cause
    /// stays in the log.
    fn message(&self) -> String {
        match self {
            Self::Pairing(PairingError::Store(StoreError::Overloaded)) => {
                format!("the server is overloaded: retry in {OVERLOADED_RETRY_AFTER_SECONDS} s")
            }
            Self::Pairing(PairingError::Store(_)) | Self::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

fn pairing_status_and_code(error: &PairingError) -> (StatusCode, ErrorCode) {
    match error {
        PairingError::NotFound | PairingError::CodeNotFound => {
            (StatusCode::NOT_FOUND, ErrorCode::NotFound)
        }
        PairingError::TooManyGuesses { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
        }
        PairingError::AlreadyPaired => (StatusCode::CONFLICT, ErrorCode::AlreadyPaired),
        PairingError::SameEntity => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::SameEntity),
        PairingError::IdempotencyKeyReused => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyReused,
        ),
        PairingError::CodeOutlivesToken { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField)
        }
        PairingError::Store(StoreError::Overloaded) => {
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded)
        }
        PairingError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(&self), "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.message(),
                field: self.field(),
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tandem\""),
                );
            }
            Self::RateLimited { retry_after }
            | Self::Pairing(PairingError::TooManyGuesses { retry_after }) => {
                headers.insert(
                    RETRY_AFTER,
                    HeaderValue::from(crate::auth::retry_after_seconds(*retry_after)),
                );
            }
            Self::Pairing(PairingError::Store(StoreError::Overloaded)) => {
                headers.insert(
                    RETRY_AFTER,
                    HeaderValue::from(OVERLOADED_RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

/// `error: cause: cause…`, for logs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::invalid(error.field(), error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => field_error(&e),
            JsonRejection::MissingJsonContentType(e) => Self::UnsupportedMediaType(e.body_text()),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other => Self::BadRequest(other.body_text()),
        }
    }
}

/// What is wrong with a JSON body's field, in the API's words: the field, its bounds and
/// what was sent (`pair_ttl_seconds must be between 60 and 2592000 seconds (got 5)`),
/// without the JSON library's framing ("Failed to deserialize the JSON body into the
/// target type: … at line 1 column 35"); and which field it is, when serde knows.
fn field_error(rejection: &axum::extract::rejection::JsonDataError) -> ApiError {
    match serde_error::<serde_json::Error>(rejection) {
        Some(at) => {
            let json = at.inner();
            let text = json.to_string();
            let position = format!(" at line {} column {}", json.line(), json.column());
            at_field(at.path(), text.strip_suffix(&position).unwrap_or(&text))
        }
        None => ApiError::unacceptable(rejection.body_text()),
    }
}

/// The error serde gave, with the path of the field it was reading, among the causes of
/// `rejection`.
fn serde_error<'a, E: std::error::Error + 'static>(
    rejection: &'a (dyn std::error::Error + 'static),
) -> Option<&'a serde_path_to_error::Error<E>> {
    let mut source = rejection.source();
    while let Some(error) = source {
        if let Some(at) = error.downcast_ref::<serde_path_to_error::Error<E>>() {
            return Some(at);
        }
        source = error.source();
    }
    None
}

/// `message` about the field at `path` (`.`: the whole), as the API says it. Tandem's own
/// checks and serde's unknown fields name the field; serde's other complaints (a wrong
/// type) are told which one.
fn at_field(path: &serde_path_to_error::Path, message: &str) -> ApiError {
    let field = path.to_string();
    let named = message.starts_with(&field) || message.contains(&format!("`{field}`"));
    if field == "." {
        ApiError::unacceptable(message)
    } else if named {
        ApiError::invalid(field, message)
    } else {
        let message = format!("{field}: {message}");
        ApiError::invalid(field, message)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    /// As a JSON body's field, without axum's "Failed to deserialize query string".
    fn from(rejection: QueryRejection) -> Self {
        match serde_error::<serde::de::value::Error>(&rejection) {
            Some(at) => at_field(at.path(), &at.inner().to_string()),
            None => Self::unacceptable(rejection.body_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overloaded_store_is_a_503_with_retry_after() {
        let response = ApiError::from(PairingError::Store(StoreError::Overloaded)).into_response();

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
    }

    #[test]
    fn a_store_failure_is_a_500_that_does_not_tell_its_cause() {
        let failure = StoreError::backend("reading a token", "disk on fire at /var/lib/x");
        let error = ApiError::from(PairingError::Store(failure));

        assert_eq!(error.message(), "internal error");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_refusal_of_the_rules_says_what_the_rules_say() {
        let error = ApiError::from(PairingError::IdempotencyKeyReused);

        assert_eq!(
            error.message(),
            PairingError::IdempotencyKeyReused.to_string()
        );
        assert_eq!(
            error.status_and_code(),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused
            )
        );
    }
}
