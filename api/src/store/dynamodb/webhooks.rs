//! Webhooks on DynamoDB: not stored yet.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sdk::webhooks::Delivery;
use tokio::sync::Notify;

use super::DynamoStore;
use crate::domain::TenantId;
use crate::store::StoreError;
use crate::store::webhooks::{
    DueDelivery, Finished, OutboundEvent, StoredWebhook, WebhookChange, WebhookStore,
};

fn unsupported() -> StoreError {
    StoreError::backend("webhooks", "webhooks are not kept on DynamoDB yet")
}

#[async_trait]
impl WebhookStore for DynamoStore {
    fn outbox(&self) -> Option<Arc<Notify>> {
        None
    }

    async fn create_webhook(&self, _: &TenantId, _: &StoredWebhook) -> Result<(), StoreError> {
        Err(unsupported())
    }

    async fn webhooks(&self, _: &TenantId) -> Result<Vec<StoredWebhook>, StoreError> {
        Err(unsupported())
    }

    async fn webhook(&self, _: &TenantId, _: &str) -> Result<Option<StoredWebhook>, StoreError> {
        Err(unsupported())
    }

    async fn update_webhook(
        &self,
        _: &TenantId,
        _: &str,
        _: &WebhookChange,
    ) -> Result<Option<StoredWebhook>, StoreError> {
        Err(unsupported())
    }

    async fn delete_webhook(&self, _: &TenantId, _: &str) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn enqueue_for(
        &self,
        _: &TenantId,
        _: &str,
        _: &OutboundEvent,
    ) -> Result<bool, StoreError> {
        Err(unsupported())
    }

    async fn deliveries(
        &self,
        _: &TenantId,
        _: &str,
        _: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        Err(unsupported())
    }

    async fn claim_deliveries(
        &self,
        _: DateTime<Utc>,
        _: chrono::Duration,
        _: usize,
        _: usize,
        _: &[String],
    ) -> Result<Vec<DueDelivery>, StoreError> {
        Ok(Vec::new())
    }

    async fn finish_delivery(&self, _: i64, _: &Finished) -> Result<(), StoreError> {
        Ok(())
    }

    async fn announce_expired(&self, _: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(0)
    }
}
