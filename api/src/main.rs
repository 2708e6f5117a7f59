//! `tandem-api`: parses the configuration, starts logging, and serves locally or on Lambda.

use clap::Parser as _;

/// mimalloc instead of the C library's allocator: a request allocates some seventy times,
/// and glibc's `malloc` and `free` took a sixth of tandem-api's instructions under the
/// load-test mix (README, `just instructions`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    runtime()?.block_on(run())
}

/// The async runtime. On one core (a pinned process, or a container with one CPU's quota),
/// tokio's single-threaded scheduler: the work-stealing one, with one worker, only adds
/// synchronisation (about a tenth more requests a second without it under the load-test
/// mix on SQLite; README, "The embedded store"). On more cores, the work-stealing one.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all().build()
}

async fn run() -> anyhow::Result<()> {
    let config = api::config::Config::parse();
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    api::telemetry::init(&config.log_filter, on_lambda);
    if let Some(command) = &config.command {
        api::run_command(&config, command).await
    } else if on_lambda && config.function == api::config::Function::Webhooks {
        api::run_webhooks_on_lambda(&config).await
    } else if on_lambda {
        api::run_on_lambda(&config).await
    } else {
        api::Application::build(&config)
            .await?
            .run_until_stopped()
            .await
    }
}
