//! A local emulator of the Telegram Bot API, so that the bot's integration tests run without Telegram.
//!
//! [`Telegram::start`] serves the emulator on `127.0.0.1` at a free port. The bot under test is
//! pointed at [`Telegram::api_url`] and talks to it exactly as it would to Telegram: teloxide posts
//! JSON to `{api_url}/bot{TOKEN}/{method}` and gets `{"ok":true,"result":...}` back, or
//! `{"ok":false,"error_code":N,"description":"..."}` with HTTP status `N`. Any token is accepted.
//!
//! A test plays the users: [`Telegram::send_text`] and [`Telegram::send_photo`] queue updates that
//! the bot fetches with `getUpdates` (a real long poll), and [`Telegram::received`] and
//! [`Telegram::wait_for`] show what the bot put into each chat with `sendMessage` or
//! `copyMessage`. [`Telegram::block`] and [`Telegram::rate_limit_once`] make those sends fail the
//! way Telegram does. [`Telegram::webhook`] is the webhook that `setWebhook` registered (and
//! `deleteWebhook` removed). Every other method answers `400 Bad Request` and is listed in
//! [`Telegram::unknown_methods`].
//!
//! A positive chat id is a private chat with the user of the same id; a negative one is a group
//! whose messages come from the user with the id's absolute value.

mod methods;
mod state;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::methods::{handle_method, not_found};
use self::state::Shared;
pub use self::state::Webhook;

/// Something the bot put into a chat, with `sendMessage` or `copyMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The chat the message was put into.
    pub chat_id: i64,
    /// The id of the message within that chat.
    pub message_id: i32,
    /// The Bot API method that put it there: `"sendMessage"` or `"copyMessage"`.
    pub method: String,
    /// The message's text, if it is a text message.
    pub text: Option<String>,
    /// The message's caption, if it is a media message with a caption.
    pub caption: Option<String>,
    /// The file id of the photo, if the message is a copy of a photo.
    pub photo_file_id: Option<String>,
    /// The chat and message id of the original, if the message is a copy made with `copyMessage`.
    pub copied_from: Option<(i64, i32)>,
}

/// A handle on a running emulator.
///
/// Clones share the same emulator; the server stops once the last clone is dropped.
#[derive(Clone)]
pub struct Telegram {
    shared: Arc<Shared>,
    address: SocketAddr,
    _server: Arc<ServerGuard>,
}

impl Telegram {
    /// Starts an emulator on `127.0.0.1` at a free port, served by a task of the current tokio
    /// runtime.
    ///
    /// # Panics
    ///
    /// Panics if no local port can be bound.
    pub async fn start() -> Telegram {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the Telegram emulator binds a local port");
        let address = listener
            .local_addr()
            .expect("the Telegram emulator's listener has an address");
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{token}/{method}", any(handle_method))
            .fallback(not_found)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the Telegram emulator serves until it is stopped");
        });
        Telegram {
            _server: Arc::new(ServerGuard {
                task,
                shared: Arc::clone(&shared),
            }),
            shared,
            address,
        }
    }

    /// Returns the base URL to give the bot, such as `http://127.0.0.1:40123`; teloxide appends
    /// `/bot<token>/<method>` to it.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Makes the user of `chat_id` write `text` into that chat, queues the update for the bot and
    /// returns the new message's id.
    ///
    /// A text starting with `/` carries a `bot_command` entity for its first word.
    pub fn send_text(&self, chat_id: i64, text: &str) -> i32 {
        let mut content = json!({ "text": text });
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or(text);
            content["entities"] = json!([{
                "type": "bot_command",
                "offset": 0,
                "length": command.encode_utf16().count(),
            }]);
        }
        self.shared.user_writes(chat_id, content)
    }

    /// Makes the user of `chat_id` send a photo with the file id `file_id`, and `caption` if one
    /// is given, queues the update for the bot and returns the new message's id.
    pub fn send_photo(&self, chat_id: i64, file_id: &str, caption: Option<&str>) -> i32 {
        let mut content = json!({
            "photo": [{
                "file_id": file_id,
                "file_unique_id": format!("u{file_id}"),
                "width": 90,
                "height": 90,
            }],
        });
        if let Some(caption) = caption {
            content["caption"] = json!(caption);
        }
        self.shared.user_writes(chat_id, content)
    }

    /// Returns everything the bot has put into the chat so far, oldest first.
    pub fn received(&self, chat_id: i64) -> Vec<Received> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map(|chat| chat.received.clone())
            .unwrap_or_default()
    }

    /// Returns the oldest message in the chat that matches `pred`, waiting up to `timeout` for
    /// the bot to put one there.
    ///
    /// # Panics
    ///
    /// Panics with everything the chat holds if no matching message arrives in time.
    pub async fn wait_for(
        &self,
        chat_id: i64,
        pred: impl Fn(&Received) -> bool,
        timeout: Duration,
    ) -> Received {
        self.wait_for_described(chat_id, pred, timeout, "a message matching the predicate")
            .await
    }

    /// Returns the oldest message in the chat whose text or caption contains `needle`, waiting up
    /// to `timeout` for the bot to put one there.
    ///
    /// # Panics
    ///
    /// Panics with everything the chat holds if no such message arrives in time.
    pub async fn wait_for_text(&self, chat_id: i64, needle: &str, timeout: Duration) -> Received {
        let contains =
            |field: &Option<String>| field.as_deref().is_some_and(|s| s.contains(needle));
        self.wait_for_described(
            chat_id,
            |received| contains(&received.text) || contains(&received.caption),
            timeout,
            &format!("a message containing {needle:?}"),
        )
        .await
    }

    /// Returns the commands of the last `setMyCommands` call as `(command, description)` pairs,
    /// with command names given without a leading `/`; `deleteMyCommands` empties the list.
    pub fn commands(&self) -> Vec<(String, String)> {
        self.shared.lock().commands.clone()
    }

    /// Makes the user of `chat_id` block the bot: from now on every `sendMessage` and
    /// `copyMessage` to that chat fails with `403 Forbidden: bot was blocked by the user`.
    pub fn block(&self, chat_id: i64) {
        self.shared.lock().chat(chat_id).blocked = true;
    }

    /// Makes the next `sendMessage` or `copyMessage` to `chat_id` fail with
    /// `429 Too Many Requests` and `retry_after` set to `retry_after_secs`; that call is not
    /// recorded, and later calls succeed.
    pub fn rate_limit_once(&self, chat_id: i64, retry_after_secs: u32) {
        self.shared.lock().chat(chat_id).pending_rate_limit = Some(retry_after_secs);
    }

    /// Returns how long after the last `429` answer for `chat_id` the bot next sent into that chat
    /// successfully, or `None` if it has not (yet) done both.
    pub fn retried_after(&self, chat_id: i64) -> Option<Duration> {
        let state = self.shared.lock();
        let chat = state.chats.get(&chat_id)?;
        Some(chat.retried_at?.duration_since(chat.rate_limited_at?))
    }

    /// Returns the names of the methods the bot called that the emulator does not know, in call
    /// order and with repetitions, spelt as the Bot API documents them (such as `sendPhoto`, where
    /// teloxide sends `SendPhoto`).
    pub fn unknown_methods(&self) -> Vec<String> {
        self.shared.lock().unknown_methods.clone()
    }

    /// Returns the bot tokens the bot called the Bot API with, each once, in first-use order.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.clone()
    }

    /// The webhook `setWebhook` registered, if it has not been deleted since.
    pub fn webhook(&self) -> Option<Webhook> {
        self.shared.lock().webhook.clone()
    }

    /// Returns how many queued updates the bot has not yet confirmed by a `getUpdates` offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Waits like [`Telegram::wait_for`], naming the awaited message as `what` if it panics.
    async fn wait_for_described(
        &self,
        chat_id: i64,
        pred: impl Fn(&Received) -> bool,
        timeout: Duration,
        what: &str,
    ) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            // Registered before looking, so that a message recorded in between still wakes us.
            let mut recorded = pin!(self.shared.message_recorded.notified());
            recorded.as_mut().enable();
            let received = self.received(chat_id);
            if let Some(found) = received.iter().find(|r| pred(r)) {
                return found.clone();
            }
            if tokio::time::timeout_at(deadline, recorded).await.is_err() {
                panic!(
                    "{what} did not arrive in chat {chat_id} within {timeout:?}; {}",
                    self.describe_chat(chat_id, &received)
                );
            }
        }
    }

    /// Describes what a chat holds, and the unknown methods called, for a failure message.
    fn describe_chat(&self, chat_id: i64, received: &[Received]) -> String {
        let mut description = if received.is_empty() {
            format!("the bot put nothing into chat {chat_id}")
        } else {
            format!("chat {chat_id} holds:")
        };
        for message in received {
            let _ = write!(description, "\n  {message:?}");
        }
        let unknown = self.unknown_methods();
        if !unknown.is_empty() {
            let _ = write!(description, "\nunknown methods called: {unknown:?}");
        }
        description
    }
}

/// Stops the server when the last [`Telegram`] handle is dropped.
struct ServerGuard {
    task: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.task.abort();
        // Long polls run on their connections' own tasks: end them now instead of at their timeout.
        self.shared.lock().closed = true;
        self.shared.update_queued.notify_waiters();
    }
}

/// The update Telegram sends a webhook when the private chat `chat` types the command
/// `text` (such as `/start`).
pub fn command_update(chat: i64, text: &str) -> serde_json::Value {
    let command = text.split_whitespace().next().unwrap_or_default();
    json!({
        "update_id": 1,
        "message": {
            "message_id": 1, "date": 1_764_000_000,
            "chat": { "id": chat, "type": "private", "first_name": "A" },
            "from": { "id": chat, "is_bot": false, "first_name": "A" },
            "text": text,
            "entities": [{ "type": "bot_command", "offset": 0, "length": command.chars().count() }]
        }
    })
}
