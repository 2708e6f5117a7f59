//! The dashboard's pages, one module each: create, pair, look up, list and stats; and the
//! two ways they show what went wrong, `FormProblem` and `request_failed`.

mod create;
mod list;
mod lookup;
mod pair;
mod stats;

use leptos::prelude::*;

use crate::ErrorNote;
use crate::api::Problem;

pub use create::CreatePage;
pub use list::ListPage;
pub use lookup::LookupPage;
pub use pair::PairPage;
pub use stats::StatsPage;

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
