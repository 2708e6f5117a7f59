//! Logs: human-readable locally, JSON under Lambda (where CloudWatch indexes it).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// The targets that log what a request carries (a bearer key, a token in a path), capped
/// below the level at which they would, whatever `RUST_LOG` asks: under Lambda,
/// `lambda_runtime` logs every raw event at `trace`.
const NEVER_TRACED: [&str; 1] = ["lambda_runtime::layers::api_response=debug"];

/// Installs the global subscriber, writing to standard error.
pub fn init(filter: &str, json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter(filter))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.init();
    }
}

/// The filter `spec` asks for (`info` if it does not parse), with [`NEVER_TRACED`] on top.
fn env_filter(spec: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    NEVER_TRACED.iter().fold(filter, |filter, directive| {
        filter.add_directive(directive.parse::<Directive>().expect("a valid directive"))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn trace_logging_never_prints_the_raw_lambda_event() {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = written.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(env_filter("trace"))
            .with_writer(move || SinkWriter(sink.clone()))
            .finish();

        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = "Bearer the-secret-key",
                "raw JSON event received from Lambda"
            );
            tracing::trace!(target: "api::routes", "an ordinary trace line");
        });

        let log = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(log.contains("an ordinary trace line"), "{log}");
        assert!(!log.contains("the-secret-key"), "{log}");
    }

    struct SinkWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SinkWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
