//! The client's calls of `/v1/webhooks`.

use reqwest::StatusCode;

use super::{Client, Error, error_from};
use crate::webhooks::{
    CreateWebhook, DeliveryList, Event, UpdateWebhook, Webhook, WebhookList, WebhookWithSecret,
};

impl Client {
    /// `POST /v1/webhooks`: registers an endpoint; the answer holds its signing secret,
    /// shown only this once.
    pub async fn create_webhook(
        &self,
        request: &CreateWebhook,
    ) -> Result<WebhookWithSecret, Error> {
        let builder = self.http.post(self.url("/v1/webhooks")).json(request);
        self.send(builder).await
    }

    /// `GET /v1/webhooks`: the tenant's endpoints.
    pub async fn list_webhooks(&self) -> Result<WebhookList, Error> {
        self.send(self.http.get(self.url("/v1/webhooks"))).await
    }

    /// `GET /v1/webhooks/{id}`: one endpoint.
    pub async fn get_webhook(&self, id: &str) -> Result<Webhook, Error> {
        let builder = self.http.get(self.url(&format!("/v1/webhooks/{id}")));
        self.send(builder).await
    }

    /// `PATCH /v1/webhooks/{id}`: enables or disables an endpoint, or changes its events or
    /// description.
    pub async fn update_webhook(&self, id: &str, change: &UpdateWebhook) -> Result<Webhook, Error> {
        let builder = self
            .http
            .patch(self.url(&format!("/v1/webhooks/{id}")))
            .json(change);
        self.send(builder).await
    }

    /// `DELETE /v1/webhooks/{id}`: deletes an endpoint; its deliveries stop.
    pub async fn delete_webhook(&self, id: &str) -> Result<(), Error> {
        let builder = self.http.delete(self.url(&format!("/v1/webhooks/{id}")));
        let response = self.authorize(builder).send().await?;
        if response.status() == StatusCode::NO_CONTENT {
            Ok(())
        } else {
            Err(error_from(response).await)
        }
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`: a new signing secret; the old one keeps
    /// signing beside it for 24 hours.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<WebhookWithSecret, Error> {
        let builder = self
            .http
            .post(self.url(&format!("/v1/webhooks/{id}/rotate-secret")));
        self.send(builder).await
    }

    /// `POST /v1/webhooks/{id}/test`: queues a `webhook.test` event for the endpoint.
    pub async fn test_webhook(&self, id: &str) -> Result<Event, Error> {
        let builder = self.http.post(self.url(&format!("/v1/webhooks/{id}/test")));
        self.send(builder).await
    }

    /// `GET /v1/webhooks/{id}/deliveries`: the endpoint's recent deliveries, newest first.
    pub async fn webhook_deliveries(&self, id: &str) -> Result<DeliveryList, Error> {
        let builder = self
            .http
            .get(self.url(&format!("/v1/webhooks/{id}/deliveries")));
        self.send(builder).await
    }
}
