//! A webhook receiver for tests: `webhook_receiver.py`, which verifies every delivery with
//! the official `standardwebhooks` package from PyPI (installed by `just python-tools`), run
//! under the project's virtualenv and stopped by PID when dropped.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::RunningBinary;

/// The running receiver.
pub struct WebhookReceiver {
    process: RunningBinary,
    http: reqwest::Client,
}

/// The virtualenv's Python, with `standardwebhooks` installed.
fn python() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lies in the workspace");
    let python = workspace.join("target/tools/venv/bin/python3");
    assert!(
        python.is_file(),
        "{} is missing: run `just python-tools` (`just test` does)",
        python.display()
    );
    python
}

impl WebhookReceiver {
    /// Starts a receiver on a free port of 127.0.0.1, answering `204` and knowing no
    /// secret yet.
    pub async fn start() -> Self {
        let mut command = Command::new(python());
        command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/webhook_receiver.py"));
        Self {
            process: RunningBinary::start_listening(command).await,
            http: reqwest::Client::new(),
        }
    }

    /// The URL that deliveries go to.
    pub fn url(&self) -> String {
        format!("{}/hook", self.process.address())
    }

    /// Changes what it knows and does: `{"secrets": [...], "mode": "ok" | "fail" | "gone" |
    /// "hang", "fail_count": N}` (each member optional).
    pub async fn configure(&self, settings: Value) {
        let response = self
            .http
            .put(format!("{}/control", self.process.address()))
            .json(&settings)
            .send()
            .await
            .expect("the receiver answers");
        assert_eq!(response.status(), 204);
    }

    /// Verifies with `secret` only.
    pub async fn trust(&self, secret: &str) {
        self.configure(json!({ "secrets": [secret] })).await;
    }

    /// Every delivery so far: `{"headers", "body", "verified_with" (index of the secret, or
    /// null), "errors", "answered", "at"}`.
    pub async fn received(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/control/received", self.process.address()))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("a JSON list")
    }

    /// Whether `standardwebhooks` verifies `body` with `headers` and `secret` (without
    /// recording it), and its error if not.
    pub async fn verifies(&self, secret: &str, headers: &Value, body: &str) -> (bool, Value) {
        let answer: Value = self
            .http
            .post(format!("{}/control/verify", self.process.address()))
            .json(&json!({ "secret": secret, "headers": headers, "body": body }))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("a JSON answer");
        (answer["ok"] == true, answer["error"].clone())
    }

    /// Waits up to `patience` until at least `count` deliveries arrived; returns them all.
    pub async fn wait_for(&self, count: usize, patience: std::time::Duration) -> Vec<Value> {
        self.wait_until(|received| received.len() >= count, patience)
            .await
    }

    /// Waits up to `patience` until the deliveries so far satisfy `done`; returns them all.
    pub async fn wait_until(
        &self,
        done: impl Fn(&[Value]) -> bool,
        patience: std::time::Duration,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let received = self.received().await;
            if done(&received) || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The records of `aws dynamodbstreams get-records` (the AWS CLI's JSON) as the batch Lambda
/// hands a function for the stream `stream_arn`: the CLI prints each record's time as text,
/// where Lambda sends Unix seconds, and leaves out the stream's ARN.
pub fn stream_batch(records: &[Value], stream_arn: &str) -> Value {
    let records: Vec<Value> = records
        .iter()
        .cloned()
        .map(|mut record| {
            let at = &mut record["dynamodb"]["ApproximateCreationDateTime"];
            if let Some(text) = at.as_str() {
                let parsed = chrono::DateTime::parse_from_rfc3339(text)
                    .unwrap_or_else(|e| panic!("a record's time {text:?}: {e}"));
                *at = json!(parsed.timestamp());
            }
            record["eventSourceARN"] = json!(stream_arn);
            record
        })
        .collect();
    json!({ "Records": records })
}
