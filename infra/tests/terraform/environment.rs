//! Each Lambda's environment against the settings of the binary it runs.

use std::collections::{BTreeMap, BTreeSet};

use ::hcl::{Block, Expression, ObjectKey};
use clap::CommandFactory;

use super::hcl::*;
use super::table::TABLE;

/// The env var names of a clap command's settings, and which of them it requires.
fn settings(command: &clap::Command) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut required = BTreeSet::new();
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            let env = env.to_string_lossy().into_owned();
            if arg.is_required_set() {
                required.insert(env.clone());
            }
            names.insert(env);
        }
    }
    (names, required)
}

/// The `environment { variables = { ... } }` of a Lambda function, by name.
fn environment(function: &Block) -> BTreeMap<String, Expression> {
    let variables = nested(function.body(), "environment")
        .and_then(|env| attribute(env, "variables"))
        .unwrap_or_else(|| {
            panic!(
                "the function {} has no environment",
                function.labels()[1].as_str()
            )
        });
    let Expression::Object(object) = variables else {
        panic!("environment.variables is {variables}, where an object was expected");
    };
    object
        .iter()
        .map(|(key, value)| {
            let name = match key {
                ObjectKey::Identifier(ident) => ident.to_string(),
                ObjectKey::Expression(Expression::String(s)) => s.clone(),
                other => panic!("computed env var name {other}"),
            };
            (name, value.clone())
        })
        .collect()
}

/// Each env var of `declared` that is not a setting of the binary, and each required setting
/// that `declared` leaves out, as sentences.
fn environment_differences(
    binary: &str,
    declared: &BTreeMap<String, Expression>,
    command: &clap::Command,
) -> Vec<String> {
    let (names, required) = settings(command);
    let unknown = declared
        .keys()
        .filter(|name| !names.contains(*name))
        .map(|name| format!("{name} is not a setting of {binary} (its settings: {names:?})"));
    let missing = required
        .iter()
        .filter(|name| !declared.contains_key(*name))
        .map(|name| format!("{name} is required by {binary} but not set"));
    unknown.chain(missing).collect()
}

#[test]
fn the_api_function_sets_only_settings_of_tandem_api_and_the_ones_it_needs() {
    // Arrange
    let terraform = infra();
    let function = block(&terraform, "resource", "aws_lambda_function", "api");

    // Act
    let env = environment(function);
    let differences = environment_differences("tandem-api", &env, &api::config::Config::command());

    // Assert
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        env.get("TANDEM_STORE").map(ToString::to_string),
        Some(format!(
            "\"dynamodb://${{aws_dynamodb_table.{TABLE}.name}}\""
        )),
        "TANDEM_STORE must name the table Terraform creates"
    );
    // Under Lambda tandem-api refuses to start without keys.
    for name in ["TANDEM_API_KEYS", "RUST_LOG"] {
        assert!(env.contains_key(name), "the API function must set {name}");
    }
    // The dashboard it ships is found by the default, ./web/dist inside LAMBDA_TASK_ROOT.
    assert!(
        !env.contains_key("TANDEM_DASHBOARD_DIR"),
        "the API function must leave TANDEM_DASHBOARD_DIR to its default, inside the unpacked zip"
    );
}

#[test]
fn the_bot_function_runs_tandem_bot_in_webhook_mode_with_its_secrets() {
    // Arrange
    let terraform = infra();
    let function = block(&terraform, "resource", "aws_lambda_function", "bot");
    let command = bot::config::Config::command();

    // Act
    let env = environment(function);
    let differences = environment_differences("tandem-bot", &env, &command);

    // Assert
    assert!(differences.is_empty(), "{differences:#?}");
    let mode = env.get("TANDEM_BOT_MODE").map(ToString::to_string);
    assert_eq!(
        mode.as_deref(),
        Some("\"webhook\""),
        "the bot must run in webhook mode"
    );
    let modes: Vec<String> = command
        .get_arguments()
        .find(|arg| arg.get_env().is_some_and(|env| env == "TANDEM_BOT_MODE"))
        .expect("tandem-bot has a TANDEM_BOT_MODE setting")
        .get_possible_values()
        .iter()
        .map(|value| value.get_name().to_owned())
        .collect();
    assert!(
        modes.contains(&"webhook".to_owned()),
        "tandem-bot's modes are {modes:?}"
    );
    for name in [
        "TELOXIDE_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TANDEM_API_URL",
        "TANDEM_API_KEY",
    ] {
        assert!(env.contains_key(name), "the bot function must set {name}");
    }
    // The secrets are named, `ssm:NAME`, for tandem-bot to read: never their values.
    for name in [
        "TELOXIDE_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TANDEM_API_KEY",
    ] {
        let value = env[name].to_string();
        assert!(
            value.starts_with(&format!("\"{}", bot::secrets::SSM_PREFIX)),
            "{name} must be an `ssm:` reference to its parameter, not {value}"
        );
    }
}

#[test]
fn an_environment_with_a_misspelt_name_or_without_a_required_setting_is_told_apart() {
    // Arrange: the bot's environment with TELOXIDE_TOKEN misspelt.
    let body = parse(
        r#"
        resource "aws_lambda_function" "bot" {
          environment {
            variables = {
              TELOXIDE_TOKENS = "x"
              TANDEM_BOT_MODE = "webhook"
            }
          }
        }
        "#,
        "a misspelt environment",
    );
    let function = block(&body, "resource", "aws_lambda_function", "bot");

    // Act
    let differences = environment_differences(
        "tandem-bot",
        &environment(function),
        &bot::config::Config::command(),
    );

    // Assert
    assert_eq!(
        differences,
        [
            format!(
                "TELOXIDE_TOKENS is not a setting of tandem-bot (its settings: {:?})",
                settings(&bot::config::Config::command()).0
            ),
            "TELOXIDE_TOKEN is required by tandem-bot but not set".to_owned(),
        ]
    );
}

#[test]
fn the_webhooks_function_runs_tandem_api_as_the_delivery_function_on_the_table_and_queue() {
    let terraform = infra();
    let function = block(&terraform, "resource", "aws_lambda_function", "webhooks");

    let env = environment(function);
    let differences = environment_differences("tandem-api", &env, &api::config::Config::command());

    assert!(differences.is_empty(), "{differences:#?}");
    let value = |name: &str| env.get(name).map(ToString::to_string);
    assert_eq!(value("TANDEM_FUNCTION").as_deref(), Some("\"webhooks\""));
    assert_eq!(
        value("TANDEM_STORE"),
        Some(format!(
            "\"dynamodb://${{aws_dynamodb_table.{TABLE}.name}}\""
        ))
    );
    assert_eq!(
        value("TANDEM_WEBHOOK_QUEUE_URL").as_deref(),
        Some("aws_sqs_queue.webhook_retries.url"),
        "the function retries through the queue its mapping reads"
    );
    let retries = block(
        &terraform,
        "resource",
        "aws_lambda_event_source_mapping",
        "webhook_retries",
    );
    assert_eq!(
        attribute(retries.body(), "event_source_arn")
            .map(ToString::to_string)
            .as_deref(),
        Some("aws_sqs_queue.webhook_retries.arn")
    );
    let stream = block(
        &terraform,
        "resource",
        "aws_lambda_event_source_mapping",
        "webhook_stream",
    );
    assert_eq!(
        attribute(stream.body(), "event_source_arn").map(ToString::to_string),
        Some(format!("aws_dynamodb_table.{TABLE}.stream_arn"))
    );
}
