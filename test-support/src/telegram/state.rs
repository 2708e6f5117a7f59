//! What the emulator remembers, shared by its handlers and the test's handles, and what
//! each method does to it.

use std::collections::{HashMap, VecDeque};
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Received;
use super::methods::{
    ApiFailure, CopyMessageParams, GetUpdatesParams, SendMessageParams, SetMyCommandsParams,
    SetWebhookParams, bot_user_json, chat_json, string_field, unix_now, user_json,
};

/// The most updates one `getUpdates` call returns, which is also its default `limit`.
pub(super) const MAX_UPDATES_PER_CALL: usize = 100;
/// The longest a `getUpdates` call waits, whatever `timeout` it asks for.
pub(super) const MAX_POLL_TIMEOUT_SECS: u64 = 3600;

/// What the server's handlers and the test's handles share.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) state: Mutex<EmulatorState>,
    /// Signalled whenever an update is queued or the emulator stops.
    pub(super) update_queued: Notify,
    /// Signalled whenever the bot puts a message into a chat.
    pub(super) message_recorded: Notify,
}

/// Everything the emulator remembers.
#[derive(Default)]
pub(super) struct EmulatorState {
    /// The id of the last update queued; ids start at 1.
    pub(super) last_update_id: i64,
    /// Updates not yet confirmed by a `getUpdates` offset, as `(update_id, update)`.
    pub(super) updates: VecDeque<(i64, Value)>,
    pub(super) chats: HashMap<i64, ChatState>,
    /// The `(command, description)` pairs of the last `setMyCommands` call.
    pub(super) commands: Vec<(String, String)>,
    /// The methods called that the emulator does not know.
    pub(super) unknown_methods: Vec<String>,
    /// The bot tokens the calls were made with (the `<token>` of `/bot<token>/…`), each once.
    pub(super) tokens: Vec<String>,
    /// The webhook `setWebhook` registered, until `deleteWebhook`.
    pub(super) webhook: Option<Webhook>,
    /// Whether the emulator has stopped, which ends pending long polls at once.
    pub(super) closed: bool,
}

/// A webhook as `setWebhook` registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL Telegram is to call.
    pub url: String,
    /// The secret Telegram is to send in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
    /// How many calls Telegram may make at once.
    pub max_connections: Option<u32>,
}

/// What the emulator remembers about one chat.
#[derive(Default)]
pub(super) struct ChatState {
    /// The id of the last message in the chat, from the user or the bot.
    pub(super) last_message_id: i32,
    /// The messages the user wrote, by id, for `copyMessage` to find.
    pub(super) user_messages: HashMap<i32, Value>,
    /// What the bot put into the chat, oldest first.
    pub(super) received: Vec<Received>,
    pub(super) blocked: bool,
    /// The `retry_after` of a `429` that the next send is to get.
    pub(super) pending_rate_limit: Option<u32>,
    /// When the last `429` was answered.
    pub(super) rate_limited_at: Option<Instant>,
    /// When the bot first sent successfully after that `429`.
    pub(super) retried_at: Option<Instant>,
}

impl ChatState {
    pub(super) fn next_message_id(&mut self) -> i32 {
        self.last_message_id += 1;
        self.last_message_id
    }

    /// Decides whether the bot may put a message into the chat now, as Telegram would.
    pub(super) fn admit_send(&mut self) -> Result<(), ApiFailure> {
        if self.blocked {
            return Err(ApiFailure::new(
                StatusCode::FORBIDDEN,
                "Forbidden: bot was blocked by the user",
            ));
        }
        if let Some(retry_after) = self.pending_rate_limit.take() {
            self.rate_limited_at = Some(Instant::now());
            self.retried_at = None;
            return Err(ApiFailure::too_many_requests(retry_after));
        }
        if self.rate_limited_at.is_some() && self.retried_at.is_none() {
            self.retried_at = Some(Instant::now());
        }
        Ok(())
    }
}

impl EmulatorState {
    pub(super) fn chat(&mut self, chat_id: i64) -> &mut ChatState {
        self.chats.entry(chat_id).or_default()
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, EmulatorState> {
        // A test that panicked while holding the lock left consistent state behind: keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a message from the user of `chat_id` with the given content fields, queues its
    /// update and returns its id.
    pub(super) fn user_writes(&self, chat_id: i64, content: Value) -> i32 {
        let mut state = self.lock();
        let chat = state.chat(chat_id);
        let message_id = chat.next_message_id();
        let mut message = json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": chat_json(chat_id),
            "from": user_json(chat_id),
        });
        if let (Some(message), Value::Object(content)) = (message.as_object_mut(), content) {
            message.extend(content);
        }
        chat.user_messages.insert(message_id, message.clone());
        state.last_update_id += 1;
        let update_id = state.last_update_id;
        state.updates.push_back((
            update_id,
            json!({ "update_id": update_id, "message": message }),
        ));
        drop(state);
        self.update_queued.notify_waiters();
        message_id
    }

    /// Records what the bot put into a chat and wakes whoever waits for it.
    pub(super) fn record(&self, mut state: MutexGuard<'_, EmulatorState>, received: Received) {
        state.chat(received.chat_id).received.push(received);
        drop(state);
        self.message_recorded.notify_waiters();
    }

    /// `getUpdates`: confirms the updates before `offset`, then returns the pending ones, waiting
    /// up to `timeout` seconds for one to arrive if there are none.
    pub(super) async fn get_updates(&self, params: GetUpdatesParams) -> Value {
        let limit = params
            .limit
            .unwrap_or(MAX_UPDATES_PER_CALL)
            .clamp(1, MAX_UPDATES_PER_CALL);
        let timeout = params.timeout.unwrap_or(0).min(MAX_POLL_TIMEOUT_SECS);
        let deadline = Instant::now() + Duration::from_secs(timeout);
        let first_wanted = {
            let mut state = self.lock();
            match params.offset.unwrap_or(0) {
                // As in the Bot API, a negative offset keeps only the last `-offset` updates.
                offset if offset < 0 => {
                    let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
                    let excess = state.updates.len().saturating_sub(keep);
                    state.updates.drain(..excess);
                    i64::MIN
                }
                offset => {
                    state.updates.retain(|(id, _)| *id >= offset);
                    offset
                }
            }
        };
        loop {
            // Registered before looking, so that an update queued in between still wakes us.
            let mut queued = pin!(self.update_queued.notified());
            queued.as_mut().enable();
            {
                let state = self.lock();
                let batch: Vec<Value> = state
                    .updates
                    .iter()
                    .filter(|(id, _)| *id >= first_wanted)
                    .take(limit)
                    .map(|(_, update)| update.clone())
                    .collect();
                if !batch.is_empty() || state.closed || Instant::now() >= deadline {
                    return Value::Array(batch);
                }
            }
            // On timeout, the next round looks once more and returns what is there.
            let _ = tokio::time::timeout_at(deadline, queued).await;
        }
    }

    /// `sendMessage`: records the text in the chat and returns the bot's message.
    pub(super) fn send_message(&self, params: SendMessageParams) -> Result<Value, ApiFailure> {
        let chat_id = params.chat_id.resolve()?;
        let mut state = self.lock();
        let chat = state.chat(chat_id);
        chat.admit_send()?;
        let message_id = chat.next_message_id();
        let message = json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": chat_json(chat_id),
            "from": bot_user_json(),
            "text": params.text,
        });
        let received = Received {
            chat_id,
            message_id,
            method: "sendMessage".to_owned(),
            text: Some(params.text),
            caption: None,
            photo_file_id: None,
            copied_from: None,
        };
        self.record(state, received);
        Ok(message)
    }

    /// `copyMessage`: records a copy of a user's message in the chat and returns its id.
    pub(super) fn copy_message(&self, params: CopyMessageParams) -> Result<Value, ApiFailure> {
        let chat_id = params.chat_id.resolve()?;
        let from_chat_id = params.from_chat_id.resolve()?;
        let mut state = self.lock();
        let original = state
            .chats
            .get(&from_chat_id)
            .and_then(|chat| chat.user_messages.get(&params.message_id))
            .cloned()
            .ok_or_else(|| ApiFailure::bad_request("message to copy not found"))?;
        let chat = state.chat(chat_id);
        chat.admit_send()?;
        let message_id = chat.next_message_id();
        let text = string_field(&original, "text");
        // A text message has no caption to keep or replace; an empty caption removes it.
        let caption = match (&text, params.caption) {
            (Some(_), _) => None,
            (None, Some(caption)) => Some(caption).filter(|c| !c.is_empty()),
            (None, None) => string_field(&original, "caption"),
        };
        // The last size listed is the largest, as in the Bot API.
        let photo_file_id = original["photo"]
            .as_array()
            .and_then(|sizes| sizes.last())
            .and_then(|size| string_field(size, "file_id"));
        let received = Received {
            chat_id,
            message_id,
            method: "copyMessage".to_owned(),
            text,
            caption,
            photo_file_id,
            copied_from: Some((from_chat_id, params.message_id)),
        };
        self.record(state, received);
        Ok(json!({ "message_id": message_id }))
    }

    /// `setMyCommands`: remembers the commands.
    ///
    /// teloxide's `BotCommands::bot_commands` names them with a leading `/`, which Telegram
    /// drops; so does the emulator.
    pub(super) fn set_my_commands(&self, params: SetMyCommandsParams) -> Value {
        self.lock().commands = params
            .commands
            .into_iter()
            .map(|c| {
                let command = c.command.strip_prefix('/').unwrap_or(&c.command).to_owned();
                (command, c.description)
            })
            .collect();
        Value::Bool(true)
    }

    /// `setWebhook`: remembers the webhook.
    pub(super) fn set_webhook(&self, params: SetWebhookParams) -> Value {
        let max_connections = params.max_connections.and_then(|value| match value {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        self.lock().webhook = Some(Webhook {
            url: params.url,
            secret_token: params.secret_token,
            max_connections,
        });
        Value::Bool(true)
    }
}
