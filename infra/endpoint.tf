# The HTTPS endpoint, by var.front_door: an API Gateway HTTP API in front of both functions
# (the default), or a Lambda function URL on each.
#
# The HTTP API costs 1 USD per million requests, about as much as everything else together
# (README "What it costs"). What it gives for that, and a function URL does not: stage throttling,
# which bounds the rate of the whole deployment in front of the per-key limits that tandem-api
# keeps in the table and answers the excess with 429 before any Lambda runs (so a flood costs no
# Lambda time; a function URL can only be bounded by reserved concurrency, which a new account
# cannot set and which bounds requests in flight, not a rate); an access log of every request,
# 429s included; and one origin for the API, the dashboard and the bot's webhook. Both speak the
# payload format 2.0 that tandem-api's lambda_http expects.

locals {
  http_api = var.front_door == "http_api"
  # The base URL of the API, without a trailing slash, and the bot's webhook.
  api_url = local.http_api ? aws_apigatewayv2_api.http[0].api_endpoint : trimsuffix(aws_lambda_function_url.api[0].function_url, "/")
  bot_webhook_url = !var.enable_bot ? "" : (
    local.http_api
    ? "${aws_apigatewayv2_api.http[0].api_endpoint}/telegram/webhook"
    : "${aws_lambda_function_url.bot[0].function_url}telegram/webhook"
  )
}

resource "aws_apigatewayv2_api" "http" {
  count         = local.http_api ? 1 : 0
  name          = var.name
  description   = "Tandem (${var.name}): HTTP API, dashboard and Telegram webhook"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "api" {
  count                  = local.http_api ? 1 : 0
  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

# Everything not routed elsewhere goes to the API: /v1/..., the seed's routes, /healthz,
# /openapi.json and the dashboard at /.
resource "aws_apigatewayv2_route" "api" {
  #checkov:skip=CKV_AWS_309:Public by design: tandem-api authenticates every API call itself (Bearer API keys, per tenant), and the dashboard's page and files must load before anyone has entered a key.
  count     = local.http_api ? 1 : 0
  api_id    = aws_apigatewayv2_api.http[0].id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.api[0].id}"
}

resource "aws_apigatewayv2_integration" "bot" {
  count                  = var.enable_bot && local.http_api ? 1 : 0
  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.bot[0].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "bot_webhook" {
  #checkov:skip=CKV_AWS_309:Telegram cannot sign requests for an API Gateway authorizer; tandem-bot checks the X-Telegram-Bot-Api-Secret-Token header against the secret registered with setWebhook and rejects any other call.
  count     = var.enable_bot && local.http_api ? 1 : 0
  api_id    = aws_apigatewayv2_api.http[0].id
  route_key = "POST /telegram/webhook"
  target    = "integrations/${aws_apigatewayv2_integration.bot[0].id}"
}

resource "aws_apigatewayv2_stage" "default" {
  count       = local.http_api ? 1 : 0
  api_id      = aws_apigatewayv2_api.http[0].id
  name        = "$default"
  auto_deploy = true

  # The deployment-wide bound: beyond it API Gateway answers 429 without invoking anything.
  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_per_second
    throttling_burst_limit = var.throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
    })
  }

  depends_on = [aws_apigatewayv2_route.api, aws_apigatewayv2_route.bot_webhook]
}

resource "aws_lambda_permission" "api" {
  count         = local.http_api ? 1 : 0
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage and route of this API only.
  source_arn = "${aws_apigatewayv2_api.http[0].execution_arn}/*/*"
}

resource "aws_lambda_permission" "bot" {
  count         = var.enable_bot && local.http_api ? 1 : 0
  statement_id  = "AllowApiGatewayInvokeWebhook"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.bot[0].function_name
  principal     = "apigateway.amazonaws.com"
  # The webhook route of this API only.
  source_arn = "${aws_apigatewayv2_api.http[0].execution_arn}/*/POST/telegram/webhook"
}

# The function-URL front door: each function answers on its own URL, public (tandem-api
# authenticates every API call itself; tandem-bot checks Telegram's secret header).
resource "aws_lambda_function_url" "api" {
  #checkov:skip=CKV_AWS_258:Public by design: tandem-api authenticates every API call itself (Bearer API keys, per tenant), and the dashboard's page and files must load before anyone has entered a key.
  count              = local.http_api ? 0 : 1
  function_name      = aws_lambda_function.api.function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "api_url" {
  #checkov:skip=CKV_AWS_301:The function URL is the public front door when front_door = function_url; tandem-api authenticates every API call itself.
  count                  = local.http_api ? 0 : 1
  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.api.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

resource "aws_lambda_function_url" "bot" {
  #checkov:skip=CKV_AWS_258:Telegram cannot sign requests; tandem-bot checks the X-Telegram-Bot-Api-Secret-Token header against the secret registered with setWebhook and rejects any other call.
  count              = var.enable_bot && !local.http_api ? 1 : 0
  function_name      = aws_lambda_function.bot[0].function_name
  authorization_type = "NONE"
}

resource "aws_lambda_permission" "bot_url" {
  #checkov:skip=CKV_AWS_301:Telegram calls the webhook from the internet; tandem-bot checks the secret header on every call.
  count                  = var.enable_bot && !local.http_api ? 1 : 0
  statement_id           = "AllowPublicFunctionUrl"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.bot[0].function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}
