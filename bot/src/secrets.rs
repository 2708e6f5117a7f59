//! Secrets kept in AWS SSM Parameter Store: a secret setting written `ssm:NAME` is read,
//! decrypted, from the parameter `NAME` when the bot starts, so a deployment's configuration
//! names its secrets without holding them.

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::Config;

/// What marks a setting's value as a parameter's name.
pub const SSM_PREFIX: &str = "ssm:";

/// Replaces every secret setting of `config` written `ssm:NAME` with the value of the SSM
/// parameter `NAME` (SecureStrings decrypted), in one `GetParameters` call. Does nothing, and
/// needs no AWS credentials, when no setting is written that way.
pub async fn resolve(config: &mut Config) -> anyhow::Result<()> {
    let mut slots: Vec<(&'static str, &mut SecretString)> =
        vec![("TELOXIDE_TOKEN", &mut config.telegram_token)];
    if let Some(key) = config.api_key.as_mut() {
        slots.push(("TANDEM_API_KEY", key));
    }
    if let Some(secret) = config.webhook_secret.as_mut() {
        slots.push(("TELEGRAM_WEBHOOK_SECRET", secret));
    }
    let wanted: Vec<(&'static str, String, &mut SecretString)> = slots
        .into_iter()
        .filter_map(|(setting, slot)| {
            let name = slot.expose_secret().strip_prefix(SSM_PREFIX)?.to_owned();
            Some((setting, name, slot))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    for (setting, name, _) in &wanted {
        anyhow::ensure!(
            !name.is_empty(),
            "{setting}: `{SSM_PREFIX}` must be followed by an SSM parameter's name"
        );
    }

    let aws = aws_config::load_from_env().await;
    let client = aws_sdk_ssm::Client::new(&aws);
    let mut names: Vec<String> = wanted.iter().map(|(_, name, _)| name.clone()).collect();
    names.sort();
    names.dedup();
    let answer = client
        .get_parameters()
        .set_names(Some(names))
        .with_decryption(true)
        .send()
        .await
        .context("could not read the bot's secrets from SSM Parameter Store")?;
    let missing = answer.invalid_parameters();
    anyhow::ensure!(
        missing.is_empty(),
        "these SSM parameters do not exist (or this role may not read them): {}",
        missing.join(", ")
    );
    for (setting, name, slot) in wanted {
        let value = answer
            .parameters()
            .iter()
            .find(|p| p.name() == Some(name.as_str()))
            .and_then(|p| p.value())
            .with_context(|| format!("{setting}: SSM returned no value for {name}"))?;
        *slot = SecretString::from(value.to_owned());
        tracing::info!("{setting} read from the SSM parameter {name}");
    }
    Ok(())
}
