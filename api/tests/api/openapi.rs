//! `/openapi.json` is generated from the code and documents every route.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_method() {
    let app = spawn_app().await;

    let response = app.get_path("/openapi.json").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let expected = [
        ("/v1/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/tokens/{token}", "get"),
        ("/v1/tokens/{token}", "delete"),
        ("/v1/tokens/{token}/pair", "post"),
        ("/healthz", "get"),
        ("/create/{entity}", "post"),
        ("/get/{token}", "get"),
        ("/update/{token}/{entity}", "put"),
        ("/delete/{token}", "delete"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    for schema in [
        "CreateToken",
        "TokenRecord",
        "TokenPage",
        "ErrorBody",
        "PairRequest",
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
