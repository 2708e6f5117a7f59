//! Who a request acts for, and how often it may: API keys, tenants and rate limits (the
//! per-key limit itself is [`crate::rate_limit`]).
//!
//! Keys are kept only as SHA-256 digests and compared in constant time. Each key maps to
//! a tenant; a tenant sees only its own records. Without keys (local use only) every
//! request acts for the [`TenantId::local`] tenant.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::domain::{Guesser, TenantId};
use crate::error::ApiError;
use crate::local_only::LocalHosts;
use crate::rate_limit::SharedRateLimit;

/// Plain-text keys shorter than this are refused: they could be guessed.
const MIN_KEY_LEN: usize = 16;

/// The configured API keys, as digests.
pub struct ApiKeys {
    keys: Vec<(TenantId, [u8; 32])>,
    /// Each key's id for the rate limit: `key:` and the first 8 bytes of its digest in hex,
    /// the same in every process.
    ids: Vec<String>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenants: Vec<&str> = self.keys.iter().map(|(t, _)| t.as_str()).collect();
        f.debug_struct("ApiKeys")
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Parses `tenant:key,tenant:key,…`. A key is either the key itself (at least 16
    /// characters) or `sha256:` and the 64 hexadecimal digits of its SHA-256 digest, so
    /// that configuration need not hold the key.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (tenant, key) = entry
                .split_once(':')
                .ok_or("each API key entry must be tenant:key")?;
            let tenant = TenantId::parse(tenant)?;
            let digest = match key.strip_prefix("sha256:") {
                Some(digits) => {
                    let mut digest = [0u8; 32];
                    hex::decode_to_slice(digits, &mut digest)
                        .map_err(|_| "a sha256: key must be 64 hexadecimal digits")?;
                    digest
                }
                None if key.chars().count() >= MIN_KEY_LEN => Sha256::digest(key.as_bytes()).into(),
                None => {
                    return Err(format!(
                        "the key of tenant {tenant} is shorter than {MIN_KEY_LEN} characters"
                    ));
                }
            };
            if let Some((other, _)) = keys
                .iter()
                .find(|(other, known): &&(TenantId, [u8; 32])| *known == digest && *other != tenant)
            {
                // Else the last tenant would win, and the first tenant's new records go to it.
                return Err(format!(
                    "the same API key is listed under tenants {other} and {tenant}: give each tenant its own"
                ));
            }
            keys.push((tenant, digest));
        }
        if keys.is_empty() {
            return Err("no API keys given".to_owned());
        }
        let ids = keys
            .iter()
            .map(|(_, digest)| format!("key:{}", hex::encode(&digest[..8])))
            .collect();
        Ok(Self { keys, ids })
    }

    /// The key's id and tenant, if `presented` is one of the keys. Every digest is
    /// compared, in constant time, whichever matches.
    fn find(&self, presented: &str) -> Option<(&str, &TenantId)> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (index, (tenant, known)) in self.keys.iter().enumerate() {
            if bool::from(known.ct_eq(&digest)) {
                found = Some((self.ids[index].as_str(), tenant));
            }
        }
        found
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none (never true of a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Authentication and rate limits, shared by every request.
pub struct Access {
    keys: Option<ApiKeys>,
    /// What is served without keys.
    local: LocalHosts,
    /// The per-key limit, held through the store for the whole deployment.
    per_key: Option<SharedRateLimit>,
    /// Requests with a missing or wrong key, per client address (an IPv6 address by its
    /// /64), in this process.
    unauthenticated: DefaultKeyedRateLimiter<String>,
}

/// Requests with a missing or wrong key answered `401` per client address and second (in
/// bursts of as many); past that they get `429`. They never reach the store, so they cannot
/// use up anyone's budget there.
pub const UNAUTHENTICATED_PER_SECOND: u32 = 10;

impl Access {
    /// Access with `keys` (`None`: authentication off) and at most `per_second` requests
    /// per key in any clock second, deployment-wide (`0`: no limit; no limit either
    /// without keys).
    pub fn new(keys: Option<ApiKeys>, per_second: u32) -> Self {
        let per_key = (keys.is_some() && per_second > 0).then(|| SharedRateLimit::new(per_second));
        let unauthenticated = NonZeroU32::new(UNAUTHENTICATED_PER_SECOND).expect("non-zero");
        Self {
            keys,
            local: LocalHosts::default(),
            per_key,
            unauthenticated: RateLimiter::keyed(Quota::per_second(unauthenticated)),
        }
    }

    /// The same access serving, without keys, the host names `allowed` besides the
    /// loopback ones (see [`LocalHosts`]).
    #[must_use]
    pub fn with_allowed_hosts(mut self, allowed: &[String]) -> Self {
        self.local = LocalHosts::new(allowed);
        self
    }

    /// Access without keys or limits, for local use.
    pub fn open() -> Self {
        Self::new(None, 0)
    }

    /// The tenant a request with these headers acts for, and the id of its key (none when
    /// keys are off).
    fn authenticate(&self, parts: &Parts) -> Result<(TenantId, Option<&str>), ApiError> {
        let Some(keys) = &self.keys else {
            self.local.check(parts)?;
            return Ok((TenantId::local(), None));
        };
        let found = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, key) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            })
            .and_then(|presented| keys.find(presented));
        match found {
            Some((id, tenant)) => Ok((tenant.clone(), Some(id))),
            None => Err(self.refuse_unauthenticated(parts)),
        }
    }

    /// `401`, or `429` once the client's address has had its share of them.
    fn refuse_unauthenticated(&self, parts: &Parts) -> ApiError {
        let limiter = &self.unauthenticated;
        // Forget addresses that have been quiet for a while, so the table stays small.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        let address = Guesser::of(None, client_ip(parts)).key();
        match limiter.check_key(&address) {
            Ok(()) => ApiError::Unauthorized,
            Err(not_until) => ApiError::RateLimited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }
}

/// The tenant a request acts for: from its API key, or [`TenantId::local`] when the API
/// runs without keys.
impl FromRequestParts<AppState> for TenantId {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let access = &state.access;
        let (tenant, key) = access.authenticate(parts)?;
        if let (Some(limit), Some(key)) = (&access.per_key, key) {
            let pairings = &state.pairings;
            limit.check(pairings.store(), key, pairings.now()).await?;
        }
        Ok(tenant)
    }
}

/// The address of the client: the TCP peer locally, the source IP under Lambda.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

/// The address of the client: the TCP peer locally, the source IP under Lambda.
fn client_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        return Some(addr.ip());
    }
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse().ok()),
        _ => None,
    }
}

/// Whole seconds to put in `Retry-After`, rounded up.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_plain_and_hashed_and_refuse_weak_or_malformed_entries() {
        let hex = hex::encode(Sha256::digest(b"a-long-enough-secret"));
        let keys = ApiKeys::parse(&format!("acme:0123456789abcdef, globex:sha256:{hex}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.find("0123456789abcdef").unwrap().1.as_str(), "acme");
        assert_eq!(
            keys.find("a-long-enough-secret").unwrap().1.as_str(),
            "globex"
        );
        assert!(keys.find("0123456789abcdeF").is_none());
        assert!(keys.find("").is_none());

        for bad in [
            "",
            "acme",
            "acme:short",
            "bad tenant:0123456789abcdef",
            "acme:sha256:12",
            "acme:0123456789abcdef,globex:0123456789abcdef",
        ] {
            assert!(ApiKeys::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn one_key_under_two_tenants_is_refused_by_name_and_twice_under_one_is_not() {
        let hex = hex::encode(Sha256::digest(b"0123456789abcdef"));
        let error =
            ApiKeys::parse(&format!("acme:0123456789abcdef,globex:sha256:{hex}")).unwrap_err();
        assert!(error.contains("acme and globex"), "{error}");
        assert!(!error.contains("0123456789abcdef"), "{error}");

        let keys = ApiKeys::parse("acme:0123456789abcdef,acme:0123456789abcdef").unwrap();
        assert_eq!(keys.find("0123456789abcdef").unwrap().1.as_str(), "acme");
    }

    #[test]
    fn debug_output_shows_tenants_but_no_key_material() {
        let keys = ApiKeys::parse("acme:0123456789abcdef").unwrap();
        let shown = format!("{keys:?}");
        assert!(shown.contains("acme"));
        assert!(!shown.contains("0123456789abcdef"));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(6)), 6);
        assert_eq!(retry_after_seconds(Duration::from_millis(6001)), 7);
    }
}
