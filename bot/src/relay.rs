//! The relay: a paired chat's messages go on to its partner, anonymously and through the
//! word filter.

use teloxide::RequestError;
use teloxide::prelude::*;

use crate::WordFilter;
use crate::tandem::{Ctx, api_trouble, entity_of, pairing_in, records_of};
use crate::telegram::{ThrottledBot, is_gone, say};

/// Relays a message to the chat's partner, or says how to get one.
pub(crate) async fn on_message(bot: ThrottledBot, msg: Message, ctx: Ctx) -> anyhow::Result<()> {
    let chat = msg.chat.id;
    let me = entity_of(chat);
    let records = match records_of(&ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(&bot, chat, e).await,
    };
    let Some((record, partner)) = pairing_in(&records, &me) else {
        let text = "You're not paired yet, so this goes nowhere. /generateToken makes a token \
                    to share; /pair TOKEN uses one you were given.";
        say(&bot, chat, text).await?;
        return Ok(());
    };
    match relay(&bot, &msg, partner, &ctx.filter).await {
        Ok(()) => Ok(()),
        Err(e) if is_gone(&e) => {
            match ctx.api.delete_token(&record.token).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::error!(error = %e, "could not end a pairing with a gone chat"),
            }
            let text = "Your partner has left (they blocked me), so the pairing has ended. \
                        /generateToken makes a new token.";
            say(&bot, chat, text).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sends `msg` on to `partner`: a copy, so the sender stays anonymous; text with filtered
/// words is sent as new text, a caption with filtered words replaced on the copy.
async fn relay(
    bot: &ThrottledBot,
    msg: &Message,
    partner: ChatId,
    filter: &WordFilter,
) -> Result<(), RequestError> {
    if let Some(text) = msg.text().and_then(|t| filter.mask(t)) {
        return say(bot, partner, &text).await;
    }
    let mut copy = bot.copy_message(partner, msg.chat.id, msg.id);
    if let Some(caption) = msg.caption().and_then(|c| filter.mask(c)) {
        copy = copy.caption(caption);
    }
    copy.await.map(drop)
}
