//! Tandem's Telegram bot: pairs two chats with a Tandem token and relays their messages
//! to each other with `copyMessage`, so neither learns who the other is.
//!
//! The bot keeps no state of its own: the Tandem API is its memory. A chat is the entity
//! `tg:<chat id>`; its partner is the other side of its live pairing.

pub mod config;
mod filter;
pub mod secrets;

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sdk::{CreateToken, EntityId, ErrorCode, ShortCode, Token, TokenRecord};
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{Me, MessageId};
use teloxide::utils::command::BotCommands;
use teloxide::{ApiError, RequestError};

pub use config::{Config, Mode};
pub use filter::WordFilter;

/// The bot's commands. The seed's camelCase names work as typed; the menu lists the
/// lowercase forms, which Telegram's `setMyCommands` requires.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(
    rename_rule = "lowercase",
    description = "Tandem pairs this chat with another one. Once paired, everything you send \
                   here reaches your partner through me, and neither of you learns who the \
                   other is.\n\nCommands:"
)]
pub enum Command {
    /// Show this help; `/start TOKEN` (what a shared link sends) pairs this chat.
    Start(String),
    /// Make a token and a short code to share with the person you want to talk to.
    #[command(aliases = ["generateToken"], hide_aliases)]
    GenerateToken,
    /// Pair with the chat that made a token or code: /pair TOKEN or /pair CODE.
    Pair(String),
    /// Show this chat's tokens and whether they are paired.
    #[command(aliases = ["rememberToken"], hide_aliases)]
    RememberToken,
    /// Delete this chat's tokens and end its pairing.
    #[command(aliases = ["deleteToken"], hide_aliases)]
    DeleteToken,
}

/// What every handler needs besides the bot.
#[derive(Clone)]
pub struct Ctx {
    api: sdk::Client,
    filter: Arc<WordFilter>,
}

impl Ctx {
    /// Handlers' shared context: the Tandem API client and the word filter.
    pub fn new(api: sdk::Client, filter: WordFilter) -> Self {
        Self {
            api,
            filter: Arc::new(filter),
        }
    }
}

/// The entity a chat is in Tandem.
fn entity_of(chat: ChatId) -> EntityId {
    EntityId::parse(format!("tg:{}", chat.0)).expect("a chat id makes a valid entity")
}

/// The chat an entity stands for, if it is one of ours.
fn chat_of(entity: &EntityId) -> Option<ChatId> {
    entity
        .as_str()
        .strip_prefix("tg:")?
        .parse()
        .ok()
        .map(ChatId)
}

/// The other side of `record`, seen from `me`.
fn partner_in(record: &TokenRecord, me: &EntityId) -> Option<ChatId> {
    let other = if &record.entity_a == me {
        record.entity_b.as_ref()?
    } else {
        &record.entity_a
    };
    chat_of(other)
}

/// Sends a Telegram request, waiting out `429 Too Many Requests` as Telegram asks (up to
/// three tries).
async fn with_retry<T, F, Fut>(mut send: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match send().await {
            Err(RequestError::RetryAfter(wait)) if tries < 3 => {
                tracing::warn!(seconds = wait.seconds(), "Telegram asks to slow down");
                tokio::time::sleep(wait.duration()).await;
            }
            result => return result,
        }
    }
}

/// Says `text` in `chat`.
async fn say(bot: &Bot, chat: ChatId, text: &str) -> Result<(), RequestError> {
    with_retry(|| bot.send_message(chat, text).send())
        .await
        .map(drop)
}

/// Whether Telegram says the chat can no longer be written to.
fn is_gone(error: &RequestError) -> bool {
    matches!(
        error,
        RequestError::Api(
            ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::ChatNotFound
        )
    )
}

/// The handler tree: commands first, everything else is relayed.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    Update::filter_message()
        .branch(
            dptree::entry()
                .filter_command::<Command>()
                .endpoint(on_command),
        )
        .branch(dptree::endpoint(on_message))
}

async fn on_command(bot: Bot, msg: Message, cmd: Command, me: Me, ctx: Ctx) -> anyhow::Result<()> {
    let chat = msg.chat.id;
    match cmd {
        Command::Start(arg) if arg.trim().is_empty() => say(&bot, chat, &help()).await?,
        Command::Start(arg) | Command::Pair(arg) => pair(&bot, chat, arg.trim(), &ctx).await?,
        Command::GenerateToken => generate(&bot, chat, &me, &ctx).await?,
        Command::RememberToken => remember(&bot, chat, &ctx).await?,
        Command::DeleteToken => delete(&bot, chat, &ctx).await?,
    }
    Ok(())
}

/// The help text: what the bot does and its commands.
fn help() -> String {
    Command::descriptions().to_string()
}

async fn generate(bot: &Bot, chat: ChatId, me: &Me, ctx: &Ctx) -> anyhow::Result<()> {
    let request = CreateToken::new(&entity_of(chat)).with_code();
    let record = match ctx.api.create_token(&request).await {
        Ok(record) => record,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    let code = record
        .code
        .as_ref()
        .map(|c| format!("\nShort code: {c}"))
        .unwrap_or_default();
    let text = format!(
        "Your token: {token}{code}\n\nSend this link to the person you want to talk to; one tap \
         pairs you:\nhttps://t.me/{username}?start={token}\n\nOr they can send me /pair {token}. \
         It works for 24 hours, once.",
        token = record.token,
        username = me.username(),
    );
    say(bot, chat, &text).await?;
    Ok(())
}

async fn pair(bot: &Bot, chat: ChatId, arg: &str, ctx: &Ctx) -> anyhow::Result<()> {
    if arg.is_empty() {
        say(
            bot,
            chat,
            "Send /pair followed by the token or code you were given.",
        )
        .await?;
        return Ok(());
    }
    let me = entity_of(chat);
    let result = if let Ok(code) = ShortCode::parse(arg) {
        ctx.api.pair_by_code(&code, &me).await
    } else if let Ok(token) = Token::parse(arg) {
        ctx.api.pair(&token, &me).await
    } else {
        let text = "That doesn't look like a token or a code. A token is a long string of \
                    letters and digits; a code looks like ABCD-EFGH.";
        say(bot, chat, text).await?;
        return Ok(());
    };
    let record = match result {
        Ok(record) => record,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    say(
        bot,
        chat,
        "You're paired! Everything you send here now reaches your partner, anonymously. \
         /deleteToken ends it.",
    )
    .await?;
    if let Some(partner) = partner_in(&record, &me) {
        let text = "Someone used your token: you're paired! Everything you send here now \
                    reaches them, anonymously. /deleteToken ends it.";
        if let Err(e) = say(bot, partner, text).await {
            tracing::warn!(error = %e, "could not tell the token's creator");
        }
    }
    Ok(())
}

/// Tells the chat, in words, why the API said no.
async fn api_trouble(bot: &Bot, chat: ChatId, error: sdk::Error) -> anyhow::Result<()> {
    let text = match error.code() {
        Some(ErrorCode::NotFound) => {
            "I don't know that token or code: it may have expired, been deleted or mistyped. \
             Ask for a fresh one."
        }
        Some(ErrorCode::AlreadyPaired) => {
            "That token has already been used by someone else. Ask for a fresh one."
        }
        Some(ErrorCode::SameEntity) => {
            "That's your own token: send it to the person you want to talk to."
        }
        Some(ErrorCode::RateLimited) => "Too many tries. Please wait a minute and try again.",
        _ => {
            tracing::error!(error = %error, "Tandem API call failed");
            "Something went wrong on my side. Please try again in a moment."
        }
    };
    say(bot, chat, text).await?;
    Ok(())
}

/// The live records this chat is part of (as either side), newest first.
async fn records_of(ctx: &Ctx, chat: ChatId) -> Result<Vec<TokenRecord>, sdk::Error> {
    Ok(ctx
        .api
        .list_tokens(&entity_of(chat), Some(100), None)
        .await?
        .items)
}

async fn remember(bot: &Bot, chat: ChatId, ctx: &Ctx) -> anyhow::Result<()> {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    if records.is_empty() {
        say(
            bot,
            chat,
            "This chat has no token. /generateToken makes one.",
        )
        .await?;
        return Ok(());
    }
    let lines: Vec<String> = records
        .iter()
        .map(|r| {
            let code = r
                .code
                .as_ref()
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            let state = match (&r.entity_b, partner_in(r, &entity_of(chat))) {
                (Some(_), Some(_)) => {
                    "pairs this chat with your partner's chat, whose identity stays hidden"
                }
                _ => "waiting for your partner",
            };
            format!("• {}{code}: {state}", r.token)
        })
        .collect();
    say(bot, chat, &lines.join("\n")).await?;
    Ok(())
}

async fn delete(bot: &Bot, chat: ChatId, ctx: &Ctx) -> anyhow::Result<()> {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    if records.is_empty() {
        say(bot, chat, "This chat has no token to delete.").await?;
        return Ok(());
    }
    let me = entity_of(chat);
    for record in &records {
        match ctx.api.delete_token(&record.token).await {
            Ok(()) | Err(sdk::Error::Api { status: 404, .. }) => {}
            Err(e) => return api_trouble(bot, chat, e).await,
        }
        if let (Some(_), Some(partner)) = (&record.entity_b, partner_in(record, &me)) {
            let text = "Your partner ended the pairing. /generateToken makes a new token.";
            if let Err(e) = say(bot, partner, text).await {
                tracing::warn!(error = %e, "could not tell the partner");
            }
        }
    }
    say(bot, chat, "Deleted. The pairing has ended.").await?;
    Ok(())
}

/// Relays a message to the chat's partner, or says how to get one.
async fn on_message(bot: Bot, msg: Message, ctx: Ctx) -> anyhow::Result<()> {
    let chat = msg.chat.id;
    let me = entity_of(chat);
    let records = match records_of(&ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(&bot, chat, e).await,
    };
    let Some((record, partner)) = records
        .iter()
        .filter(|r| r.entity_b.is_some())
        .find_map(|r| partner_in(r, &me).map(|p| (r, p)))
    else {
        let text = "You're not paired yet, so this goes nowhere. /generateToken makes a token \
                    to share; /pair TOKEN uses one you were given.";
        say(&bot, chat, text).await?;
        return Ok(());
    };
    match relay(&bot, &msg, partner, &ctx.filter).await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => {
            match ctx.api.delete_token(&record.token).await {
                Ok(()) | Err(sdk::Error::Api { status: 404, .. }) => {}
                Err(e) => tracing::error!(error = %e, "could not end a pairing with a gone chat"),
            }
            let text = "Your partner has left (they blocked me), so the pairing has ended. \
                        /generateToken makes a new token.";
            say(&bot, chat, text).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends `msg` on to `partner`: a copy, so the sender stays anonymous; text with filtered
/// words is sent as new text, a caption with filtered words replaced on the copy.
async fn relay(
    bot: &Bot,
    msg: &Message,
    partner: ChatId,
    filter: &WordFilter,
) -> Result<(), RequestError> {
    if let Some(text) = msg.text().and_then(|t| filter.mask(t)) {
        return say(bot, partner, &text).await;
    }
    let caption = msg.caption().and_then(|c| filter.mask(c));
    let (from, id): (ChatId, MessageId) = (msg.chat.id, msg.id);
    with_retry(|| {
        let request = bot.copy_message(partner, from, id);
        match &caption {
            Some(caption) => request.caption(caption.clone()).send(),
            None => request.send(),
        }
    })
    .await
    .map(drop)
}

/// The bot as configured: Telegram client, Tandem client, and who the bot is.
pub struct Running {
    bot: Bot,
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
}

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
            let router = running.webhook_router(secret);
            if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
                lambda_http::run(router)
                    .await
                    .map_err(|e| anyhow::anyhow!(e))
                    .context("Lambda runtime failed")
            } else {
                let listener = tokio::net::TcpListener::bind(config.listen)
                    .await
                    .with_context(|| format!("could not listen on {}", config.listen))?;
                tracing::info!(
                    "tandem-bot webhook listening on http://{}/telegram/webhook",
                    listener.local_addr()?
                );
                axum::serve(listener, router).await.context("server failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_lowercase_names_and_deep_links_parse() {
        let parse = |s: &str| Command::parse(s, "tandem_bot");
        assert_eq!(parse("/generateToken").unwrap(), Command::GenerateToken);
        assert_eq!(parse("/generatetoken").unwrap(), Command::GenerateToken);
        assert_eq!(parse("/rememberToken").unwrap(), Command::RememberToken);
        assert_eq!(
            parse("/deletetoken@tandem_bot").unwrap(),
            Command::DeleteToken
        );
        assert_eq!(
            parse("/pair ABCD-EFGH").unwrap(),
            Command::Pair("ABCD-EFGH".into())
        );
        assert_eq!(
            parse("/start abc123").unwrap(),
            Command::Start("abc123".into())
        );
        assert_eq!(parse("/start").unwrap(), Command::Start(String::new()));
        assert!(parse("/generateToken@other_bot").is_err());
    }

    #[test]
    fn the_menu_lists_lowercase_names_only() {
        let names: Vec<String> = Command::bot_commands()
            .into_iter()
            .map(|c| c.command)
            .collect();
        assert_eq!(
            names,
            [
                "/start",
                "/generatetoken",
                "/pair",
                "/remembertoken",
                "/deletetoken"
            ]
        );
        let help = help();
        assert!(help.contains("/generatetoken"), "{help}");
        assert!(help.contains("who the other is"), "{help}");
    }

    #[test]
    fn chats_and_entities_round_trip() {
        let chat = ChatId(-100_123);
        assert_eq!(entity_of(chat).as_str(), "tg:-100123");
        assert_eq!(chat_of(&entity_of(chat)), Some(chat));
        assert_eq!(chat_of(&EntityId::parse("web:1").unwrap()), None);
    }
}
