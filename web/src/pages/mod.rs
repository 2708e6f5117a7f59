//! The dashboard's pages, one module each: create, pair, look up, list, stats and webhooks;
//! and what their forms share: the submit handler (`on_submit`), the submit button
//! (`SubmitButton`), the answer (`RecordResult`) and the two ways they show what went
//! wrong, `FormProblem` and `request_failed`.

mod create;
mod list;
mod lookup;
mod pair;
mod stats;
mod webhooks;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use sdk::TokenRecord;

use crate::api::Problem;
use crate::card::TokenCard;
use crate::{ErrorNote, Spinner, show_problem};

pub use create::CreatePage;
pub use list::ListPage;
pub use lookup::LookupPage;
pub use pair::PairPage;
pub use stats::StatsPage;
pub use webhooks::WebhooksPage;

/// A form's submit handler: `read` turns the form into a request, which goes to `send`;
/// or, when the input is wrong, `invalid` says why and nothing is sent.
fn on_submit<T>(
    invalid: RwSignal<Option<Problem>>,
    read: impl Fn() -> Result<T, Problem> + 'static,
    send: impl Fn(T) + 'static,
) -> impl Fn(SubmitEvent) + 'static {
    move |event: SubmitEvent| {
        event.prevent_default();
        match read() {
            Ok(request) => {
                invalid.set(None);
                send(request);
            }
            Err(problem) => invalid.set(Some(problem)),
        }
    }
}

/// A form's submit button; while `pending`, it is disabled and a spinner turns beside it.
#[component]
fn SubmitButton(
    id: &'static str,
    label: &'static str,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="actions">
            <button id=id type="submit" class="primary" disabled=move || pending.get()>
                {label}
            </button>
            <Show when=move || pending.get()><Spinner/></Show>
        </div>
    }
}

/// What a request for one record came back with: the record's card (after `success`, when
/// given), or the problem.
#[component]
fn RecordResult(
    id: &'static str,
    #[prop(into)] answer: Signal<Option<Result<TokenRecord, Problem>>>,
    #[prop(optional)] success: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div id=id>
            {move || show_problem(answer.get())}
            {move || match answer.get() {
                Some(Ok(record)) => Some(view! {
                    {success.map(|words| view! { <p class="success">{words}</p> })}
                    <TokenCard record/>
                }),
                _ => None,
            }}
        </div>
    }
}

/// What is wrong with a form's input, found before anything was sent; nothing when all is well.
#[component]
fn FormProblem(#[prop(into)] problem: Signal<Option<Problem>>) -> impl IntoView {
    move || problem.get().map(|problem| view! { <ErrorNote problem/> })
}

/// The fallback of an [`ErrorBoundary`] around remote data: every error, in words.
fn request_failed(errors: ArcRwSignal<Errors>) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .map(|(_, error)| {
                view! {
                    <p class="error" role="alert"><strong>{error.to_string()}</strong></p>
                }
            })
            .collect_view()
    }
}
