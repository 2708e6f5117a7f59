//! The API role's DynamoDB permissions against the actions the store declares it makes.

use std::collections::{BTreeMap, BTreeSet};

use ::hcl::{Block, Expression};

use super::hcl::*;
use super::table::TABLE;

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

#[test]
fn the_webhooks_role_allows_exactly_the_delivery_functions_dynamodb_calls() {
    let terraform = infra();
    let policy = block(&terraform, "data", "aws_iam_policy_document", "webhooks");
    let table = format!("aws_dynamodb_table.{TABLE}.arn");
    let stream = format!("aws_dynamodb_table.{TABLE}.stream_arn");

    let allowed = dynamodb_actions_allowed(policy);

    let expected: BTreeMap<String, BTreeSet<String>> = api::store::dynamodb::DELIVERY_IAM_ACTIONS
        .iter()
        .map(|a| (a.to_string(), BTreeSet::from([table.clone()])))
        .chain(
            api::store::dynamodb::STREAM_IAM_ACTIONS
                .iter()
                .map(|a| (a.to_string(), BTreeSet::from([stream.clone()]))),
        )
        .collect();
    assert_eq!(allowed, expected);
}
