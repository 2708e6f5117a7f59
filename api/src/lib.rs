//! Tandem's HTTP API: one axum [`Router`] ([`app`]) on a pluggable [`store::Store`],
//! served locally by [`Application`] or on AWS Lambda by [`run_on_lambda`].

pub mod auth;
pub mod clock;
pub mod config;
pub mod cost;
mod deadline;
pub mod domain;
pub mod error;
pub mod extract;
pub mod local_only;
pub mod long_polls;
pub mod pairing;
pub mod rate_limit;
pub mod routes;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Access, ApiKeys};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::ApiError;
use crate::long_polls::LongPolls;
use crate::pairing::Pairings;
use crate::store::{GuessLimits, Store};
use crate::webhooks::WebhookPolicy;
use crate::webhooks::delivery::Worker;

/// The largest request body accepted; larger ones get `413`.
pub const BODY_LIMIT_BYTES: usize = 16 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The pairing rules on the configured store.
    pub pairings: Pairings,
    /// API keys and rate limits.
    pub access: Arc<Access>,
    /// Where the built dashboard lives, if it is served.
    pub dashboard_dir: Option<Arc<PathBuf>>,
    /// How long a request may take (a long-poll's wait on top); then `408`.
    pub request_timeout: Duration,
    /// The long-polls in progress, and their limits.
    pub long_polls: Arc<LongPolls>,
    /// Which webhook URLs are taken, and how deliveries go.
    pub webhooks: Arc<WebhookPolicy>,
}

/// How long a request may take by default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl AppState {
    /// State on `store`, telling time by `clock`, without API keys.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            pairings: Pairings::new(store, clock),
            access: Arc::new(Access::open()),
            dashboard_dir: None,
            request_timeout: REQUEST_TIMEOUT,
            long_polls: Arc::new(LongPolls::default()),
            webhooks: Arc::new(WebhookPolicy::default()),
        }
    }

    /// The same state with this webhook policy.
    #[must_use]
    pub fn with_webhooks(mut self, policy: WebhookPolicy) -> Self {
        self.webhooks = Arc::new(policy);
        self
    }

    /// The same state with long-polls limited by `long_polls`.
    #[must_use]
    pub fn with_long_polls(mut self, long_polls: LongPolls) -> Self {
        self.long_polls = Arc::new(long_polls);
        self
    }

    /// The same state giving each request `timeout`, plus a long-poll's wait.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same state serving the dashboard built into `dir` at `/`.
    #[must_use]
    pub fn with_dashboard(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dashboard_dir = Some(Arc::new(dir.into()));
        self
    }

    /// The same state with these limits on failed short-code attempts.
    #[must_use]
    pub fn with_guess_limits(mut self, limits: GuessLimits) -> Self {
        self.pairings = self.pairings.with_guess_limits(limits);
        self
    }

    /// The same state with `access` instead.
    #[must_use]
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = Arc::new(access);
        self
    }
}

/// The whole API: served locally, on Lambda, and by the tests.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes::router().split_for_parts();
    let openapi_json = Bytes::from(
        openapi
            .to_pretty_json()
            .expect("the OpenAPI document serializes"),
    );
    let router = router
        .merge(routes::dashboard::router(
            state.dashboard_dir.as_deref().map(PathBuf::as_path),
        ))
        .route(
            "/openapi.json",
            get(move || async move { ([(CONTENT_TYPE, "application/json")], openapi_json) }),
        )
        .fallback(|uri: Uri| async move { ApiError::RouteNotFound(uri.path().to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    // The layers wrap the whole Router once, outermost first. `Router::layer` would wrap each
    // route instead, boxing and cloning every layer's service again for every request (README,
    // "Load test and benchmarks").
    let layered = tower::ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_panic| internal_error_response()))
        .layer(middleware::from_fn_with_state(
            state.request_timeout,
            deadline::deadline,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .service(router.with_state(state));
    Router::new().fallback_service(layered)
}

fn internal_error_response() -> Response {
    ApiError::Internal("a request handler panicked".into()).into_response()
}

/// Builds the state that `config` describes: parses the keys, opens the store.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    use secrecy::ExposeSecret as _;
    let keys = config
        .api_keys
        .as_ref()
        .map(|spec| ApiKeys::parse(spec.expose_secret()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("TANDEM_API_KEYS: {e}"))?;
    match &keys {
        Some(keys) => tracing::info!("authentication on: {} API key(s)", keys.len()),
        None => tracing::warn!(
            "AUTHENTICATION IS OFF: TANDEM_API_KEYS is not set, so anyone who can reach this \
             server acts as the tenant \"local\". Fine on your machine; never expose it."
        ),
    }
    let store = store::open(&config.store, config.sqlite_options())
        .await
        .with_context(|| format!("could not open the store {}", config.store))?;
    let access = Access::new(keys, config.rate_limit).with_allowed_hosts(&config.allowed_hosts);
    Ok(AppState::new(store, Arc::new(SystemClock))
        .with_access(access)
        .with_request_timeout(Duration::from_secs(config.request_timeout_seconds))
        .with_long_polls(config.long_polls())
        .with_guess_limits(config.guess_limits())
        .with_webhooks(config.webhook_policy())
        .with_dashboard(
            config.dashboard_dir_in(
                std::env::var_os("LAMBDA_TASK_ROOT")
                    .map(PathBuf::from)
                    .as_deref(),
            ),
        ))
}

/// The API bound to its local address, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
}

impl Application {
    /// Opens the store and binds the listener that `config` names.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let state = build_state(config).await?;
        // Where the store keeps an outbox (SQLite), this process delivers its webhooks.
        if let Some(worker) = Worker::new(
            Arc::clone(state.pairings.store_arc()),
            (*state.webhooks).clone(),
            Arc::new(SystemClock),
        ) {
            tokio::spawn(worker.run());
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("could not listen on {}", config.listen))?;
        let app = Self {
            listener,
            router: app(state),
            limits: config.serve_limits(),
        };
        tracing::info!(
            "tandem-api listening on http://{} (store: {})",
            app.local_addr()?,
            config.store
        );
        Ok(app)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        serve(self.listener, self.router, self.limits, shutdown_signal())
            .await
            .context("server failed")?;
        tracing::info!("tandem-api stopped");
        Ok(())
    }
}

pub use crate::serve::{ServeLimits, serve};

/// Runs a one-off [`config::Command`].
pub async fn run_command(config: &Config, command: &config::Command) -> anyhow::Result<()> {
    match command {
        config::Command::CreateTable => match &config.store {
            store::StoreUrl::DynamoDb(table) => {
                let client = store::DynamoStore::client_from_env().await;
                let created = store::DynamoStore::create_table(&client, table)
                    .await
                    .with_context(|| format!("could not create the DynamoDB table {table}"))?;
                if created {
                    tracing::info!("created the DynamoDB table {table}");
                } else {
                    tracing::info!("the DynamoDB table {table} exists already; left as it is");
                }
                Ok(())
            }
            store::StoreUrl::Sqlite(_) => anyhow::bail!(
                "create-table is for DynamoDB (--store dynamodb://TABLE); the SQLite store creates its schema when it opens"
            ),
        },
    }
}

/// Serves the same Router under the AWS Lambda runtime.
pub async fn run_on_lambda(config: &Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.api_keys.is_some(),
        "refusing to serve under AWS Lambda without API keys: set TANDEM_API_KEYS"
    );
    let state = build_state(config).await?;
    tracing::info!(
        "tandem-api starting under AWS Lambda (store: {})",
        config.store
    );
    lambda_http::run(app(state))
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .context("Lambda runtime failed")
}

/// Runs the webhook delivery function under the AWS Lambda runtime (`TANDEM_FUNCTION=webhooks`).
pub async fn run_webhooks_on_lambda(config: &Config) -> anyhow::Result<()> {
    let store::StoreUrl::DynamoDb(table) = &config.store else {
        anyhow::bail!(
            "the webhook function delivers from a DynamoDB table's stream: set TANDEM_STORE=dynamodb://TABLE"
        );
    };
    let queue_url = config
        .webhook_queue_url
        .clone()
        .context("the webhook function retries through SQS: set TANDEM_WEBHOOK_QUEUE_URL")?;
    let store =
        store::DynamoStore::connect(store::DynamoStore::client_from_env().await, table.as_str())
            .await
            .with_context(|| format!("could not open the store {}", config.store))?;
    tracing::info!(
        "tandem-api starting under AWS Lambda as the webhook delivery function (store: {})",
        config.store
    );
    webhooks::lambda::run(store, queue_url, config.webhook_policy()).await
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: the server polls it only between accepts, so a SIGTERM sent
/// as soon as the first answer arrives could otherwise find no handler and kill the process
/// without a clean stop. Call it within the runtime.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::SignalKind;
        (
            listen(SignalKind::interrupt(), "Ctrl-C"),
            listen(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            () = interrupt => {},
            () = terminate => {},
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}

/// Listens for the signal `kind` from now on; the future resolves when it arrives, or never
/// when it cannot be listened for.
#[cfg(unix)]
fn listen(
    kind: tokio::signal::unix::SignalKind,
    name: &'static str,
) -> impl Future<Output = ()> + Send + 'static {
    let signal = tokio::signal::unix::signal(kind)
        .inspect_err(|e| tracing::error!(error = %e, "cannot listen for {name}"))
        .ok();
    async move {
        match signal {
            Some(mut signal) => drop(signal.recv().await),
            None => std::future::pending().await,
        }
    }
}
