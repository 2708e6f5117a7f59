//! Tandem's dashboard: create, pair, watch, look up, list and delete pairings in the
//! browser. A Leptos client-side-rendered app, served by `tandem-api` from the same origin
//! as the API it calls through [`sdk::Client`].
//!
//! The shell ([`App`]) and the small shared pieces live here; each page has its module.

pub mod api;
pub mod card;
pub mod pages;

use leptos::prelude::*;

use crate::api::{ApiKey, Problem};
use crate::pages::{CreatePage, ListPage, LookupPage, PairPage, StatsPage, WebhooksPage};

/// The dashboard's pages, one tab each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Create a token and watch it.
    Create,
    /// Pair by token or short code.
    Pair,
    /// Look a token up.
    Lookup,
    /// List an entity's pairings.
    List,
    /// The tenant's counts.
    Stats,
    /// The tenant's webhook endpoints.
    Webhooks,
}

impl Tab {
    /// Every tab, in the order the navigation shows them.
    pub const ALL: [Tab; 6] = [
        Tab::Create,
        Tab::Pair,
        Tab::Lookup,
        Tab::List,
        Tab::Stats,
        Tab::Webhooks,
    ];

    /// The tab's name in the navigation.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Create => "Create",
            Tab::Pair => "Pair",
            Tab::Lookup => "Look up",
            Tab::List => "List",
            Tab::Stats => "Stats",
            Tab::Webhooks => "Webhooks",
        }
    }

    /// The tab's id, used in the page's HTML.
    pub fn id(self) -> &'static str {
        match self {
            Tab::Create => "create",
            Tab::Pair => "pair",
            Tab::Lookup => "lookup",
            Tab::List => "list",
            Tab::Stats => "stats",
            Tab::Webhooks => "webhooks",
        }
    }
}

/// What pages share: the API key and the way to send a token to another page.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    /// The API key of this browser.
    pub api_key: ApiKey,
    /// The tab on show.
    pub tab: RwSignal<Tab>,
    /// The token or code the Pair page is filled with.
    pub pair_input: RwSignal<String>,
    /// The token the Look-up page shows; set it to open a token there.
    pub lookup: RwSignal<Option<sdk::Token>>,
}

impl Shell {
    /// Opens `token` on the Look-up page.
    pub fn open(self, token: sdk::Token) {
        self.lookup.set(Some(token));
        self.tab.set(Tab::Lookup);
    }
}

/// The deep link a QR code carries: this dashboard's Pair page, filled with `token`.
///
/// The token rides in the fragment, which browsers never send to a server.
pub fn deep_link(token: &sdk::Token) -> String {
    format!("{}/#pair={token}", api::origin())
}

/// The token or code a deep link (`#pair=…`) carries, if the page was opened by one.
fn pair_from_location() -> Option<String> {
    let hash = web_sys::window()?.location().hash().ok()?;
    let value = hash.strip_prefix("#pair=")?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let linked = pair_from_location();
    let shell = Shell {
        api_key: ApiKey::from_local_storage(),
        tab: RwSignal::new(if linked.is_some() {
            Tab::Pair
        } else {
            Tab::Create
        }),
        pair_input: RwSignal::new(linked.unwrap_or_default()),
        lookup: RwSignal::new(None),
    };
    provide_context(shell);
    // A deep link followed in a tab already open changes only the fragment: no reload.
    // (The shell lives as long as the page, so the listener is never removed.)
    let _ = window_event_listener(leptos::ev::hashchange, move |_| {
        if let Some(linked) = pair_from_location() {
            shell.pair_input.set(linked);
            shell.tab.set(Tab::Pair);
        }
    });
    let tab = shell.tab;

    view! {
        <header class="top">
            <div class="brand">
                <span class="logo" aria-hidden="true">"⇄"</span>
                <h1>"Tandem"</h1>
                <HealthBadge/>
            </div>
            <ApiKeyField/>
        </header>
        <nav class="tabs" aria-label="Pages">
            {Tab::ALL
                .into_iter()
                .map(|t| {
                    view! {
                        <button
                            type="button"
                            id=format!("tab-{}", t.id())
                            class="tab"
                            class:active=move || tab.get() == t
                            aria-current=move || (tab.get() == t).then_some("page")
                            on:click=move |_| tab.set(t)
                        >
                            {t.title()}
                        </button>
                    }
                })
                .collect_view()}
        </nav>
        <main>
            // Every page stays mounted, so a token being watched keeps its live status
            // while another tab is open.
            <section id="page-create" class="page" class:hidden=move || tab.get() != Tab::Create>
                <CreatePage/>
            </section>
            <section id="page-pair" class="page" class:hidden=move || tab.get() != Tab::Pair>
                <PairPage/>
            </section>
            <section id="page-lookup" class="page" class:hidden=move || tab.get() != Tab::Lookup>
                <LookupPage/>
            </section>
            <section id="page-list" class="page" class:hidden=move || tab.get() != Tab::List>
                <ListPage/>
            </section>
            <section id="page-stats" class="page" class:hidden=move || tab.get() != Tab::Stats>
                <StatsPage/>
            </section>
            <section id="page-webhooks" class="page" class:hidden=move || tab.get() != Tab::Webhooks>
                <WebhooksPage/>
            </section>
        </main>
        <footer class="foot">
            <a href="/openapi.json">"API description (OpenAPI)"</a>
        </footer>
    }
}

/// The API key field; the key is kept in this browser's local storage.
#[component]
fn ApiKeyField() -> impl IntoView {
    let key = expect_context::<Shell>().api_key.signal();
    view! {
        <label class="api-key">
            <span>"API key"</span>
            <input
                id="api-key"
                type="password"
                autocomplete="off"
                placeholder="none needed locally"
                bind:value=key
            />
        </label>
    }
}

/// Whether the API answers, and on which store.
#[component]
fn HealthBadge() -> impl IntoView {
    let api_key = expect_context::<Shell>().api_key;
    let health = LocalResource::new(move || async move {
        let result = api_key.client().health().await;
        result.map_err(Problem::from)
    });
    move || match health.get() {
        None => view! { <span class="health">"…"</span> }.into_any(),
        Some(Ok(health)) => view! {
            <span class="health ok" title="The API and its store answer">
                {format!("{} · {}", health.status, health.store)}
            </span>
        }
        .into_any(),
        Some(Err(_)) => view! {
            <span class="health down" title="GET /healthz failed">"API unreachable"</span>
        }
        .into_any(),
    }
}

/// A problem, shown in words.
#[component]
pub fn ErrorNote(problem: Problem) -> impl IntoView {
    view! {
        <p class="error" role="alert">
            <strong>{problem.message}</strong>
            {problem.hint.map(|hint| view! { <span class="hint">{hint}</span> })}
        </p>
    }
}

/// Shown while a request is under way.
#[component]
pub fn Spinner() -> impl IntoView {
    view! { <span class="spinner" role="status" aria-label="Working…"></span> }
}

/// The problem of the last attempt, if it failed.
pub fn show_problem<T: 'static>(
    result: Option<Result<T, Problem>>,
) -> Option<impl IntoView + use<T>> {
    match result {
        Some(Err(problem)) => Some(view! { <ErrorNote problem/> }),
        _ => None,
    }
}
