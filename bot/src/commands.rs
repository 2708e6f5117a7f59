//! The bot's commands: the [`Command`] menu and help, and what `/generateToken`, `/pair`,
//! `/rememberToken` and `/deleteToken` do.

use sdk::{CreateToken, ShortCode, Token};
use teloxide::prelude::*;
use teloxide::types::Me;
use teloxide::utils::command::BotCommands;

use crate::tandem::{
    ALREADY_PAIRED, Ctx, api_trouble, drop_pending, end_user_of, entity_of, pairing_in, partner_in,
    records_of,
};
use crate::telegram::{ThrottledBot, say};

/// The bot's commands. The seed's camelCase names work as typed; the menu lists the
/// lowercase forms, which Telegram's `setMyCommands` requires.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(
    rename_rule = "lowercase",
    description = "Tandem pairs this chat with another one. Once paired, everything you send \
                   here reaches your partner through me, and neither of you learns who the \
                   other is.\n\nCommands:"
)]
pub enum Command {
    /// Show this help; `/start TOKEN` (what a shared link sends) pairs this chat.
    Start(String),
    /// Make a token and a short code to share with the person you want to talk to.
    #[command(aliases = ["generateToken"], hide_aliases)]
    GenerateToken,
    /// Pair with the chat that made a token or code: /pair TOKEN or /pair CODE.
    Pair(String),
    /// Show this chat's tokens and whether they are paired.
    #[command(aliases = ["rememberToken"], hide_aliases)]
    RememberToken,
    /// Delete this chat's tokens and end its pairing.
    #[command(aliases = ["deleteToken"], hide_aliases)]
    DeleteToken,
}

pub(crate) async fn on_command(
    bot: ThrottledBot,
    msg: Message,
    cmd: Command,
    me: Me,
    ctx: Ctx,
) -> anyhow::Result<()> {
    let chat = msg.chat.id;
    match cmd {
        Command::Start(arg) if arg.trim().is_empty() => say(&bot, chat, &help()).await?,
        Command::Start(arg) | Command::Pair(arg) => pair(&bot, chat, arg.trim(), &ctx).await?,
        Command::GenerateToken => generate(&bot, chat, &me, &ctx).await?,
        Command::RememberToken => remember(&bot, chat, &ctx).await?,
        Command::DeleteToken => delete(&bot, chat, &ctx).await?,
    }
    Ok(())
}

/// The help text: what the bot does and its commands.
fn help() -> String {
    Command::descriptions().to_string()
}

/// Whether the chat is paired already (and has been told so); `Err` when the API could not
/// say, which the chat has been told too.
async fn refused_while_paired(bot: &ThrottledBot, chat: ChatId, ctx: &Ctx) -> anyhow::Result<bool> {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => {
            api_trouble(bot, chat, e).await?;
            return Ok(true);
        }
    };
    if pairing_in(&records, &entity_of(chat)).is_none() {
        return Ok(false);
    }
    say(bot, chat, ALREADY_PAIRED).await?;
    Ok(true)
}

async fn generate(bot: &ThrottledBot, chat: ChatId, me: &Me, ctx: &Ctx) -> anyhow::Result<()> {
    if refused_while_paired(bot, chat, ctx).await? {
        return Ok(());
    }
    let request = CreateToken::new(&entity_of(chat)).with_code();
    let record = match ctx.api.create_token(&request).await {
        Ok(record) => record,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    let code = record
        .code
        .as_ref()
        .map(|c| format!("\nShort code: {c}"))
        .unwrap_or_default();
    let text = format!(
        "Your token: {token}{code}\n\nSend this link to the person you want to talk to; one tap \
         pairs you:\nhttps://t.me/{username}?start={token}\n\nOr they can send me /pair {token}. \
         It works for 24 hours, once.",
        token = record.token,
        username = me.username(),
    );
    say(bot, chat, &text).await?;
    Ok(())
}

async fn pair(bot: &ThrottledBot, chat: ChatId, arg: &str, ctx: &Ctx) -> anyhow::Result<()> {
    if arg.is_empty() {
        say(
            bot,
            chat,
            "Send /pair followed by the token or code you were given.",
        )
        .await?;
        return Ok(());
    }
    if refused_while_paired(bot, chat, ctx).await? {
        return Ok(());
    }
    let me = entity_of(chat);
    let result = if let Ok(code) = ShortCode::parse(arg) {
        // Failed codes count against this chat (see the README's guess limits).
        let api = ctx.api.for_end_user(end_user_of(chat));
        api.pair_by_code(&code, &me).await
    } else if let Ok(token) = Token::parse(arg) {
        ctx.api.pair(&token, &me).await
    } else {
        let text = "That doesn't look like a token or a code. A token is a long string of \
                    letters and digits; a code looks like ABCD-EFGH.";
        say(bot, chat, text).await?;
        return Ok(());
    };
    let record = match result {
        Ok(record) => record,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    let partner = partner_in(&record, &me);
    if let Some(partner) = partner
        && !only_pairing_of(ctx, partner, &record).await
    {
        // The token's creator paired with someone else meanwhile: undo this one.
        if let Err(e) = ctx.api.delete_token(&record.token).await {
            tracing::warn!(error = %e, "could not undo a second pairing");
        }
        let text = "The person who made that token has just paired with someone else. \
                    Ask them for a new one once they are free.";
        say(bot, chat, text).await?;
        return Ok(());
    }
    // Both chats now have their one partner: nobody else may pair with them.
    drop_pending(ctx, chat).await;
    if let Some(partner) = partner {
        drop_pending(ctx, partner).await;
    }
    say(
        bot,
        chat,
        "You're paired! Everything you send here now reaches your partner, anonymously. \
         /deleteToken ends it.",
    )
    .await?;
    if let Some(partner) = partner {
        let text = "Someone used your token: you're paired! Everything you send here now \
                    reaches them, anonymously. /deleteToken ends it.";
        if let Err(e) = say(bot, partner, text).await {
            tracing::warn!(error = %e, "could not tell the token's creator");
        }
    }
    Ok(())
}

/// Whether `record` is the only live pairing of `chat` (a chat that the API cannot answer
/// for counts as having no other).
async fn only_pairing_of(ctx: &Ctx, chat: ChatId, record: &sdk::TokenRecord) -> bool {
    match records_of(ctx, chat).await {
        Ok(records) => !records
            .iter()
            .any(|r| r.entity_b.is_some() && r.token != record.token),
        Err(e) => {
            tracing::warn!(error = %e, "could not read a chat's tokens");
            true
        }
    }
}

async fn remember(bot: &ThrottledBot, chat: ChatId, ctx: &Ctx) -> anyhow::Result<()> {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    if records.is_empty() {
        say(
            bot,
            chat,
            "This chat has no token. /generateToken makes one.",
        )
        .await?;
        return Ok(());
    }
    let lines: Vec<String> = records
        .iter()
        .map(|r| {
            let code = r
                .code
                .as_ref()
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            let state = match (&r.entity_b, partner_in(r, &entity_of(chat))) {
                (Some(_), Some(_)) => {
                    "pairs this chat with your partner's chat, whose identity stays hidden"
                }
                _ => "waiting for your partner",
            };
            format!("• {}{code}: {state}", r.token)
        })
        .collect();
    say(bot, chat, &lines.join("\n")).await?;
    Ok(())
}

async fn delete(bot: &ThrottledBot, chat: ChatId, ctx: &Ctx) -> anyhow::Result<()> {
    let records = match records_of(ctx, chat).await {
        Ok(records) => records,
        Err(e) => return api_trouble(bot, chat, e).await,
    };
    if records.is_empty() {
        say(bot, chat, "This chat has no token to delete.").await?;
        return Ok(());
    }
    let me = entity_of(chat);
    for record in &records {
        match ctx.api.delete_token(&record.token).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return api_trouble(bot, chat, e).await,
        }
        if let (Some(_), Some(partner)) = (&record.entity_b, partner_in(record, &me)) {
            let text = "Your partner ended the pairing. /generateToken makes a new token.";
            if let Err(e) = say(bot, partner, text).await {
                tracing::warn!(error = %e, "could not tell the partner");
            }
        }
    }
    say(bot, chat, "Deleted. The pairing has ended.").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_names_lowercase_names_and_deep_links_parse() {
        let parse = |s: &str| Command::parse(s, "tandem_bot");
        assert_eq!(parse("/generateToken").unwrap(), Command::GenerateToken);
        assert_eq!(parse("/generatetoken").unwrap(), Command::GenerateToken);
        assert_eq!(parse("/rememberToken").unwrap(), Command::RememberToken);
        assert_eq!(
            parse("/deletetoken@tandem_bot").unwrap(),
            Command::DeleteToken
        );
        assert_eq!(
            parse("/pair ABCD-EFGH").unwrap(),
            Command::Pair("ABCD-EFGH".into())
        );
        assert_eq!(
            parse("/start abc123").unwrap(),
            Command::Start("abc123".into())
        );
        assert_eq!(parse("/start").unwrap(), Command::Start(String::new()));
        assert!(parse("/generateToken@other_bot").is_err());
    }

    #[test]
    fn the_menu_lists_lowercase_names_only() {
        let names: Vec<String> = Command::bot_commands()
            .into_iter()
            .map(|c| c.command)
            .collect();
        assert_eq!(
            names,
            [
                "/start",
                "/generatetoken",
                "/pair",
                "/remembertoken",
                "/deletetoken"
            ]
        );
        let help = help();
        assert!(help.contains("/generatetoken"), "{help}");
        assert!(help.contains("who the other is"), "{help}");
    }
}
