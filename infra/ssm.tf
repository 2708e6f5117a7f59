# Secrets. Each lives in an SSM SecureString parameter under /NAME/, encrypted with kms.tf's key,
# where operators find them (`aws ssm get-parameter --with-decryption --name /tandem/...`).
#
# How they reach the Lambdas:
# - The API gets TANDEM_API_KEYS as `tenant:sha256:<digest>` entries only (Terraform's sha256()
#   of each key; tandem-api accepts either form), so neither its environment nor anyone who can
#   read its configuration learns a key.
# - The bot needs its three secrets in plaintext (the Telegram token to call Telegram, the
#   webhook secret to compare, its API key to send). Its environment holds only their names,
#   as `ssm:NAME`; tandem-bot reads the parameters itself when it starts (one GetParameters
#   call, decrypted with kms.tf's key), so the Lambda's configuration never holds a secret.
# Terraform's state holds every secret in plaintext (SSM parameters and random values
# are kept there): use the encrypted remote state sketched in versions.tf, and never commit
# terraform.tfstate (infra/.gitignore keeps it out).

# The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token with every webhook call; `just
# deploy` passes it to setWebhook. 1 to 256 of A-Z a-z 0-9 _ - (Telegram's rule), hence no specials.
resource "random_password" "webhook_secret" {
  count   = var.enable_bot ? 1 : 0
  length  = 64
  special = false
}

# The bot's own API key (tenant var.bot_tenant); only its digest reaches the API.
resource "random_password" "bot_api_key" {
  count   = var.enable_bot ? 1 : 0
  length  = 48
  special = false
}

locals {
  # var.api_keys as [tenant, key] pairs, then as the `tenant:sha256:<digest>` entries the API gets.
  api_key_pairs = [
    for entry in split(",", var.api_keys) : regex("^([^:]+):(.*)$", trimspace(entry)) if trimspace(entry) != ""
  ]
  api_key_digests = [
    for pair in local.api_key_pairs :
    "${pair[0]}:${startswith(pair[1], "sha256:") ? lower(pair[1]) : "sha256:${sha256(pair[1])}"}"
  ]
  bot_api_key_digest = var.enable_bot ? ["${var.bot_tenant}:sha256:${sha256(random_password.bot_api_key[0].result)}"] : []
  # TANDEM_API_KEYS of the API Lambda: digests only.
  api_keys_setting = join(",", concat(local.api_key_digests, local.bot_api_key_digest))
}

resource "aws_ssm_parameter" "api_keys" {
  name        = "/${var.name}/api/keys"
  description = "Tandem API keys as tenant:key,... (the API Lambda receives only their SHA-256 digests)"
  type        = "SecureString"
  key_id      = aws_kms_key.tandem.arn
  # SSM refuses empty values: "-" stands for none (the bot's key is kept apart, below).
  value = var.api_keys == "" ? "-" : var.api_keys
}

resource "aws_ssm_parameter" "telegram_bot_token" {
  count       = var.enable_bot ? 1 : 0
  name        = "/${var.name}/bot/telegram-token"
  description = "The Telegram bot's token from BotFather (TELOXIDE_TOKEN)"
  type        = "SecureString"
  key_id      = aws_kms_key.tandem.arn
  value       = var.telegram_bot_token
}

resource "aws_ssm_parameter" "webhook_secret" {
  count       = var.enable_bot ? 1 : 0
  name        = "/${var.name}/bot/webhook-secret"
  description = "Secret Telegram sends with every webhook call (TELEGRAM_WEBHOOK_SECRET)"
  type        = "SecureString"
  key_id      = aws_kms_key.tandem.arn
  value       = random_password.webhook_secret[0].result
}

resource "aws_ssm_parameter" "bot_api_key" {
  count       = var.enable_bot ? 1 : 0
  name        = "/${var.name}/bot/api-key"
  description = "The bot's key for the Tandem API, tenant ${var.bot_tenant} (TANDEM_API_KEY)"
  type        = "SecureString"
  key_id      = aws_kms_key.tandem.arn
  value       = random_password.bot_api_key[0].result
}
