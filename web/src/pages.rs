//! The dashboard's pages: create, pair, look up, list and stats.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use sdk::{CreateToken, EntityId, Label, ShortCode, Stats, Token, TokenPage, TokenRecord, Ttl};

use crate::api::Problem;
use crate::card::{DeleteButton, TokenCard, when};
use crate::{ErrorNote, Shell, Spinner, show_problem};

/// How many records a page of the list shows.
const PAGE_SIZE: u32 = 10;

/// The lifetimes offered for a new token, in seconds, with their names.
const TTL_CHOICES: [(u64, &str); 5] = [
    (300, "5 minutes"),
    (3_600, "1 hour"),
    (86_400, "24 hours"),
    (604_800, "7 days"),
    (2_592_000, "30 days"),
];

/// Creates a token for entity A and shows it, live.
#[component]
pub fn CreatePage() -> impl IntoView {
    let api_key = expect_context::<Shell>().api_key;
    let entity = RwSignal::new(String::new());
    let label = RwSignal::new(String::new());
    let ttl = RwSignal::new("86400".to_owned());
    let with_code = RwSignal::new(true);
    let invalid = RwSignal::new(None::<Problem>);
    let create = api_key
        .action(|client, request: CreateToken| async move { client.create_token(&request).await });

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        match create_request(&entity.get(), &label.get(), &ttl.get(), with_code.get()) {
            Ok(request) => {
                invalid.set(None);
                create.dispatch(request);
            }
            Err(problem) => invalid.set(Some(problem)),
        }
    };
    view! {
        <h2>"Create a token"</h2>
        <p class="lead">"A token stands for entity A until entity B presents it. Share it as text, as the QR code, or as the short code."</p>
        <form class="form" on:submit=submit>
            <label>
                <span>"Entity A"</span>
                <input id="create-entity" required placeholder="user:alice" bind:value=entity/>
            </label>
            <label>
                <span>"Pairable for"</span>
                <select id="create-ttl" bind:value=ttl>
                    {TTL_CHOICES
                        .into_iter()
                        .map(|(seconds, name)| view! { <option value=seconds.to_string()>{name}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                <span>"Label (optional)"</span>
                <input id="create-label" maxlength="200" placeholder="Living-room TV" bind:value=label/>
            </label>
            <label class="check">
                <input id="create-code" type="checkbox" bind:checked=with_code/>
                <span>"Also issue a short code (XXXX-XXXX) for typing"</span>
            </label>
            <div class="actions">
                <button id="create-submit" type="submit" class="primary" disabled=move || create.pending().get()>
                    "Create token"
                </button>
                <Show when=move || create.pending().get()><Spinner/></Show>
            </div>
        </form>
        {move || invalid.get().map(|problem| view! { <ErrorNote problem/> })}
        <div id="create-result">
            {move || show_problem(create.value().get())}
            {move || match create.value().get() {
                Some(Ok(record)) => Some(view! { <TokenCard record/> }),
                _ => None,
            }}
        </div>
    }
}

/// The request the create form describes, or what is wrong with it.
fn create_request(
    entity: &str,
    label: &str,
    ttl_seconds: &str,
    with_code: bool,
) -> Result<CreateToken, Problem> {
    let entity = EntityId::parse(entity.trim())?;
    let ttl = ttl_seconds
        .parse::<u64>()
        .map_err(|_| Problem::invalid("Choose how long the token can be paired."))?;
    let mut request = CreateToken::new(&entity).ttl(Ttl::parse(ttl)?);
    if !label.trim().is_empty() {
        request = request.label(Label::parse(label.trim())?);
    }
    if with_code {
        request = request.with_code();
    }
    Ok(request)
}

/// What the person typed into the pair form: a token or a short code.
#[derive(Clone)]
enum Presented {
    Token(Token),
    Code(ShortCode),
}

impl Presented {
    fn parse(value: &str) -> Result<Self, Problem> {
        let value = value.trim();
        if let Ok(code) = ShortCode::parse(value) {
            return Ok(Self::Code(code));
        }
        Token::parse(value).map(Self::Token).map_err(|_| {
            Problem::invalid(
                "That is neither a token nor a short code (XXXX-XXXX). Paste the whole token, \
                 or type the eight letters of the code.",
            )
        })
    }
}

/// Pairs entity B with a token's creator, by token or by short code.
#[component]
pub fn PairPage() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let api_key = shell.api_key;
    let presented = shell.pair_input;
    let entity = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<Problem>);
    let pair = api_key.action(
        |client, (presented, entity): (Presented, EntityId)| async move {
            match presented {
                Presented::Token(token) => client.pair(&token, &entity).await,
                Presented::Code(code) => client.pair_by_code(&code, &entity).await,
            }
        },
    );
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        let request = Presented::parse(&presented.get())
            .and_then(|p| Ok((p, EntityId::parse(entity.get().trim())?)));
        match request {
            Ok(request) => {
                invalid.set(None);
                pair.dispatch(request);
            }
            Err(problem) => invalid.set(Some(problem)),
        }
    };
    view! {
        <h2>"Pair"</h2>
        <p class="lead">"Present a token or short code as entity B: the token's creator and entity B are then paired."</p>
        <form class="form" on:submit=submit>
            <label>
                <span>"Token or short code"</span>
                <input id="pair-input" required placeholder="token, or BCDF-GHJK" autocomplete="off" bind:value=presented/>
            </label>
            <label>
                <span>"Entity B"</span>
                <input id="pair-entity" required placeholder="device:tv-42" bind:value=entity/>
            </label>
            <div class="actions">
                <button id="pair-submit" type="submit" class="primary" disabled=move || pair.pending().get()>
                    "Pair"
                </button>
                <Show when=move || pair.pending().get()><Spinner/></Show>
            </div>
        </form>
        {move || invalid.get().map(|problem| view! { <ErrorNote problem/> })}
        <div id="pair-result">
            {move || show_problem(pair.value().get())}
            {move || match pair.value().get() {
                Some(Ok(record)) => Some(view! {
                    <p class="success">"Paired."</p>
                    <TokenCard record/>
                }),
                _ => None,
            }}
        </div>
    }
}

/// Looks a token up and shows it, live.
#[component]
pub fn LookupPage() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let api_key = shell.api_key;
    let input = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<Problem>);
    let lookup =
        api_key.action(|client, token: Token| async move { client.get_token(&token).await });
    // A token opened from another page (the list) is looked up at once.
    Effect::new(move |_| {
        if let Some(token) = shell.lookup.get() {
            input.set(token.to_string());
            invalid.set(None);
            lookup.dispatch(token);
        }
    });
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        match Token::parse(input.get().trim()) {
            Ok(token) => {
                invalid.set(None);
                lookup.dispatch(token);
            }
            Err(error) => invalid.set(Some(error.into())),
        }
    };
    view! {
        <h2>"Look up a token"</h2>
        <form class="form inline" on:submit=submit>
            <label>
                <span>"Token"</span>
                <input id="lookup-input" required autocomplete="off" bind:value=input/>
            </label>
            <div class="actions">
                <button id="lookup-submit" type="submit" class="primary" disabled=move || lookup.pending().get()>
                    "Look up"
                </button>
                <Show when=move || lookup.pending().get()><Spinner/></Show>
            </div>
        </form>
        {move || invalid.get().map(|problem| view! { <ErrorNote problem/> })}
        <div id="lookup-result">
            {move || show_problem(lookup.value().get())}
            {move || match lookup.value().get() {
                Some(Ok(record)) => Some(view! { <TokenCard record/> }),
                _ => None,
            }}
        </div>
    }
}

/// The query the list shows: whose pairings, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListQuery {
    entity: EntityId,
    /// The cursors of the pages before this one (`None` for the first page), newest last.
    earlier: Vec<Option<String>>,
    /// This page's cursor.
    cursor: Option<String>,
}

/// Lists an entity's pairings, newest first, a page at a time.
#[component]
pub fn ListPage() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let api_key = shell.api_key;
    let input = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<Problem>);
    let query = RwSignal::new(None::<ListQuery>);
    let page = LocalResource::new(move || {
        let query = query.get();
        async move {
            let Some(query) = query else {
                return Ok(None);
            };
            let result = api_key
                .client()
                .list_tokens(&query.entity, Some(PAGE_SIZE), query.cursor.as_deref())
                .await;
            result.map(Some).map_err(Problem::from)
        }
    });
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        match EntityId::parse(input.get().trim()) {
            Ok(entity) => {
                invalid.set(None);
                let fresh = ListQuery {
                    entity,
                    earlier: Vec::new(),
                    cursor: None,
                };
                // Asking again for the same list shows it anew.
                if query.get_untracked().as_ref() == Some(&fresh) {
                    page.refetch();
                } else {
                    query.set(Some(fresh));
                }
            }
            Err(error) => invalid.set(Some(error.into())),
        }
    };
    let next = move |cursor: String| {
        query.update(|q| {
            if let Some(q) = q {
                q.earlier.push(q.cursor.take());
                q.cursor = Some(cursor);
            }
        });
    };
    let previous = move || {
        query.update(|q| {
            if let Some(q) = q {
                q.cursor = q.earlier.pop().flatten();
            }
        });
    };
    view! {
        <h2>"Pairings of an entity"</h2>
        <form class="form inline" on:submit=submit>
            <label>
                <span>"Entity (either side)"</span>
                <input id="list-entity" required placeholder="user:alice" bind:value=input/>
            </label>
            <div class="actions">
                <button id="list-submit" type="submit" class="primary">"Show"</button>
            </div>
        </form>
        {move || invalid.get().map(|problem| view! { <ErrorNote problem/> })}
        <div id="list-result">
            <Transition fallback=|| view! { <Spinner/> }>
                <ErrorBoundary fallback=|errors| view! {
                    {move || errors.get().into_iter().map(|(_, error)| view! {
                        <p class="error" role="alert"><strong>{error.to_string()}</strong></p>
                    }).collect_view()}
                }>
                    {move || page.get().map(|result| result.map(|listed| listed.map(|listed| {
                        let has_earlier = query.with_untracked(|q| q.as_ref().is_some_and(|q| !q.earlier.is_empty()));
                        view! {
                            <ListItems
                                page=listed
                                has_earlier
                                on_next=Callback::new(next)
                                on_previous=Callback::new(move |()| previous())
                                on_changed=Callback::new(move |()| page.refetch())
                            />
                        }
                    })))}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// One page of a list, with the way to the pages around it.
#[component]
fn ListItems(
    page: TokenPage,
    has_earlier: bool,
    on_next: Callback<String>,
    on_previous: Callback<()>,
    on_changed: Callback<()>,
) -> impl IntoView {
    let empty = page.items.is_empty();
    let next_cursor = page.next_cursor.clone();
    view! {
        {(empty && !has_earlier).then(|| view! { <p class="empty">"No pairings for this entity."</p> })}
        <ul class="list">
            {page.items.into_iter().map(|record| view! { <ListRow record on_changed/> }).collect_view()}
        </ul>
        <div class="pager">
            {has_earlier.then(|| view! {
                <button type="button" id="list-previous" on:click=move |_| on_previous.run(())>"← Newer"</button>
            })}
            {next_cursor.map(|cursor| view! {
                <button type="button" id="list-next" on:click=move |_| on_next.run(cursor.clone())>"Older →"</button>
            })}
        </div>
    }
}

/// One record in a list: who, when, its status, and what can be done with it.
#[component]
fn ListRow(record: TokenRecord, on_changed: Callback<()>) -> impl IntoView {
    let shell = expect_context::<Shell>();
    let token = record.token.clone();
    let status = match record.status {
        sdk::Status::Pending => "pending",
        sdk::Status::Paired => "paired",
    };
    let token_text = token.to_string();
    let short = token_text.chars().take(10).collect::<String>() + "…";
    let title = token_text.clone();
    view! {
        <li class="list-item" data-token=token_text data-status=status>
            <div class="row-head">
                <code class="token" title=title>{short}</code>
                <span class="status" data-status=status>{status}</span>
                {record.label.map(|label| view! { <span class="label">{label.to_string()}</span> })}
            </div>
            <div class="row-body">
                <span class="entities">
                    {record.entity_a.to_string()}
                    " ⇄ "
                    {record.entity_b.map_or_else(|| "…".to_owned(), |b| b.to_string())}
                </span>
                <span class="created">{when(record.created_at)}</span>
            </div>
            <div class="row-actions">
                <button type="button" class="open" on:click={
                    let token = token.clone();
                    move |_| shell.open(token.clone())
                }>"Open"</button>
                <DeleteButton token on_deleted=Callback::new(move |()| on_changed.run(()))/>
            </div>
        </li>
    }
}

/// The tenant's counts and time-to-pair.
#[component]
pub fn StatsPage() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let api_key = shell.api_key;
    let stats = LocalResource::new(move || async move {
        let result = api_key.client().stats().await;
        result.map_err(Problem::from)
    });
    // Fresh figures whenever the page is opened.
    Effect::new(move |was_open: Option<bool>| {
        let open = shell.tab.get() == crate::Tab::Stats;
        if open && was_open == Some(false) {
            stats.refetch();
        }
        open
    });
    view! {
        <h2>"Stats"</h2>
        <p class="lead">"This tenant's tokens: live ones now, and what happened in the last 24 hours."</p>
        <div class="actions">
            <button id="stats-refresh" type="button" on:click=move |_| stats.refetch()>"Refresh"</button>
        </div>
        <div id="stats-result">
            <Transition fallback=|| view! { <Spinner/> }>
                <ErrorBoundary fallback=|errors| view! {
                    {move || errors.get().into_iter().map(|(_, error)| view! {
                        <p class="error" role="alert"><strong>{error.to_string()}</strong></p>
                    }).collect_view()}
                }>
                    {move || stats.get().map(|result| result.map(|stats| view! { <StatsGrid stats/> }))}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

#[component]
fn StatsGrid(stats: Stats) -> impl IntoView {
    let figures = [
        ("pending", "Waiting to pair", stats.pending.to_string()),
        ("paired", "Paired", stats.paired.to_string()),
        ("deleted", "Deleted (24 h)", stats.deleted.to_string()),
        (
            "expired",
            "Expired unpaired (24 h)",
            stats.expired.to_string(),
        ),
        (
            "p50",
            "Time to pair, median",
            duration(stats.time_to_pair_p50_ms),
        ),
        (
            "p95",
            "Time to pair, 95th percentile",
            duration(stats.time_to_pair_p95_ms),
        ),
    ];
    view! {
        <dl class="stats">
            {figures
                .into_iter()
                .map(|(id, name, value)| view! {
                    <div class="stat" data-stat=id>
                        <dt>{name}</dt>
                        <dd>{value}</dd>
                    </div>
                })
                .collect_view()}
        </dl>
    }
}

/// Milliseconds as people read them; a dash when there is nothing to measure.
fn duration(ms: Option<u64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1_000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        Some(ms) if ms < 3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        Some(ms) => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_form_becomes_a_request_or_says_what_is_wrong() {
        let request = create_request(" user:alice ", "  ", "3600", true).unwrap();
        assert_eq!(request.entity.as_str(), "user:alice");
        assert_eq!(request.ttl_seconds.map(Ttl::seconds), Some(3600));
        assert!(request.label.is_none());
        assert!(request.code);

        let labelled = create_request("user:alice", "TV", "86400", false).unwrap();
        assert_eq!(labelled.label.map(|l| l.to_string()).as_deref(), Some("TV"));
        assert!(!labelled.code);

        let empty = create_request("", "", "3600", false).unwrap_err();
        assert!(empty.message.contains("entity"), "{empty}");
        let too_short = create_request("user:alice", "", "30", false).unwrap_err();
        assert!(too_short.message.contains("ttl"), "{too_short}");
        let long_label = create_request("user:alice", &"x".repeat(201), "3600", false).unwrap_err();
        assert!(long_label.message.contains("label"), "{long_label}");
    }

    #[test]
    fn the_pair_form_tells_codes_from_tokens() {
        assert!(matches!(
            Presented::parse("bcdf-ghjk"),
            Ok(Presented::Code(_))
        ));
        assert!(matches!(
            Presented::parse(" BCDFGHJK "),
            Ok(Presented::Code(_))
        ));
        assert!(matches!(
            Presented::parse("3f1c9a6b0e2d4b7f9a51c2d8e4f60718"),
            Ok(Presented::Token(_))
        ));
        let neither = Presented::parse("not a token!").err().unwrap();
        assert!(neither.message.contains("neither a token nor a short code"));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(850)), "850 ms");
        assert_eq!(duration(Some(1_500)), "1.5 s");
        assert_eq!(duration(Some(90_000)), "1.5 min");
        assert_eq!(duration(Some(5_400_000)), "1.5 h");
    }
}
