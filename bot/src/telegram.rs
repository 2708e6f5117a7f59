//! Calls to Telegram: the throttled client the handlers get, and small helpers around it.

use std::future::Future;

use teloxide::adaptors::Throttle;
use teloxide::adaptors::throttle::Limits;
use teloxide::prelude::*;
use teloxide::{ApiError, RequestError};

/// The bot's Telegram client: teloxide's [`Bot`] behind [`Throttle`], which holds each
/// message back until Telegram's rate limits allow it. Should Telegram still answer a
/// message with `429 Too Many Requests`, Throttle pauses every send for as long as Telegram
/// asks, then sends that message again (as often as it takes).
pub(crate) type ThrottledBot = Throttle<Bot>;

/// `bot` behind [`Throttle`], with Telegram's limits: one message a second per chat, 30 a
/// second overall, 10 a minute per supergroup or channel.
///
/// Must be called inside a Tokio runtime: it spawns the task that paces the requests.
pub(crate) fn throttled(bot: Bot) -> ThrottledBot {
    let limits = Limits {
        // Throttle's default of 20 a minute is Telegram's limit for groups; a private chat
        // may get one message a second, and a pair in full conversation gets more than 20.
        messages_per_min_chat: 60,
        ..Limits::default()
    };
    bot.throttle(limits)
}

/// Sends a Telegram request that [`Throttle`] lets straight through (it paces and retries
/// only the sending of messages, not calls such as `getMe` or `setMyCommands`), waiting out
/// `429 Too Many Requests` as Telegram asks (up to three tries).
pub(crate) async fn with_retry<T, F, Fut>(mut send: F) -> Result<T, RequestError>
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
pub(crate) async fn say(bot: &ThrottledBot, chat: ChatId, text: &str) -> Result<(), RequestError> {
    bot.send_message(chat, text).await.map(drop)
}

/// Whether Telegram says the chat can no longer be written to.
pub(crate) fn is_gone(error: &RequestError) -> bool {
    matches!(
        error,
        RequestError::Api(
            ApiError::BotBlocked | ApiError::UserDeactivated | ApiError::ChatNotFound
        )
    )
}
