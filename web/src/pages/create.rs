//! The Create page: a token for entity A, made from the form and shown live.

use leptos::prelude::*;
use sdk::{CreateToken, EntityId, Label, Ttl};

use super::{FormProblem, RecordResult, SubmitButton, on_submit};
use crate::Shell;
use crate::api::Problem;

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
    let submit = on_submit(
        invalid,
        move || create_request(&entity.get(), &label.get(), &ttl.get(), with_code.get()),
        move |request| {
            create.dispatch(request);
        },
    );
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
            <SubmitButton id="create-submit" label="Create token" pending=create.pending()/>
        </form>
        <FormProblem problem=invalid/>
        <RecordResult id="create-result" answer=create.value()/>
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
}
