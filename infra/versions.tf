# Terraform and provider versions. The AWS provider is the only one: nothing here needs a
# provider that an offline machine's mirror lacks (scripts/tf-init installs it, from
# /opt/tf-plugins when that holds it, else from the registry). `terraform init` records the
# exact provider build in .terraform.lock.hcl; see the README on committing it.
terraform {
  # 1.9: variable validations may refer to other variables (telegram_bot_token checks enable_bot).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # State holds the secrets that reach the Lambdas (see ssm.tf): keep it remote, encrypted and
  # access-controlled. The local default (infra/terraform.tfstate, ignored by git) suits one
  # operator; for a team, create the bucket once and uncomment this block:
  #
  # backend "s3" {
  #   bucket       = "tandem-terraform-state-123456789012"
  #   key          = "tandem/terraform.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   kms_key_id   = "alias/tandem-terraform-state"
  #   use_lockfile = true # S3-native locking (Terraform >= 1.10); older versions use dynamodb_table
  # }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { Application = "tandem", Deployment = var.name })
  }
}
