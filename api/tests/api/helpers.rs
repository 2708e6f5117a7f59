//! The API suite's harness on `test-support`: the API served in-process (as production
//! serves it) with a clock the test drives, and the `tandem-api` binary as a child process.
//!
//! The same tests run on every store: `TANDEM_TEST_STORE=dynamodb` (with
//! `AWS_ENDPOINT_URL_DYNAMODB` pointing at a local server, as `scripts/with-moto` sets it)
//! runs them on DynamoDB, a fresh table per test; otherwise they run on SQLite.

use std::sync::Arc;

use api::AppState;
use api::auth::Access;
use api::clock::ManualClock;
use api::store::{DynamoStore, SqliteStore, Store};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::Utc;
use serde_json::Value;
use tempfile::TempDir;
use test_support::{ApiServer, RunningBinary, tandem_api_command, tandem_api_command_on_one_core};

/// A running API and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A plain HTTP client, for checking statuses and headers.
    pub http: reqwest::Client,
    /// The typed client of the `sdk` crate.
    pub sdk: sdk::Client,
    /// The API's clock; advance it to expire records.
    pub clock: Arc<ManualClock>,
    /// Which store the API runs on.
    pub backend: Backend,
    /// The DynamoDB requests the store sent, when it is DynamoDB.
    pub dynamo_requests: Option<RequestCounter>,
    /// The store itself, for tests of what several API instances on one store see.
    pub store: Arc<dyn Store>,
    _server: ApiServer,
    _dir: TempDir,
}

/// A store the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh table on the local DynamoDB server.
    DynamoDb,
}

impl Backend {
    /// The store `TANDEM_TEST_STORE` names (SQLite when unset).
    pub fn from_env() -> Self {
        match std::env::var("TANDEM_TEST_STORE").as_deref() {
            Err(_) | Ok("sqlite") => Self::Sqlite,
            Ok("dynamodb") => Self::DynamoDb,
            Ok(other) => panic!("TANDEM_TEST_STORE={other:?}: expected sqlite or dynamodb"),
        }
    }

    /// What `/healthz` calls this store.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::DynamoDb => "dynamodb",
        }
    }
}

/// Starts the API on a fresh store of the suite's backend and a free port.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::from_env()).await
}

/// Starts the API on a fresh store of the suite's backend, with `access` (keys, limits).
pub async fn spawn_app_with(access: Access) -> TestApp {
    spawn(Backend::from_env(), access, None).await
}

/// Starts the API on a fresh store of the suite's backend, serving the dashboard built
/// into `dir` (which need not exist).
pub async fn spawn_app_with_dashboard(dir: &std::path::Path) -> TestApp {
    spawn(Backend::from_env(), Access::open(), Some(dir)).await
}

/// Starts the API on a fresh store of `backend` and a free port.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    spawn(backend, Access::open(), None).await
}

async fn spawn(backend: Backend, access: Access, dashboard: Option<&std::path::Path>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, dynamo_requests): (Arc<dyn Store>, _) = match backend {
        Backend::Sqlite => {
            let store = SqliteStore::open(&dir.path().join("tandem.db"))
                .await
                .expect("open SQLite store");
            (Arc::new(store), None)
        }
        Backend::DynamoDb => {
            let (client, counter) = local_dynamodb_client().await;
            let table = format!("tandem-test-{}", uuid::Uuid::new_v4().simple());
            DynamoStore::create_table(&client, &table)
                .await
                .expect("create the test table");
            let store = DynamoStore::connect(client, table)
                .await
                .expect("open DynamoDB store");
            counter.take();
            (Arc::new(store), Some(counter))
        }
    };
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let mut state = AppState::new(store.clone(), clock.clone()).with_access(access);
    if let Some(dir) = dashboard {
        state = state.with_dashboard(dir);
    }
    let server = ApiServer::start(state).await;
    let address = server.url.clone();
    TestApp {
        sdk: sdk::Client::new(&address),
        address,
        http: reqwest::Client::new(),
        clock,
        backend,
        dynamo_requests,
        store,
        _server: server,
        _dir: dir,
    }
}

/// A DynamoDB client of the local server that `AWS_ENDPOINT_URL_DYNAMODB` names, counting
/// the requests it sends.
pub async fn local_dynamodb_client() -> (aws_sdk_dynamodb::Client, RequestCounter) {
    let counter = RequestCounter::default();
    let config = local_dynamodb_config()
        .await
        .interceptor(counter.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), counter)
}

/// The configuration of a client of the local DynamoDB server that
/// `AWS_ENDPOINT_URL_DYNAMODB` names.
pub async fn local_dynamodb_config() -> aws_sdk_dynamodb::config::Builder {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect(
        "AWS_ENDPOINT_URL_DYNAMODB must name a local DynamoDB server: run through `just test`, \
         or `scripts/with-moto cargo test …`",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to a server on 127.0.0.1, not {endpoint}"
    );
    let sdk_config = aws_config::load_from_env().await;
    aws_sdk_dynamodb::config::Builder::from(&sdk_config)
}

impl TestApp {
    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `POST /v1/tokens` with a JSON body.
    pub async fn create(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/tokens"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates a token for `entity` and returns its token string.
    pub async fn create_for(&self, entity: &str) -> String {
        let response = self.create(serde_json::json!({ "entity": entity })).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// `GET /v1/tokens/{token}`.
    pub async fn get(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/v1/tokens/{token}")))
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/tokens/{token}/pair` as `entity`.
    pub async fn pair(&self, token: &str, entity: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/v1/tokens/{token}/pair")))
            .json(&serde_json::json!({ "entity": entity }))
            .send()
            .await
            .expect("request")
    }

    /// `DELETE /v1/tokens/{token}`.
    pub async fn delete(&self, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(&format!("/v1/tokens/{token}")))
            .send()
            .await
            .expect("request")
    }

    /// `POST /v1/codes/{code}/pair` as `entity`.
    pub async fn pair_code(&self, code: &str, entity: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/v1/codes/{code}/pair")))
            .json(&serde_json::json!({ "entity": entity }))
            .send()
            .await
            .expect("request")
    }

    /// `GET` of a path with a query.
    pub async fn get_path(&self, path_and_query: &str) -> reqwest::Response {
        self.http
            .get(self.url(path_and_query))
            .send()
            .await
            .expect("request")
    }
}

/// Asserts `response` has `status` and the JSON error shape with `code`; returns the message.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "status");
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("message is a string");
    assert!(!message.is_empty(), "message is empty in {body}");
    message.to_owned()
}

/// Starts the `tandem-api` binary on a free port of 127.0.0.1 with the given store and
/// more `flags`, and waits for its start-up line; killed when dropped, even when the test
/// fails.
pub async fn start_binary(store_url: &str, flags: &[&str]) -> RunningBinary {
    let mut command = tandem_api_command(env!("CARGO_BIN_EXE_tandem-api"));
    command.args(["--store", store_url]).args(flags);
    RunningBinary::start_listening(command).await
}

/// As [`start_binary`], pinned to one core, where the binary serves on tokio's
/// single-threaded scheduler.
pub async fn start_binary_on_one_core(store_url: &str, flags: &[&str]) -> RunningBinary {
    let mut command = tandem_api_command_on_one_core(env!("CARGO_BIN_EXE_tandem-api"));
    command.args(["--store", store_url]).args(flags);
    RunningBinary::start_listening(command).await
}

/// Counts the requests a DynamoDB client sends (retries included), by operation name:
/// installed on the client with `aws_sdk_dynamodb::config::Builder::interceptor`.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<std::sync::Mutex<Vec<String>>>);

impl RequestCounter {
    /// The operations sent since the last call, in order (such as `PutItem`), and resets.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(operation);
        Ok(())
    }
}
