//! The DynamoDB store: one table, partition key `token`, a GSI per entity side.
//!
//! Every call but `list` and `stats` is exactly one DynamoDB request: create is a
//! conditional `PutItem` (a `TransactWriteItems` when it also claims a short code or an
//! idempotency key), get a `GetItem`, pair a conditional `UpdateItem` that returns the new
//! item (or, when its condition fails, the item as it was), delete a conditional
//! `UpdateItem` that returns the item as it was and marks it deleted: `deleted_at` set,
//! `expires_at` set to now (so every read treats it as gone) and out of the listing GSIs.
//! DynamoDB's TTL (`expires_at_epoch`) then removes it like any expired item, hours to
//! days later, so every read checks expiry itself. Keeping deleted items that long is
//! what lets `stats` count deletions without a request of its own on every delete.
//!
//! Item layout (`AttributeValue` never leaves this module):
//!
//! | attribute | type | meaning |
//! | --- | --- | --- |
//! | `token` | S | partition key |
//! | `tenant` | S | owner; every condition and read checks it |
//! | `entity_a`, `entity_b` | S | the sides; `entity_b` absent until paired |
//! | `label` | S | optional |
//! | `created_at`, `paired_at` | N | Unix milliseconds |
//! | `expires_at` | N | Unix milliseconds; far in the future for a pairing without pair TTL |
//! | `pair_ttl_ms`, `pair_ttl_seconds` | N | present only when the token has a pair TTL |
//! | `expires_at_epoch` | N | Unix seconds, DynamoDB's TTL attribute |
//! | `entity_a_key`, `entity_b_key` | S | `tenant#entity`, partition keys of the GSIs |
//! | `sort_key` | S | `created_at` (15 digits) `#token`: the GSIs' sort key, newest last |
//! | `code` | S | the short code's letters, if any |
//! | `deleted_at` | N | Unix milliseconds, once deleted |
//!
//! Two more kinds of item share the table, keyed so that no token can collide with them
//! (tokens have no `#`) and absent from both GSIs:
//! - `code#LETTERS` → `target` (the token), `owner` (tenant), `expires_at`: a short code, written
//!   in the same transaction as its token, and free again once `expires_at` passes;
//! - `idem#TENANT#KEY` → `owner`, `request_hash`, `response` (the record as created), `expires_at`:
//!   an `Idempotency-Key`, likewise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError as SdkBoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::{DateTime, Utc};
use sdk::{EntityId, Label, ShortCode, Token, TokenRecord, ValidationError};

use super::{
    Cursor, IdempotencyClaim, Inserted, NewToken, Page, PairOutcome, StatsCounts, Store,
    StoreError, TenantId,
};

/// The partition key.
pub const PARTITION_KEY: &str = "token";
/// The GSI that lists by entity A.
pub const INDEX_ENTITY_A: &str = "by_entity_a";
/// The GSI that lists by entity B (sparse: only paired items).
pub const INDEX_ENTITY_B: &str = "by_entity_b";
/// Partition key of [`INDEX_ENTITY_A`].
pub const ENTITY_A_KEY: &str = "entity_a_key";
/// Partition key of [`INDEX_ENTITY_B`].
pub const ENTITY_B_KEY: &str = "entity_b_key";
/// Sort key of both GSIs.
pub const SORT_KEY: &str = "sort_key";
/// DynamoDB's TTL attribute (Unix seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at_epoch";
/// The GSI that `stats` reads: a tenant's records by expiry (token items only; code and
/// idempotency items name their tenant `owner`, which keeps them out).
pub const INDEX_TENANT: &str = "by_tenant";
/// Partition key of [`INDEX_TENANT`].
pub const TENANT_KEY: &str = "tenant";
/// Sort key of [`INDEX_TENANT`] (Unix milliseconds).
pub const EXPIRY_KEY: &str = "expires_at";
/// The attributes [`INDEX_TENANT`] projects besides its keys: what `stats` counts with.
pub const TENANT_INDEX_ATTRIBUTES: [&str; 4] =
    ["entity_b", "created_at", "paired_at", "deleted_at"];

/// How long an instance reuses a tenant's stats before reading them again.
const STATS_CACHE: chrono::Duration = chrono::Duration::seconds(30);

/// How far in the future "never" lies, for a pairing that lives until deleted: the
/// pair update adds this to its time when the item has no pair TTL (see [`Store::pair`]).
const FOREVER_SECONDS: i64 = 100 * 365 * 24 * 60 * 60;

/// Each tenant's last stats, and when (by the caller's clock) they were read.
type StatsCache = HashMap<TenantId, (DateTime<Utc>, StatsCounts)>;

/// The DynamoDB adapter of [`Store`].
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    stats_cache: Arc<Mutex<StatsCache>>,
}

impl DynamoStore {
    /// A store on `table` through `client`; checks that the table exists, which also
    /// opens the connection before the first request needs it.
    pub async fn connect(client: Client, table: impl Into<String>) -> Result<Self, StoreError> {
        let table = table.into();
        client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    "opening the DynamoDB store (does the table exist? `tandem-api create-table` creates it)",
                    e.into_service_error(),
                )
            })?;
        Ok(Self {
            client,
            table,
            stats_cache: Arc::default(),
        })
    }

    /// A client configured from the environment, as the AWS SDK reads it
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`…).
    pub async fn client_from_env() -> Client {
        let config = aws_config::load_from_env().await;
        Client::new(&config)
    }

    /// Creates `table` with the schema this store expects (on-demand, both GSIs, TTL on
    /// [`TTL_ATTRIBUTE`]). Does nothing to a table that exists already; returns whether
    /// it created one.
    pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
        let context = "creating the DynamoDB table";
        let attribute = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let string_attribute = |name: &str| attribute(name, ScalarAttributeType::S);
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let index = |name: &str, partition: &str, sort: &str, projection: Projection| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(partition, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(projection)
                .build()
                .map_err(|e| StoreError::backend(context, e))
        };
        let all = || {
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build()
        };
        let counted = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(
                TENANT_INDEX_ATTRIBUTES
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
            ))
            .build();
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute(PARTITION_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_A_KEY)?)
            .attribute_definitions(string_attribute(ENTITY_B_KEY)?)
            .attribute_definitions(string_attribute(SORT_KEY)?)
            .attribute_definitions(string_attribute(TENANT_KEY)?)
            .attribute_definitions(attribute(EXPIRY_KEY, ScalarAttributeType::N)?)
            .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
            .global_secondary_indexes(index(INDEX_ENTITY_A, ENTITY_A_KEY, SORT_KEY, all())?)
            .global_secondary_indexes(index(INDEX_ENTITY_B, ENTITY_B_KEY, SORT_KEY, all())?)
            .global_secondary_indexes(index(INDEX_TENANT, TENANT_KEY, EXPIRY_KEY, counted)?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(StoreError::backend(context, e.into_service_error())),
        }
        client
            .wait_until_table_exists()
            .table_name(table)
            .wait(std::time::Duration::from_secs(120))
            .await
            .map_err(|e| StoreError::backend(context, e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(|e| StoreError::backend(context, e))?,
            )
            .send()
            .await
            .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
        Ok(true)
    }
}

/// Counts the requests a DynamoDB client sends (retries included), by operation name:
/// install it with `aws_sdk_dynamodb::config::Builder::interceptor`.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<Vec<String>>>);

impl RequestCounter {
    /// The operations sent since the last call, in order (such as `PutItem`), and resets.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), SdkBoxError> {
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(operation);
        Ok(())
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Unix seconds, rounded up, so DynamoDB's TTL never removes an item early.
fn epoch_seconds_ceil(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

fn entity_key(tenant: &TenantId, entity: &EntityId) -> String {
    format!("{}#{}", tenant.as_str(), entity.as_str())
}

fn sort_key(created_at: DateTime<Utc>, token: &Token) -> String {
    format!("{:015}#{}", millis(created_at), token.as_str())
}

/// An attribute of a stored item that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("stored item has a missing or malformed attribute `{0}`")]
struct BadItem(&'static str);

fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<Option<&'a String>, BadItem> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(BadItem(name)),
    }
}

fn get_n(item: &Item, name: &'static str) -> Result<Option<i64>, BadItem> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| BadItem(name)),
        Some(_) => Err(BadItem(name)),
    }
}

fn required<T>(value: Option<T>, name: &'static str) -> Result<T, BadItem> {
    value.ok_or(BadItem(name))
}

fn parse_s<T>(
    item: &Item,
    name: &'static str,
    parse: fn(String) -> Result<T, ValidationError>,
) -> Result<Option<T>, BadItem> {
    get_s(item, name)?
        .map(|text| parse(text.clone()).map_err(|_| BadItem(name)))
        .transpose()
}

fn time(ms: i64, name: &'static str) -> Result<DateTime<Utc>, BadItem> {
    DateTime::from_timestamp_millis(ms).ok_or(BadItem(name))
}

/// A stored item, as seen by `tenant` at `now`: `None` when it is another tenant's or
/// has expired.
fn live_record(
    item: &Item,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<Option<TokenRecord>, StoreError> {
    let owner = get_s(item, "tenant").map_err(|e| StoreError::backend("reading an item", e))?;
    if owner.map(String::as_str) != Some(tenant.as_str()) {
        return Ok(None);
    }
    let record = record_from_item(item).map_err(|e| StoreError::backend("reading an item", e))?;
    let expires_ms =
        get_n(item, "expires_at").map_err(|e| StoreError::backend("reading an item", e))?;
    Ok(match expires_ms {
        Some(ms) if ms <= millis(now) => None,
        _ => Some(record),
    })
}

fn record_from_item(item: &Item) -> Result<TokenRecord, BadItem> {
    let entity_b = parse_s(item, "entity_b", EntityId::parse)?;
    let paired_at = get_n(item, "paired_at")?
        .map(|ms| time(ms, "paired_at"))
        .transpose()?;
    let has_pair_ttl = item.contains_key("pair_ttl_ms");
    // A pairing without pair TTL lives until deleted; its stored expiry is only the
    // "forever" the pair update wrote.
    let expires_at = match get_n(item, "expires_at")? {
        Some(_) if entity_b.is_some() && !has_pair_ttl => None,
        Some(ms) => Some(time(ms, "expires_at")?),
        None => None,
    };
    Ok(TokenRecord {
        token: required(parse_s(item, PARTITION_KEY, Token::parse)?, PARTITION_KEY)?,
        entity_a: required(parse_s(item, "entity_a", EntityId::parse)?, "entity_a")?,
        status: TokenRecord::status_of(entity_b.as_ref()),
        entity_b,
        label: parse_s(item, "label", Label::parse)?,
        code: parse_s(item, "code", ShortCode::parse)?,
        created_at: time(
            required(get_n(item, "created_at")?, "created_at")?,
            "created_at",
        )?,
        paired_at,
        expires_at,
    })
}

fn item_from_new(tenant: &TenantId, new: &NewToken) -> Item {
    let r = &new.record;
    let expires_ms = r
        .expires_at
        .map(millis)
        .unwrap_or_else(|| millis(r.created_at) + FOREVER_SECONDS * 1000);
    let mut item = Item::from([
        (PARTITION_KEY.to_owned(), s(r.token.as_str())),
        ("tenant".to_owned(), s(tenant.as_str())),
        ("entity_a".to_owned(), s(r.entity_a.as_str())),
        ("created_at".to_owned(), n(millis(r.created_at))),
        ("expires_at".to_owned(), n(expires_ms)),
        (TTL_ATTRIBUTE.to_owned(), n(epoch_seconds_ceil(expires_ms))),
        (ENTITY_A_KEY.to_owned(), s(entity_key(tenant, &r.entity_a))),
        (SORT_KEY.to_owned(), s(sort_key(r.created_at, &r.token))),
    ]);
    if let Some(label) = &r.label {
        item.insert("label".to_owned(), s(label.as_str()));
    }
    if let Some(code) = &r.code {
        item.insert("code".to_owned(), s(code.letters()));
    }
    if let Some(ttl) = new.pair_ttl {
        let seconds = ttl.seconds() as i64;
        item.insert("pair_ttl_seconds".to_owned(), n(seconds));
        item.insert("pair_ttl_ms".to_owned(), n(seconds * 1000));
    }
    item
}

#[async_trait]
impl Store for DynamoStore {
    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    async fn insert(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        if new.record.code.is_none() && new.idempotency.is_none() {
            return self
                .put_token(tenant, new)
                .await
                .map(|()| Inserted::Created);
        }
        self.insert_with_claims(tenant, new, now).await
    }

    async fn resolve_code(
        &self,
        tenant: &TenantId,
        code: &ShortCode,
        now: DateTime<Utc>,
    ) -> Result<Option<Token>, StoreError> {
        let Some(item) = self
            .read_item(code_key(code), "resolving a short code")
            .await?
        else {
            return Ok(None);
        };
        let item = &item;
        let bad = |e| StoreError::backend("resolving a short code", e);
        let owner = get_s(item, "owner").map_err(bad)?;
        let expires = get_n(item, "expires_at").map_err(bad)?;
        if owner.map(String::as_str) != Some(tenant.as_str())
            || expires.is_none_or(|ms| ms <= millis(now))
        {
            return Ok(None);
        }
        parse_s(item, "target", Token::parse).map_err(bad)
    }

    async fn stats(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let cached = self
            .stats_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .filter(|(at, _)| *at <= now && now < *at + STATS_CACHE)
            .map(|(_, counts)| counts.clone());
        if let Some(counts) = cached {
            return Ok(counts);
        }
        let counts = self.count(tenant, now).await?;
        self.stats_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.clone(), (now, counts.clone()));
        Ok(counts)
    }

    fn change_poll_interval(&self) -> Option<std::time::Duration> {
        // Other Lambda instances write too; a long-poll re-reads once a second.
        Some(std::time::Duration::from_secs(1))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        match self.read_item(token.as_str(), "reading a token").await? {
            Some(item) => live_record(&item, tenant, now),
            None => Ok(None),
        }
    }

    async fn pair(
        &self,
        tenant: &TenantId,
        token: &Token,
        entity_b: &EntityId,
        now: DateTime<Utc>,
    ) -> Result<PairOutcome, StoreError> {
        let now_ms = millis(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token.as_str()))
            .update_expression(
                "SET entity_b = :b, entity_b_key = :b_key, paired_at = :now, \
                 expires_at = if_not_exists(pair_ttl_ms, :forever_ms) + :now, \
                 expires_at_epoch = if_not_exists(pair_ttl_seconds, :forever_s) + :now_s",
            )
            .condition_expression(
                "tenant = :tenant AND attribute_not_exists(entity_b) \
                 AND entity_a <> :b AND expires_at > :now",
            )
            .expression_attribute_values(":b", s(entity_b.as_str()))
            .expression_attribute_values(":b_key", s(entity_key(tenant, entity_b)))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(epoch_seconds_ceil(now_ms)))
            .expression_attribute_values(":forever_ms", n(FOREVER_SECONDS * 1000))
            .expression_attribute_values(":forever_s", n(FOREVER_SECONDS))
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes().ok_or_else(|| {
                    StoreError::backend("pairing a token", "UpdateItem returned no attributes")
                })?;
                let record = record_from_item(item)
                    .map_err(|e| StoreError::backend("pairing a token", e))?;
                Ok(PairOutcome::Paired(record))
            }
            Err(e) => {
                let service = e.into_service_error();
                if !service.is_conditional_check_failed_exception() {
                    return Err(StoreError::backend("pairing a token", service));
                }
                let current = match &service {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item(),
                    _ => None,
                };
                Ok(match current {
                    Some(item) => match live_record(item, tenant, now)? {
                        Some(record) => PairOutcome::Unchanged(record),
                        None => PairOutcome::Missing,
                    },
                    None => PairOutcome::Missing,
                })
            }
        }
    }

    async fn delete(
        &self,
        tenant: &TenantId,
        token: &Token,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let now_ms = millis(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token.as_str()))
            .update_expression(
                "SET deleted_at = :now, expires_at = :now, expires_at_epoch = :now_s \
                 REMOVE entity_a_key, entity_b_key",
            )
            .condition_expression("tenant = :tenant AND expires_at > :now")
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":now_s", n(epoch_seconds_ceil(now_ms)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output
                .attributes()
                .map(|item| {
                    record_from_item(item).map_err(|e| StoreError::backend("deleting a token", e))
                })
                .transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend(
                "deleting a token",
                e.into_service_error(),
            )),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        entity: &EntityId,
        limit: usize,
        after: Option<&Cursor>,
        now: DateTime<Utc>,
    ) -> Result<Page, StoreError> {
        let before = after
            .map(|c| sort_key(c.created_at, &c.token))
            // Above every digit: no upper bound.
            .unwrap_or_else(|| "~".to_owned());
        let (as_a, as_b) = tokio::try_join!(
            self.query_index(
                INDEX_ENTITY_A,
                ENTITY_A_KEY,
                tenant,
                entity,
                &before,
                limit + 1,
                now
            ),
            self.query_index(
                INDEX_ENTITY_B,
                ENTITY_B_KEY,
                tenant,
                entity,
                &before,
                limit + 1,
                now
            ),
        )?;
        let mut items: Vec<TokenRecord> = as_a.into_iter().chain(as_b).collect();
        items.sort_by(|x, y| (y.created_at, &y.token).cmp(&(x.created_at, &x.token)));
        items.dedup_by(|x, y| x.token == y.token);
        Ok(Page::from_overfetched(items, limit))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A data-plane read of a key that never exists: cheap, and not throttled like
        // the control plane's DescribeTable.
        self.read_item("-healthz-", "checking the DynamoDB store")
            .await
            .map(drop)
    }
}

fn code_key(code: &ShortCode) -> String {
    format!("code#{}", code.letters())
}

fn idempotency_key(tenant: &TenantId, key: &str) -> String {
    format!("idem#{}#{key}", tenant.as_str())
}

impl DynamoStore {
    /// The item with partition key `key`: one strongly consistent `GetItem`.
    async fn read_item(
        &self,
        key: impl Into<String>,
        context: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::backend(context, e.into_service_error()))?;
        Ok(output.item)
    }

    /// The plain create: one conditional `PutItem`.
    async fn put_token(&self, tenant: &TenantId, new: &NewToken) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_from_new(tenant, new)))
            .condition_expression("attribute_not_exists(#token)")
            .expression_attribute_names("#token", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Duplicate)
            }
            Err(e) => Err(StoreError::backend(
                "inserting a token",
                e.into_service_error(),
            )),
        }
    }

    /// A create with a short code or an idempotency key: one `TransactWriteItems` that puts
    /// the token and claims the code and the key, each only if free.
    async fn insert_with_claims(
        &self,
        tenant: &TenantId,
        new: &NewToken,
        now: DateTime<Utc>,
    ) -> Result<Inserted, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let context = "inserting a token";
        let build = |e| StoreError::backend(context, e);
        let free = "attribute_not_exists(#token) OR expires_at <= :now";
        let r = &new.record;
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_from_new(tenant, new)))
                        .condition_expression("attribute_not_exists(#token)")
                        .expression_attribute_names("#token", PARTITION_KEY)
                        .build()
                        .map_err(build)?,
                )
                .build(),
        ];
        let mut code_index = None;
        if let Some(code) = &r.code {
            let expires_ms = r.expires_at.map(millis).unwrap_or_default();
            code_index = Some(writes.len());
            writes.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .item(PARTITION_KEY, s(code_key(code)))
                            .item("target", s(r.token.as_str()))
                            .item("owner", s(tenant.as_str()))
                            .item("expires_at", n(expires_ms))
                            .item(TTL_ATTRIBUTE, n(epoch_seconds_ceil(expires_ms)))
                            .condition_expression(free)
                            .expression_attribute_names("#token", PARTITION_KEY)
                            .expression_attribute_values(":now", n(millis(now)))
                            .build()
                            .map_err(build)?,
                    )
                    .build(),
            );
        }
        let mut claim_index = None;
        if let Some(IdempotencyClaim {
            key,
            request_hash,
            expires_at,
        }) = &new.idempotency
        {
            let response = serde_json::to_string(r).map_err(|e| StoreError::backend(context, e))?;
            let expires_ms = millis(*expires_at);
            claim_index = Some(writes.len());
            writes.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .item(PARTITION_KEY, s(idempotency_key(tenant, key)))
                            .item("owner", s(tenant.as_str()))
                            .item("request_hash", s(request_hash.as_str()))
                            .item("response", s(response))
                            .item("expires_at", n(expires_ms))
                            .item(TTL_ATTRIBUTE, n(epoch_seconds_ceil(expires_ms)))
                            .condition_expression(free)
                            .expression_attribute_names("#token", PARTITION_KEY)
                            .expression_attribute_values(":now", n(millis(now)))
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld,
                            )
                            .build()
                            .map_err(build)?,
                    )
                    .build(),
            );
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(Inserted::Created),
            Err(e) => e.into_service_error(),
        };
        let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) = &error else {
            return Err(StoreError::backend(context, error));
        };
        let reasons = cancelled.cancellation_reasons();
        let failed = |index: usize| {
            reasons
                .get(index)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if let Some(index) = claim_index.filter(|&i| failed(i)) {
            let Some(item) = reasons[index].item() else {
                return Err(StoreError::backend(
                    context,
                    "idempotency conflict without the item",
                ));
            };
            let claim = new.idempotency.as_ref().map(|c| c.request_hash.as_str());
            let earlier =
                get_s(item, "request_hash").map_err(|e| StoreError::backend(context, e))?;
            if earlier.map(String::as_str) != claim {
                return Ok(Inserted::KeyReused);
            }
            let response = get_s(item, "response")
                .map_err(|e| StoreError::backend(context, e))?
                .ok_or_else(|| StoreError::backend(context, "idempotency item without response"))?;
            return serde_json::from_str(response)
                .map(Inserted::Replayed)
                .map_err(|e| StoreError::backend(context, e));
        }
        if code_index.is_some_and(failed) {
            return Err(StoreError::DuplicateCode);
        }
        if failed(0) {
            return Err(StoreError::Duplicate);
        }
        Err(StoreError::backend(context, error))
    }

    /// Reads the tenant's stats: one paged `Query` of [`INDEX_TENANT`] for the records
    /// that expire after the start of the window (the live ones, and those that expired
    /// or were deleted within it), counted here.
    async fn count(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<StatsCounts, StoreError> {
        let context = "counting tokens";
        let bad = |e| StoreError::backend(context, e);
        let (now_ms, since_ms) = (millis(now), millis(now - super::STATS_WINDOW));
        let mut counts = StatsCounts::default();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_TENANT)
            .key_condition_expression("#tenant = :tenant AND #expiry > :since")
            .expression_attribute_names("#tenant", TENANT_KEY)
            .expression_attribute_names("#expiry", EXPIRY_KEY)
            .expression_attribute_values(":tenant", s(tenant.as_str()))
            .expression_attribute_values(":since", n(since_ms))
            .into_paginator()
            .send();
        while let Some(output) = pages.next().await {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items() {
                let expires = get_n(item, EXPIRY_KEY).map_err(bad)?.unwrap_or(i64::MAX);
                let deleted = get_n(item, "deleted_at").map_err(bad)?;
                let paired_at = get_n(item, "paired_at").map_err(bad)?;
                let live = expires > now_ms;
                match (deleted, paired_at) {
                    (Some(at), _) if at > since_ms => counts.deleted += 1,
                    (Some(_), _) => {}
                    (None, Some(_)) if live => counts.paired += 1,
                    (None, None) if live => counts.pending += 1,
                    (None, None) => counts.expired += 1,
                    (None, Some(_)) => {}
                }
                if let (Some(paired), Some(created)) =
                    (paired_at, get_n(item, "created_at").map_err(bad)?)
                    && paired > since_ms
                {
                    counts
                        .pair_latencies_ms
                        .push((paired - created).max(0) as u64);
                }
            }
        }
        Ok(counts)
    }

    /// Up to `wanted` live records of `entity`'s partition of one GSI, newest first,
    /// whose sort key is below `before`.
    #[allow(clippy::too_many_arguments)]
    async fn query_index(
        &self,
        index: &str,
        key_attribute: &str,
        tenant: &TenantId,
        entity: &EntityId,
        before: &str,
        wanted: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let context = "listing tokens";
        let key = entity_key(tenant, entity);
        let mut records = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :key AND #sk < :before")
            .filter_expression("expires_at > :now")
            .expression_attribute_names("#pk", key_attribute)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":key", s(key.as_str()))
            .expression_attribute_values(":before", s(before))
            .expression_attribute_values(":now", n(millis(now)))
            .scan_index_forward(false)
            .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
            .into_paginator()
            .send();
        // Expired records are filtered out after the limit applies, so a page can come back
        // short: read on until there are enough (dropping the stream asks for no more pages).
        while records.len() < wanted
            && let Some(output) = pages.next().await
        {
            let output =
                output.map_err(|e| StoreError::backend(context, e.into_service_error()))?;
            for item in output.items() {
                if let Some(record) = live_record(item, tenant, now)? {
                    records.push(record);
                }
            }
        }
        records.truncate(wanted);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_round_up() {
        assert_eq!(epoch_seconds_ceil(1_000), 1);
        assert_eq!(epoch_seconds_ceil(1_001), 2);
        assert_eq!(epoch_seconds_ceil(0), 0);
    }

    #[test]
    fn sort_keys_order_like_creation_times() {
        let token = Token::parse("t").unwrap();
        let early = sort_key(DateTime::from_timestamp_millis(999).unwrap(), &token);
        let late = sort_key(DateTime::from_timestamp_millis(1_000).unwrap(), &token);
        assert!(early < late);
        assert!(late.as_str() < "~");
    }
}
