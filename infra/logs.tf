# Log groups, created before the functions so that Lambda does not create them itself without
# retention (and so that `terraform destroy` removes them). Encrypted with kms.tf's key:
# request logs name tokens and entities.

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (30 by default): these are operational logs of short-lived pairing tokens, not an audit trail, and keeping them a year would keep personal data (entity ids) longer than it serves.
  name              = "/aws/lambda/${local.api_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.tandem.arn
}

resource "aws_cloudwatch_log_group" "bot" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, as for the API's logs: operational logs holding Telegram chat ids, kept no longer than they serve.
  count             = var.enable_bot ? 1 : 0
  name              = "/aws/lambda/${local.bot_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.tandem.arn
}

resource "aws_cloudwatch_log_group" "webhooks" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, as for the API's logs: operational logs naming tokens and endpoints, kept no longer than they serve.
  name              = "/aws/lambda/${local.webhooks_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.tandem.arn
}

# API Gateway's access log: one JSON line per request, with status, latency and the caller's
# address, which the functions' own logs lack when API Gateway answers itself (throttled: 429).
resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, as for the functions' logs: the access log holds callers' IP addresses, kept no longer than they serve.
  count             = var.front_door == "http_api" ? 1 : 0
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.tandem.arn
}
