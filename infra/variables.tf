# The settings of a deployment. `just deploy` sets the secret ones from the environment
# (TF_VAR_...), so that they never appear on a command line; see the README's "Deploy to AWS".

variable "name" {
  description = "Name of the deployment: the DynamoDB table, the prefix of every other resource and of the SSM parameters (/NAME/...)."
  type        = string
  default     = "tandem"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 32 characters of a-z, 0-9 and -, starting with a letter and not ending with -."
  }
}

variable "region" {
  description = "AWS region to deploy to, such as eu-west-1."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1 or us-east-1."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Application and Deployment are always set)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256])
    error_message = "tag keys are at most 128 characters and values at most 256."
  }
}

variable "architecture" {
  description = "The instruction set both Lambdas run on, as their zips were built for: arm64 (Graviton, the cheaper per GB-second; what `just deploy` builds) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "api_zip" {
  description = "Path of the API's Lambda zip (bootstrap at its root, the dashboard under web/dist/), as `just deploy` builds it."
  type        = string
  default     = "../target/lambda/tandem-api/bootstrap.zip"

  validation {
    condition     = endswith(var.api_zip, ".zip")
    error_message = "api_zip must be the path of a .zip file built by cargo lambda build --output-format zip."
  }
}

variable "bot_zip" {
  description = "Path of the bot's Lambda zip, as `just deploy` builds it."
  type        = string
  default     = "../target/lambda/tandem-bot/bootstrap.zip"

  validation {
    condition     = endswith(var.bot_zip, ".zip")
    error_message = "bot_zip must be the path of a .zip file built by cargo lambda build --output-format zip."
  }
}

variable "api_keys" {
  description = "The API's keys as TANDEM_API_KEYS takes them: tenant:key,tenant:key (a key of at least 16 characters, or sha256:<64 hex digits> of one). Stored as an SSM SecureString; the Lambda receives only their SHA-256 digests. May be empty: the bot's own key is always added."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition = alltrue([
      for entry in split(",", var.api_keys) :
      can(regex("^[A-Za-z0-9_-]{1,64}:(sha256:[0-9a-fA-F]{64}|.{16,})$", trimspace(entry))) if trimspace(entry) != ""
    ])
    error_message = "api_keys must be tenant:key pairs separated by commas: tenants of 1 to 64 of A-Z a-z 0-9 - _, keys of at least 16 characters or sha256:<64 hex digits>."
  }
}

variable "api_memory_mb" {
  description = "Memory of the API's Lambda in MB; Lambda gives CPU in proportion, which shortens cold starts."
  type        = number
  default     = 256

  validation {
    condition     = var.api_memory_mb >= 128 && var.api_memory_mb <= 10240 && floor(var.api_memory_mb) == var.api_memory_mb
    error_message = "api_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "api_timeout_seconds" {
  description = "Timeout of the API's Lambda in seconds: above the 25 s a long-poll read may wait, and at most the 30 s API Gateway waits for an answer."
  type        = number
  default     = 30

  validation {
    condition     = var.api_timeout_seconds >= 26 && var.api_timeout_seconds <= 30 && floor(var.api_timeout_seconds) == var.api_timeout_seconds
    error_message = "api_timeout_seconds must be a whole number from 26 (long polls wait up to 25 s) to 30 (API Gateway's limit)."
  }
}

variable "api_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the API's Lambda; -1 reserves none. Lambda keeps a minimum unreserved (100 on a standard account; all 10 of a new account's quota), so on a new account reserving fails until the quota is raised."
  type        = number
  default     = -1

  validation {
    condition     = var.api_reserved_concurrency == -1 || (var.api_reserved_concurrency >= 1 && floor(var.api_reserved_concurrency) == var.api_reserved_concurrency)
    error_message = "api_reserved_concurrency must be -1 (none) or a whole number of at least 1."
  }
}

variable "rate_limit_per_key" {
  description = "TANDEM_RATE_LIMIT: requests allowed per API key in any clock second, for the whole deployment (instances lease slices of it from the table; 0: no limit). The stage throttling below bounds all keys together."
  type        = number
  default     = 100

  validation {
    condition     = var.rate_limit_per_key >= 0 && floor(var.rate_limit_per_key) == var.rate_limit_per_key
    error_message = "rate_limit_per_key must be a whole number, 0 or more."
  }
}

variable "front_door" {
  description = "How requests reach the functions: http_api (an API Gateway HTTP API: stage throttling for the whole deployment, an access log, one origin for API, dashboard and webhook; 1 USD per million requests) or function_url (a Lambda function URL on each function: no charge of its own, but no deployment-wide rate bound before Lambda runs, no access log, and the bot on a URL of its own). See endpoint.tf."
  type        = string
  default     = "http_api"

  validation {
    condition     = contains(["http_api", "function_url"], var.front_door)
    error_message = "front_door must be http_api or function_url."
  }
}

variable "throttle_rate_per_second" {
  description = "API Gateway stage throttling (front_door = http_api only): steady requests a second across the whole deployment (all keys, all routes)."
  type        = number
  default     = 200

  validation {
    condition     = var.throttle_rate_per_second >= 1 && var.throttle_rate_per_second <= 10000
    error_message = "throttle_rate_per_second must be from 1 to 10000 (the account's default regional quota)."
  }
}

variable "throttle_burst" {
  description = "API Gateway stage throttling: requests allowed in a burst above the steady rate."
  type        = number
  default     = 400

  validation {
    condition     = var.throttle_burst >= 1 && var.throttle_burst <= 5000 && floor(var.throttle_burst) == var.throttle_burst
    error_message = "throttle_burst must be a whole number from 1 to 5000 (the account's default regional quota)."
  }
}

variable "log_level" {
  description = "RUST_LOG of both Lambdas, in tracing's EnvFilter syntax (for example info or info,api=debug)."
  type        = string
  default     = "info"

  validation {
    condition     = can(regex("^[A-Za-z0-9_:=,.-]+$", var.log_level))
    error_message = "log_level must be a tracing EnvFilter such as info or info,api=debug (letters, digits and _ : = , . -)."
  }
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the Lambdas' and API Gateway's logs, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "table_deletion_protection" {
  description = "Refuse to delete the DynamoDB table (terraform destroy then fails on it until this is set to false and applied). Off by default so that `just destroy` tears everything down; turn it on for data you keep."
  type        = bool
  default     = false

  # No validation block: type = bool admits only true and false.
}

variable "enable_bot" {
  description = "Deploy the Telegram bot (a Lambda behind POST /telegram/webhook). `just deploy` turns it off when TELOXIDE_TOKEN is unset."
  type        = bool
  default     = true

  # No validation block: type = bool admits only true and false.
}

variable "telegram_bot_token" {
  description = "The bot's token from BotFather (TELOXIDE_TOKEN). Stored as an SSM SecureString. Required when enable_bot is true."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.enable_bot ? can(regex("^[0-9]+:[A-Za-z0-9_-]{30,}$", var.telegram_bot_token)) : true
    error_message = "telegram_bot_token must be a BotFather token (digits, a colon, then at least 30 of A-Z a-z 0-9 _ -) when enable_bot is true."
  }
}

variable "webhook_secret" {
  description = "The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token with every webhook call. Generated by `just deploy` on the first deploy with the bot and kept in SSM (/NAME/bot/webhook-secret). Required when enable_bot is true."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    # Telegram's rule for secret_token: 1 to 256 of A-Z a-z 0-9 _ -; 32 or more, to be a secret.
    condition     = var.enable_bot ? can(regex("^[A-Za-z0-9_-]{32,256}$", var.webhook_secret)) : true
    error_message = "webhook_secret must be 32 to 256 of A-Z a-z 0-9 _ - when enable_bot is true."
  }
}

variable "bot_api_key" {
  description = "The bot's own key for the API (tenant bot_tenant); only its digest reaches the API. Generated by `just deploy` on the first deploy with the bot and kept in SSM (/NAME/bot/api-key). Required when enable_bot is true."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.enable_bot ? can(regex("^[A-Za-z0-9_-]{32,256}$", var.bot_api_key)) : true
    error_message = "bot_api_key must be 32 to 256 of A-Z a-z 0-9 _ - when enable_bot is true."
  }
}

variable "bot_tenant" {
  description = "The tenant the bot acts as in the API; its key is generated, stored in SSM, and added to the API's keys."
  type        = string
  default     = "telegram"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.bot_tenant))
    error_message = "bot_tenant must be 1 to 64 of A-Z a-z 0-9 - _ (the API's tenant names)."
  }
}

variable "bot_filter_words" {
  description = "TANDEM_BOT_FILTER_WORDS: words the bot masks in relayed messages, comma-separated (case-insensitive)."
  type        = string
  default     = ""

  validation {
    condition     = length(var.bot_filter_words) <= 4096
    error_message = "bot_filter_words must be at most 4096 characters (Lambda's environment is at most 4 KB in all)."
  }
}

variable "bot_memory_mb" {
  description = "Memory of the bot's Lambda in MB."
  type        = number
  default     = 128

  validation {
    condition     = var.bot_memory_mb >= 128 && var.bot_memory_mb <= 10240 && floor(var.bot_memory_mb) == var.bot_memory_mb
    error_message = "bot_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "bot_timeout_seconds" {
  description = "Timeout of the bot's Lambda in seconds (one update: a few API and Telegram calls); at most API Gateway's 30 s."
  type        = number
  default     = 30

  validation {
    condition     = var.bot_timeout_seconds >= 3 && var.bot_timeout_seconds <= 30 && floor(var.bot_timeout_seconds) == var.bot_timeout_seconds
    error_message = "bot_timeout_seconds must be a whole number from 3 to 30 (API Gateway's limit)."
  }
}

variable "bot_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the bot's Lambda; -1 reserves none (see api_reserved_concurrency). Telegram itself sends at most 40 webhook calls at once."
  type        = number
  default     = -1

  validation {
    condition     = var.bot_reserved_concurrency == -1 || (var.bot_reserved_concurrency >= 1 && floor(var.bot_reserved_concurrency) == var.bot_reserved_concurrency)
    error_message = "bot_reserved_concurrency must be -1 (none) or a whole number of at least 1."
  }
}

variable "webhooks_timeout_seconds" {
  description = "Timeout of the webhook delivery function, in seconds: a batch's attempts run at once, each at most 10 s."
  type        = number
  default     = 60

  validation {
    condition     = var.webhooks_timeout_seconds >= 15 && var.webhooks_timeout_seconds <= 900
    error_message = "webhooks_timeout_seconds must be from 15 to 900."
  }
}

variable "webhooks_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the webhook delivery function; -1: none. The stream is read by at most one execution per shard anyway."
  type        = number
  default     = -1

  validation {
    condition     = var.webhooks_reserved_concurrency == -1 || (var.webhooks_reserved_concurrency >= 1 && floor(var.webhooks_reserved_concurrency) == var.webhooks_reserved_concurrency)
    error_message = "webhooks_reserved_concurrency must be -1 (none) or a whole number of at least 1."
  }
}
