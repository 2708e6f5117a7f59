//! The bot against real processes: a local Telegram Bot API emulator, the Tandem API on
//! SQLite (in-process, through `test-support`), and the `tandem-bot` binary between them.

mod flows;
mod ssm;

use std::process::Stdio;
use std::time::Duration;

use test_support::{ApiServer, RunningBinary, free_port};
use tokio::process::Command;

use test_support::telegram::{self, Telegram};

/// How long a test waits for the bot to answer.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Starts the `tandem-bot` binary against `telegram` and `api` with extra environment
/// `env`; killed when dropped (on failure too).
pub fn start_bot(telegram: &Telegram, api: &ApiServer, env: &[(&str, &str)]) -> RunningBinary {
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
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    RunningBinary::start(command)
}

/// Everything a bot test needs, running.
pub struct World {
    pub telegram: Telegram,
    pub api: ApiServer,
    _bot: RunningBinary,
}

impl World {
    /// Emulator, API and bot in polling mode, with `env` for the bot.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let telegram = Telegram::start().await;
        let api = ApiServer::on_fresh_sqlite().await;
        let bot = start_bot(&telegram, &api, env);
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
        Self {
            listen: format!("127.0.0.1:{}", free_port()),
            http: reqwest::Client::new(),
        }
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
