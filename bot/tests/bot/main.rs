//! The bot against real processes: a local Telegram Bot API emulator, the Tandem API on
//! SQLite, and the `tandem-bot` binary between them.

mod flows;
mod ssm;
mod telegram;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use api::AppState;
use api::clock::SystemClock;
use api::store::SqliteStore;
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::telegram::Telegram;

/// How long a test waits for the bot to answer.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The Tandem API, served in-process on a free port of 127.0.0.1.
pub struct TandemApi {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    server: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for TandemApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TandemApi {
    /// Starts the API on a fresh SQLite file.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("tandem.db"))
            .await
            .unwrap();
        let state = AppState::new(Arc::new(store), Arc::new(SystemClock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, api::app(state)).await.unwrap();
        });
        Self {
            url,
            server,
            _dir: dir,
        }
    }
}

/// The `tandem-bot` binary, killed when dropped (on failure too).
pub struct BotProcess {
    child: Child,
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl BotProcess {
    /// Starts the bot against `telegram` and `api` with extra environment `env`.
    pub fn start(telegram: &Telegram, api: &TandemApi, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tandem-bot"));
        command
            .env("TELOXIDE_TOKEN", "12345:test-token")
            .env("TELEGRAM_API_URL", telegram.api_url())
            .env("TANDEM_API_URL", &api.url)
            .env("RUST_LOG", "warn")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("TANDEM_BOT_MODE")
            .env_remove("TANDEM_BOT_FILTER_WORDS")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().expect("start tandem-bot"),
        }
    }
}

/// Everything a bot test needs, running.
pub struct World {
    pub telegram: Telegram,
    pub api: TandemApi,
    _bot: BotProcess,
}

impl World {
    /// Emulator, API and bot in polling mode, with `env` for the bot.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let telegram = Telegram::start().await;
        let api = TandemApi::start().await;
        let bot = BotProcess::start(&telegram, &api, env);
        let world = Self {
            telegram,
            api,
            _bot: bot,
        };
        // The bot registers its menu once it is up.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while world.telegram.commands().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot never called setMyCommands"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        world
    }

    /// Chat `chat` sends `text` and waits for a reply containing `needle`; returns it.
    pub async fn ask(&self, chat: i64, text: &str, needle: &str) -> telegram::Received {
        self.telegram.send_text(chat, text);
        self.telegram.wait_for_text(chat, needle, PATIENCE).await
    }

    /// `chat` makes a token with /generateToken; returns (token, code).
    pub async fn generate(&self, chat: i64) -> (String, String) {
        let reply = self.ask(chat, "/generateToken", "Your token:").await;
        let text = reply.text.unwrap();
        let token = text
            .split("Your token: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned();
        let code = text
            .split("Short code: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_owned();
        (token, code)
    }

    /// `a` makes a token and `b` pairs with it by command; both are told.
    pub async fn pair(&self, a: i64, b: i64) -> String {
        let (token, _) = self.generate(a).await;
        self.ask(b, &format!("/pair {token}"), "You're paired")
            .await;
        self.telegram
            .wait_for_text(a, "Someone used your token", PATIENCE)
            .await;
        token
    }
}

/// The bot's webhook at a free port of 127.0.0.1, called as Telegram calls it.
pub struct Webhook {
    /// `127.0.0.1:PORT`, for `TANDEM_BOT_LISTEN`.
    pub listen: String,
    http: reqwest::Client,
}

impl Webhook {
    /// A webhook address for a bot about to start.
    pub fn on_free_port() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self {
            listen: format!("127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// The update Telegram sends when `chat` types `/start`.
    pub fn start_update(chat: i64) -> serde_json::Value {
        serde_json::json!({
            "update_id": 1,
            "message": {
                "message_id": 1, "date": 1_764_000_000,
                "chat": { "id": chat, "type": "private", "first_name": "A" },
                "from": { "id": chat, "is_bot": false, "first_name": "A" },
                "text": "/start",
                "entities": [{ "type": "bot_command", "offset": 0, "length": 6 }]
            }
        })
    }

    /// Posts `update` to `POST /telegram/webhook` with `secret` in Telegram's header (none:
    /// no header), waiting for the bot to listen first.
    pub async fn post(
        &self,
        secret: Option<&str>,
        update: &serde_json::Value,
    ) -> reqwest::Response {
        let url = format!("http://{}/telegram/webhook", self.listen);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let mut request = self.http.post(&url).json(update);
            if let Some(secret) = secret {
                request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
            }
            match request.send().await {
                Ok(response) => return response,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the webhook never listened: {e}"),
            }
        }
    }
}
