//! The bot's side of Tandem: the handlers' [`Ctx`], chats as Tandem entities, their pairings,
//! and the API's refusals put into words.

use std::sync::Arc;

use sdk::{EndUser, EntityId, ErrorCode, TokenRecord};
use teloxide::types::ChatId;

use crate::WordFilter;
use crate::telegram::{ThrottledBot, say};

/// What every handler needs besides the bot.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) api: sdk::Client,
    pub(crate) filter: Arc<WordFilter>,
}

impl Ctx {
    /// Handlers' shared context: the Tandem API client and the word filter.
    pub fn new(api: sdk::Client, filter: WordFilter) -> Self {
        Self {
            api,
            filter: Arc::new(filter),
        }
    }
}

/// The entity a chat is in Tandem.
pub(crate) fn entity_of(chat: ChatId) -> EntityId {
    EntityId::parse(format!("tg:{}", chat.0)).expect("a chat id makes a valid entity")
}

/// The end user a chat is, for the API's limits on failed short-code guesses: each chat
/// gets its own, instead of all sharing the bot's address.
pub(crate) fn end_user_of(chat: ChatId) -> EndUser {
    EndUser::parse(format!("tg:{}", chat.0)).expect("a chat id makes a valid end user")
}

/// The chat an entity stands for, if it is one of ours.
fn chat_of(entity: &EntityId) -> Option<ChatId> {
    entity
        .as_str()
        .strip_prefix("tg:")?
        .parse()
        .ok()
        .map(ChatId)
}

/// The other side of `record`, seen from `me`.
pub(crate) fn partner_in(record: &TokenRecord, me: &EntityId) -> Option<ChatId> {
    let other = if &record.entity_a == me {
        record.entity_b.as_ref()?
    } else {
        &record.entity_a
    };
    chat_of(other)
}

/// The live pairing among `records` that `me` is part of, and the partner's chat.
pub(crate) fn pairing_in<'a>(
    records: &'a [TokenRecord],
    me: &EntityId,
) -> Option<(&'a TokenRecord, ChatId)> {
    records
        .iter()
        .filter(|r| r.entity_b.is_some())
        .find_map(|r| partner_in(r, me).map(|partner| (r, partner)))
}

/// What a paired chat is told when it asks for another pairing.
pub(crate) const ALREADY_PAIRED: &str = "You're already paired, and a chat has one partner at a \
    time, so nothing goes to the wrong person. /deleteToken ends the pairing; then \
    /generateToken or /pair starts a new one.";

/// Deletes the chat's tokens that still wait for a partner (once it is paired, nobody else
/// may pair with it). Failures are logged: the pairing stands either way.
pub(crate) async fn drop_pending(ctx: &Ctx, chat: ChatId) {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a chat's tokens");
            return;
        }
    };
    for record in records.iter().filter(|r| r.entity_b.is_none()) {
        match ctx.api.delete_token(&record.token).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!(error = %e, "could not delete a waiting token"),
        }
    }
}

/// The live records this chat is part of (as either side), newest first.
pub(crate) async fn records_of(ctx: &Ctx, chat: ChatId) -> Result<Vec<TokenRecord>, sdk::Error> {
    let entity = entity_of(chat);
    let mut records = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx
            .api
            .list_tokens(&entity, Some(sdk::PageLimit::MAX), cursor.as_ref())
            .await?;
        records.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(records),
        }
    }
}

/// Tells the chat, in words, why the API said no.
pub(crate) async fn api_trouble(
    bot: &ThrottledBot,
    chat: ChatId,
    error: sdk::Error,
) -> anyhow::Result<()> {
    let text = match error.code() {
        Some(ErrorCode::NotFound) => {
            "I don't know that token or code: it may have expired, been deleted or mistyped. \
             Ask for a fresh one."
        }
        Some(ErrorCode::AlreadyPaired) => {
            "That token has already been used by someone else. Ask for a fresh one."
        }
        Some(ErrorCode::SameEntity) => {
            "That's your own token: send it to the person you want to talk to."
        }
        Some(ErrorCode::RateLimited) => {
            "Too many wrong tries for now. Please check the token or code and try again later."
        }
        _ => {
            tracing::error!(error = %error, "Tandem API call failed");
            "Something went wrong on my side. Please try again in a moment."
        }
    };
    say(bot, chat, text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chats_and_entities_round_trip() {
        let chat = ChatId(-100_123);
        assert_eq!(entity_of(chat).as_str(), "tg:-100123");
        assert_eq!(chat_of(&entity_of(chat)), Some(chat));
        assert_eq!(chat_of(&EntityId::parse("web:1").unwrap()), None);
    }
}
