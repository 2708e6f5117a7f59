//! The HTTP ceiling for `just bench`: a minimal axum app that answers the load test's
//! requests correctly with no store — it echoes what the requests carry and remembers
//! only which tokens were deleted, until the read after the deletion that the load test
//! makes — so the load test passes its checks against it, and its memory stays flat.
//!
//! With `--sync-to FILE` it is the ceiling of a durable server on this disk instead: it
//! answers each write (create, pair, delete) only once a line naming it is in FILE and the
//! file is synced (`fdatasync`), one sync per batch of the writes that arrived meanwhile, as
//! the SQLite store's writer under `synchronous = FULL`. It keeps no records and writes a few
//! bytes a write: about the most that a store which survives a power cut can answer here.
//!
//! Usage: `ceiling [ADDRESS] [--sync-to FILE]` (prints the address it listens on).

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(default_value = "127.0.0.1:0")]
    address: String,
    /// Acknowledge each write only once it is synced to this file.
    #[arg(long)]
    sync_to: Option<PathBuf>,
}

#[derive(Clone, Default)]
struct App {
    deleted: Arc<Mutex<HashSet<String>>>,
    journal: Option<Journal>,
}

impl App {
    /// Returns once the line `what` makes is on disk, if the app syncs its writes (without
    /// them it makes no line, so that the HTTP ceiling does no more than before).
    async fn persist(&self, what: impl FnOnce() -> String) {
        if let Some(journal) = &self.journal {
            journal.append(what()).await;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let journal = args.sync_to.map(Journal::open).transpose()?;
    let app = Router::new()
        .route("/v1/tokens", post(create))
        .route("/v1/tokens/{token}", get(read).delete(delete))
        .route("/v1/tokens/{token}/pair", post(pair))
        .with_state(App {
            journal,
            ..App::default()
        });
    let listener = tokio::net::TcpListener::bind(&args.address).await?;
    eprintln!("ceiling listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn create(State(app): State<App>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let entity = body["entity"].clone();
    app.persist(|| format!("create {entity}")).await;
    let record = json!({ "token": entity, "entity_a": entity, "status": "pending" });
    (StatusCode::CREATED, Json(record))
}

async fn read(State(app): State<App>, Path(token): Path<String>) -> (StatusCode, Json<Value>) {
    if app
        .deleted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&token)
    {
        let error = json!({ "error": { "code": "not_found", "message": "deleted" } });
        return (StatusCode::NOT_FOUND, Json(error));
    }
    (
        StatusCode::OK,
        Json(json!({ "token": token, "entity_a": token, "status": "pending" })),
    )
}

async fn pair(
    State(app): State<App>,
    Path(token): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    app.persist(|| format!("pair {token}")).await;
    Json(
        json!({ "token": token, "entity_a": token, "entity_b": body["entity"], "status": "paired" }),
    )
}

async fn delete(State(app): State<App>, Path(token): Path<String>) -> StatusCode {
    app.persist(|| format!("delete {token}")).await;
    app.deleted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token);
    StatusCode::NO_CONTENT
}

/// A file that a thread of its own appends the writes to, in batches, syncing each batch
/// before it acknowledges the writes in it.
#[derive(Clone)]
struct Journal {
    queue: mpsc::Sender<(String, oneshot::Sender<()>)>,
}

/// How large the journal file is: it is written round and round, so that it never grows
/// and a sync flushes only data, as SQLite's log once it has started again from its beginning.
const JOURNAL_BYTES: u64 = 16 << 20;

/// At most this many writes per sync (the SQLite store's writer takes up to 128).
const MAX_BATCH: usize = 128;

impl Journal {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        let file = File::create(&path)?;
        // Written whole, not only sized, so that no later write allocates a block.
        file.write_all_at(&vec![0; JOURNAL_BYTES as usize], 0)?;
        file.sync_all()?;
        let (queue, writes) = mpsc::channel(1024);
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || Self::run(&file, writes))?;
        Ok(Self { queue })
    }

    async fn append(&self, line: String) {
        let (done, synced) = oneshot::channel();
        self.queue
            .send((line, done))
            .await
            .expect("the journal thread runs as long as the app");
        synced.await.expect("the journal syncs every write");
    }

    fn run(file: &File, mut writes: mpsc::Receiver<(String, oneshot::Sender<()>)>) {
        let mut offset = 0;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut bytes = Vec::new();
        while writes.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
            bytes.clear();
            for (line, _) in &batch {
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
            }
            if offset + bytes.len() as u64 > JOURNAL_BYTES {
                offset = 0;
            }
            file.write_all_at(&bytes, offset)
                .and_then(|()| file.sync_data())
                .expect("the journal file takes every write");
            offset += bytes.len() as u64;
            for (_, done) in batch.drain(..) {
                let _ = done.send(());
            }
        }
    }
}
