//! The Look-up page: one token, by its secret, shown live.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use sdk::Token;

use super::FormProblem;
use crate::api::Problem;
use crate::card::TokenCard;
use crate::{Shell, Spinner, show_problem};

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
        <FormProblem problem=invalid/>
        <div id="lookup-result">
            {move || show_problem(lookup.value().get())}
            {move || match lookup.value().get() {
                Some(Ok(record)) => Some(view! { <TokenCard record/> }),
                _ => None,
            }}
        </div>
    }
}
