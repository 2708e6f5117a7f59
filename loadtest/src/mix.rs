//! The load-test mix on a lean HTTP/1.1 client: each user runs create → get → pair, or
//! create → get → delete → get (404), on one keep-alive connection, checking every response
//! as the Goose load test does. It is light enough (one thread, hyper's client, borrowed
//! JSON) that one core of it drives one core of server harder than the server can answer,
//! which is what `just bench` and `just soak` need: the server, not the generator, must be
//! the bottleneck.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use tokio::net::TcpStream;

/// Where the mix runs, and how hard.
#[derive(Debug, Clone)]
pub struct MixConfig {
    /// `host:port` of the server, on 127.0.0.1.
    pub authority: String,
    /// How many users run at once, each on its own connection.
    pub users: usize,
    /// Sent as a bearer key when set.
    pub api_key: Option<String>,
}

/// A histogram of latencies in microseconds, from 1 µs to a minute, to 3 significant
/// digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// Latencies and failures since the last [`Tally::take`].
#[derive(Debug)]
pub struct Tally {
    /// Latency of each answered request, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Requests whose answer was wrong (status or body) or that got none.
    pub failed: u64,
    /// Requests that got no answer at all (so have no latency).
    pub unanswered: u64,
    /// The first few failures, in words.
    pub failure_notes: Vec<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency_us: latency_histogram(),
            failed: 0,
            unanswered: 0,
            failure_notes: Vec::new(),
        }
    }
}

impl Tally {
    /// Everything counted so far; the tally starts again from zero.
    pub fn take(&mut self) -> Tally {
        std::mem::take(self)
    }

    /// Adds `other` to this tally.
    pub fn add(&mut self, other: &Tally) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share bounds");
        self.failed += other.failed;
        self.unanswered += other.unanswered;
        for note in &other.failure_notes {
            if self.failure_notes.len() < 5 {
                self.failure_notes.push(note.clone());
            }
        }
    }

    /// Every request sent: those answered and those that got no answer.
    pub fn requests(&self) -> u64 {
        self.latency_us.len() + self.unanswered
    }

    fn fail(&mut self, note: String) {
        self.failed += 1;
        if self.failure_notes.len() < 5 {
            self.failure_notes.push(note);
        }
    }
}

/// The tally the users of one thread share (the mix runs on a current-thread runtime).
pub type SharedTally = Rc<RefCell<Tally>>;

/// A new, empty shared tally.
pub fn tally() -> SharedTally {
    Rc::new(RefCell::new(Tally::default()))
}

/// Runs `config.users` users until `until`; every answer lands in `tally`. Must run
/// inside a [`tokio::task::LocalSet`].
pub async fn run(config: &MixConfig, tally: &SharedTally, until: Instant) -> anyhow::Result<()> {
    let mut users = Vec::with_capacity(config.users);
    for index in 0..config.users {
        let user = User::connect(config, index, tally.clone()).await?;
        users.push(tokio::task::spawn_local(user.run(until)));
    }
    for user in users {
        user.await??;
    }
    Ok(())
}

/// The fields of a record that the checks read.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    token: &'a str,
    #[serde(borrow)]
    entity_a: &'a str,
    #[serde(borrow, default)]
    entity_b: Option<&'a str>,
    #[serde(borrow)]
    status: &'a str,
}

/// The code of an error body.
#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow)]
    error: ErrorDetail<'a>,
}

#[derive(Deserialize)]
struct ErrorDetail<'a> {
    #[serde(borrow)]
    code: &'a str,
}

/// One simulated user on its own keep-alive connection.
struct User {
    index: usize,
    config: MixConfig,
    /// The `Host` header, and the `Authorization` one when there is a key, built once.
    host: HeaderValue,
    authorization: Option<HeaderValue>,
    sender: SendRequest<Full<Bytes>>,
    tally: SharedTally,
    flows: u64,
}

impl User {
    async fn connect(config: &MixConfig, index: usize, tally: SharedTally) -> anyhow::Result<Self> {
        let sender = connect(&config.authority).await?;
        let authorization = config
            .api_key
            .as_ref()
            .map(|key| HeaderValue::try_from(format!("Bearer {key}")))
            .transpose()?;
        Ok(Self {
            index,
            host: HeaderValue::try_from(config.authority.as_str())?,
            authorization,
            config: config.clone(),
            sender,
            tally,
            flows: 0,
        })
    }

    async fn run(mut self, until: Instant) -> anyhow::Result<()> {
        while Instant::now() < until {
            self.flow().await?;
        }
        Ok(())
    }

    /// One flow: create, read back, then pair (even flows) or delete and read (odd ones).
    async fn flow(&mut self) -> anyhow::Result<()> {
        self.flows += 1;
        let entity = format!("mix-{}-{}", self.index, self.flows);
        let body = format!(r#"{{"entity":"{entity}"}}"#);
        let Some((status, created)) = self.send(Method::POST, "/v1/tokens", Some(body)).await?
        else {
            return Ok(());
        };
        let token = match parse::<Record>(&created) {
            Some(r)
                if status == StatusCode::CREATED
                    && r.entity_a == entity
                    && r.status == "pending" =>
            {
                r.token.to_owned()
            }
            _ => return self.failed("POST /v1/tokens", status, &created),
        };
        let path = format!("/v1/tokens/{token}");
        let Some((status, read)) = self.send(Method::GET, &path, None).await? else {
            return Ok(());
        };
        match parse::<Record>(&read) {
            Some(r) if status == StatusCode::OK && r.token == token && r.entity_a == entity => {}
            _ => return self.failed("GET /v1/tokens/{token}", status, &read),
        }
        if self.flows.is_multiple_of(2) {
            let entity_b = format!("{entity}-b");
            let body = format!(r#"{{"entity":"{entity_b}"}}"#);
            let Some((status, paired)) = self
                .send(Method::POST, &format!("{path}/pair"), Some(body))
                .await?
            else {
                return Ok(());
            };
            match parse::<Record>(&paired) {
                Some(r)
                    if status == StatusCode::OK
                        && r.entity_a == entity
                        && r.entity_b == Some(entity_b.as_str())
                        && r.status == "paired" => {}
                _ => return self.failed("POST /v1/tokens/{token}/pair", status, &paired),
            }
        } else {
            let Some((status, deleted)) = self.send(Method::DELETE, &path, None).await? else {
                return Ok(());
            };
            if status != StatusCode::NO_CONTENT {
                return self.failed("DELETE /v1/tokens/{token}", status, &deleted);
            }
            let Some((status, gone)) = self.send(Method::GET, &path, None).await? else {
                return Ok(());
            };
            match parse::<ErrorBody>(&gone) {
                Some(e) if status == StatusCode::NOT_FOUND && e.error.code == "not_found" => {}
                _ => return self.failed("GET /v1/tokens/{token} (deleted)", status, &gone),
            }
        }
        Ok(())
    }

    /// Sends one request and times it. `None`: the request failed (counted) and the
    /// connection was replaced.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<Option<(StatusCode, Bytes)>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let body = match body {
            Some(json) => {
                request =
                    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body)?;
        let started = Instant::now();
        let answer = async {
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        match answer {
            Ok(answer) => {
                let micros = started.elapsed().as_micros().max(1) as u64;
                self.tally.borrow_mut().latency_us.saturating_record(micros);
                Ok(Some(answer))
            }
            Err(error) => {
                {
                    let mut tally = self.tally.borrow_mut();
                    tally.unanswered += 1;
                    tally.fail(format!("{path}: no answer ({error})"));
                }
                self.sender = connect(&self.config.authority).await?;
                Ok(None)
            }
        }
    }

    /// Counts a wrong answer (it was timed too) and ends the flow.
    fn failed(&self, what: &str, status: StatusCode, body: &Bytes) -> anyhow::Result<()> {
        let mut tally = self.tally.borrow_mut();
        tally.fail(format!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
        Ok(())
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a Bytes) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// Opens a keep-alive HTTP/1.1 connection to `authority` and drives it on this thread.
async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::task::spawn_local(async move {
        // The connection ends when the user drops its sender or the server closes it.
        let _ = connection.await;
    });
    Ok(sender)
}
