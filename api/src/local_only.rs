//! Without API keys the API is for the machine it runs on, and a browser on that machine
//! must not be turned against it by a web page:
//! - **DNS rebinding**: a page on `attacker.example` whose name is made to resolve to
//!   127.0.0.1 reaches the API as if same-origin, but its requests name `attacker.example`
//!   in `Host`. Only loopback names (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) and the
//!   names in `TANDEM_ALLOWED_HOSTS` are served.
//! - **Cross-site forms**: a page can post a form to `POST /create/{entity}` (a form needs no
//!   JSON content type). A request that changes something is refused when the browser says
//!   it comes from another site (`Sec-Fetch-Site: cross-site`) or from an origin whose host
//!   would not be served (`Origin`).
//!
//! With API keys neither applies: a page cannot send a key it does not have.

use std::net::IpAddr;

use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use axum::http::{Method, Uri};

use crate::error::ApiError;

/// The host names served without API keys besides the loopback ones.
#[derive(Debug, Clone, Default)]
pub struct LocalHosts {
    /// Lowercase, without port.
    allowed: Vec<String>,
}

impl LocalHosts {
    /// Loopback names and `allowed` (names without a port, in any case).
    pub fn new(allowed: &[String]) -> Self {
        Self {
            allowed: allowed
                .iter()
                .map(|name| name.trim().to_ascii_lowercase())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }

    /// Refuses a request for a foreign host, and a cross-site one that changes something.
    pub fn check(&self, parts: &Parts) -> Result<(), ApiError> {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| parts.uri.authority().map(Authority::as_str))
            .unwrap_or_default();
        let authority = host.parse::<Authority>().ok();
        let name = host_name(host, authority.as_ref());
        if !self.serves(name) {
            let name = name.to_ascii_lowercase();
            return Err(ApiError::Forbidden(format!(
                "this server, running without API keys, answers only to localhost, 127.0.0.1 \
                 and [::1], not to the host {name:?}: name it in TANDEM_ALLOWED_HOSTS, or set \
                 TANDEM_API_KEYS"
            )));
        }
        if is_safe(&parts.method) {
            return Ok(());
        }
        let fetch_site = parts.headers.get("sec-fetch-site").map(|v| v.as_bytes());
        if fetch_site == Some(b"cross-site") {
            return Err(cross_site("Sec-Fetch-Site: cross-site"));
        }
        if let Some(origin) = parts.headers.get(ORIGIN) {
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|origin| origin.parse::<Uri>().ok())
                .and_then(|uri| uri.authority().map(|a| self.serves(a.host())));
            match origin_host {
                Some(true) => {}
                _ => return Err(cross_site("its Origin")),
            }
        }
        Ok(())
    }

    /// Whether `name` (a host without its port, in any case) is served.
    fn serves(&self, name: &str) -> bool {
        const SUFFIX: &str = ".localhost";
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost")
            || name
                .len()
                .checked_sub(SUFFIX.len())
                .and_then(|start| name.get(start..))
                .is_some_and(|end| end.eq_ignore_ascii_case(SUFFIX))
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || self
                .allowed
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }
}

fn cross_site(said_by: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "a request from another site is refused by this server, which runs without API keys \
         (as {said_by} tells)"
    ))
}

/// `host` (a `Host` header, parsed as `authority` when it is one) without its port.
fn host_name<'a>(host: &'a str, authority: Option<&'a Authority>) -> &'a str {
    authority.map_or(host, Authority::host)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_allowed_names_are_served_with_any_port_and_case() {
        let hosts = LocalHosts::new(&["Tandem.LAN".to_owned()]);
        for host in [
            "localhost",
            "localhost:3000",
            "app.localhost:80",
            "127.0.0.1",
            "127.1.2.3:9",
            "[::1]:3000",
            "tandem.lan",
            "TANDEM.lan:443",
        ] {
            let authority = host.parse().ok();
            assert!(hosts.serves(host_name(host, authority.as_ref())), "{host}");
        }
        for host in [
            "attacker.example",
            "10.0.0.5:3000",
            "[::2]",
            "localhost.example",
            "",
        ] {
            let authority = host.parse().ok();
            assert!(!hosts.serves(host_name(host, authority.as_ref())), "{host}");
        }
    }
}
