//! The deploy rehearsal: `scripts/deploy` and `scripts/destroy`, run as a user runs them, with
//! moto on 127.0.0.1 standing in for AWS (the real AWS provider applies infra/ to it) and the
//! Telegram emulator for Telegram. Then what was deployed is run here and driven: the API's,
//! the bot's and the webhook function's code from the zips the emulator recorded, with the
//! environments it holds.
//!
//! `just test` deploys zips of the native debug build ([`zips`]); `just deploy-rehearsal`
//! (`TANDEM_REHEARSAL_ARCH=arm64`) lets `scripts/deploy` build the arm64 zips with
//! cargo-lambda, and runs their bootstraps under `qemu-aarch64`.

mod function;
mod stage;
mod webhooks;
mod zips;

use std::time::{Duration, Instant};

use sdk::{CreateToken, EntityId};
use serde_json::json;

use crate::function::Deployed;
use crate::stage::{Arch, NAME, REGION, Stage};

/// The chat that talks to the deployed bot.
const CHAT: i64 = 4242;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs terraform, the AWS provider mirror, moto, the AWS CLI and cargo-lambda; `just test` and `just deploy-rehearsal` run it"]
async fn a_deploy_is_rehearsed_end_to_end_on_an_aws_emulator() {
    let started = Instant::now();
    let mut stage = Stage::set_up(Arch::from_env()).await;
    eprintln!(
        "rehearsal: {:?} build, moto at {}, in {}",
        stage.arch,
        stage.moto_url,
        stage.dir.display()
    );

    refusals_before_anything_is_built(&stage).await;
    the_readmes_lambda_build_makes_an_arm64_zip(&stage).await;
    deploy(&mut stage).await;
    a_deploy_to_another_region_is_refused(&stage).await;
    a_second_plan_has_no_changes(&stage).await;
    a_plan_for_function_urls_swaps_only_the_front_door(&stage).await;
    let api = the_api_answers(&stage).await;
    the_bot_checks_its_secret_and_answers(&stage, &api.url).await;
    webhooks::the_webhook_function_delivers_a_pairing(&stage, &api.url).await;
    drop(api);
    the_readmes_load_test_passes(&stage).await;
    destroy_leaves_nothing(&stage).await;

    eprintln!(
        "rehearsal: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// Without credentials, or without any key for the API, `deploy` stops with its hint.
async fn refusals_before_anything_is_built(stage: &Stage) {
    let mut no_credentials = stage.user_env();
    no_credentials.remove("AWS_ACCESS_KEY_ID");
    no_credentials.remove("AWS_SECRET_ACCESS_KEY");
    stage
        .script(
            "no-credentials",
            "deploy",
            &["-auto-approve"],
            &no_credentials,
        )
        .await
        .expect_refusal("the AWS CLI has no working credentials");

    let mut no_keys = stage.user_env();
    no_keys.insert("TANDEM_API_KEYS".into(), String::new());
    no_keys.remove("TELOXIDE_TOKEN");
    stage
        .script("no-keys", "deploy", &["-auto-approve"], &no_keys)
        .await
        .expect_refusal("the API needs at least one key on Lambda");
}

/// The `lambda` profile's optimizer settings (Cargo.toml) as `just test` overrides them, in
/// cargo's own variables: no fat LTO and no size optimization, which take a 2-core machine
/// 281 s for the API against about 150 s without. The recipe, the cross build for arm64 and the
/// zip are the same; `just deploy-rehearsal` builds with the profile as it is, deploys that
/// build and runs it under qemu.
const QUICK_LAMBDA_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_LAMBDA_LTO", "false"),
    ("CARGO_PROFILE_LAMBDA_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_LAMBDA_CODEGEN_UNITS", "256"),
];

/// README.md's `just lambda-build` line, run as it is: the zip it names holds an arm64 Linux
/// `bootstrap` at its root, and the zip's size is printed. The native rehearsal of
/// `just test` builds it with [`QUICK_LAMBDA_PROFILE`], and deploys its native zips instead.
async fn the_readmes_lambda_build_makes_an_arm64_zip(stage: &Stage) {
    let line = test_support::readme::line_after("## Run on DynamoDB / Lambda", "just lambda-build");
    let mut env = stage.user_env();
    if stage.arch == Arch::Native {
        env.extend(QUICK_LAMBDA_PROFILE.map(|(name, value)| (name.to_owned(), value.to_owned())));
    }
    let run = stage.shell("lambda-build", &line, &env).await;
    run.expect_code(0);
    let zip = cargo_lambda_zip("tandem-api");
    let size = std::fs::metadata(&zip).expect("the zip").len().to_string();
    assert!(
        run.stdout
            .lines()
            .any(|line| line.ends_with("bootstrap.zip")
                && line.split_whitespace().any(|field| field == size)),
        "it lists the zip with its size ({size} bytes):\n{}",
        run.stdout
    );
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(&zip).expect("the zip")).expect("a zip archive");
    let mut bootstrap = archive
        .by_name("bootstrap")
        .expect("`bootstrap` at the zip's root");
    let mut header = [0u8; 20];
    std::io::Read::read_exact(&mut bootstrap, &mut header).expect("an ELF header");
    assert_eq!(&header[..4], b"\x7fELF", "bootstrap is an ELF binary");
    const EM_AARCH64: u16 = 183;
    assert_eq!(
        u16::from_le_bytes([header[18], header[19]]),
        EM_AARCH64,
        "bootstrap is built for arm64"
    );
}

/// README.md's deploy block, pasted as it is (with the emulator's bot token for
/// BotFather's, and `scripts/deploy` for `just deploy`): it makes a key, shows Terraform's plan
/// and asks, and on `yes` applies everything and registers the webhook, with its secret, with
/// Telegram. The key it made is kept, as the README says to, for every later step.
async fn deploy(stage: &mut Stage) {
    let kept = stage.dir.join("api-keys-kept");
    let mut env = stage.user_env();
    // The block sets these itself.
    for set_by_the_block in ["AWS_REGION", "TANDEM_API_KEYS", "TELOXIDE_TOKEN"] {
        env.remove(set_by_the_block);
    }
    env.insert("BOT_TOKEN".into(), stage.bot_token.clone());
    env.insert("KEPT".into(), kept.display().to_string());
    let block = format!(
        "{}printf '%s' \"$TANDEM_API_KEYS\" > \"$KEPT\"\n",
        test_support::readme::deploy_block()
    );
    let run = stage.shell_answering("deploy", &block, &env, "yes\n").await;
    run.expect_code(0);
    assert!(
        run.stdout.contains("Do you want to perform these actions?"),
        "the deploy asks before applying:\n{}",
        run.stdout
    );
    assert!(run.stdout.contains("Tandem is deployed"), "{}", run.stdout);

    let keys = std::fs::read_to_string(&kept).expect("the block's keys");
    let (tenant, key) = keys.split_once(':').expect("TANDEM_API_KEYS is tenant:key");
    assert_eq!(tenant, "acme");
    assert!(
        key.len() == 48 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "a key of 24 random bytes in hex, not {} characters",
        key.len()
    );
    assert!(
        !run.stdout.contains(key) && !run.stderr.contains(key),
        "the deploy printed the key"
    );
    stage.api_keys = keys;

    let webhook = stage
        .telegram
        .webhook()
        .expect("the deploy registered the bot's webhook with Telegram");
    assert_eq!(webhook.url, stage.output("bot_webhook_url").await);
    let secret = stage
        .parameter(&format!("/{NAME}/bot/webhook-secret"))
        .await;
    assert!(
        secret.len() >= 32,
        "a webhook secret of {} characters",
        secret.len()
    );
    assert_eq!(webhook.secret_token.as_deref(), Some(secret.as_str()));
    assert_eq!(webhook.max_connections, Some(40));
}

/// The state remembers its region: deploying it to another one stops before any build.
async fn a_deploy_to_another_region_is_refused(stage: &Stage) {
    let mut elsewhere = stage.user_env();
    elsewhere.insert("AWS_REGION".into(), "us-east-1".into());
    stage
        .script("wrong-region", "deploy", &["-auto-approve"], &elsewhere)
        .await
        .expect_refusal(&format!("this state deployed to {REGION}, not us-east-1"));
}

/// Planning again, with what the next deploy would use, finds nothing to change.
async fn a_second_plan_has_no_changes(stage: &Stage) {
    let plan = stage
        .script(
            "plan-again",
            "deploy",
            &["--plan", "-no-color"],
            &stage.user_env(),
        )
        .await;
    plan.expect_code(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
}

/// With `front_door = function_url`, the plan replaces the HTTP API with a function URL on
/// each function and changes nothing else but what names the API's address.
async fn a_plan_for_function_urls_swaps_only_the_front_door(stage: &Stage) {
    let mut env = stage.user_env();
    env.insert("TF_VAR_front_door".to_owned(), "function_url".to_owned());

    let plan = stage
        .script(
            "plan-function-url",
            "deploy",
            &["--plan", "-no-color"],
            &env,
        )
        .await;

    plan.expect_code(2);
    let out = &plan.stdout;
    for created in [
        "aws_lambda_function_url.api[0]",
        "aws_lambda_function_url.bot[0]",
    ] {
        assert!(
            out.contains(&format!("# {created} will be created")),
            "{out}"
        );
    }
    for gone in [
        "aws_apigatewayv2_api.http[0]",
        "aws_apigatewayv2_stage.default[0]",
    ] {
        assert!(
            out.contains(&format!("# {gone} will be destroyed")),
            "{out}"
        );
    }
    assert!(!out.contains("aws_dynamodb_table.tokens will be"), "{out}");
}

/// The zip `deploy` uploaded for `binary`.
pub(crate) fn deployed_zip(stage: &Stage, binary: &str) -> std::path::PathBuf {
    match (&stage.prebuilt, binary) {
        (Some((api, _)), "tandem-api") => api.clone(),
        (Some((_, bot)), "tandem-bot") => bot.clone(),
        _ => cargo_lambda_zip(binary),
    }
}

/// Where cargo-lambda puts the zip of `binary`.
fn cargo_lambda_zip(binary: &str) -> std::path::PathBuf {
    test_support::target_dir().join(format!("lambda/{binary}/bootstrap.zip"))
}

/// Runs the API's function as deployed (its environment, from its zip, with the endpoints
/// of this machine and `extra` added) and waits until its `/healthz` answers `200`; returns
/// it with what moto holds of it.
async fn start_the_api(stage: &Stage, extra: &[(&str, &str)]) -> (function::Running, Deployed) {
    let deployed = Deployed::read(stage, &format!("{NAME}-api")).await;
    let zip = deployed_zip(stage, "tandem-api");
    let mut added = vec![("AWS_ENDPOINT_URL", stage.moto_url.as_str())];
    added.extend_from_slice(extra);
    let mut api = deployed.run(stage, &zip, &added).await;
    let health = format!("{}/healthz", api.url);
    api.wait_until_answering(|http| http.get(&health), 200)
        .await;
    (api, deployed)
}

/// The API's function, run from its zip with its environment, answers the whole API.
async fn the_api_answers(stage: &Stage) -> function::Running {
    // The webhook step's receiver is a plain-http server on this machine.
    let (api, deployed) =
        start_the_api(stage, &[("TANDEM_WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")]).await;
    assert_eq!(deployed.architecture, stage.arch.lambda());
    let client = sdk::Client::new(&api.url).with_api_key(stage.api_key());

    let alice = EntityId::parse("user:alice").unwrap();
    let bob = EntityId::parse("user:bob").unwrap();
    let created = client
        .create_token(&CreateToken::new(&alice))
        .await
        .expect("create a token");
    let read = client.get_token(&created.token).await.expect("read it");
    assert_eq!(read.entity_a, alice);
    let paired = client.pair(&created.token, &bob).await.expect("pair it");
    assert_eq!(paired.entity_b.as_ref(), Some(&bob));
    let listed = client
        .list_tokens(&bob, None, None)
        .await
        .expect("list bob's pairings");
    assert!(listed.items.iter().any(|r| r.token == created.token));
    client
        .delete_token(&created.token)
        .await
        .expect("delete it");
    let gone = client.get_token(&created.token).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");

    let with_code = client
        .create_token(&CreateToken::new(&alice).with_code())
        .await
        .expect("create a token with a short code");
    let code = with_code.code.clone().expect("a short code");
    let by_code = client
        .pair_by_code(&code, &bob)
        .await
        .expect("pair by the short code");
    assert_eq!(by_code.token, with_code.token);

    let anonymous = sdk::Client::new(&api.url)
        .create_token(&CreateToken::new(&alice))
        .await
        .unwrap_err();
    assert!(anonymous.is_unauthorized(), "{anonymous}");

    let dashboard = reqwest::get(format!("{}/", api.url)).await.expect("GET /");
    assert_eq!(dashboard.status(), 200);
    let page = dashboard.text().await.unwrap();
    let shipped = std::fs::read_to_string(
        stage
            .dir
            .join(format!("task-{NAME}-api/web/dist/index.html")),
    )
    .expect("the zip holds the dashboard");
    assert_eq!(page, shipped, "/ serves the dashboard from the zip");
    api
}

/// README.md's load test of the deployment, as it says to run it: a deploy lifts the per-key
/// limit for the run (`TF_VAR_rate_limit_per_key=0`), then its `just loadtest --host` line
/// runs at the API's function with the rehearsal's key, for a few seconds, without a failed
/// request.
async fn the_readmes_load_test_passes(stage: &Stage) {
    let mut env = stage.user_env();
    env.insert("TF_VAR_rate_limit_per_key".into(), "0".into());
    stage
        .script("deploy-unlimited", "deploy", &["-auto-approve"], &env)
        .await
        .expect_code(0);
    let (api, deployed) = start_the_api(stage, &[]).await;
    assert_eq!(deployed.environment["TANDEM_RATE_LIMIT"], "0");

    // `PROFILE=debug`: the build `just test` made stands in for the recipe's release build.
    env.insert("PROFILE".into(), "debug".into());
    env.insert("TANDEM_KEY".into(), stage.api_key().to_owned());
    env.insert("API".into(), api.url.clone());
    // The report goes under the rehearsal's folder.
    let report = stage.dir.join("loadtest-report.html");
    env.insert("REPORT".into(), report.display().to_string());
    let line = test_support::readme::remote_load_test_after("## Deploy to AWS");
    stage.shell("loadtest", &line, &env).await.expect_code(0);
    assert!(report.is_file(), "the load test wrote no report");
}

/// The bot's function, with its environment (secrets named in SSM, read at start), refuses
/// an update without the registered secret and handles one with it, through the API.
async fn the_bot_checks_its_secret_and_answers(stage: &Stage, api_url: &str) {
    let deployed = Deployed::read(stage, &format!("{NAME}-bot")).await;
    for secret in [
        "TELOXIDE_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TANDEM_API_KEY",
    ] {
        let value = &deployed.environment[secret];
        assert!(
            value.starts_with("ssm:/"),
            "{secret} is {value:?}, not an SSM name"
        );
    }
    let zip = deployed_zip(stage, "tandem-bot");
    let telegram = stage.telegram.api_url();
    let mut bot = deployed
        .run(
            stage,
            &zip,
            &[
                ("AWS_ENDPOINT_URL", &stage.moto_url),
                ("TELEGRAM_API_URL", &telegram),
                ("TANDEM_API_URL", api_url),
            ],
        )
        .await;
    let webhook = format!("{}/telegram/webhook", bot.url);
    let update = test_support::telegram::command_update(CHAT, "/generateToken");
    bot.wait_until_answering(|http| http.post(&webhook).json(&update), 401)
        .await;
    let http = reqwest::Client::new();

    let refused = http
        .post(&webhook)
        .header("X-Telegram-Bot-Api-Secret-Token", "not-the-secret")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(stage.telegram.received(CHAT).is_empty());

    let secret = stage.telegram.webhook().unwrap().secret_token.unwrap();
    let accepted = http
        .post(&webhook)
        .header("X-Telegram-Bot-Api-Secret-Token", secret)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200, "{}", bot.log());
    // The reply holds a token the bot made with its own key, at the deployed API.
    stage
        .telegram
        .wait_for_text(CHAT, "Your token: ", Duration::from_secs(30))
        .await;
}

/// `destroy` removes the webhook and everything the deploy made.
async fn destroy_leaves_nothing(stage: &Stage) {
    stage
        .script("destroy", "destroy", &["-auto-approve"], &stage.user_env())
        .await
        .expect_code(0);
    assert_eq!(stage.telegram.webhook(), None, "the webhook is deleted");

    let tables = stage.aws(&["dynamodb", "list-tables"]).await;
    assert_eq!(tables["TableNames"], json!([]));
    let functions = stage.aws(&["lambda", "list-functions"]).await;
    assert_eq!(functions["Functions"], json!([]));
    let apis = stage.aws(&["apigatewayv2", "get-apis"]).await;
    assert_eq!(apis["Items"], json!([]));
    let roles = stage.aws(&["iam", "list-roles"]).await;
    assert_eq!(roles["Roles"], json!([]));
    let logs = stage.aws(&["logs", "describe-log-groups"]).await;
    assert_eq!(logs["logGroups"], json!([]));
    let parameters = stage.aws(&["ssm", "describe-parameters"]).await;
    assert_eq!(parameters["Parameters"], json!([]));
    // A KMS key cannot be deleted at once: the deployment's must be scheduled for deletion.
    let keys = stage.aws(&["kms", "list-keys"]).await;
    let mut ours = 0;
    for key in keys["Keys"].as_array().unwrap() {
        let id = key["KeyId"].as_str().unwrap();
        let described = stage.aws(&["kms", "describe-key", "--key-id", id]).await;
        let metadata = &described["KeyMetadata"];
        if metadata["Description"]
            .as_str()
            .is_some_and(|d| d.starts_with(&format!("Tandem ({NAME})")))
        {
            ours += 1;
            assert_eq!(metadata["KeyState"], "PendingDeletion", "{metadata}");
        }
    }
    assert_eq!(ours, 1, "the deployment made one KMS key");
    let aliases = stage.aws(&["kms", "list-aliases"]).await;
    let alias = format!("alias/{NAME}");
    assert!(
        !aliases["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["AliasName"] == alias.as_str()),
        "{alias} is gone"
    );
}
