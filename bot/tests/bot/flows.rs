//! What users do with the bot, end to end.

use std::time::Duration;

use test_support::ApiServer;

use crate::{PATIENCE, Webhook, World, start_bot};
use test_support::telegram::Telegram;

const ALICE: i64 = 1001;
const BOB: i64 = 2002;
const CAROL: i64 = 3003;

#[tokio::test]
async fn start_explains_and_the_menu_is_registered_in_lowercase() {
    let world = World::start(&[]).await;

    let help = world.ask(ALICE, "/start", "Commands").await;

    let text = help.text.unwrap();
    for command in ["/generatetoken", "/pair", "/remembertoken", "/deletetoken"] {
        assert!(
            text.contains(command),
            "{command} missing from help: {text}"
        );
    }
    let names: Vec<String> = world
        .telegram
        .commands()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(
        names,
        [
            "start",
            "generatetoken",
            "pair",
            "remembertoken",
            "deletetoken"
        ]
    );
}

#[tokio::test]
async fn generate_token_replies_with_token_code_and_deep_link() {
    let world = World::start(&[]).await;

    let reply = world.ask(ALICE, "/generateToken", "Your token:").await;

    let text = reply.text.unwrap();
    let (token, code) = world.generate(ALICE).await;
    assert_eq!(token.len(), 44, "the creation time and a UUIDv4: {text}");
    assert_eq!(code.len(), 9, "{text}");
    assert!(
        text.contains("https://t.me/tandem_test_bot?start="),
        "{text}"
    );
    assert!(text.contains("/pair"), "{text}");
}

#[tokio::test]
async fn two_chats_pair_by_command_and_talk_both_ways_anonymously() {
    let world = World::start(&[]).await;
    world.pair(ALICE, BOB).await;

    let sent = world.telegram.send_text(ALICE, "hello from a");
    let got = world
        .telegram
        .wait_for_text(BOB, "hello from a", PATIENCE)
        .await;
    assert_eq!(
        got.method, "copyMessage",
        "relayed as a copy, so the sender stays hidden"
    );
    assert_eq!(got.copied_from, Some((ALICE, sent)));

    world.telegram.send_text(BOB, "hi back");
    world
        .telegram
        .wait_for_text(ALICE, "hi back", PATIENCE)
        .await;

    let photo = world.telegram.send_photo(BOB, "photo-file-1", Some("look"));
    let got = world
        .telegram
        .wait_for(
            ALICE,
            |r| r.photo_file_id.as_deref() == Some("photo-file-1"),
            PATIENCE,
        )
        .await;
    assert_eq!(got.caption.as_deref(), Some("look"));
    assert_eq!(got.copied_from, Some((BOB, photo)));
}

#[tokio::test]
async fn a_deep_link_pairs_in_one_tap_and_a_short_code_works_too() {
    let world = World::start(&[]).await;
    let (token, _) = world.generate(ALICE).await;

    world
        .ask(BOB, &format!("/start {token}"), "You're paired")
        .await;
    world
        .telegram
        .wait_for_text(ALICE, "Someone used your token", PATIENCE)
        .await;

    let (_, code) = world.generate(CAROL).await;
    world
        .ask(
            ALICE + 1,
            &format!("/pair {}", code.to_lowercase()),
            "You're paired",
        )
        .await;
    world
        .telegram
        .wait_for_text(CAROL, "Someone used your token", PATIENCE)
        .await;
}

#[tokio::test]
async fn the_word_filter_masks_text_and_captions() {
    let world = World::start(&[("TANDEM_BOT_FILTER_WORDS", "darn,heck")]).await;
    world.pair(ALICE, BOB).await;

    world.telegram.send_text(ALICE, "Darn, what the heck");
    let got = world
        .telegram
        .wait_for_text(BOB, "what the", PATIENCE)
        .await;
    assert_eq!(got.text.as_deref(), Some("****, what the ****"));

    world
        .telegram
        .send_photo(ALICE, "photo-2", Some("heck yes"));
    let got = world
        .telegram
        .wait_for(
            BOB,
            |r| r.photo_file_id.as_deref() == Some("photo-2"),
            PATIENCE,
        )
        .await;
    assert_eq!(got.caption.as_deref(), Some("**** yes"));

    world.telegram.send_text(ALICE, "clean words");
    let got = world
        .telegram
        .wait_for_text(BOB, "clean words", PATIENCE)
        .await;
    assert_eq!(got.method, "copyMessage");
}

#[tokio::test]
async fn remember_token_shows_the_token_and_its_state() {
    let world = World::start(&[]).await;
    world.ask(ALICE, "/rememberToken", "no token").await;
    let (token, _) = world.generate(ALICE).await;

    let pending = world
        .ask(ALICE, "/remembertoken", "waiting for your partner")
        .await;
    assert!(pending.text.unwrap().contains(&token));

    world
        .ask(BOB, &format!("/pair {token}"), "You're paired")
        .await;
    let paired = world.ask(BOB, "/rememberToken", "pairs this chat").await;
    let text = paired.text.unwrap();
    assert!(text.contains(&token), "{text}");
    assert!(
        !text.contains(&ALICE.to_string()),
        "the partner stays anonymous: {text}"
    );
}

#[tokio::test]
async fn delete_token_unpairs_both_chats() {
    let world = World::start(&[]).await;
    world.pair(ALICE, BOB).await;

    world.ask(ALICE, "/deleteToken", "pairing has ended").await;
    world
        .telegram
        .wait_for_text(BOB, "partner ended the pairing", PATIENCE)
        .await;

    world.ask(BOB, "still there?", "not paired").await;
    world.ask(ALICE, "/rememberToken", "no token").await;
}

#[tokio::test]
async fn a_partner_who_blocked_the_bot_ends_the_pairing() {
    let world = World::start(&[]).await;
    world.pair(ALICE, BOB).await;
    world.telegram.block(BOB);

    world.ask(ALICE, "anyone?", "pairing has ended").await;

    world.ask(ALICE, "hello?", "not paired").await;
}

#[tokio::test]
async fn telegrams_retry_after_is_waited_out() {
    let world = World::start(&[]).await;
    world.pair(ALICE, BOB).await;
    world.telegram.rate_limit_once(BOB, 1);

    world.telegram.send_text(ALICE, "after the pause");
    world
        .telegram
        .wait_for_text(BOB, "after the pause", PATIENCE)
        .await;

    let waited = world
        .telegram
        .retried_after(BOB)
        .expect("a retry after the 429");
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn bad_used_and_own_tokens_get_a_friendly_reply() {
    let world = World::start(&[]).await;

    world.ask(ALICE, "/pair", "followed by the token").await;
    world
        .ask(ALICE, "/pair not a token!", "doesn't look like")
        .await;
    world
        .ask(
            ALICE,
            "/pair 0123456789abcdef0123456789abcdef",
            "don't know that",
        )
        .await;
    world.ask(ALICE, "/pair BCDF-GHJK", "don't know that").await;

    let (token, _) = world.generate(ALICE).await;
    world
        .ask(ALICE, &format!("/pair {token}"), "your own token")
        .await;
    world
        .ask(BOB, &format!("/pair {token}"), "You're paired")
        .await;
    world
        .ask(CAROL, &format!("/start {token}"), "already been used")
        .await;

    world.ask(CAROL, "talking to nobody", "not paired").await;
    assert!(
        world.telegram.unknown_methods().is_empty(),
        "{:?}",
        world.telegram.unknown_methods()
    );
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_handles_updates() {
    let telegram = Telegram::start().await;
    let api = ApiServer::on_fresh_sqlite().await;
    let webhook = Webhook::on_free_port();
    let _bot = start_bot(
        &telegram,
        &api,
        &[
            ("TANDEM_BOT_MODE", "webhook"),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret-token_value"),
            ("TANDEM_BOT_LISTEN", &webhook.listen),
        ],
    );
    let update = test_support::telegram::command_update(ALICE, "/start");
    let wrong = webhook.post(Some("wrong"), &update).await;
    assert_eq!(wrong.status(), 401);
    let missing = webhook.post(None, &update).await;
    assert_eq!(missing.status(), 401);
    assert!(
        telegram.received(ALICE).is_empty(),
        "nothing handled without the secret"
    );

    let right = webhook.post(Some("s3cret-token_value"), &update).await;

    assert_eq!(right.status(), 200);
    telegram.wait_for_text(ALICE, "Commands", PATIENCE).await;
}

#[tokio::test]
async fn delete_token_deletes_every_record_of_the_chat_past_the_first_page() {
    let world = World::start(&[]).await;
    let api = sdk::Client::new(&world.api.url);
    let alice = sdk::EntityId::parse(format!("tg:{ALICE}")).unwrap();
    // More than one page of the listing (100).
    for _ in 0..105 {
        api.create_token(&sdk::CreateToken::new(&alice))
            .await
            .unwrap();
    }

    world.ask(ALICE, "/deleteToken", "Deleted.").await;

    let left = api.list_tokens(&alice, None, None).await.unwrap();
    assert!(left.items.is_empty(), "{} records left", left.items.len());
}

#[tokio::test]
async fn webhook_mode_refuses_to_start_with_an_empty_secret() {
    let telegram = Telegram::start().await;
    let api = ApiServer::on_fresh_sqlite().await;
    let mut bot = start_bot(
        &telegram,
        &api,
        &[
            ("TANDEM_BOT_MODE", "webhook"),
            ("TELEGRAM_WEBHOOK_SECRET", " "),
            (
                "TANDEM_BOT_LISTEN",
                &format!("127.0.0.1:{}", test_support::free_port()),
            ),
        ],
    );

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = bot.try_wait() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot started with an empty secret"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert!(!status.success(), "{status}");
}

/// Chat `chat` sends `text` and waits until `n` replies in all contain `needle` (for
/// a reply that the chat has had before).
async fn ask_again(world: &World, chat: i64, text: &str, needle: &str, n: usize) {
    world.telegram.send_text(chat, text);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = world
            .telegram
            .received(chat)
            .iter()
            .filter(|r| r.text.as_deref().is_some_and(|t| t.contains(needle)))
            .count();
        if seen >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{chat} had {seen} replies with {needle:?}, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_paired_chat_has_one_partner_until_it_ends_the_pairing() {
    let world = World::start(&[]).await;
    world.pair(ALICE, BOB).await;
    let (carols, _) = world.generate(CAROL).await;

    world.ask(ALICE, "/generateToken", "already paired").await;
    let refused = world
        .ask(BOB, &format!("/pair {carols}"), "already paired")
        .await;
    assert!(refused.text.unwrap().contains("/deleteToken"));

    // Carol's token is still waiting; Bob, unpaired, may take it.
    world.ask(BOB, "/deleteToken", "Deleted").await;
    world
        .ask(BOB, &format!("/pair {carols}"), "You're paired")
        .await;
}

#[tokio::test]
async fn pairing_withdraws_the_other_waiting_tokens_of_both_chats() {
    let world = World::start(&[]).await;
    let (alices_other, _) = world.generate(ALICE).await;
    let (bobs_other, _) = world.generate(BOB).await;
    ask_again(&world, BOB, "/generateToken", "Your token:", 2).await;
    let bobs_latest = world
        .telegram
        .received(BOB)
        .iter()
        .rev()
        .filter_map(|r| {
            r.text
                .as_deref()?
                .split("Your token: ")
                .nth(1)?
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .next()
        .unwrap();
    assert_ne!(bobs_latest, bobs_other);

    world
        .ask(ALICE, &format!("/pair {bobs_latest}"), "You're paired")
        .await;

    for (n, token) in [alices_other, bobs_other].iter().enumerate() {
        ask_again(
            &world,
            CAROL,
            &format!("/pair {token}"),
            "don't know that",
            n + 1,
        )
        .await;
    }
    world.ask(CAROL, "hello?", "not paired").await;
}

#[tokio::test]
async fn pair_attempts_are_limited_per_chat() {
    let world = World::start(&[]).await;
    let (_, code) = world.generate(ALICE).await;
    let wrong = if code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    };
    for n in 1..=20 {
        ask_again(&world, BOB, &format!("/pair {wrong}"), "don't know that", n).await;
    }

    world
        .ask(BOB, &format!("/pair {code}"), "Too many wrong tries")
        .await;
    // Another chat, behind the same bot and so the same address, is not locked out.
    world
        .ask(CAROL, &format!("/pair {code}"), "You're paired")
        .await;
}

#[tokio::test]
async fn the_word_filter_sees_through_look_alike_spellings() {
    let world = World::start(&[("TANDEM_BOT_FILTER_WORDS", "darn")]).await;
    world.pair(ALICE, BOB).await;

    world
        .telegram
        .send_text(ALICE, "ｄａｒｎ, and da\u{200d}rn again");
    let got = world.telegram.wait_for_text(BOB, "again", PATIENCE).await;
    assert_eq!(got.text.as_deref(), Some("****, and **** again"));

    world
        .telegram
        .send_photo(ALICE, "photo-3", Some("D\u{202e}ARN it"));
    let got = world
        .telegram
        .wait_for(
            BOB,
            |r| r.photo_file_id.as_deref() == Some("photo-3"),
            PATIENCE,
        )
        .await;
    assert_eq!(got.caption.as_deref(), Some("**** it"));
}
