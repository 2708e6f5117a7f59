//! DynamoDB specifics: what each call costs, and the table's schema.

use api::store::DynamoStore;
use api::store::dynamodb::{
    ENTITY_A_KEY, ENTITY_B_KEY, EXPIRY_KEY, INDEX_ENTITY_A, INDEX_ENTITY_B, INDEX_TENANT,
    PARTITION_KEY, SORT_KEY, TENANT_INDEX_ATTRIBUTES, TENANT_KEY, TTL_ATTRIBUTE,
};
use aws_sdk_dynamodb::types::{BillingMode, KeyType, ProjectionType, TimeToLiveStatus};

use crate::helpers::{Backend, local_dynamodb_client, spawn_app_on};

#[tokio::test]
#[ignore = "needs a local DynamoDB server (moto); `just test` runs it"]
async fn every_v1_call_but_list_costs_exactly_one_dynamodb_request() {
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
            expected(INDEX_ENTITY_A, ENTITY_A_KEY, SORT_KEY, ProjectionType::All),
            expected(INDEX_ENTITY_B, ENTITY_B_KEY, SORT_KEY, ProjectionType::All),
            expected(
                INDEX_TENANT,
                TENANT_KEY,
                EXPIRY_KEY,
                ProjectionType::Include
            ),
        ]
    );
    let tenant_index = t
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(INDEX_TENANT))
        .unwrap();
    let mut projected: Vec<_> = tenant_index
        .projection()
        .unwrap()
        .non_key_attributes()
        .to_vec();
    projected.sort();
    let mut wanted: Vec<_> = TENANT_INDEX_ATTRIBUTES
        .iter()
        .map(|a| a.to_string())
        .collect();
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
