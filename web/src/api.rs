//! The dashboard's link to the API: an [`sdk::Client`] of this page's origin with the API
//! key kept in the browser, and API errors put into words.

use std::fmt;
use std::future::Future;

use leptos::prelude::*;

/// Where the API key is kept between visits (the browser's local storage).
pub const API_KEY_STORAGE_KEY: &str = "tandem.api_key";

/// Where this browser's id is kept: the dashboard names it as the end user
/// (`Tandem-End-User`) of its requests, so that wrong short codes typed here count against
/// this browser and not against everyone behind the same address.
pub const BROWSER_ID_STORAGE_KEY: &str = "tandem.browser_id";

/// The API key typed into the dashboard; empty when the deployment needs none.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey(RwSignal<String>);

impl ApiKey {
    /// The key saved in this browser, written back to local storage whenever it changes.
    pub fn from_local_storage() -> Self {
        let saved = local_storage()
            .and_then(|storage| storage.get_item(API_KEY_STORAGE_KEY).ok().flatten())
            .unwrap_or_default();
        let key = RwSignal::new(saved);
        Effect::new(move |_| {
            let value = key.get();
            if let Some(storage) = local_storage() {
                // Storage can be full or disabled; the key then lasts for this visit only.
                let _ = if value.is_empty() {
                    storage.remove_item(API_KEY_STORAGE_KEY)
                } else {
                    storage.set_item(API_KEY_STORAGE_KEY, &value)
                };
            }
        });
        Self(key)
    }

    /// The signal holding the key, for the settings field.
    pub fn signal(self) -> RwSignal<String> {
        self.0
    }

    /// An action that calls the API with this key, as `call(client, input)`, and puts its
    /// error into words.
    pub fn action<I, O, Fut>(
        self,
        call: impl Fn(sdk::Client, I) -> Fut + 'static,
    ) -> Action<I, Result<O, Problem>>
    where
        I: Clone + 'static,
        O: 'static,
        Fut: Future<Output = Result<O, sdk::Error>> + 'static,
    {
        Action::new_local(move |input: &I| {
            let pending = call(self.client(), input.clone());
            async move { pending.await.map_err(Problem::from) }
        })
    }

    /// A client of the API this page was served from, sending the current key and this
    /// browser's id.
    pub fn client(self) -> sdk::Client {
        let client = sdk::Client::new(origin());
        let client = match browser_id() {
            Some(id) => client.for_end_user(id),
            None => client,
        };
        let key = self.0.get_untracked();
        let key = key.trim();
        if key.is_empty() {
            client
        } else {
            client.with_api_key(key)
        }
    }
}

/// This page's origin, such as `http://127.0.0.1:3000`: the API lives there too.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default()
}

/// This browser's id as an end user, made (a random UUID) and kept in local storage the
/// first time; `None` where the browser offers neither.
fn browser_id() -> Option<sdk::EndUser> {
    let storage = local_storage();
    let saved = storage
        .as_ref()
        .and_then(|storage| storage.get_item(BROWSER_ID_STORAGE_KEY).ok().flatten());
    let id = match saved {
        Some(id) => id,
        None => {
            let fresh = web_sys::window()?.crypto().ok()?.random_uuid();
            if let Some(storage) = &storage {
                // Without storage the id lasts for this page only.
                let _ = storage.set_item(BROWSER_ID_STORAGE_KEY, &fresh);
            }
            fresh
        }
    };
    sdk::EndUser::parse(format!("dashboard:{id}")).ok()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Something that went wrong, in words for the person at the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What happened; for API errors, the API's own message.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub hint: Option<&'static str>,
}

impl Problem {
    /// A problem found before anything was sent.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }
}

impl From<sdk::Error> for Problem {
    fn from(error: sdk::Error) -> Self {
        match error {
            sdk::Error::Api {
                status, message, ..
            } => Self {
                message,
                hint: match status {
                    401 => Some("Enter this deployment's API key under “API key” above."),
                    429 => Some("Wait a moment, then try again."),
                    500.. => Some("The server logged the details."),
                    _ => None,
                },
            },
            sdk::Error::Invalid(error) => Self::invalid(error.to_string()),
            sdk::Error::Transport(error) => Self {
                message: format!("Could not reach the Tandem API: {error}"),
                hint: Some("Check that the server is running, then try again."),
            },
            sdk::Error::Unexpected { status, .. } => Self {
                message: format!("The API answered in an unexpected way (HTTP {status})."),
                hint: Some("Is this page served by tandem-api?"),
            },
        }
    }
}

impl From<sdk::ValidationError> for Problem {
    fn from(error: sdk::ValidationError) -> Self {
        Self::invalid(error.to_string())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.hint {
            Some(hint) => write!(f, "{} {hint}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Problem {}
