//! The local server as a server open to the network: slow clients are dropped, connections
//! are capped, a request has a deadline, and without API keys it answers only to its own
//! host names and never to a cross-site form.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{assert_error, spawn_app, start_binary};

/// Reads what the server sends on `stream` until it closes the connection.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let api = start_binary(&store, &["--header-timeout-seconds", "1"]).await;
    let address = api.address().trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();

    let served = reqwest::get(format!("{}/healthz", api.address()))
        .await
        .unwrap();
    let dropped = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut slow)).await;

    assert_eq!(served.status(), 200);
    let answer = dropped.expect("the server should close a connection whose headers never end");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "the slow client got: {answer:?}"
    );
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let api = start_binary(&store, &["--max-connections", "2"]).await;
    let address = api.address().trim_start_matches("http://").to_owned();
    // Two connections that stay open, idle, after a request each.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 512];
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let third = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();

    let while_full = third.get(format!("{}/healthz", api.address())).send().await;
    drop(held.pop());
    let after_one_closed = reqwest::Client::new()
        .get(format!("{}/healthz", api.address()))
        .send()
        .await
        .unwrap();

    assert!(
        while_full.is_err(),
        "a third connection was served: {while_full:?}"
    );
    assert_eq!(after_one_closed.status(), 200);
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_408_after_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let api = start_binary(&store, &["--request-timeout-seconds", "1"]).await;
    let address = api.address().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            b"POST /v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\nConnection: close\r\n\r\n{\"entity\":",
        )
        .await
        .unwrap();

    let answer = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut stream))
        .await
        .expect("the server should answer once the deadline passes");

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
}

#[tokio::test]
async fn without_keys_a_host_that_is_not_this_servers_is_refused() {
    let app = spawn_app().await;

    let rebound = app
        .http
        .get(app.url("/v1/stats"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    let local_names = [
        "localhost:3000",
        "127.0.0.1",
        "[::1]:8080",
        "tandem.localhost",
    ];

    let message = assert_error(rebound, 403, "forbidden").await;
    assert!(message.contains("attacker.example"), "{message}");
    assert!(message.contains("TANDEM_ALLOWED_HOSTS"), "{message}");
    for host in local_names {
        let response = app
            .http
            .get(app.url("/v1/stats"))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "Host: {host}");
    }
}

#[tokio::test]
async fn a_host_named_in_allowed_hosts_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("t.db").display());
    let api = start_binary(&store, &["--allowed-hosts", "tandem.lan,box.example"]).await;
    let http = reqwest::Client::new();
    let stats = format!("{}/v1/stats", api.address());

    let named = http
        .get(&stats)
        .header("host", "Tandem.LAN:3000")
        .send()
        .await
        .unwrap();
    let other = http
        .get(&stats)
        .header("host", "else.example")
        .send()
        .await
        .unwrap();

    assert_eq!(named.status(), 200);
    assert_eq!(other.status(), 403);
}

#[tokio::test]
async fn without_keys_a_cross_site_form_post_is_refused() {
    let app = spawn_app().await;
    let form_post = |headers: &[(&str, &str)]| {
        let mut request = app
            .http
            .post(app.url("/create/user:alice"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("x=1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };

    let cross_site = form_post(&[("sec-fetch-site", "cross-site")])
        .await
        .unwrap();
    let foreign_origin = form_post(&[("origin", "https://attacker.example")])
        .await
        .unwrap();
    let opaque_origin = form_post(&[("origin", "null")]).await.unwrap();
    let same_origin = form_post(&[("origin", &app.url("")), ("sec-fetch-site", "same-origin")])
        .await
        .unwrap();

    assert_error(cross_site, 403, "forbidden").await;
    assert_error(foreign_origin, 403, "forbidden").await;
    assert_error(opaque_origin, 403, "forbidden").await;
    assert_eq!(same_origin.status(), 200);
    let created = app.create(json!({ "entity": "user:bob" })).await;
    assert_eq!(
        created.status(),
        201,
        "a client that is not a browser is not affected"
    );
}
