//! The List page: an entity's pairings, newest first, a page at a time, with [`ListItems`]
//! and [`ListRow`] to show them.

use leptos::prelude::*;
use sdk::{EntityId, PageCursor, PageLimit, TokenPage, TokenRecord};

use super::{FormProblem, on_submit, request_failed};
use crate::api::Problem;
use crate::card::{DeleteButton, when};
use crate::{Shell, Spinner};

/// How many records a page of the list shows.
const PAGE_SIZE: u32 = 10;

/// The query the list shows: whose pairings, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ListQuery {
    entity: EntityId,
    /// The cursors of the pages before this one (`None` for the first page), newest last.
    earlier: Vec<Option<PageCursor>>,
    /// This page's cursor.
    cursor: Option<PageCursor>,
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
                .list_tokens(
                    &query.entity,
                    Some(PageLimit::parse(PAGE_SIZE).expect("a valid page size")),
                    query.cursor.as_ref(),
                )
                .await;
            result.map(Some).map_err(Problem::from)
        }
    });
    let submit = on_submit(
        invalid,
        move || Ok(EntityId::parse(input.get().trim())?),
        move |entity| {
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
        },
    );
    let next = move |cursor: PageCursor| {
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
        <FormProblem problem=invalid/>
        <div id="list-result">
            <Transition fallback=|| view! { <Spinner/> }>
                <ErrorBoundary fallback=request_failed>
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
    on_next: Callback<PageCursor>,
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
    let status = match record.status() {
        sdk::Status::Pending => "pending",
        sdk::Status::Paired => "paired",
    };
    let token_text = token.to_string();
    // The token's end: it begins with its creation time, which records made together share.
    // (A token is ASCII, so any byte offset is a character boundary.)
    let short = format!("…{}", &token_text[token_text.len().saturating_sub(10)..]);
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
