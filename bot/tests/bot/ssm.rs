//! Secrets written `ssm:NAME`, read from SSM Parameter Store when the bot starts: against
//! moto's SSM, which `scripts/with-moto` serves and points the AWS SDK at.

use std::process::Stdio;

use aws_sdk_ssm::types::ParameterType;
use test_support::ApiServer;
use tokio::process::Command;

use crate::{PATIENCE, Webhook, start_bot};
use test_support::telegram::Telegram;

const ALICE: i64 = 1001;

/// A client of the local SSM server that `AWS_ENDPOINT_URL_SSM` names.
async fn local_ssm() -> aws_sdk_ssm::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SSM").expect(
        "AWS_ENDPOINT_URL_SSM must name a local SSM server: run through `just test`, or \
         `scripts/with-moto cargo test -p bot --test bot -- --ignored`",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to a server on 127.0.0.1, not {endpoint}"
    );
    aws_sdk_ssm::Client::new(&aws_config::load_from_env().await)
}

/// A parameter path no other test uses.
fn unique_path() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("/tandem-test-{}-{nanos}", std::process::id())
}

async fn put_secret(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put a parameter into the local SSM");
}

#[tokio::test]
#[ignore = "needs a local SSM server: `just test` runs it under scripts/with-moto"]
async fn secrets_written_as_ssm_names_are_read_from_parameter_store() {
    let ssm = local_ssm().await;
    let path = unique_path();
    put_secret(&ssm, &format!("{path}/telegram-token"), "98765:from-ssm").await;
    put_secret(&ssm, &format!("{path}/webhook-secret"), "from-ssm_secret").await;
    let telegram = Telegram::start().await;
    let api = ApiServer::on_fresh_sqlite().await;
    let webhook = Webhook::on_free_port();
    let token_ref = format!("ssm:{path}/telegram-token");
    let secret_ref = format!("ssm:{path}/webhook-secret");
    let _bot = start_bot(
        &telegram,
        &api,
        &[
            ("TELOXIDE_TOKEN", &token_ref),
            ("TELEGRAM_WEBHOOK_SECRET", &secret_ref),
            ("TANDEM_BOT_MODE", "webhook"),
            ("TANDEM_BOT_LISTEN", &webhook.listen),
        ],
    );
    let update = test_support::telegram::command_update(ALICE, "/start");

    // Another secret is refused…
    let by_reference = webhook.post(Some("not-the-secret"), &update).await;
    assert_eq!(by_reference.status(), 401);

    // …the parameter's value is, and the bot speaks to Telegram with the token from SSM.
    let right = webhook.post(Some("from-ssm_secret"), &update).await;
    assert_eq!(right.status(), 200);
    telegram.wait_for_text(ALICE, "Commands", PATIENCE).await;
    assert_eq!(telegram.tokens(), ["98765:from-ssm"]);
}

#[tokio::test]
#[ignore = "needs a local SSM server: `just test` runs it under scripts/with-moto"]
async fn a_missing_parameter_stops_the_bot_with_its_name() {
    local_ssm().await;
    let missing = format!("{}/telegram-token", unique_path());

    let output = tokio::time::timeout(
        PATIENCE,
        Command::new(env!("CARGO_BIN_EXE_tandem-bot"))
            .env("TELOXIDE_TOKEN", format!("ssm:{missing}"))
            .env("TANDEM_API_URL", "http://127.0.0.1:9")
            .env("TELEGRAM_API_URL", "http://127.0.0.1:9")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the bot gives up at once")
    .expect("run tandem-bot");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&missing), "{stderr}");
}
