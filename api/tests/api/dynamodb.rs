//! DynamoDB specifics: what each call costs, and the table's schema.

use std::collections::BTreeSet;
use std::sync::Arc;

use api::clock::ManualClock;
use api::domain::Guesser;
use api::pairing::{Created, PairingError, Pairings};
use api::store::dynamodb::{
    ENTITY_A_ATTRIBUTES, ENTITY_A_KEY, ENTITY_A_SORT_KEY, ENTITY_B_KEY, ENTITY_B_SORT_KEY,
    IAM_ACTIONS, INDEX_ENTITY_A, INDEX_ENTITY_B, PARTITION_KEY, TTL_ATTRIBUTE,
};
use api::store::{DynamoStore, Store as _, TenantId};
use aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::{BillingMode, KeyType, ProjectionType, TimeToLiveStatus};
use aws_smithy_runtime_api::client::interceptors::context::Error as ErasedError;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use chrono::Utc;
use sdk::{CreateToken, EntityId, IdempotencyKey, PageLimit, ShortCode};

use crate::helpers::{Backend, local_dynamodb_client, local_dynamodb_config, spawn_app_on};

/// A fresh table on the local server, and the rules on a store of it whose client is
/// `client`.
async fn pairings_on(client: aws_sdk_dynamodb::Client) -> (Pairings, DynamoStore) {
    let table = format!("tandem-test-{}", uuid::Uuid::new_v4().simple());
    DynamoStore::create_table(&client, &table).await.unwrap();
    let store = DynamoStore::connect(client, table).await.unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    (Pairings::new(Arc::new(store.clone()), clock), store)
}

fn entity(name: &str) -> EntityId {
    EntityId::parse(name).unwrap()
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn the_iam_actions_are_exactly_what_serving_every_call_sends() {
    // Arrange
    let (client, requests) = local_dynamodb_client().await;
    let (pairings, store) = pairings_on(client).await;
    let tenant = TenantId::local();
    let sent_at_start = requests.take();
    let (alice, bob) = (entity("alice"), entity("bob"));

    // Act: every call of the Store, through the pairing rules.
    let Created::New(plain) = pairings
        .create(&tenant, CreateToken::new(&alice), None)
        .await
        .unwrap()
    else {
        panic!("a fresh create")
    };
    let Created::New(coded) = pairings
        .create(&tenant, CreateToken::new(&alice).with_code(), None)
        .await
        .unwrap()
    else {
        panic!("a fresh create")
    };
    let key = IdempotencyKey::parse("k-1").unwrap();
    for _ in 0..2 {
        pairings
            .create(&tenant, CreateToken::new(&bob), Some(key.clone()))
            .await
            .unwrap();
    }
    let reused = pairings
        .create(&tenant, CreateToken::new(&alice), Some(key))
        .await;
    pairings.get(&tenant, &plain.token).await.unwrap();
    pairings.pair(&tenant, &plain.token, &bob).await.unwrap();
    let code = coded.code.clone().unwrap();
    let guesser = Guesser::Unknown;
    let wrong = ShortCode::parse("BCDF-GHJK").unwrap();
    if wrong != code {
        let failed = pairings
            .pair_by_code(&tenant, Some(&wrong), &bob, &guesser)
            .await;
        assert!(
            matches!(failed, Err(PairingError::CodeNotFound)),
            "{failed:?}"
        );
    }
    pairings
        .pair_by_code(&tenant, Some(&code), &bob, &guesser)
        .await
        .unwrap();
    pairings.delete(&tenant, &plain.token).await.unwrap();
    pairings
        .list(&tenant, &bob, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    pairings.stats(&tenant).await.unwrap();
    store.ping().await.unwrap();

    // Assert
    assert!(
        matches!(reused, Err(PairingError::IdempotencyKeyReused)),
        "{reused:?}"
    );
    assert!(
        sent_at_start.contains(&"DescribeTable".to_owned()),
        "{sent_at_start:?}"
    );
    let serving: BTreeSet<String> = ["DescribeTable".to_owned()]
        .into_iter()
        .chain(requests.take())
        // Each item of a transaction is authorised on its own; the store's only put.
        .map(|op| match op.as_str() {
            "TransactWriteItems" => "dynamodb:PutItem".to_owned(),
            _ => format!("dynamodb:{op}"),
        })
        .collect();
    let declared: BTreeSet<String> = IAM_ACTIONS.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        serving, declared,
        "sent (left) and declared in IAM_ACTIONS (right)"
    );
}

/// Drops the item from every failed pair condition's answer, as DynamoDB-compatible
/// servers without `ReturnValuesOnConditionCheckFailure` answer.
#[derive(Debug)]
struct NoItemOnFailedConditions;

impl Intercept for NoItemOnFailedConditions {
    fn name(&self) -> &'static str {
        "NoItemOnFailedConditions"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Err(error)) = context.output_or_error_mut() else {
            return Ok(());
        };
        let failed = error
            .as_operation_error()
            .and_then(ErasedError::downcast_ref::<UpdateItemError>);
        if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = failed {
            let bare = ConditionalCheckFailedException::builder()
                .set_message(failed.message().map(str::to_owned))
                .build();
            *error = OrchestratorError::operation(ErasedError::erase(
                UpdateItemError::ConditionalCheckFailedException(bare),
            ));
        }
        Ok(())
    }
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn a_paired_token_is_a_conflict_even_where_failed_conditions_carry_no_item() {
    // Arrange
    let config = local_dynamodb_config()
        .await
        .interceptor(NoItemOnFailedConditions)
        .build();
    let (pairings, _) = pairings_on(aws_sdk_dynamodb::Client::from_conf(config)).await;
    let tenant = TenantId::local();
    let Created::New(record) = pairings
        .create(&tenant, CreateToken::new(&entity("alice")), None)
        .await
        .unwrap()
    else {
        panic!("a fresh create")
    };
    pairings
        .pair(&tenant, &record.token, &entity("bob"))
        .await
        .unwrap();

    // Act
    let again = pairings.pair(&tenant, &record.token, &entity("bob")).await;
    let other = pairings
        .pair(&tenant, &record.token, &entity("carol"))
        .await;
    let itself = pairings
        .pair(&tenant, &record.token, &entity("alice"))
        .await;
    pairings.delete(&tenant, &record.token).await.unwrap();
    let deleted = pairings.pair(&tenant, &record.token, &entity("bob")).await;

    // Assert
    assert_eq!(again.unwrap().entity_b, Some(entity("bob")), "a repeat");
    assert!(
        matches!(other, Err(PairingError::AlreadyPaired)),
        "{other:?}"
    );
    assert!(
        matches!(itself, Err(PairingError::AlreadyPaired)),
        "{itself:?}"
    );
    assert!(
        matches!(deleted, Err(PairingError::NotFound)),
        "{deleted:?}"
    );
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn every_v1_call_costs_the_documented_dynamodb_requests() {
    let app = spawn_app_on(Backend::DynamoDb).await;
    let requests = app.dynamo_requests.clone().unwrap();

    let token = app.create_for("alice").await;
    assert_eq!(requests.take(), ["PutItem"], "create");
    assert_eq!(app.get(&token).await.status(), 200);
    assert_eq!(requests.take(), ["GetItem"], "get");
    assert_eq!(app.pair(&token, "alice").await.status(), 422);
    assert_eq!(requests.take(), ["UpdateItem"], "pair with oneself");
    assert_eq!(app.pair(&token, "bob").await.status(), 200);
    assert_eq!(requests.take(), ["UpdateItem"], "pair");
    assert_eq!(app.pair(&token, "bob").await.status(), 200);
    assert_eq!(requests.take(), ["UpdateItem"], "pair retry");
    assert_eq!(app.pair(&token, "carol").await.status(), 409);
    assert_eq!(requests.take(), ["UpdateItem"], "pair conflict");
    assert_eq!(app.delete(&token).await.status(), 204);
    assert_eq!(
        requests.take(),
        ["UpdateItem"],
        "delete (marks the item deleted)"
    );
    assert_eq!(app.get(&token).await.status(), 404);
    assert_eq!(requests.take(), ["GetItem"], "get of a deleted token");
    assert_eq!(app.pair(&token, "bob").await.status(), 404);
    assert_eq!(requests.take(), ["UpdateItem"], "pair of a deleted token");
    assert_eq!(app.delete(&token).await.status(), 404);
    assert_eq!(requests.take(), ["UpdateItem"], "delete of a deleted token");

    let coded = app
        .create(serde_json::json!({ "entity": "tv", "code": true }))
        .await;
    assert_eq!(coded.status(), 201);
    assert_eq!(
        requests.take(),
        ["TransactWriteItems"],
        "create with a short code"
    );
    let code = coded.json::<serde_json::Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = if code == "BCDF-GHJK" {
        "BCDF-GHJL"
    } else {
        "BCDF-GHJK"
    };
    let sorted = |mut sent: Vec<String>| {
        sent.sort();
        sent
    };
    assert_eq!(app.pair_code(wrong, "phone").await.status(), 404);
    assert_eq!(
        sorted(requests.take()),
        ["GetItem", "UpdateItem", "UpdateItem"],
        "a failed code: its two failure reservations and the code's read"
    );
    assert_eq!(app.pair_code(&code, "phone").await.status(), 200);
    assert_eq!(
        sorted(requests.take()),
        [
            "GetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem"
        ],
        "a right code: the reservations, the read, the pairing and two give-backs"
    );

    assert_eq!(app.get_path("/v1/tokens?entity=bob").await.status(), 200);
    let list = requests.take();
    assert!(
        list.len() >= 2 && list.iter().all(|op| op == "Query"),
        "{list:?}"
    );
}

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn create_table_makes_the_documented_schema_once() {
    let (client, _) = local_dynamodb_client().await;
    let table = format!("tandem-schema-{}", uuid::Uuid::new_v4().simple());

    assert!(DynamoStore::create_table(&client, &table).await.unwrap());
    assert!(
        !DynamoStore::create_table(&client, &table).await.unwrap(),
        "second call"
    );

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    let keys: Vec<_> = t
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(keys, [(PARTITION_KEY, KeyType::Hash)]);
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let mut indexes: Vec<_> = t
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let keys: Vec<_> = index
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
                .collect();
            let projection = index
                .projection()
                .and_then(|p| p.projection_type())
                .cloned();
            (index.index_name().unwrap().to_owned(), keys, projection)
        })
        .collect();
    indexes.sort_by(|a, b| a.0.cmp(&b.0));
    let expected = |name: &str, partition: &str, sort: &str, projection| {
        (
            name.to_owned(),
            vec![
                (partition.to_owned(), KeyType::Hash),
                (sort.to_owned(), KeyType::Range),
            ],
            Some(projection),
        )
    };
    assert_eq!(
        indexes,
        [
            expected(
                INDEX_ENTITY_A,
                ENTITY_A_KEY,
                ENTITY_A_SORT_KEY,
                ProjectionType::Include
            ),
            expected(
                INDEX_ENTITY_B,
                ENTITY_B_KEY,
                ENTITY_B_SORT_KEY,
                ProjectionType::All
            ),
        ]
    );
    let entity_a_index = t
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(INDEX_ENTITY_A))
        .unwrap();
    let mut projected: Vec<_> = entity_a_index
        .projection()
        .unwrap()
        .non_key_attributes()
        .to_vec();
    projected.sort();
    let mut wanted: Vec<_> = ENTITY_A_ATTRIBUTES.iter().map(|a| a.to_string()).collect();
    wanted.sort();
    assert_eq!(projected, wanted);
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}
