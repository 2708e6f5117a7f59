# The Telegram bot in webhook mode: Telegram calls POST /telegram/webhook on the API's endpoint
# (endpoint.tf) with the secret `just deploy` registered; the bot answers through the API.

locals {
  bot_function_name = "${var.name}-bot"
}

resource "aws_lambda_function" "bot" {
  #checkov:skip=CKV_AWS_116:Only API Gateway invokes it, synchronously, for Telegram, which retries an update itself when the call fails: there is nothing for a dead-letter queue to keep.
  #checkov:skip=CKV_AWS_117:No VPC: it calls Telegram and the API over the internet, which from a VPC would need a NAT gateway (about 32 USD a month) and gain no isolation.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the build; the zip is built and uploaded by the same operator in one `just deploy`, so a signature would vouch for nothing more than the operator's own IAM rights do.
  #checkov:skip=CKV_AWS_50:The binary emits no X-Ray segments (no X-Ray SDK), and API Gateway HTTP APIs do not trace: Active tracing would record only Lambda's own start and duration, which the REPORT log line already gives.
  count            = var.enable_bot ? 1 : 0
  function_name    = local.bot_function_name
  description      = "Tandem Telegram bot, webhook mode (${var.name})"
  role             = aws_iam_role.bot[0].arn
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  handler          = "bootstrap"
  filename         = var.bot_zip
  source_code_hash = filebase64sha256(var.bot_zip)
  memory_size      = var.bot_memory_mb
  timeout          = var.bot_timeout_seconds
  # -1: no reservation; setWebhook's max_connections (`just deploy`) bounds Telegram's calls.
  reserved_concurrent_executions = var.bot_reserved_concurrency
  # The environment names the bot's secrets (ssm.tf); it is encrypted with kms.tf's key all the same.
  kms_key_arn = aws_kms_key.tandem.arn

  # The names of tandem-bot's settings (bot/src/config.rs); infra/tests/terraform.rs checks them.
  environment {
    variables = {
      TANDEM_BOT_MODE = "webhook"
      # `ssm:NAME`: tandem-bot reads these SecureStrings itself when it starts (bot/src/secrets.rs),
      # so the function's configuration holds their names, never their values.
      TELOXIDE_TOKEN          = "ssm:${aws_ssm_parameter.telegram_bot_token[0].name}"
      TELEGRAM_WEBHOOK_SECRET = "ssm:${aws_ssm_parameter.webhook_secret[0].name}"
      TANDEM_API_URL          = local.api_url
      TANDEM_API_KEY          = "ssm:${aws_ssm_parameter.bot_api_key[0].name}"
      TANDEM_BOT_FILTER_WORDS = var.bot_filter_words
      RUST_LOG                = var.log_level
    }
  }

  depends_on = [aws_cloudwatch_log_group.bot, aws_iam_role_policy.bot]
}
