//! Test harness on `test-support`: the real `tandem-api` binary serving the built
//! dashboard on a free port of 127.0.0.1, and headless Chromium driven through
//! chromedriver, each stopped by PID when dropped (on failure too).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tempfile::TempDir;
use test_support::{RunningBinary, free_port, tandem_api_command, workspace_binary};
use tokio::process::Command;

/// How long to wait for something to show up in the page before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The directory of the workspace's build output (`target/debug`), where the test binary
/// itself is.
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/browser-HASH → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_owned()
}

/// The built dashboard: `TANDEM_DASHBOARD_DIR`, or the workspace's `web/dist`.
fn dashboard_dir() -> PathBuf {
    let dir = std::env::var_os("TANDEM_DASHBOARD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("dist"));
    assert!(
        dir.join("index.html").is_file() && dir.join("assets/web_bg.wasm").is_file(),
        "the dashboard is not built in {}: run `just web` (or `just test`, which builds it)",
        dir.display()
    );
    dir
}

/// `tandem-api` on a fresh SQLite file and a free port, serving the built dashboard;
/// killed when dropped.
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    _server: RunningBinary,
    _dir: TempDir,
}

impl Api {
    /// Starts the API without keys (authentication off).
    pub async fn start() -> Self {
        Self::start_with_keys(None).await
    }

    /// Starts the API with `TANDEM_API_KEYS` set to `keys`, if given.
    pub async fn start_with_keys(keys: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = tandem_api_command(workspace_binary("tandem-api"));
        command
            .arg("--store")
            .arg(format!(
                "sqlite://{}",
                dir.path().join("tandem.db").display()
            ))
            .env("TANDEM_DASHBOARD_DIR", dashboard_dir());
        if let Some(keys) = keys {
            command.env("TANDEM_API_KEYS", keys);
        }
        let server = RunningBinary::start_listening(command).await;
        Self {
            address: server.address().to_owned(),
            _server: server,
            _dir: dir,
        }
    }

    /// A typed client of this API.
    pub fn sdk(&self) -> sdk::Client {
        sdk::Client::new(&self.address)
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

/// chromedriver and the headless Chromium it starts, in a process group of their own that
/// is killed whole when dropped.
struct Driver {
    _process: RunningBinary,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let binary = ["chromedriver", "/usr/bin/chromedriver"]
            .into_iter()
            .find(|b| {
                std::process::Command::new(b)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .expect("chromedriver is not installed: `just test` installs it (apt chromium-driver)");
        // chromedriver cannot report the port it got, so it is given one.
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Self {
            _process: RunningBinary::start_group(command),
            port,
        }
    }
}

/// A headless Chromium session on a fresh profile. Call [`Browser::close`] at the end of
/// a test; when a test fails first, dropping it kills the browser.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium with a `width`×`height` desktop window.
    pub async fn start(width: u32, height: u32) -> Self {
        Self::launch(format!("--window-size={width},{height}"), None).await
    }

    /// Starts Chromium emulating a phone with a 375×812 px screen (headless windows cannot
    /// be that narrow).
    pub async fn phone() -> Self {
        let emulation = serde_json::json!({
            "deviceMetrics": { "width": 375, "height": 812, "pixelRatio": 2.0, "mobile": true, "touch": true }
        });
        Self::launch("--window-size=500,900".to_owned(), Some(emulation)).await
    }

    async fn launch(window_size: String, mobile_emulation: Option<serde_json::Value>) -> Self {
        let driver = Driver::start();
        let profile = tempfile::tempdir().expect("temp dir");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            window_size,
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        let mut options = serde_json::json!({ "args": args });
        if let Some(emulation) = mobile_emulation {
            options["mobileEmulation"] = emulation;
        }
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let url = format!("http://127.0.0.1:{}", driver.port);
        let started = Instant::now();
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                // chromedriver may not listen yet.
                Err(_) if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("could not start a Chromium session: {error}"),
            }
        };
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Opens `url` and waits until the dashboard has mounted.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("open the page");
        self.wait_for("#tab-create").await;
    }

    /// The element `css` selects, once it is there.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until nothing matches `css`.
    pub async fn wait_until_gone(&self, css: &str) {
        let started = Instant::now();
        while !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("query the page")
            .is_empty()
        {
            assert!(started.elapsed() < PATIENCE, "{css} is still there");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the text of the input `css` selects with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input.clear().await.expect("clear the input");
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("read text")
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("run {script}: {e}"))
    }

    /// Saves a screenshot of the window as `target/screenshots/NAME.png` and returns its bytes.
    pub async fn screenshot(&self, name: &str) -> Vec<u8> {
        let png = self.client.screenshot().await.expect("take a screenshot");
        let dir = build_dir().join("..").join("screenshots");
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("save the screenshot");
        png
    }

    /// Ends the session; the browser's processes are killed when `self` drops.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A name no other test uses, so tests sharing nothing but a browser stay apart.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
