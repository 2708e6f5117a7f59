//! Every request's deadline: [`AppState::request_timeout`](crate::AppState), plus the wait a
//! long-poll asks for (`?wait=N`, at most [`WaitSeconds::MAX`]). A request past it, a body
//! that trickles in or a handler stuck on its store, is answered `408` and dropped.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use sdk::WaitSeconds;

use crate::error::ApiError;

/// Runs the request within its deadline (`408` past it).
pub(crate) async fn deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = timeout + long_poll_wait(request.uri());
    match tokio::time::timeout(allowed, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout(allowed).into_response(),
    }
}

/// The wait a long-poll asks for in its query, at most [`WaitSeconds::MAX`]; zero for any
/// other request (a malformed `wait` is the handler's `422`).
fn long_poll_wait(uri: &Uri) -> Duration {
    let Some(query) = uri.query() else {
        return Duration::ZERO;
    };
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "wait")
        .and_then(|(_, value)| value.parse::<u64>().ok())
        .map_or(Duration::ZERO, |seconds| {
            Duration::from_secs(seconds.min(WaitSeconds::MAX.seconds()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_poll_gets_its_wait_on_top_and_no_more_than_the_longest() {
        let wait = |uri: &str| long_poll_wait(&uri.parse().unwrap());

        assert_eq!(wait("/v1/tokens/t"), Duration::ZERO);
        assert_eq!(wait("/v1/tokens/t?wait=20"), Duration::from_secs(20));
        assert_eq!(wait("/v1/tokens/t?x=1&wait=5"), Duration::from_secs(5));
        assert_eq!(wait("/v1/tokens/t?wait=9999"), Duration::from_secs(25));
        assert_eq!(wait("/v1/tokens/t?wait=soon"), Duration::ZERO);
    }
}
