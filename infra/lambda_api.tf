# The API: tandem-api's bootstrap (arm64 unless var.architecture says otherwise), built by `just deploy` with cargo-lambda, with the
# dashboard (web/dist) in the same zip, so that the dashboard is served from the API's origin.

locals {
  api_function_name = "${var.name}-api"
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Only API Gateway invokes it, synchronously: a failed request is answered with an error to its caller, and nothing is queued that a dead-letter queue could keep.
  #checkov:skip=CKV_AWS_117:No VPC: it reaches DynamoDB over AWS's public endpoint with IAM and TLS, and owns nothing that lives in a VPC; a VPC would add a DynamoDB gateway endpoint and longer cold starts for no isolation gained.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the build; the zip is built and uploaded by the same operator in one `just deploy`, so a signature would vouch for nothing more than the operator's own IAM rights do.
  #checkov:skip=CKV_AWS_50:The binary emits no X-Ray segments (no X-Ray SDK), and API Gateway HTTP APIs do not trace: Active tracing would record only Lambda's own start and duration, which the REPORT log line already gives.
  function_name    = local.api_function_name
  description      = "Tandem HTTP API and dashboard (${var.name})"
  role             = aws_iam_role.api.arn
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  handler          = "bootstrap"
  filename         = var.api_zip
  source_code_hash = filebase64sha256(var.api_zip)
  memory_size      = var.api_memory_mb
  timeout          = var.api_timeout_seconds
  # -1: no reservation. The stage's throttling (endpoint.tf) is what bounds the load.
  reserved_concurrent_executions = var.api_reserved_concurrency
  kms_key_arn                    = aws_kms_key.tandem.arn

  # The names of tandem-api's settings (api/src/config.rs); infra/tests/terraform.rs fails
  # when one is not a setting of the binary, or a required one is missing.
  environment {
    variables = {
      TANDEM_STORE      = "dynamodb://${aws_dynamodb_table.tokens.name}"
      TANDEM_API_KEYS   = local.api_keys_setting
      TANDEM_RATE_LIMIT = tostring(var.rate_limit_per_key)
      # No TANDEM_DASHBOARD_DIR: its default, ./web/dist, is where `cargo lambda build --include
      # web/dist` puts the dashboard, since Lambda starts the bootstrap in the unpacked zip.
      RUST_LOG = var.log_level
    }
  }

  lifecycle {
    precondition {
      condition     = local.api_keys_setting != ""
      error_message = "The API needs at least one key under Lambda: set api_keys (TANDEM_API_KEYS for just deploy), or enable the bot, whose key is added."
    }
  }

  depends_on = [aws_cloudwatch_log_group.api, aws_iam_role_policy.api]
}
