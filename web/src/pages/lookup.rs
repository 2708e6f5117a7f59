//! The Look-up page: one token, by its secret, shown live.

use leptos::prelude::*;
use sdk::Token;

use super::{FormProblem, RecordResult, SubmitButton, on_submit};
use crate::Shell;
use crate::api::Problem;

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
    let submit = on_submit(
        invalid,
        move || Ok(Token::parse(input.get().trim())?),
        move |token| {
            lookup.dispatch(token);
        },
    );
    view! {
        <h2>"Look up a token"</h2>
        <form class="form inline" on:submit=submit>
            <label>
                <span>"Token"</span>
                <input id="lookup-input" required autocomplete="off" bind:value=input/>
            </label>
            <SubmitButton id="lookup-submit" label="Look up" pending=lookup.pending()/>
        </form>
        <FormProblem problem=invalid/>
        <RecordResult id="lookup-result" answer=lookup.value()/>
    }
}
