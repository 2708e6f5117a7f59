//! A token on screen: [`TokenCard`] with its copy buttons, QR code, live status and
//! delete button.

use std::time::Duration;

use chrono::{DateTime, Utc};
use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::{spawn_local, spawn_local_scoped_with_cancellation};
use qrcode::QrCode;
use qrcode::render::svg;
use sdk::{Status, Token, TokenRecord, WaitSeconds};

use crate::api::{ApiKey, Problem};
use crate::{ErrorNote, Shell, Spinner, deep_link, show_problem};

/// How long a long-poll asks the API to wait for a change (its maximum).
const WAIT: WaitSeconds = WaitSeconds::MAX;

/// How long to wait before watching again after a failed long-poll.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// A token: its secret and short code with copy buttons, a QR code of its deep link, and
/// its status, kept live by long-polling the API until the card goes away.
#[component]
pub fn TokenCard(record: TokenRecord) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let token = record.token.clone();
    let record = RwSignal::new(record);
    // Why the record is no longer there: deleted here, or found gone by the watcher.
    let gone = RwSignal::new(None::<&'static str>);
    let watch_problem = RwSignal::new(None::<Problem>);
    watch(shell.api_key, record, gone, watch_problem);

    let status = move || match (gone.get(), record.with(TokenRecord::status)) {
        (Some(_), _) => "gone",
        (None, Status::Pending) => "pending",
        (None, Status::Paired) => "paired",
    };
    let link = deep_link(&token);
    let token_text = token.to_string();
    view! {
        <article class="token-card" data-token=token_text.clone() data-status=status>
            <header class="card-head">
                <h3>{move || record.with(|r| r.label.as_ref().map_or_else(|| "Token".to_owned(), ToString::to_string))}</h3>
                <span class="status" data-status=status>
                    {move || match gone.get() {
                        Some(reason) => reason.to_owned(),
                        None => status().to_owned(),
                    }}
                </span>
            </header>
            <div class="card-body">
                <div class="secrets">
                    <div class="field">
                        <span class="name">"Token"</span>
                        <code class="token">{token_text.clone()}</code>
                        <CopyButton text=token_text.clone()/>
                    </div>
                    {move || record.with(|r| r.code.clone()).map(|code| view! {
                        <div class="field">
                            <span class="name">"Short code"</span>
                            <code class="code">{code.to_string()}</code>
                            <CopyButton text=code.to_string()/>
                        </div>
                    })}
                    <dl class="facts">
                        <dt>"Entity A"</dt>
                        <dd class="entity-a">{move || record.with(|r| r.entity_a.to_string())}</dd>
                        <dt>"Entity B"</dt>
                        <dd class="entity-b">
                            {move || record.with(|r| r.entity_b.as_ref().map_or_else(
                                || "waiting for a pairing…".to_owned(),
                                ToString::to_string,
                            ))}
                        </dd>
                        <dt>"Created"</dt>
                        <dd>{move || record.with(|r| when(r.created_at))}</dd>
                        <dt>"Paired"</dt>
                        <dd>{move || record.with(|r| r.paired_at.map_or_else(|| "—".to_owned(), when))}</dd>
                        <dt>"Expires"</dt>
                        <dd>{move || record.with(|r| r.expires_at.map_or_else(|| "when deleted".to_owned(), when))}</dd>
                    </dl>
                </div>
                <figure class="qr">
                    <div class="qr-image" inner_html=qr_svg(&link)></div>
                    <figcaption>
                        "Scan to pair: "
                        <a class="deep-link" href=link.clone()>{"open the pairing link"}</a>
                    </figcaption>
                </figure>
            </div>
            {move || watch_problem.get().map(|problem| view! {
                <div class="watch-problem"><ErrorNote problem/></div>
            })}
            <Show when=move || gone.get().is_none()>
                <DeleteButton token=token.clone() on_deleted=Callback::new(move |()| gone.set(Some("deleted")))/>
            </Show>
        </article>
    }
}

/// Keeps `record` current: long-polls the API with the record's ETag, so a pairing made
/// anywhere shows within moments. Stops when the card is removed or the record is gone.
fn watch(
    api_key: ApiKey,
    record: RwSignal<TokenRecord>,
    gone: RwSignal<Option<&'static str>>,
    problem: RwSignal<Option<Problem>>,
) {
    spawn_local_scoped_with_cancellation(async move {
        loop {
            if gone.get_untracked().is_some() {
                return;
            }
            let (token, etag) = record.with_untracked(|r| (r.token.clone(), r.etag()));
            match api_key.client().wait_for_change(&token, etag, WAIT).await {
                Ok(None) => problem.set(None),
                Ok(Some(current)) => {
                    problem.set(None);
                    record.set(current);
                }
                Err(error) if error.is_not_found() => {
                    if gone.get_untracked().is_none() {
                        gone.set(Some("deleted or expired"));
                    }
                    return;
                }
                Err(error) => {
                    problem.set(Some(error.into()));
                    sleep(RETRY_AFTER).await;
                }
            }
        }
    });
}

/// Copies `text` to the clipboard.
#[component]
pub fn CopyButton(text: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = text.clone();
        spawn_local(async move {
            let clipboard = web_sys::window().map(|window| window.navigator().clipboard());
            // Browsers offer no clipboard to pages served over plain HTTP from another host.
            let done = match clipboard {
                Some(clipboard) if !clipboard.is_undefined() => {
                    let promise = clipboard.write_text(&text);
                    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
                }
                _ => false,
            };
            copied.set(Some(done));
            sleep(Duration::from_secs(2)).await;
            copied.set(None);
        });
    };
    view! {
        <button type="button" class="copy" on:click=copy>
            {move || match copied.get() {
                None => "Copy",
                Some(true) => "Copied",
                Some(false) => "Select and copy",
            }}
        </button>
    }
}

/// Deletes a token after the user confirms.
#[component]
pub fn DeleteButton(token: Token, on_deleted: Callback<()>) -> impl IntoView {
    let api_key = expect_context::<Shell>().api_key;
    let confirming = RwSignal::new(false);
    let delete =
        api_key.action(|client, token: Token| async move { client.delete_token(&token).await });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            confirming.set(false);
            on_deleted.run(());
        }
    });
    view! {
        <div class="delete">
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="danger ask-delete" on:click=move |_| confirming.set(true)>
                        "Delete"
                    </button>
                }
            >
                <span class="confirm">
                    "Delete this token and its pairing? This cannot be undone."
                    <button
                        type="button"
                        class="danger confirm-delete"
                        disabled=move || delete.pending().get()
                        on:click={
                            let token = token.clone();
                            move |_| { delete.dispatch(token.clone()); }
                        }
                    >
                        "Yes, delete"
                    </button>
                    <button type="button" class="cancel-delete" on:click=move |_| confirming.set(false)>
                        "Cancel"
                    </button>
                    <Show when=move || delete.pending().get()>
                        <Spinner/>
                    </Show>
                </span>
            </Show>
            {move || show_problem(delete.value().get())}
        </div>
    }
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
        // Only a text longer than a QR code holds gets here, and deep links are short.
        Err(_) => String::new(),
    }
}

/// A time as the dashboard shows it: UTC, to the second.
pub fn when(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
