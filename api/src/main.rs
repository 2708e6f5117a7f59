//! `tandem-api`: parses the configuration, starts logging, and serves locally or on Lambda.

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
