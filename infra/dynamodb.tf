# The table of the DynamoDB store: the same schema `tandem-api create-table` creates
# (api/src/store/dynamodb.rs), which infra/tests/terraform.rs checks attribute by attribute.

resource "aws_dynamodb_table" "tokens" {
  name = var.name
  # On-demand: nothing to pay while idle, no capacity to plan, and no throttling on bursts up
  # to twice the previous peak. (So there is no auto scaling to configure either.)
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "token"

  attribute {
    name = "token"
    type = "S"
  }
  attribute {
    name = "entity_a_shard"
    type = "S"
  }
  attribute {
    name = "entity_a_sort"
    type = "S"
  }
  attribute {
    name = "entity_b_shard"
    type = "S"
  }
  attribute {
    name = "entity_b_sort"
    type = "S"
  }

  # Listing by entity A, and with by_entity_b what /v1/stats reads: a tenant's records spread
  # over 16 partitions (`tenant#NN`, by entity A's hash) so that one busy tenant meets no
  # partition's write ceiling; an entity's records lie together, newest last. It holds only what
  # a pairing never changes, so a pairing does not write to it.
  global_secondary_index {
    name               = "by_entity_a"
    hash_key           = "entity_a_shard"
    range_key          = "entity_a_sort"
    projection_type    = "INCLUDE"
    non_key_attributes = ["entity_a", "created_at", "pending_until", "deleted_at"]
  }
  # Listing by entity B, spread the same way by entity B and sorted by pairing time. Sparse:
  # only paired items have entity_b_shard.
  global_secondary_index {
    name            = "by_entity_b"
    hash_key        = "entity_b_shard"
    range_key       = "entity_b_sort"
    projection_type = "ALL"
  }

  # DynamoDB deletes expired items hours to days late; the store filters them on read anyway.
  ttl {
    attribute_name = "expires_at_epoch"
    enabled        = true
  }

  # Every change, as it was and as it became, for the webhook delivery function (webhooks.tf).
  # Reading the stream is free to the writers: each API call still costs one request.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  point_in_time_recovery {
    enabled = true
  }

  # Encrypted at rest with the deployment's own key (kms.tf) rather than an AWS-owned one, so
  # that the key policy and CloudTrail show who can read the table's data.
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.tandem.arn
  }

  deletion_protection_enabled = var.table_deletion_protection
}
