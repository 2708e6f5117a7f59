//! A typed async client for HTTP API v1, on `reqwest` (native and `wasm32`).

mod webhooks;

use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;

use crate::{
    CreateToken, END_USER_HEADER, EndUser, EntityId, ErrorBody, ErrorCode, Health, IdempotencyKey,
    PageCursor, PageLimit, PairRequest, ShortCode, Stats, Token, TokenPage, TokenRecord,
    ValidationError, WaitSeconds,
};

/// What can go wrong when calling the API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error body.
    #[error("{message} (HTTP {status}, {code:?})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's stable error code.
        code: ErrorCode,
        /// The API's human-readable message.
        message: String,
    },
    /// A value was rejected before anything was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The request did not complete: connection, TLS, timeout, or an unreadable body. Its
    /// message leaves the URL out, which may hold a token.
    #[error("request to the Tandem API failed: {0}")]
    Transport(reqwest::Error),
    /// The API answered with something that is not its documented shape.
    #[error("unexpected response from the Tandem API (HTTP {status}): {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The start of the body, for diagnosis.
        body: String,
    },
}

impl Error {
    /// The API's error code, when the API answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the API said no such token, code or route exists (`not_found`): unknown,
    /// expired, deleted, or another tenant's.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(ErrorCode::NotFound)
    }

    /// Whether the token is paired with another entity already (`already_paired`).
    pub fn is_already_paired(&self) -> bool {
        self.code() == Some(ErrorCode::AlreadyPaired)
    }

    /// Whether the request was refused for its rate (`rate_limited`); retry later.
    pub fn is_rate_limited(&self) -> bool {
        self.code() == Some(ErrorCode::RateLimited)
    }

    /// Whether the server has more work than it takes (`overloaded`); retry shortly.
    pub fn is_overloaded(&self) -> bool {
        self.code() == Some(ErrorCode::Overloaded)
    }

    /// Whether the API key is missing or wrong (`unauthorized`).
    pub fn is_unauthorized(&self) -> bool {
        self.code() == Some(ErrorCode::Unauthorized)
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Unexpected { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::Invalid(_) => None,
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url())
    }
}

/// A client of one Tandem deployment.
///
/// Cheap to clone: clones share one connection pool. Its `Debug` shows no API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<SecretString>,
    end_user: Option<EndUser>,
}

impl Client {
    /// A client of the API at `base_url` (for example `http://127.0.0.1:3000`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_http_client(reqwest::Client::new(), base_url)
    }

    /// A client that sends its requests through `http` (to share a pool or set timeouts).
    pub fn with_http_client(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            http,
            base_url,
            api_key: None,
            end_user: None,
        }
    }

    /// Sends `Authorization: Bearer <key>` with every request.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// A client that names `user` as the end user it acts for (`Tandem-End-User`) on every
    /// request: failed short-code guesses then count against that user, not against the
    /// address the request comes from. Shares this client's pool and key.
    #[must_use]
    pub fn for_end_user(&self, user: EndUser) -> Self {
        Self {
            end_user: Some(user),
            ..self.clone()
        }
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `POST /v1/tokens`: creates a token for entity A.
    pub async fn create_token(&self, request: &CreateToken) -> Result<TokenRecord, Error> {
        let builder = self.http.post(self.url("/v1/tokens")).json(request);
        self.send(builder).await
    }

    /// `POST /v1/tokens` with an `Idempotency-Key`: a retry with the same key and request
    /// returns the record the first attempt created instead of creating another.
    pub async fn create_token_idempotent(
        &self,
        request: &CreateToken,
        key: &IdempotencyKey,
    ) -> Result<TokenRecord, Error> {
        let builder = self
            .http
            .post(self.url("/v1/tokens"))
            .header("Idempotency-Key", key.as_str())
            .json(request);
        self.send(builder).await
    }

    /// `GET /v1/tokens/{token}` with `If-None-Match: etag` and `?wait=`: waits up to
    /// `wait` for the record to change from `etag` (see [`TokenRecord::etag`]).
    /// `Ok(None)` when it did not change in time.
    pub async fn wait_for_change(
        &self,
        token: &Token,
        etag: &str,
        wait: WaitSeconds,
    ) -> Result<Option<TokenRecord>, Error> {
        let builder = self
            .http
            .get(self.url(&format!("/v1/tokens/{token}")))
            .query(&[("wait", wait.seconds())])
            .header("If-None-Match", etag);
        let response = self.authorize(builder).send().await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        decode(response).await.map(Some)
    }

    /// `GET /v1/tokens/{token}`: reads a token and its pairing.
    pub async fn get_token(&self, token: &Token) -> Result<TokenRecord, Error> {
        let builder = self.http.get(self.url(&format!("/v1/tokens/{token}")));
        self.send(builder).await
    }

    /// `POST /v1/tokens/{token}/pair`: pairs `entity` (entity B) with the token's creator.
    ///
    /// Retrying with the same entity after a success returns the same record.
    pub async fn pair(&self, token: &Token, entity: &EntityId) -> Result<TokenRecord, Error> {
        let body = PairRequest {
            entity: entity.clone(),
        };
        let builder = self
            .http
            .post(self.url(&format!("/v1/tokens/{token}/pair")))
            .json(&body);
        self.send(builder).await
    }

    /// `POST /v1/codes/{code}/pair`: pairs `entity` with the creator of the token that the
    /// short code stands for.
    pub async fn pair_by_code(
        &self,
        code: &ShortCode,
        entity: &EntityId,
    ) -> Result<TokenRecord, Error> {
        let body = PairRequest {
            entity: entity.clone(),
        };
        let builder = self
            .http
            .post(self.url(&format!("/v1/codes/{code}/pair")))
            .json(&body);
        self.send(builder).await
    }

    /// `GET /v1/stats`: the tenant's counts and time-to-pair.
    pub async fn stats(&self) -> Result<Stats, Error> {
        self.send(self.http.get(self.url("/v1/stats"))).await
    }

    /// `DELETE /v1/tokens/{token}`: deletes a token and its pairing.
    pub async fn delete_token(&self, token: &Token) -> Result<(), Error> {
        let builder = self.http.delete(self.url(&format!("/v1/tokens/{token}")));
        let response = self.authorize(builder).send().await?;
        if response.status() == StatusCode::NO_CONTENT {
            Ok(())
        } else {
            Err(error_from(response).await)
        }
    }

    /// `GET /v1/tokens?entity=…`: one page of the pairings where `entity` is either side,
    /// newest first by when it joined each (created the token, or paired with it). Pass the
    /// previous page's `next_cursor` to continue.
    pub async fn list_tokens(
        &self,
        entity: &EntityId,
        limit: Option<PageLimit>,
        cursor: Option<&PageCursor>,
    ) -> Result<TokenPage, Error> {
        let mut query: Vec<(&str, String)> = vec![("entity", entity.to_string())];
        if let Some(limit) = limit {
            query.push(("limit", u32::from(limit).to_string()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        let builder = self.http.get(self.url("/v1/tokens")).query(&query);
        self.send(builder).await
    }

    /// `GET /healthz`: whether the API and its store answer.
    pub async fn health(&self) -> Result<Health, Error> {
        self.send(self.http.get(self.url("/healthz"))).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn authorize(&self, mut builder: RequestBuilder) -> RequestBuilder {
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key.expose_secret());
        }
        if let Some(user) = &self.end_user {
            builder = builder.header(END_USER_HEADER, user.as_str());
        }
        builder
    }

    async fn send<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T, Error> {
        decode(self.authorize(builder).send().await?).await
    }
}

/// The body of a success as `T`, or the error a failure stands for.
async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    if !response.status().is_success() {
        return Err(error_from(response).await);
    }
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|_| Error::Unexpected {
        status,
        body: snippet(&bytes),
    })
}

/// Turns a non-success response into [`Error::Api`] when it has the API's error shape.
async fn error_from(response: Response) -> Error {
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) => match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Error::Api {
                status,
                code: body.error.code,
                message: body.error.message,
            },
            Err(_) => Error::Unexpected {
                status,
                body: snippet(&bytes),
            },
        },
        Err(e) => e.into(),
    }
}

/// The first 200 characters of a body, for error messages.
fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_api_key() {
        let client = Client::new("http://127.0.0.1:1").with_api_key("sekrit-key-0123456789");

        let shown = format!("{client:?}");

        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("127.0.0.1:1"), "{shown}");
    }

    #[tokio::test]
    async fn a_transport_error_does_not_repeat_the_url_and_its_token() {
        // A port of 127.0.0.1 that nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let client = Client::new(format!("http://127.0.0.1:{port}"));
        let token = Token::parse("the-secret-token-42").unwrap();

        let error = client.get_token(&token).await.unwrap_err();

        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert!(
            !error.to_string().contains("the-secret-token-42"),
            "{error}"
        );
        assert!(
            !format!("{error:?}").contains("the-secret-token-42"),
            "{error:?}"
        );
    }
}
