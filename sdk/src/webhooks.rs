//! Webhooks: the endpoints a tenant registers, the events Tandem pushes to them, and
//! [`verify`] for receivers.
//!
//! Deliveries follow Standard Webhooks (<https://www.standardwebhooks.com/>): a JSON body
//! and three headers, `webhook-id` (the event's id, the same on every retry),
//! `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several separated by spaces while a
//! secret is being rotated). The secret is `whsec_` followed by base64 of its key bytes.
//!
//! ```
//! # fn receive(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Result<(), sdk::webhooks::VerifyError> {
//! let event = sdk::webhooks::verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers, body)?;
//! if let sdk::webhooks::EventData::Token(record) = &event.data {
//!     println!("{} is now {:?}", record.token, event.event_type);
//! }
//! # Ok(()) }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::TokenRecord;

/// What happened, as an event's `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// Entity B paired the token.
    #[serde(rename = "token.paired")]
    TokenPaired,
    /// The token was deleted (pending or paired).
    #[serde(rename = "token.deleted")]
    TokenDeleted,
    /// The token's pending window ended before anyone paired it.
    #[serde(rename = "token.expired")]
    TokenExpired,
    /// Sent on request (`POST /v1/webhooks/{id}/test`), to try an endpoint.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// The events an endpoint can subscribe to (every one but the test event, which goes
    /// to the endpoint it is sent to).
    pub const SUBSCRIBABLE: [Self; 3] = [Self::TokenPaired, Self::TokenDeleted, Self::TokenExpired];

    /// The name on the wire: `token.paired`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenPaired => "token.paired",
            Self::TokenDeleted => "token.deleted",
            Self::TokenExpired => "token.expired",
            Self::WebhookTest => "webhook.test",
        }
    }

    /// The event type named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::TokenPaired,
            Self::TokenDeleted,
            Self::TokenExpired,
            Self::WebhookTest,
        ]
        .into_iter()
        .find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, as the body of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The event's id (`evt_…`), also the `webhook-id` header: the same on every retry, so
    /// a receiver can drop the duplicates that at-least-once delivery brings.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// What it happened to.
    pub data: EventData,
}

/// An event's `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventData {
    /// `token.*`: the record as the API returns it at that moment, without its short code.
    Token(TokenRecord),
    /// `webhook.test`: the endpoint it was sent to.
    Test {
        /// The endpoint's id.
        webhook_id: String,
    },
}

impl EventData {
    /// The data of a `token.*` event about `record`: the record without its short code.
    pub fn about(record: &TokenRecord) -> Self {
        Self::Token(TokenRecord {
            code: None,
            ..record.clone()
        })
    }
}

/// The body of `POST /v1/webhooks`: register an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhook {
    /// Where to deliver: `https://…` (plain `http` only to loopback, on a server that
    /// allows it), without credentials.
    pub url: String,
    /// The events to send; every `token.*` event when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventType>>,
    /// A note for the tenant (at most 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl CreateWebhook {
    /// An endpoint at `url` for every `token.*` event.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            events: None,
            description: None,
        }
    }
}

/// The body of `PATCH /v1/webhooks/{id}`: what to change (what is left out stays).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateWebhook {
    /// Deliver to it (`true`, which also clears why it was disabled) or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The events to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventType>>,
    /// A new note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Its id (`wh_…`).
    pub id: String,
    /// Where events go.
    pub url: String,
    /// The events it gets.
    pub events: Vec<EventType>,
    /// The tenant's note.
    pub description: Option<String>,
    /// Whether events are delivered to it.
    pub enabled: bool,
    /// Why Tandem disabled it, if it did (every attempt failing for 3 days).
    pub disabled_reason: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Until when the secret before the last rotation still signs alongside the new one.
    pub previous_secret_until: Option<DateTime<Utc>>,
}

/// The answer to `POST /v1/webhooks` and `POST /v1/webhooks/{id}/rotate-secret`: the
/// endpoint and its signing secret, which is shown only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (`whsec_…`): keep it, it is not shown again.
    pub secret: String,
}

/// The answer to `GET /v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    /// The tenant's endpoints, oldest first.
    pub items: Vec<Webhook>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Not delivered yet: the next attempt is at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
    /// The endpoint answered `410 Gone`; no more are made.
    Gone,
}

/// One event's delivery to one endpoint, as its last attempt left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// The event.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// How many attempts were made.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if the endpoint answered.
    pub response_code: Option<u16>,
    /// How long the last attempt took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The answer to `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    /// The most recent deliveries, newest first.
    pub items: Vec<Delivery>,
}

/// How far a delivery's `webhook-timestamp` may be from the receiver's clock, by default.
pub const DEFAULT_TOLERANCE: chrono::Duration = chrono::Duration::minutes(5);

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The secret is not `whsec_` followed by base64.
    #[error("the webhook secret is not whsec_ followed by base64")]
    BadSecret,
    /// A `webhook-*` header is missing or not text.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    #[error("the webhook-timestamp header is not a Unix time in seconds")]
    BadTimestamp,
    /// `webhook-timestamp` is further from now than the tolerance (a replay, or a clock
    /// that is off).
    #[error("the webhook-timestamp is {0} s away from now, more than the tolerance")]
    OutsideTolerance(i64),
    /// No `v1` signature matches the body with this secret.
    #[error(
        "no signature matches: the body, the id or the timestamp was altered, or the secret is wrong"
    )]
    NoMatchingSignature,
    /// The body verified but is not a Tandem event.
    #[error("the body is not a Tandem event: {0}")]
    NotAnEvent(String),
}

/// Verifies a delivery at the current time with [`DEFAULT_TOLERANCE`], and reads its event.
/// (In a browser, which has no system clock here, use [`verify_at`].)
#[cfg(not(target_arch = "wasm32"))]
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<Event, VerifyError> {
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    verify_at(secret, headers, body, now, DEFAULT_TOLERANCE)
}

/// Verifies a delivery as of `now`, allowing its timestamp to be `tolerance` away, and
/// reads its event. Any one of the space-separated `v1` signatures may match (during a
/// secret rotation there are two).
pub fn verify_at(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> Result<Event, VerifyError> {
    let key = secret_key(secret)?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(VerifyError::MissingHeader(name))
    };
    let id = header("webhook-id")?;
    let timestamp: i64 = header("webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let signatures = header("webhook-signature")?;
    let skew = now.timestamp() - timestamp;
    if skew.abs() > tolerance.num_seconds() {
        return Err(VerifyError::OutsideTolerance(skew));
    }
    let matches = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| BASE64.decode(s).ok())
        .any(|signature| {
            mac(&key, id, timestamp, body)
                .verify_slice(&signature)
                .is_ok()
        });
    if !matches {
        return Err(VerifyError::NoMatchingSignature);
    }
    serde_json::from_slice(body).map_err(|e| VerifyError::NotAnEvent(e.to_string()))
}

/// The `v1,…` signature of a delivery with `secret`, as `webhook-signature` carries it.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, VerifyError> {
    let key = secret_key(secret)?;
    let signature = mac(&key, id, timestamp, body).finalize().into_bytes();
    Ok(format!("v1,{}", BASE64.encode(signature)))
}

/// The key bytes of a `whsec_…` secret.
fn secret_key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match BASE64.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(VerifyError::BadSecret),
    }
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    // Standard Webhooks' own test vector (its reference libraries' tests).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(signature: &str, timestamp: i64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static(ID));
        headers.insert("webhook-timestamp", timestamp.into());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    fn at(timestamp: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(timestamp, 0).unwrap()
    }

    #[test]
    fn sign_gives_the_reference_signature() {
        assert_eq!(sign(SECRET, ID, TIMESTAMP, BODY).unwrap(), SIGNATURE);
    }

    #[test]
    fn verify_checks_signature_then_reads_the_event() {
        let check = |sig: &str, body: &[u8], now: i64| {
            verify_at(
                SECRET,
                &headers(sig, TIMESTAMP),
                body,
                at(now),
                DEFAULT_TOLERANCE,
            )
        };
        // Signed right, but the reference body is no Tandem event.
        assert!(matches!(
            check(SIGNATURE, BODY, TIMESTAMP),
            Err(VerifyError::NotAnEvent(_))
        ));
        // One of several signatures (a rotation) is enough.
        let rotating = format!("v1,AAAA {SIGNATURE}");
        assert!(matches!(
            check(&rotating, BODY, TIMESTAMP + 299),
            Err(VerifyError::NotAnEvent(_))
        ));
        assert_eq!(
            check(SIGNATURE, br#"{"test": 2432232315}"#, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            check(SIGNATURE, BODY, TIMESTAMP + 301),
            Err(VerifyError::OutsideTolerance(301))
        );
        assert_eq!(
            check(SIGNATURE, BODY, TIMESTAMP - 301),
            Err(VerifyError::OutsideTolerance(-301))
        );
        assert_eq!(
            check("v2,whatever", BODY, TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_signed_event_round_trips() {
        let event = Event {
            id: "evt_1".into(),
            event_type: EventType::WebhookTest,
            timestamp: at(TIMESTAMP),
            data: EventData::Test {
                webhook_id: "wh_1".into(),
            },
        };
        let body = serde_json::to_vec(&event).unwrap();
        let signature = sign(SECRET, ID, TIMESTAMP, &body).unwrap();
        let verified = verify_at(
            SECRET,
            &headers(&signature, TIMESTAMP),
            &body,
            at(TIMESTAMP),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(verified, Ok(event));
        let wrong = "whsec_".to_owned() + &BASE64.encode(b"another key");
        assert_eq!(
            verify_at(
                &wrong,
                &headers(&signature, TIMESTAMP),
                &body,
                at(TIMESTAMP),
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify_at(
                "whsec_!!",
                &HeaderMap::new(),
                &body,
                at(0),
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::BadSecret)
        );
        assert_eq!(
            verify_at(SECRET, &HeaderMap::new(), &body, at(0), DEFAULT_TOLERANCE),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
    }
}
