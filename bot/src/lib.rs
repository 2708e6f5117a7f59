//! Tandem's Telegram bot: pairs two chats with a Tandem token and relays their messages
//! to each other with `copyMessage`, so neither learns who the other is.
//!
//! The bot keeps no state of its own: the Tandem API is its memory. A chat is the entity
//! `tg:<chat id>`; its partner is the other side of its live pairing.

mod commands;
pub mod config;
mod filter;
mod relay;
pub mod secrets;
mod server;
mod tandem;
mod telegram;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;

pub use commands::Command;
pub use config::{Config, Mode};
pub use filter::WordFilter;
pub use server::Running;
pub use tandem::Ctx;

/// The handler tree: commands first, everything else is relayed.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    Update::filter_message()
        .branch(
            dptree::entry()
                .filter_command::<Command>()
                .endpoint(commands::on_command),
        )
        .branch(dptree::endpoint(relay::on_message))
}

/// Runs the bot as `config` says: polling, or the webhook (under Lambda when
/// `AWS_LAMBDA_RUNTIME_API` is set). Secrets written `ssm:NAME` are read from SSM first.
pub async fn run(mut config: Config) -> anyhow::Result<()> {
    secrets::resolve(&mut config).await?;
    let running = Running::connect(&config).await?;
    match config.mode {
        Mode::Polling => {
            running.poll().await;
            Ok(())
        }
        Mode::Webhook => {
            let secret = config
                .webhook_secret
                .clone()
                .context("webhook mode needs TELEGRAM_WEBHOOK_SECRET")?;
            // An empty secret would let any caller that sends an empty header through.
            anyhow::ensure!(
                !secret.expose_secret().trim().is_empty(),
                "TELEGRAM_WEBHOOK_SECRET is empty: webhook mode needs the secret given to setWebhook"
            );
            running.serve_webhook(secret, config.listen).await
        }
    }
}
