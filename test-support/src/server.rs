//! The API served in-process on a free port of 127.0.0.1, through [`api::serve()`] as
//! production serves it, so that handlers see the client's address.

use std::net::SocketAddr;
use std::sync::Arc;

use api::AppState;
use api::clock::SystemClock;
use api::store::SqliteStore;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The API running on a task of the test's runtime; stopped when dropped, even when the
/// test fails.
pub struct ApiServer {
    /// The address it listens on, on 127.0.0.1.
    pub address: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _dir: Option<TempDir>,
}

impl ApiServer {
    /// Serves [`api::app`] on `state` at a free port of 127.0.0.1.
    pub async fn start(state: AppState) -> Self {
        Self::serve(state, None).await
    }

    /// Serves the API on a fresh SQLite file (removed when dropped), on the system clock,
    /// without keys.
    pub async fn on_fresh_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("tandem.db"))
            .await
            .expect("open a SQLite store");
        let state = AppState::new(Arc::new(store), Arc::new(SystemClock));
        Self::serve(state, Some(dir)).await
    }

    /// Serves `state`, keeping `dir` (the store's files) as long as the server.
    async fn serve(state: AppState, dir: Option<TempDir>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port of 127.0.0.1");
        let address = listener.local_addr().expect("the bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            // Sent or dropped: either stops the server.
            let _ = stopped.await;
        };
        let task = tokio::spawn(async move {
            api::serve(
                listener,
                api::app(state),
                api::ServeLimits::default(),
                shutdown,
            )
            .await
            .expect("the in-process API serves");
        });
        Self {
            address,
            url: format!("http://{address}"),
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        // The open connections close once their requests in flight are answered…
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // …and no new one is accepted, without waiting for those requests (long polls).
        self.task.abort();
    }
}
