//! `/openapi.json` is generated from the code and documents every route.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_and_methods_the_router_serves() {
    let app = spawn_app().await;

    let response = app.get_path("/openapi.json").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("/v1/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/tokens/{token}", "get"),
        ("/v1/tokens/{token}", "delete"),
        ("/v1/tokens/{token}/pair", "post"),
        ("/v1/codes/{code}/pair", "post"),
        ("/v1/stats", "get"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks", "get"),
        ("/v1/webhooks/{id}", "get"),
        ("/v1/webhooks/{id}", "patch"),
        ("/v1/webhooks/{id}", "delete"),
        ("/v1/webhooks/{id}/rotate-secret", "post"),
        ("/v1/webhooks/{id}/test", "post"),
        ("/v1/webhooks/{id}/deliveries", "get"),
        ("/healthz", "get"),
        ("/create/{entity}", "post"),
        ("/get/{token}", "get"),
        ("/update/{token}/{entity}", "put"),
        ("/delete/{token}", "delete"),
    ]
    .into_iter()
    .map(|(path, method)| (path.to_owned(), method.to_owned()))
    .collect();
    assert_eq!(
        documented, expected,
        "documented (left) and the API's routes (right)"
    );
    // The Router serves exactly the documented methods of each documented path.
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{token}", "no-such-token")
            .replace("{entity}", "someone")
            .replace("{code}", "BCDF-GHJK")
            .replace("{id}", "wh_none");
        for method in ["get", "post", "put", "delete", "patch"] {
            let response = app
                .http
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let served = status != 405 && !body.contains("no route for");
            assert_eq!(
                served,
                item.get(method).is_some(),
                "{method} {path}: the Router answered {status} {body}"
            );
        }
    }
    for schema in [
        "CreateToken",
        "TokenRecord",
        "TokenPage",
        "ErrorBody",
        "PairRequest",
        "CreateWebhook",
        "WebhookWithSecret",
        "WebhookList",
        "DeliveryList",
        "Event",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}

#[tokio::test]
async fn every_write_documents_the_overloaded_503() {
    let app = spawn_app().await;

    let doc: Value = app.get_path("/openapi.json").await.json().await.unwrap();

    for (path, method) in [
        ("/v1/tokens", "post"),
        ("/v1/tokens/{token}", "delete"),
        ("/v1/tokens/{token}/pair", "post"),
        ("/v1/codes/{code}/pair", "post"),
        ("/create/{entity}", "post"),
        ("/update/{token}/{entity}", "put"),
        ("/delete/{token}", "delete"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]["503"].is_object(),
            "{method} {path} does not document 503"
        );
    }
}
