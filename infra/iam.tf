# One role per function, each allowed only what its code does.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    # Only Lambda functions of this account may assume these roles.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- the API ---

resource "aws_iam_role" "api" {
  name               = "${var.name}-api"
  description        = "Tandem API Lambda (${var.name}): its table, its logs, its environment's key"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "api" {
  # The DynamoDB calls of api/src/store/dynamodb.rs, and only those (infra/tests/terraform.rs
  # checks this list against the code): DescribeTable once at start-up; GetItem, BatchGetItem
  # (a listing reads entity A's records whole), PutItem (TransactWriteItems of Puts is
  # authorised as PutItem on each item) and UpdateItem on items.
  # CreateTable and UpdateTimeToLive belong to `tandem-api create-table`, which Terraform
  # replaces here; DeleteItem is never called (a delete is an UpdateItem that marks the item).
  statement {
    sid       = "TableItems"
    actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.tokens.arn]
  }

  # Query runs on the indexes only: listing and stats (by_entity_a, by_entity_b).
  statement {
    sid       = "QueryIndexes"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.tokens.arn}/index/*"]
  }

  # The table is encrypted with kms.tf's key: DynamoDB uses it on the caller's behalf.
  statement {
    sid       = "TableKeyThroughDynamoDB"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.tandem.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.amazonaws.com"]
    }
  }

  # Lambda decrypts the function's environment with the role's rights at start-up.
  statement {
    sid       = "EnvironmentKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.tandem.arn]
  }

  # Its own log group (created in logs.tf, so no logs:CreateLogGroup).
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*"]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "tandem-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

# --- the bot: its three secrets from SSM at start-up, its logs (the API is its memory) ---

resource "aws_iam_role" "bot" {
  count              = var.enable_bot ? 1 : 0
  name               = "${var.name}-bot"
  description        = "Tandem Telegram bot Lambda (${var.name}): its secrets in SSM, its logs, its key"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "bot" {
  count = var.enable_bot ? 1 : 0

  # tandem-bot resolves its `ssm:NAME` settings with one GetParameters call, these three only.
  statement {
    sid     = "Secrets"
    actions = ["ssm:GetParameters"]
    resources = [
      aws_ssm_parameter.telegram_bot_token[0].arn,
      aws_ssm_parameter.webhook_secret[0].arn,
      aws_ssm_parameter.bot_api_key[0].arn,
    ]
  }

  # Decrypts the function's environment (Lambda, at start-up) and the SecureStrings (SSM, on
  # the bot's behalf).
  statement {
    sid       = "SecretsKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.tandem.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.bot[0].arn}:*"]
  }
}

resource "aws_iam_role_policy" "bot" {
  count  = var.enable_bot ? 1 : 0
  name   = "tandem-bot"
  role   = aws_iam_role.bot[0].id
  policy = data.aws_iam_policy_document.bot[0].json
}
