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
//! way Telegram does. Every other method answers `400 Bad Request` and is listed in
//! [`Telegram::unknown_methods`].
//!
//! A positive chat id is a private chat with the user of the same id; a negative one is a group
//! whose messages come from the user with the id's absolute value.

#![allow(
    dead_code,
    reason = "each test binary uses only part of the emulator's interface"
)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The user id of the emulated bot.
const BOT_ID: i64 = 7000;
/// The first name of the emulated bot.
const BOT_FIRST_NAME: &str = "Tandem";
/// The username of the emulated bot.
const BOT_USERNAME: &str = "tandem_test_bot";
/// The most updates one `getUpdates` call returns, which is also its default `limit`.
const MAX_UPDATES_PER_CALL: usize = 100;
/// The longest a `getUpdates` call waits, whatever `timeout` it asks for.
const MAX_POLL_TIMEOUT_SECS: u64 = 3600;

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

/// What the server's handlers and the test's handles share.
#[derive(Default)]
struct Shared {
    state: Mutex<EmulatorState>,
    /// Signalled whenever an update is queued or the emulator stops.
    update_queued: Notify,
    /// Signalled whenever the bot puts a message into a chat.
    message_recorded: Notify,
}

/// Everything the emulator remembers.
#[derive(Default)]
struct EmulatorState {
    /// The id of the last update queued; ids start at 1.
    last_update_id: i64,
    /// Updates not yet confirmed by a `getUpdates` offset, as `(update_id, update)`.
    updates: VecDeque<(i64, Value)>,
    chats: HashMap<i64, ChatState>,
    /// The `(command, description)` pairs of the last `setMyCommands` call.
    commands: Vec<(String, String)>,
    /// The methods called that the emulator does not know.
    unknown_methods: Vec<String>,
    /// The bot tokens the calls were made with (the `<token>` of `/bot<token>/…`), each once.
    tokens: Vec<String>,
    /// Whether the emulator has stopped, which ends pending long polls at once.
    closed: bool,
}

/// What the emulator remembers about one chat.
#[derive(Default)]
struct ChatState {
    /// The id of the last message in the chat, from the user or the bot.
    last_message_id: i32,
    /// The messages the user wrote, by id, for `copyMessage` to find.
    user_messages: HashMap<i32, Value>,
    /// What the bot put into the chat, oldest first.
    received: Vec<Received>,
    blocked: bool,
    /// The `retry_after` of a `429` that the next send is to get.
    pending_rate_limit: Option<u32>,
    /// When the last `429` was answered.
    rate_limited_at: Option<Instant>,
    /// When the bot first sent successfully after that `429`.
    retried_at: Option<Instant>,
}

impl ChatState {
    fn next_message_id(&mut self) -> i32 {
        self.last_message_id += 1;
        self.last_message_id
    }

    /// Decides whether the bot may put a message into the chat now, as Telegram would.
    fn admit_send(&mut self) -> Result<(), ApiFailure> {
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
    fn chat(&mut self, chat_id: i64) -> &mut ChatState {
        self.chats.entry(chat_id).or_default()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, EmulatorState> {
        // A test that panicked while holding the lock left consistent state behind: keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a message from the user of `chat_id` with the given content fields, queues its
    /// update and returns its id.
    fn user_writes(&self, chat_id: i64, content: Value) -> i32 {
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
    fn record(&self, mut state: MutexGuard<'_, EmulatorState>, received: Received) {
        state.chat(received.chat_id).received.push(received);
        drop(state);
        self.message_recorded.notify_waiters();
    }

    /// `getUpdates`: confirms the updates before `offset`, then returns the pending ones, waiting
    /// up to `timeout` seconds for one to arrive if there are none.
    async fn get_updates(&self, params: GetUpdatesParams) -> Value {
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
    fn send_message(&self, params: SendMessageParams) -> Result<Value, ApiFailure> {
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
    fn copy_message(&self, params: CopyMessageParams) -> Result<Value, ApiFailure> {
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
    fn set_my_commands(&self, params: SetMyCommandsParams) -> Value {
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
}

/// Answers `POST /bot<token>/<method>` like the Bot API.
async fn handle_method(
    State(shared): State<Arc<Shared>>,
    Path((token, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    {
        let mut state = shared.lock();
        let token = token.strip_prefix("bot").unwrap_or(&token).to_owned();
        if !state.tokens.contains(&token) {
            state.tokens.push(token);
        }
    }
    let result = match method.to_ascii_lowercase().as_str() {
        "getme" => Ok(json!({
            "id": BOT_ID,
            "is_bot": true,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": false,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "getwebhookinfo" => Ok(json!({
            "url": "",
            "has_custom_certificate": false,
            "pending_update_count": 0,
        })),
        "deletewebhook" | "setwebhook" => Ok(Value::Bool(true)),
        "setmycommands" => parse_params(&method, &body).map(|p| shared.set_my_commands(p)),
        "deletemycommands" => {
            shared.lock().commands.clear();
            Ok(Value::Bool(true))
        }
        "getupdates" => match parse_params(&method, &body) {
            Ok(params) => Ok(shared.get_updates(params).await),
            Err(failure) => Err(failure),
        },
        "sendmessage" => parse_params(&method, &body).and_then(|p| shared.send_message(p)),
        "copymessage" => parse_params(&method, &body).and_then(|p| shared.copy_message(p)),
        _ => {
            let method = camel_case(&method);
            let failure = ApiFailure::bad_request(&format!("method not emulated: {method}"));
            shared.lock().unknown_methods.push(method);
            Err(failure)
        }
    };
    match result {
        Ok(result) => Json(json!({ "ok": true, "result": result })).into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// Answers any other path the way the Bot API does.
async fn not_found() -> Response {
    ApiFailure::new(StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// A failed Bot API call.
#[derive(Debug)]
struct ApiFailure {
    status: StatusCode,
    description: String,
    retry_after: Option<u32>,
}

impl ApiFailure {
    fn new(status: StatusCode, description: &str) -> ApiFailure {
        ApiFailure {
            status,
            description: description.to_owned(),
            retry_after: None,
        }
    }

    fn bad_request(detail: &str) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, &format!("Bad Request: {detail}"))
    }

    fn too_many_requests(retry_after: u32) -> ApiFailure {
        ApiFailure {
            retry_after: Some(retry_after),
            ..ApiFailure::new(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {retry_after}"),
            )
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut body = json!({
            "ok": false,
            "error_code": self.status.as_u16(),
            "description": self.description,
        });
        if let Some(retry_after) = self.retry_after {
            body["parameters"] = json!({ "retry_after": retry_after });
        }
        (self.status, Json(body)).into_response()
    }
}

/// Parses a method's JSON parameters; an empty body means none.
fn parse_params<T: DeserializeOwned>(method: &str, body: &[u8]) -> Result<T, ApiFailure> {
    let parsed = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_value(json!({}))
    } else {
        serde_json::from_slice(body)
    };
    parsed.map_err(|error| {
        ApiFailure::bad_request(&format!("invalid parameters for {method}: {error}"))
    })
}

/// A `chat_id` parameter, which may be a number or a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ChatIdParam {
    Number(i64),
    Text(String),
}

impl ChatIdParam {
    fn resolve(&self) -> Result<i64, ApiFailure> {
        match self {
            ChatIdParam::Number(id) => Ok(*id),
            ChatIdParam::Text(text) => text
                .trim()
                .parse()
                .map_err(|_| ApiFailure::bad_request("chat not found")),
        }
    }
}

/// The parameters of `getUpdates` that the emulator uses.
#[derive(Deserialize)]
struct GetUpdatesParams {
    offset: Option<i64>,
    limit: Option<usize>,
    timeout: Option<u64>,
}

/// The parameters of `sendMessage` that the emulator uses.
#[derive(Deserialize)]
struct SendMessageParams {
    chat_id: ChatIdParam,
    text: String,
}

/// The parameters of `copyMessage` that the emulator uses.
#[derive(Deserialize)]
struct CopyMessageParams {
    chat_id: ChatIdParam,
    from_chat_id: ChatIdParam,
    message_id: i32,
    caption: Option<String>,
}

/// The parameters of `setMyCommands` that the emulator uses.
#[derive(Deserialize)]
struct SetMyCommandsParams {
    commands: Vec<BotCommandParam>,
}

/// One command given to `setMyCommands`.
#[derive(Deserialize)]
struct BotCommandParam {
    command: String,
    description: String,
}

/// The `chat` object of a chat: private for a positive id, a group for a negative one.
fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": format!("User {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Group {chat_id}") })
    }
}

/// The `from` object of the user who writes into a chat.
fn user_json(chat_id: i64) -> Value {
    let user_id = chat_id.unsigned_abs();
    json!({ "id": user_id, "is_bot": false, "first_name": format!("User {user_id}") })
}

/// The `from` object of the bot's own messages.
fn bot_user_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME })
}

/// Spells a method name as the Bot API documents it: teloxide sends `SendPhoto` for `sendPhoto`.
fn camel_case(method: &str) -> String {
    let mut chars = method.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Reads a string field of a JSON object.
fn string_field(object: &Value, field: &str) -> Option<String> {
    object[field].as_str().map(str::to_owned)
}

/// The current Unix time in seconds.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
