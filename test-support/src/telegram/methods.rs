//! The Bot API's methods as the emulator answers them: routing, failures, parameters and
//! the JSON shapes of chats and users.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::state::Shared;

/// The user id of the emulated bot.
const BOT_ID: i64 = 7000;
/// The first name of the emulated bot.
const BOT_FIRST_NAME: &str = "Tandem";
/// The username of the emulated bot.
const BOT_USERNAME: &str = "tandem_test_bot";

/// Answers `POST /bot<token>/<method>` like the Bot API, whose parameters come as JSON or as
/// a form (`curl --data-urlencode`).
pub(super) async fn handle_method(
    State(shared): State<Arc<Shared>>,
    Path((token, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(form) if form.starts_with("application/x-www-form-urlencoded") => form_as_json(&body),
        _ => body,
    };
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
            "url": shared.lock().webhook.as_ref().map_or("", |w| w.url.as_str()),
            "has_custom_certificate": false,
            "pending_update_count": 0,
        })),
        "setwebhook" => parse_params(&method, &body).map(|p| shared.set_webhook(p)),
        "deletewebhook" => {
            shared.lock().webhook = None;
            Ok(Value::Bool(true))
        }
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
pub(super) async fn not_found() -> Response {
    ApiFailure::new(StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// A failed Bot API call.
#[derive(Debug)]
pub(super) struct ApiFailure {
    status: StatusCode,
    description: String,
    retry_after: Option<u32>,
}

impl ApiFailure {
    pub(super) fn new(status: StatusCode, description: &str) -> ApiFailure {
        ApiFailure {
            status,
            description: description.to_owned(),
            retry_after: None,
        }
    }

    pub(super) fn bad_request(detail: &str) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, &format!("Bad Request: {detail}"))
    }

    pub(super) fn too_many_requests(retry_after: u32) -> ApiFailure {
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

/// A form's fields as the JSON object of strings that [`parse_params`] reads.
fn form_as_json(body: &[u8]) -> Bytes {
    let fields: serde_json::Map<String, Value> = form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), Value::String(value.into_owned())))
        .collect();
    Bytes::from(Value::Object(fields).to_string())
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
pub(super) enum ChatIdParam {
    Number(i64),
    Text(String),
}

impl ChatIdParam {
    pub(super) fn resolve(&self) -> Result<i64, ApiFailure> {
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
pub(super) struct GetUpdatesParams {
    pub(super) offset: Option<i64>,
    pub(super) limit: Option<usize>,
    pub(super) timeout: Option<u64>,
}

/// The parameters of `sendMessage` that the emulator uses.
#[derive(Deserialize)]
pub(super) struct SendMessageParams {
    pub(super) chat_id: ChatIdParam,
    pub(super) text: String,
}

/// The parameters of `copyMessage` that the emulator uses.
#[derive(Deserialize)]
pub(super) struct CopyMessageParams {
    pub(super) chat_id: ChatIdParam,
    pub(super) from_chat_id: ChatIdParam,
    pub(super) message_id: i32,
    pub(super) caption: Option<String>,
}

/// The parameters of `setMyCommands` that the emulator uses.
#[derive(Deserialize)]
pub(super) struct SetMyCommandsParams {
    pub(super) commands: Vec<BotCommandParam>,
}

/// The parameters of `setWebhook` that the emulator keeps. From a form every value is a
/// string, so `max_connections` is read from either.
#[derive(Deserialize)]
pub(super) struct SetWebhookParams {
    pub(super) url: String,
    pub(super) secret_token: Option<String>,
    pub(super) max_connections: Option<Value>,
}

/// One command given to `setMyCommands`.
#[derive(Deserialize)]
pub(super) struct BotCommandParam {
    pub(super) command: String,
    pub(super) description: String,
}

/// The `chat` object of a chat: private for a positive id, a group for a negative one.
pub(super) fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": format!("User {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Group {chat_id}") })
    }
}

/// The `from` object of the user who writes into a chat.
pub(super) fn user_json(chat_id: i64) -> Value {
    let user_id = chat_id.unsigned_abs();
    json!({ "id": user_id, "is_bot": false, "first_name": format!("User {user_id}") })
}

/// The `from` object of the bot's own messages.
pub(super) fn bot_user_json() -> Value {
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
pub(super) fn string_field(object: &Value, field: &str) -> Option<String> {
    object[field].as_str().map(str::to_owned)
}

/// The current Unix time in seconds.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
