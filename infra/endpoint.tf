# The HTTPS endpoint: an API Gateway HTTP API in front of both functions.
#
# Why not a Lambda function URL? A function URL can only be bounded by the function's reserved
# concurrency, which a new account cannot set (all 10 of its quota must stay unreserved) and which
# bounds requests in flight, not requests a second. The HTTP API's stage throttling bounds the
# rate of the whole deployment in front of the per-key limits that tandem-api keeps in the table,
# answers the excess with 429 before any Lambda runs (so a flood costs no Lambda time), gives
# an access log, and puts the API, the dashboard and
# the bot's webhook on one origin. It speaks the payload format 2.0 that tandem-api's
# lambda_http (feature apigw_http) expects.

resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  description   = "Tandem (${var.name}): HTTP API, dashboard and Telegram webhook"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

# Everything not routed elsewhere goes to the API: /v1/..., the seed's routes, /healthz,
# /openapi.json and the dashboard at /.
resource "aws_apigatewayv2_route" "api" {
  #checkov:skip=CKV_AWS_309:Public by design: tandem-api authenticates every API call itself (Bearer API keys, per tenant), and the dashboard's page and files must load before anyone has entered a key.
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_apigatewayv2_integration" "bot" {
  count                  = var.enable_bot ? 1 : 0
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.bot[0].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "bot_webhook" {
  #checkov:skip=CKV_AWS_309:Telegram cannot sign requests for an API Gateway authorizer; tandem-bot checks the X-Telegram-Bot-Api-Secret-Token header against the secret registered with setWebhook and rejects any other call.
  count     = var.enable_bot ? 1 : 0
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "POST /telegram/webhook"
  target    = "integrations/${aws_apigatewayv2_integration.bot[0].id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  # The deployment-wide bound: beyond it API Gateway answers 429 without invoking anything.
  default_route_settings {
    throttling_rate_limit  = var.throttle_rate_per_second
    throttling_burst_limit = var.throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
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
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage and route of this API only.
  source_arn = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

resource "aws_lambda_permission" "bot" {
  count         = var.enable_bot ? 1 : 0
  statement_id  = "AllowApiGatewayInvokeWebhook"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.bot[0].function_name
  principal     = "apigateway.amazonaws.com"
  # The webhook route of this API only.
  source_arn = "${aws_apigatewayv2_api.http.execution_arn}/*/POST/telegram/webhook"
}
