# What `just deploy` prints and uses (`terraform -chdir=infra output`).

output "api_url" {
  description = "Base URL of the API (the HTTP API's https://ID.execute-api.REGION.amazonaws.com, or the function URL without its trailing slash), for the SDK, curl and `just loadtest --host`."
  value       = local.api_url
}

output "dashboard_url" {
  description = "The dashboard, served by the API at /."
  value       = "${local.api_url}/"
}

output "table_name" {
  description = "The DynamoDB table."
  value       = aws_dynamodb_table.tokens.name
}

output "api_function_name" {
  description = "The API's Lambda function (for `aws logs tail /aws/lambda/NAME --follow`)."
  value       = aws_lambda_function.api.function_name
}

output "webhooks_function_name" {
  description = "The webhook delivery function (for `aws logs tail /aws/lambda/NAME --follow`)."
  value       = aws_lambda_function.webhooks.function_name
}

output "webhook_dead_letter_queue_url" {
  description = "Where webhook deliveries end that the delivery function could not handle (a stream batch or a retry that failed every time): inspect and redrive from here."
  value       = aws_sqs_queue.webhook_dead_letters.url
}

output "bot_function_name" {
  description = "The bot's Lambda function; empty without the bot."
  value       = var.enable_bot ? aws_lambda_function.bot[0].function_name : ""
}

output "bot_webhook_url" {
  description = "The URL Telegram is told to call (setWebhook); empty without the bot."
  value       = local.bot_webhook_url
}

output "ssm_parameters" {
  description = "Names of the SSM SecureString parameters holding the deployment's secrets."
  value = concat(
    [aws_ssm_parameter.api_keys.name],
    var.enable_bot ? [aws_ssm_parameter.telegram_bot_token[0].name, aws_ssm_parameter.webhook_secret[0].name, aws_ssm_parameter.bot_api_key[0].name] : [],
  )
}

output "name" {
  description = "The deployment's name (var.name), read back by `just destroy`."
  value       = var.name
}

output "region" {
  description = "The region deployed to (var.region), read back by `just deploy` and `just destroy` so that neither acts on another region by mistake."
  value       = var.region
}
