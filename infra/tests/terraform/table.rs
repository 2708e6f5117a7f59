//! The DynamoDB table the Terraform declares against the one `tandem-api create-table`
//! creates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ::hcl::{Block, Body};
use api::store::dynamodb::{
    ENTITY_A_ATTRIBUTES, ENTITY_A_KEY, ENTITY_A_SORT_KEY, ENTITY_B_KEY, ENTITY_B_SORT_KEY,
    INDEX_ENTITY_A, INDEX_ENTITY_B, PARTITION_KEY, TTL_ATTRIBUTE,
};

use super::hcl::*;

/// The Terraform name of the table resource (`aws_dynamodb_table.tokens`).
pub const TABLE: &str = "tokens";

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
/// store's own constants: on-demand, partition key `token`, two GSIs, TTL. Attribute types
/// and projections are written out here as `create_table` writes them.
fn schema_of_the_code() -> TableSchema {
    let string_attributes = [
        PARTITION_KEY,
        ENTITY_A_KEY,
        ENTITY_A_SORT_KEY,
        ENTITY_B_KEY,
        ENTITY_B_SORT_KEY,
    ];
    let attributes: BTreeMap<String, String> = string_attributes
        .iter()
        .map(|name| (name.to_string(), "S".to_owned()))
        .collect();
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
                index(
                    ENTITY_A_KEY,
                    ENTITY_A_SORT_KEY,
                    "INCLUDE",
                    &ENTITY_A_ATTRIBUTES,
                ),
            ),
            (
                INDEX_ENTITY_B.to_owned(),
                index(ENTITY_B_KEY, ENTITY_B_SORT_KEY, "ALL", &[]),
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
        differences[0].starts_with("index by_entity_a:"),
        "{differences:#?}"
    );
    assert!(
        differences[1].contains("expires_at_seconds"),
        "{differences:#?}"
    );
}

#[test]
fn the_table_streams_what_the_delivery_function_reads() {
    let terraform = infra();
    let table = block(&terraform, "resource", "aws_dynamodb_table", TABLE);

    assert_eq!(
        literal(table.body(), "stream_enabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        literal(table.body(), "stream_view_type").as_deref(),
        Some(api::store::dynamodb::STREAM_VIEW_TYPE),
        "infra/dynamodb.tf and `tandem-api create-table` must stream the same images"
    );
}
