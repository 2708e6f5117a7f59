//! The Pair page: entity B presents a token or a short code and is paired with its creator.

use leptos::prelude::*;
use sdk::{EntityId, ShortCode, Token};

use super::{FormProblem, RecordResult, SubmitButton, on_submit};
use crate::Shell;
use crate::api::Problem;

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
    let submit = on_submit(
        invalid,
        move || {
            let presented = Presented::parse(&presented.get())?;
            Ok((presented, EntityId::parse(entity.get().trim())?))
        },
        move |request| {
            pair.dispatch(request);
        },
    );
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
            <SubmitButton id="pair-submit" label="Pair" pending=pair.pending()/>
        </form>
        <FormProblem problem=invalid/>
        <RecordResult id="pair-result" answer=pair.value() success="Paired."/>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
