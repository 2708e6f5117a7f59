//! The Webhooks page: add an endpoint (its secret shown once, with a copy button), and for
//! each endpoint send a test event, see its recent deliveries, disable or enable it, rotate
//! its secret and delete it.

use leptos::prelude::*;
use sdk::webhooks::{
    CreateWebhook, Delivery, DeliveryStatus, UpdateWebhook, Webhook, WebhookWithSecret,
};

use super::{FormProblem, SubmitButton, on_submit, request_failed};
use crate::api::Problem;
use crate::card::{CopyButton, when};
use crate::{Shell, Spinner, Tab, show_problem};

/// The tenant's endpoints, and the form that adds one.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let shell = expect_context::<Shell>();
    let api_key = shell.api_key;
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<Problem>);
    let endpoints = LocalResource::new(move || async move {
        let result = api_key.client().list_webhooks().await;
        result.map(|list| list.items).map_err(Problem::from)
    });
    // Fresh whenever the page is opened.
    Effect::new(move |was_open: Option<bool>| {
        let open = shell.tab.get() == Tab::Webhooks;
        if open && was_open == Some(false) {
            endpoints.refetch();
        }
        open
    });
    let create = api_key.action(|client, request: CreateWebhook| async move {
        client.create_webhook(&request).await
    });
    // The secret of the endpoint just added (or rotated), shown until another is.
    let secret = RwSignal::new(None::<WebhookWithSecret>);
    Effect::new(move |_| {
        if let Some(Ok(created)) = create.value().get() {
            secret.set(Some(created));
            url.set(String::new());
            description.set(String::new());
            endpoints.refetch();
        }
    });
    let submit = on_submit(
        invalid,
        move || {
            let text = url.get();
            let text = text.trim();
            if text.is_empty() {
                return Err(Problem::invalid("Enter the endpoint's URL (https://…)."));
            }
            let note = description.get();
            Ok(CreateWebhook {
                description: (!note.trim().is_empty()).then(|| note.trim().to_owned()),
                ..CreateWebhook::new(text)
            })
        },
        move |request| {
            create.dispatch(request);
        },
    );
    let changed = Callback::new(move |()| endpoints.refetch());
    let rotated = Callback::new(move |with_secret: WebhookWithSecret| {
        secret.set(Some(with_secret));
        endpoints.refetch();
    });
    view! {
        <h2>"Webhooks"</h2>
        <p class="lead">
            "Endpoints that get this tenant's token.paired, token.deleted and token.expired events, "
            "signed as Standard Webhooks says."
        </p>
        <form class="form" on:submit=submit>
            <label>
                <span>"Endpoint URL"</span>
                <input id="webhook-url" type="url" placeholder="https://example.com/hooks/tandem" bind:value=url/>
            </label>
            <label>
                <span>"Description (optional)"</span>
                <input id="webhook-description" maxlength="200" bind:value=description/>
            </label>
            <SubmitButton id="webhook-create" label="Add endpoint" pending=create.pending()/>
        </form>
        <FormProblem problem=invalid/>
        {move || show_problem(create.value().get())}
        {move || secret.get().map(|shown| view! { <SecretNote shown/> })}
        <div id="webhooks-result">
            <Transition fallback=|| view! { <Spinner/> }>
                <ErrorBoundary fallback=request_failed>
                    {move || endpoints.get().map(|result| result.map(|items| view! {
                        {items.is_empty().then(|| view! { <p class="empty">"No endpoints yet."</p> })}
                        <ul class="list">
                            {items
                                .into_iter()
                                .map(|webhook| view! { <EndpointRow webhook changed rotated/> })
                                .collect_view()}
                        </ul>
                    }))}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

/// A signing secret, shown this once.
#[component]
fn SecretNote(shown: WebhookWithSecret) -> impl IntoView {
    let secret = shown.secret.clone();
    view! {
        <div id="webhook-secret-note" class="success">
            <p>
                "The signing secret of " <code>{shown.webhook.url.clone()}</code>
                ". Keep it now: it is not shown again."
            </p>
            <p class="secret">
                <code id="webhook-secret">{secret.clone()}</code>
                <CopyButton text=secret/>
            </p>
        </div>
    }
}

/// One endpoint with what can be done with it.
#[component]
fn EndpointRow(
    webhook: Webhook,
    changed: Callback<()>,
    rotated: Callback<WebhookWithSecret>,
) -> impl IntoView {
    let api_key = expect_context::<Shell>().api_key;
    let id = webhook.id.clone();
    let enabled = webhook.enabled;
    let test = api_key.action(|client, id: String| async move { client.test_webhook(&id).await });
    let toggle = api_key.action(move |client, id: String| async move {
        let change = UpdateWebhook {
            enabled: Some(!enabled),
            ..UpdateWebhook::default()
        };
        client.update_webhook(&id, &change).await
    });
    let rotate =
        api_key.action(|client, id: String| async move { client.rotate_webhook_secret(&id).await });
    let delete =
        api_key.action(|client, id: String| async move { client.delete_webhook(&id).await });
    let deliveries = api_key.action(|client, id: String| async move {
        client.webhook_deliveries(&id).await.map(|list| list.items)
    });
    Effect::new(move |_| {
        if matches!(toggle.value().get(), Some(Ok(_)))
            || matches!(delete.value().get(), Some(Ok(())))
        {
            changed.run(());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(with_secret)) = rotate.value().get() {
            rotated.run(with_secret);
        }
    });
    // After a test event, its delivery shows up in the list.
    Effect::new(move |_| {
        if let Some(Ok(_)) = test.value().get() {
            deliveries.dispatch(id_for(&test));
        }
    });
    let events = webhook
        .events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let state = if enabled { "enabled" } else { "disabled" };
    view! {
        <li class="list-item webhook" data-id=id.clone() data-enabled=state>
            <div class="row-head">
                <code class="url">{webhook.url.clone()}</code>
                <span class="status" data-status=state>{state}</span>
                {webhook.description.clone().map(|d| view! { <span class="label">{d}</span> })}
            </div>
            <div class="row-body">
                <span class="events">{events}</span>
                <span class="created">{when(webhook.created_at)}</span>
            </div>
            {webhook.disabled_reason.clone().map(|why| view! { <p class="error reason">{why}</p> })}
            <div class="row-actions">
                <button type="button" class="webhook-test" on:click=on(test, id.clone())>"Send test event"</button>
                <button type="button" class="webhook-deliveries" on:click=on(deliveries, id.clone())>"Deliveries"</button>
                <button type="button" class="webhook-toggle" on:click=on(toggle, id.clone())>
                    {if enabled { "Disable" } else { "Enable" }}
                </button>
                <button type="button" class="webhook-rotate" on:click=on(rotate, id.clone())>"Rotate secret"</button>
                <button type="button" class="danger webhook-delete" on:click=on(delete, id.clone())>"Delete"</button>
            </div>
            {move || show_problem(test.value().get())}
            {move || show_problem(toggle.value().get())}
            {move || show_problem(rotate.value().get())}
            {move || show_problem(delete.value().get())}
            {move || show_problem(deliveries.value().get())}
            {move || deliveries.value().get().and_then(Result::ok).map(|items| view! { <DeliveryTable items/> })}
        </li>
    }
}

/// A click handler that sends `action` for the endpoint `id`.
fn on<O: Send + Sync + 'static>(
    action: Action<String, O>,
    id: String,
) -> impl Fn(leptos::ev::MouseEvent) {
    move |_| {
        action.dispatch(id.clone());
    }
}

/// The endpoint id a test was sent to (the action's last input).
fn id_for<O: 'static>(action: &Action<String, O>) -> String {
    action.input().get_untracked().unwrap_or_default()
}

/// An endpoint's recent deliveries.
#[component]
fn DeliveryTable(items: Vec<Delivery>) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="empty deliveries">"No deliveries yet."</p> }.into_any();
    }
    view! {
        <table class="deliveries">
            <thead>
                <tr>
                    <th>"Event"</th><th>"Status"</th><th>"Attempts"</th><th>"Answer"</th>
                    <th>"Took"</th><th>"Next attempt"</th>
                </tr>
            </thead>
            <tbody>
                {items.into_iter().map(|d| {
                    let status = match d.status {
                        DeliveryStatus::Pending => "pending",
                        DeliveryStatus::Delivered => "delivered",
                        DeliveryStatus::Failed => "failed",
                        DeliveryStatus::Gone => "gone",
                    };
                    let answer = match (d.response_code, d.error) {
                        (Some(code), _) => code.to_string(),
                        (None, Some(error)) => error,
                        (None, None) => "—".to_owned(),
                    };
                    view! {
                        <tr class="delivery" data-status=status>
                            <td>{d.event_type.as_str()}</td>
                            <td>{status}</td>
                            <td>{d.attempts}</td>
                            <td class="answer">{answer}</td>
                            <td>{d.duration_ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))}</td>
                            <td>{d.next_attempt_at.map_or_else(|| "—".to_owned(), when)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
