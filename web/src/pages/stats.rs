//! The Stats page: the tenant's counts and time-to-pair, laid out by [`StatsGrid`].

use leptos::prelude::*;
use sdk::Stats;

use super::request_failed;
use crate::api::Problem;
use crate::{Shell, Spinner, Tab};

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
        let open = shell.tab.get() == Tab::Stats;
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
                <ErrorBoundary fallback=request_failed>
                    {move || stats.get().map(|result| result.map(|stats| view! { <StatsGrid stats/> }))}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// The tenant's figures, one term and value each.
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
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(850)), "850 ms");
        assert_eq!(duration(Some(1_500)), "1.5 s");
        assert_eq!(duration(Some(90_000)), "1.5 min");
        assert_eq!(duration(Some(5_400_000)), "1.5 h");
    }
}
