//! The JSON bodies of HTTP API v1: requests, responses and the error shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{EntityId, Label, PageCursor, ShortCode, Token, Ttl};

/// The body of `POST /v1/tokens`: create a token for entity A.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateToken {
    /// Entity A, the side that creates the token.
    pub entity: EntityId,
    /// How long the token can be paired, in seconds (60 ..= 2 592 000; default 86 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<Ttl>,
    /// How long the pairing lives once made, in seconds; without it a pairing lives
    /// until deleted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "pair_ttl_seconds"
    )]
    pub pair_ttl_seconds: Option<Ttl>,
    /// A free-text note shown in the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Also issue a short human code (`XXXX-XXXX`) that pairs like the token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub code: bool,
    /// How long the short code can be used, in seconds (60 up to the token's
    /// `ttl_seconds`; default 900, or the token's lifetime when that is shorter). A code is
    /// single-use: it also stops working once its token is paired or deleted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "code_ttl_seconds"
    )]
    pub code_ttl_seconds: Option<Ttl>,
}

/// `pair_ttl_seconds` as a [`Ttl`], whose errors then name `pair_ttl_seconds`.
fn pair_ttl_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Ttl>, D::Error> {
    ttl_named(deserializer, "pair_ttl_seconds")
}

/// `code_ttl_seconds` as a [`Ttl`], whose errors then name `code_ttl_seconds`.
fn code_ttl_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Ttl>, D::Error> {
    ttl_named(deserializer, "code_ttl_seconds")
}

/// An optional [`Ttl`] whose errors name `field`.
fn ttl_named<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
    field: &'static str,
) -> Result<Option<Ttl>, D::Error> {
    Option::<u64>::deserialize(deserializer)?
        .map(|seconds| {
            Ttl::parse(seconds).map_err(|e| serde::de::Error::custom(e.for_field(field)))
        })
        .transpose()
}

impl CreateToken {
    /// A request for a token bound to `entity` with the default lifetime.
    pub fn new(entity: &EntityId) -> Self {
        Self {
            entity: entity.clone(),
            ttl_seconds: None,
            pair_ttl_seconds: None,
            label: None,
            code: false,
            code_ttl_seconds: None,
        }
    }

    /// Asks for a short human code as well.
    #[must_use]
    pub fn with_code(mut self) -> Self {
        self.code = true;
        self
    }

    /// Sets how long the token can be paired.
    #[must_use]
    pub fn ttl(mut self, ttl: Ttl) -> Self {
        self.ttl_seconds = Some(ttl);
        self
    }

    /// Asks for a short code that can be used for `ttl` (at most the token's lifetime).
    #[must_use]
    pub fn with_code_for(mut self, ttl: Ttl) -> Self {
        self.code = true;
        self.code_ttl_seconds = Some(ttl);
        self
    }

    /// Sets how long the pairing lives once made.
    #[must_use]
    pub fn pair_ttl(mut self, ttl: Ttl) -> Self {
        self.pair_ttl_seconds = Some(ttl);
        self
    }

    /// Sets the dashboard label.
    #[must_use]
    pub fn label(mut self, label: Label) -> Self {
        self.label = Some(label);
        self
    }
}

/// The body of `POST /v1/tokens/{token}/pair`: entity B presents the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairRequest {
    /// Entity B, the side that presents the token.
    pub entity: EntityId,
}

/// Whether a token still waits for entity B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    /// Created, not yet paired.
    Pending,
    /// Entity B has presented the token.
    Paired,
}

/// A token and, once paired, its pairing, as every read and write returns it.
///
/// Its [`status`](Self::status) follows from `entity_b`, so the two cannot disagree; the
/// JSON carries both (see `RecordJson`), and JSON where they disagree is refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RecordJson")]
pub struct TokenRecord {
    /// The secret that pairs; it is also the record's id in URLs.
    pub token: Token,
    /// The short human code that pairs like the token, if one was asked for; it works
    /// until the pending window ends.
    pub code: Option<ShortCode>,
    /// Entity A, who created the token.
    pub entity_a: EntityId,
    /// Entity B, once paired.
    pub entity_b: Option<EntityId>,
    /// The dashboard label, if one was given.
    pub label: Option<Label>,
    /// When the token was created.
    pub created_at: DateTime<Utc>,
    /// When entity B paired.
    pub paired_at: Option<DateTime<Utc>>,
    /// When the record stops existing: the end of the pending window, or of the
    /// pairing when `pair_ttl_seconds` was given; `None` for a pairing that lives
    /// until deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// `paired` exactly when entity B is there.
    pub fn status(&self) -> Status {
        match self.entity_b {
            Some(_) => Status::Paired,
            None => Status::Pending,
        }
    }

    /// The record's entity tag: it changes exactly when the record does (on pairing).
    pub fn etag(&self) -> &'static str {
        match self.status() {
            Status::Pending => "\"pending\"",
            Status::Paired => "\"paired\"",
        }
    }
}

/// A [`TokenRecord`] as JSON, with its status: how it is read, and its schema. (It is
/// written as [`RecordJsonRef`].)
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TokenRecord))]
struct RecordJson {
    /// The secret that pairs; it is also the record's id in URLs.
    token: Token,
    /// The short human code that pairs like the token, if one was asked for; it works
    /// until the pending window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<ShortCode>,
    /// Entity A, who created the token.
    entity_a: EntityId,
    /// Entity B, once paired.
    #[serde(default)]
    entity_b: Option<EntityId>,
    /// `paired` exactly when `entity_b` is set.
    status: Status,
    /// The dashboard label, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<Label>,
    /// When the token was created.
    created_at: DateTime<Utc>,
    /// When entity B paired.
    #[serde(default)]
    paired_at: Option<DateTime<Utc>>,
    /// When the record stops existing: the end of the pending window, or of the
    /// pairing when `pair_ttl_seconds` was given; `null` for a pairing that lives
    /// until deleted.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// A [`TokenRecord`] as JSON, as it is written: [`RecordJson`]'s fields, borrowed from
/// the record (every response carries one, so it is not copied first).
#[derive(Serialize)]
struct RecordJsonRef<'a> {
    token: &'a Token,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a ShortCode>,
    entity_a: &'a EntityId,
    entity_b: Option<&'a EntityId>,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    created_at: Rfc3339,
    paired_at: Option<Rfc3339>,
    expires_at: Option<Rfc3339>,
}

impl Serialize for TokenRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RecordJsonRef {
            token: &self.token,
            code: self.code.as_ref(),
            entity_a: &self.entity_a,
            entity_b: self.entity_b.as_ref(),
            status: self.status(),
            label: self.label.as_ref(),
            created_at: Rfc3339(self.created_at),
            paired_at: self.paired_at.map(Rfc3339),
            expires_at: self.expires_at.map(Rfc3339),
        }
        .serialize(serializer)
    }
}

/// A time written as chrono writes it (RFC 3339, `Z`, as many fractional digits as it
/// needs), but formatted at once: chrono's own `Serialize` goes through `collect_str`,
/// which JSON-escapes the text a character at a time.
struct Rfc3339(DateTime<Utc>);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        serializer.serialize_str(&text)
    }
}

impl TryFrom<RecordJson> for TokenRecord {
    type Error = String;

    fn try_from(json: RecordJson) -> Result<Self, Self::Error> {
        let record = Self {
            token: json.token,
            code: json.code,
            entity_a: json.entity_a,
            entity_b: json.entity_b,
            label: json.label,
            created_at: json.created_at,
            paired_at: json.paired_at,
            expires_at: json.expires_at,
        };
        if record.status() != json.status {
            return Err(format!(
                "status {:?} disagrees with entity_b (a record is paired exactly when entity_b is set)",
                json.status
            ));
        }
        Ok(record)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TokenRecord {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <RecordJson as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TokenRecord {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <RecordJson as utoipa::ToSchema>::schemas(schemas);
    }
}

/// One page of `GET /v1/tokens?entity=…`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPage {
    /// The records on this page, newest first.
    pub items: Vec<TokenRecord>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<PageCursor>,
}

/// The body of `GET /v1/stats`: the calling tenant's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    /// Live tokens waiting for entity B.
    pub pending: u64,
    /// Live pairings.
    pub paired: u64,
    /// Tokens deleted in the last 24 hours.
    pub deleted: u64,
    /// Tokens whose pending window ended unpaired in the last 24 hours.
    pub expired: u64,
    /// Median time from creation to pairing over the pairings of the last 24 hours, in
    /// milliseconds; `null` when there were none.
    pub time_to_pair_p50_ms: Option<u64>,
    /// 95th percentile of the same.
    pub time_to_pair_p95_ms: Option<u64>,
    /// Failed short-code attempts (wrong or dead codes) of the tenant in this clock hour
    /// (UTC), by all its users and addresses together.
    #[serde(default)]
    pub code_failures: u64,
    /// How many more failures the tenant's hourly budget allows; at zero, every
    /// short-code attempt of the tenant gets `429` until the hour ends.
    #[serde(default)]
    pub code_failures_left: u64,
}

/// The body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when the store answers, `unavailable` otherwise.
    pub status: String,
    /// Which store backs the API (`sqlite`, `dynamodb`).
    pub store: String,
}

/// Every error response: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The machine-readable code and the human-readable message of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, snake_case; branch on this.
    pub code: ErrorCode,
    /// For people; may change between releases.
    pub message: String,
    /// The request field, query parameter or header at fault, such as `ttl_seconds`,
    /// `events[0]` or `Idempotency-Key`, when one is (`invalid_field` errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The stable error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// `400`: the body is not JSON, or a path or query is malformed.
    BadRequest,
    /// `401`: the API key is missing or wrong.
    Unauthorized,
    /// `403`: without API keys, a request from another site, or for a host name that is
    /// not the server's.
    Forbidden,
    /// `408`: the request took longer than the server allows.
    RequestTimeout,
    /// `422`: a field failed validation; the message names it.
    InvalidField,
    /// `422`: entity B is entity A.
    SameEntity,
    /// `422`: the `Idempotency-Key` was used with another request body.
    IdempotencyKeyReused,
    /// `404`: no such token (or it expired), or no such route.
    NotFound,
    /// `409`: the token is already paired with another entity.
    AlreadyPaired,
    /// `405`: the route exists, the method does not.
    MethodNotAllowed,
    /// `413`: the body is over 16 KiB.
    PayloadTooLarge,
    /// `415`: the body is not declared as `application/json`.
    UnsupportedMediaType,
    /// `429`: too many requests, or too many wrong short codes; see `Retry-After`.
    RateLimited,
    /// `500`: a fault on the server; details are in its logs.
    Internal,
    /// `503`: the server has more work waiting than it takes; see `Retry-After`.
    Overloaded,
    /// A code this version of the SDK does not know yet.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_snake_case_and_unknown_codes_survive() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"already_paired","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, ErrorCode::AlreadyPaired);
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"from_the_future","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, ErrorCode::Unknown);
    }

    #[test]
    fn create_token_rejects_unknown_fields_and_invalid_values() {
        assert!(serde_json::from_str::<CreateToken>(r#"{"entity":"a"}"#).is_ok());
        assert!(serde_json::from_str::<CreateToken>(r#"{"entity":"a","x":1}"#).is_err());
        assert!(serde_json::from_str::<CreateToken>(r#"{"entity":""}"#).is_err());
        assert!(serde_json::from_str::<CreateToken>(r#"{"entity":"a","ttl_seconds":1}"#).is_err());
    }

    #[test]
    fn a_record_says_its_status_and_refuses_json_whose_status_disagrees() {
        let pending = r#"{"token":"t","entity_a":"a","entity_b":null,"status":"pending",
            "created_at":"2026-12-01T00:00:00Z","paired_at":null,"expires_at":null}"#;
        let record: TokenRecord = serde_json::from_str(pending).unwrap();
        assert_eq!(record.status(), Status::Pending);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "pending");
        assert!(json["entity_b"].is_null(), "{json}");

        let paired = TokenRecord {
            entity_b: Some(EntityId::parse("b").unwrap()),
            label: Some(Label::parse("a label").unwrap()),
            paired_at: Some("2026-12-01T00:00:01.5Z".parse().unwrap()),
            expires_at: Some("2026-12-02T00:00:00.123456789Z".parse().unwrap()),
            ..record
        };
        let written = serde_json::to_string(&paired).unwrap();
        assert_eq!(
            written,
            r#"{"token":"t","entity_a":"a","entity_b":"b","status":"paired","label":"a label","created_at":"2026-12-01T00:00:00Z","paired_at":"2026-12-01T00:00:01.500Z","expires_at":"2026-12-02T00:00:00.123456789Z"}"#
        );
        let chrono_writes = |t: &DateTime<Utc>| serde_json::to_string(t).unwrap();
        assert_eq!(
            serde_json::to_value(&paired).unwrap()["paired_at"].to_string(),
            chrono_writes(&paired.paired_at.unwrap()),
            "times are written as chrono writes them"
        );
        assert_eq!(
            serde_json::from_str::<TokenRecord>(&written).unwrap(),
            paired
        );

        let disagreeing = pending.replace(r#""status":"pending""#, r#""status":"paired""#);
        let err = serde_json::from_str::<TokenRecord>(&disagreeing).unwrap_err();
        assert!(err.to_string().contains("disagrees with entity_b"), "{err}");
    }
}
