//! The configuration of `tandem-bot`: every setting is a flag and an environment variable.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};
use secrecy::SecretString;

/// Tandem's Telegram bot: pairs two chats and relays their messages anonymously.
///
/// A secret setting (`TELOXIDE_TOKEN`, `TANDEM_API_KEY`, `TELEGRAM_WEBHOOK_SECRET`) may be
/// written `ssm:NAME`: the bot then reads it from that AWS SSM parameter (decrypted) at start.
#[derive(Debug, Clone, Parser)]
#[command(name = "tandem-bot", version, about)]
pub struct Config {
    /// The bot's token from BotFather.
    #[arg(long, env = "TELOXIDE_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub telegram_token: SecretString,

    /// Base URL of the Tandem API.
    #[arg(long, env = "TANDEM_API_URL", default_value = "http://127.0.0.1:3000")]
    pub api_url: String,

    /// API key for the Tandem API, when it requires one.
    #[arg(long, env = "TANDEM_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub api_key: Option<SecretString>,

    /// Base URL of the Telegram Bot API (Telegram's own unless set; tests use an emulator).
    #[arg(long, env = "TELEGRAM_API_URL")]
    pub telegram_api_url: Option<reqwest::Url>,

    /// Words masked in relayed text and captions, comma-separated (case-insensitive).
    #[arg(
        long,
        env = "TANDEM_BOT_FILTER_WORDS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub filter_words: Vec<String>,

    /// How updates arrive: long polling, or Telegram calling a webhook.
    #[arg(long, env = "TANDEM_BOT_MODE", value_enum, default_value_t = Mode::Polling)]
    pub mode: Mode,

    /// Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token` with every webhook call.
    #[arg(long, env = "TELEGRAM_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub webhook_secret: Option<SecretString>,

    /// Where the webhook listens when not under Lambda.
    #[arg(long, env = "TANDEM_BOT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Log filter, in `tracing` `EnvFilter` syntax.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

/// How the bot receives updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Long polling (`getUpdates`): for running anywhere, no public address needed.
    Polling,
    /// Telegram calls `POST /telegram/webhook`: for Lambda.
    Webhook,
}

/// Wraps a secret so that it never shows in `Debug` output or logs.
fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}
