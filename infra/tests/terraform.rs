//! Keeps the Terraform in `infra/` in step with the code: the DynamoDB table's schema against
//! the one `tandem-api create-table` creates, each Lambda's environment against its binary's
//! settings, and the API role's DynamoDB actions against those the store declares.
//!
//! Providers cannot be downloaded here, so nothing evaluates the Terraform: these tests read
//! its HCL (with `hcl-rs`) and compare what it declares, literally.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use api::store::dynamodb::{
    ENTITY_A_KEY, ENTITY_B_KEY, EXPIRY_KEY, INDEX_ENTITY_A, INDEX_ENTITY_B, INDEX_TENANT,
    PARTITION_KEY, SORT_KEY, TENANT_INDEX_ATTRIBUTES, TENANT_KEY, TTL_ATTRIBUTE,
};
use clap::CommandFactory;
use hcl::{Block, Body, Expression, ObjectKey};

/// The Terraform name of the table resource (`aws_dynamodb_table.tokens`).
const TABLE: &str = "tokens";

// --- reading the Terraform ---

/// Every `*.tf` file of `dir`, parsed and concatenated into one body, as Terraform reads a module.
fn module(dir: &Path) -> Body {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .tf files in {}", dir.display());
    let structures = files.iter().flat_map(|path| {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        parse(&text, &path.display().to_string()).into_inner()
    });
    Body(structures.collect())
}

/// The module this crate sits in: `infra/`.
fn infra() -> Body {
    module(Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn parse(text: &str, origin: &str) -> Body {
    hcl::from_str(text).unwrap_or_else(|e| panic!("{origin} is not valid HCL: {e}"))
}

/// The block `KIND "TYPE" "NAME"` (such as `resource "aws_lambda_function" "api"`).
fn block<'a>(body: &'a Body, kind: &str, type_: &str, name: &str) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels().len() == 2
                && b.labels()[0].as_str() == type_
                && b.labels()[1].as_str() == name
        })
        .unwrap_or_else(|| panic!("the Terraform declares no {kind} {type_}.{name}"))
}

fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// A literal string or bool attribute, as text; `None` when absent or computed.
fn literal(body: &Body, key: &str) -> Option<String> {
    match attribute(body, key)? {
        Expression::String(s) => Some(s.clone()),
        Expression::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A list of literal strings, in order.
fn literal_list(body: &Body, key: &str) -> Vec<String> {
    match attribute(body, key) {
        Some(Expression::Array(items)) => items
            .iter()
            .map(|item| match item {
                Expression::String(s) => s.clone(),
                other => panic!("{key} holds {other}, where a literal string was expected"),
            })
            .collect(),
        None => Vec::new(),
        Some(other) => panic!("{key} is {other}, where a list of literal strings was expected"),
    }
}

/// The one nested block `name` of `body`, if any.
fn nested<'a>(body: &'a Body, name: &str) -> Option<&'a Body> {
    let mut found = body.blocks().filter(|b| b.identifier() == name);
    let first = found.next()?;
    assert!(found.next().is_none(), "more than one {name} block");
    Some(first.body())
}

// --- the table ---

/// What matters of a table's schema, in a form both sides can be brought to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableSchema {
    billing_mode: String,
    hash_key: String,
    range_key: Option<String>,
    /// Attribute name → type (`S`, `N`, `B`).
    attributes: BTreeMap<String, String>,
    indexes: BTreeMap<String, IndexSchema>,
    /// The TTL attribute, when TTL is enabled.
    ttl_attribute: Option<String>,
    point_in_time_recovery: bool,
    server_side_encryption: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexSchema {
    hash_key: String,
    range_key: Option<String>,
    projection: String,
    non_key_attributes: BTreeSet<String>,
}

/// The schema `DynamoStore::create_table` (api/src/store/dynamodb.rs) creates, from the
/// store's own constants: on-demand, partition key `token`, three GSIs, TTL. Attribute types
/// and projections are written out here as `create_table` writes them.
fn schema_of_the_code() -> TableSchema {
    let string_attributes = [
        PARTITION_KEY,
        ENTITY_A_KEY,
        ENTITY_B_KEY,
        SORT_KEY,
        TENANT_KEY,
    ];
    let mut attributes: BTreeMap<String, String> = string_attributes
        .iter()
        .map(|name| (name.to_string(), "S".to_owned()))
        .collect();
    attributes.insert(EXPIRY_KEY.to_owned(), "N".to_owned());
    let index = |hash: &str, range: &str, projection: &str, include: &[&str]| IndexSchema {
        hash_key: hash.to_owned(),
        range_key: Some(range.to_owned()),
        projection: projection.to_owned(),
        non_key_attributes: include.iter().map(|a| a.to_string()).collect(),
    };
    TableSchema {
        billing_mode: "PAY_PER_REQUEST".to_owned(),
        hash_key: PARTITION_KEY.to_owned(),
        range_key: None,
        attributes,
        indexes: BTreeMap::from([
            (
                INDEX_ENTITY_A.to_owned(),
                index(ENTITY_A_KEY, SORT_KEY, "ALL", &[]),
            ),
            (
                INDEX_ENTITY_B.to_owned(),
                index(ENTITY_B_KEY, SORT_KEY, "ALL", &[]),
            ),
            (
                INDEX_TENANT.to_owned(),
                index(TENANT_KEY, EXPIRY_KEY, "INCLUDE", &TENANT_INDEX_ATTRIBUTES),
            ),
        ]),
        ttl_attribute: Some(TTL_ATTRIBUTE.to_owned()),
        point_in_time_recovery: true,
        server_side_encryption: true,
    }
}

/// The schema an `aws_dynamodb_table` resource declares.
fn schema_of(table: &Block) -> TableSchema {
    let body = table.body();
    let required = |body: &Body, key: &str| {
        literal(body, key).unwrap_or_else(|| panic!("the table's {key} is not a literal string"))
    };
    let attributes = body
        .blocks()
        .filter(|b| b.identifier() == "attribute")
        .map(|b| (required(b.body(), "name"), required(b.body(), "type")))
        .collect();
    let indexes = body
        .blocks()
        .filter(|b| b.identifier() == "global_secondary_index")
        .map(|b| {
            let gsi = b.body();
            let index = IndexSchema {
                hash_key: required(gsi, "hash_key"),
                range_key: literal(gsi, "range_key"),
                projection: required(gsi, "projection_type"),
                non_key_attributes: literal_list(gsi, "non_key_attributes")
                    .into_iter()
                    .collect(),
            };
            (required(gsi, "name"), index)
        })
        .collect();
    let enabled = |name: &str| {
        nested(body, name).is_some_and(|b| literal(b, "enabled").as_deref() == Some("true"))
    };
    let ttl_attribute = nested(body, "ttl")
        .filter(|ttl| literal(ttl, "enabled").as_deref() == Some("true"))
        .map(|ttl| required(ttl, "attribute_name"));
    TableSchema {
        // PROVISIONED is the provider's default.
        billing_mode: literal(body, "billing_mode").unwrap_or_else(|| "PROVISIONED".to_owned()),
        hash_key: required(body, "hash_key"),
        range_key: literal(body, "range_key"),
        attributes,
        indexes,
        ttl_attribute,
        point_in_time_recovery: enabled("point_in_time_recovery"),
        server_side_encryption: enabled("server_side_encryption"),
    }
}

/// Each way `declared` differs from `expected`, as a sentence; empty when they agree.
fn schema_differences(declared: &TableSchema, expected: &TableSchema) -> Vec<String> {
    let mut differences = Vec::new();
    let mut compare = |what: &str, declared: String, expected: String| {
        if declared != expected {
            differences.push(format!(
                "{what}: Terraform declares {declared}, the code uses {expected}"
            ));
        }
    };
    compare(
        "billing mode",
        declared.billing_mode.clone(),
        expected.billing_mode.clone(),
    );
    compare(
        "partition key",
        declared.hash_key.clone(),
        expected.hash_key.clone(),
    );
    compare(
        "sort key",
        format!("{:?}", declared.range_key),
        format!("{:?}", expected.range_key),
    );
    compare(
        "attribute definitions",
        format!("{:?}", declared.attributes),
        format!("{:?}", expected.attributes),
    );
    compare(
        "global secondary indexes",
        format!("{:?}", declared.indexes.keys().collect::<Vec<_>>()),
        format!("{:?}", expected.indexes.keys().collect::<Vec<_>>()),
    );
    for (name, want) in &expected.indexes {
        if let Some(have) = declared.indexes.get(name) {
            compare(
                &format!("index {name}"),
                format!("{have:?}"),
                format!("{want:?}"),
            );
        }
    }
    compare(
        "TTL attribute (enabled)",
        format!("{:?}", declared.ttl_attribute),
        format!("{:?}", expected.ttl_attribute),
    );
    compare(
        "point-in-time recovery",
        declared.point_in_time_recovery.to_string(),
        expected.point_in_time_recovery.to_string(),
    );
    compare(
        "server-side encryption",
        declared.server_side_encryption.to_string(),
        expected.server_side_encryption.to_string(),
    );
    differences
}

#[test]
fn the_table_has_the_schema_that_create_table_creates() {
    // Arrange
    let terraform = infra();
    let table = block(&terraform, "resource", "aws_dynamodb_table", TABLE);

    // Act
    let differences = schema_differences(&schema_of(table), &schema_of_the_code());

    // Assert
    assert!(
        differences.is_empty(),
        "infra/dynamodb.tf and `tandem-api create-table` disagree:\n  {}",
        differences.join("\n  ")
    );
}

#[test]
fn a_table_that_drifts_from_the_code_is_told_apart() {
    // Arrange: the real dynamodb.tf with the TTL attribute renamed and one GSI's projection changed.
    let real = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dynamodb.tf"))
        .expect("reading dynamodb.tf");
    let drifted = real
        .replace("\"expires_at_epoch\"", "\"expires_at_seconds\"")
        .replace("\"INCLUDE\"", "\"KEYS_ONLY\"");
    assert_ne!(real, drifted, "the mutations must apply to dynamodb.tf");
    let body = parse(&drifted, "the drifted dynamodb.tf");
    let table = block(&body, "resource", "aws_dynamodb_table", TABLE);

    // Act
    let differences = schema_differences(&schema_of(table), &schema_of_the_code());

    // Assert
    assert_eq!(differences.len(), 2, "{differences:#?}");
    assert!(
        differences[0].starts_with("index by_tenant:"),
        "{differences:#?}"
    );
    assert!(
        differences[1].contains("expires_at_seconds"),
        "{differences:#?}"
    );
}

// --- the Lambdas' environment ---

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
    // Under Lambda tandem-api refuses to start without keys, and serves the dashboard it ships.
    for name in ["TANDEM_API_KEYS", "TANDEM_DASHBOARD_DIR", "RUST_LOG"] {
        assert!(env.contains_key(name), "the API function must set {name}");
    }
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

// --- the API's permissions ---

/// The `dynamodb:` actions the API's policy document allows, and on what resources.
fn dynamodb_actions_allowed(policy: &Block) -> BTreeMap<String, BTreeSet<String>> {
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in policy
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
    {
        assert_ne!(
            literal(statement.body(), "effect").as_deref(),
            Some("Deny"),
            "no Deny statements expected"
        );
        let resources: Vec<String> = match attribute(statement.body(), "resources") {
            Some(Expression::Array(items)) => items.iter().map(ToString::to_string).collect(),
            other => panic!("statement resources must be a list, got {other:?}"),
        };
        for action in literal_list(statement.body(), "actions") {
            if action.starts_with("dynamodb:") {
                allowed
                    .entry(action)
                    .or_default()
                    .extend(resources.iter().cloned());
            }
        }
    }
    allowed
}

#[test]
fn the_api_role_allows_exactly_the_dynamodb_calls_the_store_makes_on_its_table() {
    // Arrange
    let terraform = infra();
    let policy = block(&terraform, "data", "aws_iam_policy_document", "api");
    let table = format!("aws_dynamodb_table.{TABLE}.arn");
    let indexes = format!("\"${{aws_dynamodb_table.{TABLE}.arn}}/index/*\"");

    // Act
    // (The API's tests check that these are exactly the requests the store sends.)
    let called: BTreeSet<String> = api::store::dynamodb::IAM_ACTIONS
        .iter()
        .map(|action| action.to_string())
        .collect();
    let allowed = dynamodb_actions_allowed(policy);

    // Assert
    assert_eq!(
        allowed.keys().cloned().collect::<BTreeSet<_>>(),
        called,
        "the API role's dynamodb: actions (left) must be the store's IAM_ACTIONS (right)"
    );
    for (action, resources) in &allowed {
        // Query runs on the GSIs only (every query of the store names an index); the rest on items.
        let expected = if action == "dynamodb:Query" {
            &indexes
        } else {
            &table
        };
        assert_eq!(
            resources,
            &BTreeSet::from([expected.clone()]),
            "{action} must be allowed on {expected} only"
        );
    }
}

// --- variables ---

#[test]
fn every_variable_has_a_description_and_a_validation_unless_it_is_a_bool() {
    // Arrange
    let terraform = infra();

    // Act
    let lacking: Vec<String> = terraform
        .blocks()
        .filter(|b| b.identifier() == "variable")
        .filter(|variable| {
            let body = variable.body();
            let is_bool = attribute(body, "type").is_some_and(|t| t.to_string() == "bool");
            attribute(body, "description").is_none()
                || (!is_bool && !body.blocks().any(|b| b.identifier() == "validation"))
        })
        .map(|variable| variable.labels()[0].as_str().to_owned())
        .collect();

    // Assert
    assert!(
        lacking.is_empty(),
        "variables without a description or validation: {lacking:?}"
    );
}
