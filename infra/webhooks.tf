# Webhooks: the table's stream feeds a delivery function (tandem-api's bootstrap again, with
# TANDEM_FUNCTION=webhooks), which signs and sends each event to the tenant's endpoints. A
# failed attempt goes to the retry queue, delayed until its retry is due; what the function
# cannot handle at all (a stream batch or a retry that keeps failing) ends in the dead-letter
# queue. See api/src/webhooks/lambda.rs.

locals {
  webhooks_function_name = "${var.name}-webhooks"
}

resource "aws_sqs_queue" "webhook_retries" {
  name = "${var.name}-webhook-retries"
  # Longer than the function may run, so a message being handled is not handed out twice.
  visibility_timeout_seconds = var.webhooks_timeout_seconds * 6
  # The schedule's longest wait is 10 hours, sent on in steps of at most 15 minutes.
  message_retention_seconds = 4 * 24 * 3600
  kms_master_key_id         = aws_kms_key.tandem.arn

  lifecycle {
    # aws_sqs_queue_redrive_policy below owns it (as the provider's documentation advises).
    ignore_changes = [redrive_policy]
  }
}

# A retry whose handling failed five times (the function erring on it) goes to the dead letters.
resource "aws_sqs_queue_redrive_policy" "webhook_retries" {
  queue_url = aws_sqs_queue.webhook_retries.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.webhook_dead_letters.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue" "webhook_dead_letters" {
  name                      = "${var.name}-webhook-dead-letters"
  message_retention_seconds = 14 * 24 * 3600
  kms_master_key_id         = aws_kms_key.tandem.arn
}

resource "aws_lambda_function" "webhooks" {
  #checkov:skip=CKV_AWS_116:Invoked only by its event source mappings, which poll synchronously: their failures go to the dead-letter queue through the mappings' own on-failure destination and the retry queue's redrive policy, never through an asynchronous invocation a function DLQ would catch.
  #checkov:skip=CKV_AWS_117:No VPC, as for the API: it reaches DynamoDB and SQS over AWS's public endpoints with IAM and TLS, and the endpoints it delivers to are on the internet.
  #checkov:skip=CKV_AWS_272:As for the API: the zip is the API's own, built and uploaded by the operator in one `just deploy`.
  #checkov:skip=CKV_AWS_50:As for the API: the binary emits no X-Ray segments.
  function_name    = local.webhooks_function_name
  description      = "Tandem webhook delivery (${var.name})"
  role             = aws_iam_role.webhooks.arn
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  handler          = "bootstrap"
  filename         = var.api_zip
  source_code_hash = filebase64sha256(var.api_zip)
  memory_size      = 128
  timeout          = var.webhooks_timeout_seconds
  # -1: no reservation.
  reserved_concurrent_executions = var.webhooks_reserved_concurrency
  kms_key_arn                    = aws_kms_key.tandem.arn

  environment {
    variables = {
      TANDEM_FUNCTION          = "webhooks"
      TANDEM_STORE             = "dynamodb://${aws_dynamodb_table.tokens.name}"
      TANDEM_WEBHOOK_QUEUE_URL = aws_sqs_queue.webhook_retries.url
      RUST_LOG                 = var.log_level
    }
  }

  depends_on = [aws_cloudwatch_log_group.webhooks, aws_iam_role_policy.webhooks]
}

# The stream: only the changes that can be events (a pairing or deletion is a MODIFY, an expiry
# a REMOVE by DynamoDB's TTL, a test event the INSERT of a whtest# item), so that creations and
# the counters' updates do not invoke the function.
resource "aws_lambda_event_source_mapping" "webhook_stream" {
  event_source_arn                   = aws_dynamodb_table.tokens.stream_arn
  function_name                      = aws_lambda_function.webhooks.arn
  starting_position                  = "LATEST"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  # A batch that fails is split to find the record at fault, and retried; after that, or a
  # day, its description goes to the dead-letter queue.
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 10
  maximum_record_age_in_seconds  = 86400

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.webhook_dead_letters.arn
    }
  }

  filter_criteria {
    filter {
      pattern = jsonencode({ eventName = ["MODIFY"] })
    }
    filter {
      pattern = jsonencode({ eventName = ["REMOVE"], userIdentity = { type = ["Service"] } })
    }
    filter {
      pattern = jsonencode({ eventName = ["INSERT"], dynamodb = { Keys = { token = { S = [{ prefix = "whtest#" }] } } } })
    }
  }
}

resource "aws_lambda_event_source_mapping" "webhook_retries" {
  event_source_arn = aws_sqs_queue.webhook_retries.arn
  function_name    = aws_lambda_function.webhooks.arn
  batch_size       = 10
}

# --- its role: the table's webhook items and stream, the queues, its logs ---

resource "aws_iam_role" "webhooks" {
  name               = "${var.name}-webhooks"
  description        = "Tandem webhook delivery Lambda (${var.name}): the table and its stream, the webhook queues, its logs"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "webhooks" {
  # DescribeTable at start-up; GetItem of the endpoints and the delivery log; PutItem of the
  # endpoints (a disabled endpoint) and of the log.
  statement {
    sid       = "TableItems"
    actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem"]
    resources = [aws_dynamodb_table.tokens.arn]
  }

  # What the stream's event source mapping reads on the function's behalf.
  statement {
    sid       = "Stream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = [aws_dynamodb_table.tokens.stream_arn]
  }

  # Retries are sent to the queue by the function and received by its mapping.
  statement {
    sid       = "RetryQueue"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.webhook_retries.arn]
  }

  # The stream mapping's on-failure destination.
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.webhook_dead_letters.arn]
  }

  # The table and the queues are encrypted with kms.tf's key; Lambda decrypts the environment.
  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.tandem.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.webhooks.arn}:*"]
  }
}

resource "aws_iam_role_policy" "webhooks" {
  name   = "tandem-webhooks"
  role   = aws_iam_role.webhooks.id
  policy = data.aws_iam_policy_document.webhooks.json
}
