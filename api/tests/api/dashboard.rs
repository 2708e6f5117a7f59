//! The dashboard's files at `/` and `/assets/`, and the page that says how to build them.

use crate::helpers::{spawn_app, spawn_app_with_dashboard};

#[tokio::test]
async fn root_says_how_to_build_the_dashboard_when_it_is_not_built() {
    let missing = tempfile::tempdir().unwrap();
    for app in [
        spawn_app().await,
        spawn_app_with_dashboard(&missing.path().join("dist")).await,
    ] {
        let response = app.http.get(app.url("/")).send().await.unwrap();

        assert_eq!(response.status(), 404);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("just web"), "{page}");
        assert!(page.contains("TANDEM_DASHBOARD_DIR"), "{page}");
    }
}

#[tokio::test]
async fn root_and_assets_serve_the_built_dashboard_with_a_strict_policy() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><p>dashboard</p>",
    )
    .unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("assets/web.js"), "export default 1;").unwrap();
    std::fs::write(dist.path().join("assets/web_bg.wasm"), b"\0asm").unwrap();
    let app = spawn_app_with_dashboard(dist.path()).await;

    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(page.text().await.unwrap().contains("dashboard"));

    let script = app
        .http
        .get(app.url("/assets/web.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(script.text().await.unwrap(), "export default 1;");

    let wasm = app
        .http
        .get(app.url("/assets/web_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.status(), 200);
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
}

#[tokio::test]
async fn missing_assets_and_paths_outside_the_dashboard_are_json_404s() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("secret.txt"), "not for the web").unwrap();
    let app = spawn_app_with_dashboard(dist.path()).await;

    for path in [
        "/assets/nope.js",
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/secret.txt",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();

        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
}
