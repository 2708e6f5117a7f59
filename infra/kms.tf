# One customer managed key for the deployment's data at rest: the SSM parameters, both Lambdas'
# environment (which holds the bot's secrets, see ssm.tf), the DynamoDB table and the logs.
# Unlike the AWS managed keys, its policy decides who may decrypt: reading a Lambda's
# configuration (lambda:GetFunctionConfiguration) does not reveal its secrets without
# kms:Decrypt on this key as well. It costs 1 USD a month (see the README's cost notes).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

resource "aws_kms_key" "tandem" {
  description             = "Tandem (${var.name}): SSM parameters, Lambda environment, DynamoDB table and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "tandem" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.tandem.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy: its Resource "*" means this key alone, and kms:* for the account root is AWS's default key policy, which hands the key's administration to IAM policies instead of to the key policy.
  #checkov:skip=CKV_AWS_111:As above: "*" is this key, and write access is granted to the account (through IAM) and to CloudWatch Logs only for this deployment's log groups.
  #checkov:skip=CKV_AWS_356:As above: in a key policy "*" can only mean the key the policy is attached to.
  # The account administers and uses the key through IAM policies (the default key policy):
  # the Lambdas' roles get their kms: actions in iam.tf, and whoever runs Terraform needs
  # the usual administrator rights.
  statement {
    sid       = "AccountAdministersThroughIam"
    actions   = ["kms:*"]
    resources = ["*"] # In a key policy, "*" is this key.

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the deployment's log groups, and only those.
  statement {
    sid       = "CloudWatchLogsEncryptsThisDeploymentsLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-*",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/apigateway/${var.name}",
      ]
    }
  }
}
