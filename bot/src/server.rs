//! How updates reach the bot once it is [`Running`]: long polling, or the webhook, served by
//! axum here or under Lambda.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;
use teloxide::prelude::*;
use teloxide::types::Me;
use teloxide::utils::command::BotCommands;

use crate::telegram::{ThrottledBot, throttled, with_retry};
use crate::{Command, Config, Ctx, WordFilter, schema};

/// The bot as configured: Telegram client, Tandem client, and who the bot is.
pub struct Running {
    bot: ThrottledBot,
    ctx: Ctx,
    me: Me,
}

impl Running {
    /// Connects to Telegram (`getMe`), registers the command menu, and prepares the API client.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let mut bot = Bot::new(config.telegram_token.expose_secret());
        if let Some(url) = &config.telegram_api_url {
            bot = bot.set_api_url(url.clone());
        }
        let bot = throttled(bot);
        let mut api = sdk::Client::new(&config.api_url);
        if let Some(key) = &config.api_key {
            api = api.with_api_key(key.expose_secret());
        }
        let me = with_retry(|| bot.get_me().send())
            .await
            .context("could not reach Telegram (getMe)")?;
        with_retry(|| bot.set_my_commands(Command::bot_commands()).send())
            .await
            .context("could not register the command menu (setMyCommands)")?;
        tracing::info!(username = %me.username(), "connected to Telegram");
        Ok(Self {
            bot,
            ctx: Ctx::new(api, WordFilter::new(&config.filter_words)),
            me,
        })
    }

    /// Receives updates by long polling until Ctrl-C or SIGTERM.
    pub async fn poll(self) {
        tracing::info!("tandem-bot polling for updates");
        Dispatcher::builder(self.bot, schema())
            .dependencies(dptree::deps![self.ctx])
            .enable_ctrlc_handler()
            .build()
            .dispatch()
            .await;
    }

    /// The webhook: `POST /telegram/webhook`, checked against `secret`.
    pub fn webhook_router(self, secret: SecretString) -> Router {
        let hook = Arc::new(Hook {
            running: self,
            secret,
        });
        Router::new()
            .route("/telegram/webhook", post(on_webhook))
            .with_state(hook)
    }

    /// Serves the webhook, checked against `secret`: under Lambda when
    /// `AWS_LAMBDA_RUNTIME_API` is set, else on `listen`.
    pub async fn serve_webhook(
        self,
        secret: SecretString,
        listen: SocketAddr,
    ) -> anyhow::Result<()> {
        let router = self.webhook_router(secret);
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return lambda_http::run(router)
                .await
                .map_err(|e| anyhow::anyhow!(e))
                .context("Lambda runtime failed");
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("could not listen on {listen}"))?;
        tracing::info!(
            "tandem-bot webhook listening on http://{}/telegram/webhook",
            listener.local_addr()?
        );
        axum::serve(listener, router).await.context("server failed")
    }
}

/// What the webhook's handler shares: the running bot and the secret Telegram must present.
struct Hook {
    running: Running,
    secret: SecretString,
}

/// Handles one update from Telegram, after checking its secret-token header.
async fn on_webhook(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let presented = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(presented.ct_eq(hook.secret.expose_secret().as_bytes())) {
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            tracing::warn!(error = %e, "webhook body is not an update");
            return StatusCode::BAD_REQUEST;
        }
    };
    let running = &hook.running;
    let deps = dptree::deps![
        running.bot.clone(),
        running.me.clone(),
        running.ctx.clone(),
        update
    ];
    if let ControlFlow::Break(Err(e)) = schema().dispatch(deps).await {
        // Telegram would resend the update on an error status; log it and move on.
        tracing::error!(error = %e, "handling an update failed");
    }
    StatusCode::OK
}
