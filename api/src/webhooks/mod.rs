//! Webhooks: what a tenant may register ([`WebhookPolicy::check_url`]), where deliveries may
//! go ([`address`]), the retry schedule, and the worker that delivers ([`delivery`]).
//!
//! Events are recorded with the change that causes them (see
//! [`crate::store::WebhookStore`]); the worker sends each to each subscribed endpoint at
//! least once, signed as Standard Webhooks says ([`sdk::webhooks`]).

pub mod address;
pub mod delivery;
pub mod lambda;

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngExt as _;

use crate::store::webhooks::NextStep;

/// What decides where deliveries may go and how they are retried: `TANDEM_WEBHOOK_*`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPolicy {
    /// Whether `http://` URLs to loopback hosts may be registered (for local receivers
    /// and tests); `https://` is required otherwise.
    pub allow_http_loopback: bool,
    /// Whether deliveries may go to private, loopback and link-local addresses.
    pub allow_private_addresses: bool,
    /// The delays before each retry, in order; the first attempt is at once.
    pub retry_delays: Vec<Duration>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
}

/// The retry schedule of Standard Webhooks' reference (Svix): 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h after the first attempt, about 28 hours in all.
pub const RETRY_DELAYS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            allow_http_loopback: false,
            allow_private_addresses: false,
            retry_delays: RETRY_DELAYS.to_vec(),
            timeout: Duration::from_secs(10),
            disable_after: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// The most endpoints one tenant may register.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 20;

/// The longest endpoint description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// The longest endpoint URL.
pub const MAX_URL_BYTES: usize = 2048;

/// How long the secret before a rotation keeps signing beside the new one.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

impl WebhookPolicy {
    /// Checks an endpoint URL as a tenant registers it: `https` (or `http` to a loopback
    /// host when allowed), a host, no user name or password, no fragment, and no address
    /// literal that deliveries may not go to. Host names are checked again at every
    /// delivery, against what they resolve to then.
    pub fn check_url(&self, raw: &str) -> Result<url::Url, String> {
        if raw.len() > MAX_URL_BYTES {
            return Err(format!("url must be at most {MAX_URL_BYTES} bytes"));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("url is not a valid URL: {e}"))?;
        let host = url
            .host()
            .ok_or_else(|| "url must name a host".to_owned())?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http_loopback && address::is_loopback_host(&host) => {}
            "http" => {
                return Err(if self.allow_http_loopback {
                    "url must use https (plain http only to localhost, 127.0.0.1 or [::1])".into()
                } else {
                    "url must use https".into()
                });
            }
            other => return Err(format!("url must use https, not {other}")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("url must not carry a user name or password".into());
        }
        if url.fragment().is_some() {
            return Err("url must not have a #fragment".into());
        }
        if let Some(ip) = address::literal(&host) {
            address::check(ip, self.allow_private_addresses)?;
        }
        Ok(url)
    }

    /// What follows an attempt that was the `attempts`-th (1 for the first): `status` is
    /// the endpoint's answer, if it gave one.
    pub fn next_step(&self, attempts: u32, status: Option<u16>, now: DateTime<Utc>) -> NextStep {
        match status {
            Some(200..=299) => NextStep::Delivered,
            Some(410) => NextStep::Gone,
            _ => match self.retry_delays.get(attempts as usize - 1) {
                Some(&delay) => NextStep::RetryAt(now + jittered(delay)),
                None => NextStep::GiveUp,
            },
        }
    }
}

/// `delay` give or take a tenth, so that retries of many events spread out.
fn jittered(delay: Duration) -> chrono::Duration {
    let millis = delay.as_millis() as i64;
    let spread = millis / 10;
    let offset = if spread > 0 {
        rand::rng().random_range(-spread..=spread)
    } else {
        0
    };
    chrono::Duration::milliseconds(millis + offset)
}

/// A new signing secret: `whsec_` and base64 of 24 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A new endpoint id: `wh_` and 26 characters of a random UUID.
pub fn new_id() -> String {
    format!("wh_{}", &uuid::Uuid::new_v4().simple().to_string()[..26])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow_http_loopback: bool) -> WebhookPolicy {
        WebhookPolicy {
            allow_http_loopback,
            ..WebhookPolicy::default()
        }
    }

    #[test]
    fn only_https_urls_without_credentials_are_taken() {
        let strict = policy(false);
        assert!(
            strict
                .check_url("https://hooks.example.com/tandem?x=1")
                .is_ok()
        );
        for (url, says) in [
            ("http://hooks.example.com/", "must use https"),
            ("http://127.0.0.1:8080/", "must use https"),
            ("ftp://hooks.example.com/", "not ftp"),
            (
                "https://user:pw@hooks.example.com/",
                "user name or password",
            ),
            ("https://hooks.example.com/#x", "fragment"),
            ("not a url", "not a valid URL"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://10.0.0.1/", "private"),
            ("https://[::1]/", "loopback"),
            ("https://[fd00::1]/", "private"),
            ("https://[::ffff:10.0.0.1]/", "private"),
        ] {
            let err = strict.check_url(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn plain_http_is_taken_only_to_loopback_and_only_when_allowed() {
        let local = policy(true);
        // Loopback by name is allowed for http; delivery still checks the address.
        assert!(local.check_url("http://localhost:9000/hook").is_ok());
        let err = local.check_url("http://hooks.example.com/").unwrap_err();
        assert!(err.contains("only to localhost"), "{err}");
        // The literal 127.0.0.1 is loopback: private addresses are still refused.
        let err = local.check_url("http://127.0.0.1:9000/").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let open = WebhookPolicy {
            allow_private_addresses: true,
            ..local
        };
        assert!(open.check_url("http://127.0.0.1:9000/").is_ok());
    }

    #[test]
    fn failures_retry_on_the_schedule_until_it_ends_and_410_stops() {
        let p = WebhookPolicy::default();
        let now = Utc::now();
        assert_eq!(p.next_step(1, Some(204), now), NextStep::Delivered);
        assert_eq!(p.next_step(3, Some(410), now), NextStep::Gone);
        let NextStep::RetryAt(at) = p.next_step(1, Some(500), now) else {
            panic!("a first failure is retried");
        };
        let delay = (at - now).num_milliseconds();
        assert!((4500..=5500).contains(&delay), "{delay}");
        let NextStep::RetryAt(at) = p.next_step(7, None, now) else {
            panic!("the seventh failure is retried");
        };
        assert!((at - now).num_hours() >= 9);
        assert_eq!(p.next_step(8, None, now), NextStep::GiveUp);
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets() {
        let secret = new_secret();
        let signed = sdk::webhooks::sign(&secret, "evt_1", 0, b"{}").unwrap();
        assert!(signed.starts_with("v1,"), "{signed}");
        assert_ne!(new_secret(), secret);
        assert!(new_id().starts_with("wh_"));
    }
}
