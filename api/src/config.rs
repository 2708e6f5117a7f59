//! The configuration of `tandem-api`: every setting is a flag and an environment variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::long_polls::{LongPolls, MAX_WAIT, MAX_WAIT_ON_LAMBDA};
use crate::serve::ServeLimits;
use crate::store::{Durability, GuessLimits, SqliteOptions, StoreUrl};
use crate::webhooks::WebhookPolicy;

/// Tandem's HTTP API: pairing as a service.
///
/// Serves locally on `--listen`, or under AWS Lambda when `AWS_LAMBDA_RUNTIME_API` is set.
#[derive(Debug, Clone, Parser)]
#[command(name = "tandem-api", version, about)]
pub struct Config {
    /// Address to listen on; `:PORT` means 127.0.0.1:PORT, and port 0 picks a free port
    /// (the start-up log says which).
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:3000", value_parser = parse_listen)]
    pub listen: SocketAddr,

    /// Where records live: `sqlite://PATH` or `dynamodb://TABLE`.
    #[arg(
        long,
        env = "TANDEM_STORE",
        default_value = "sqlite://./data/tandem.db",
        global = true
    )]
    pub store: StoreUrl,

    /// How the SQLite store syncs each commit: `full` (an acknowledged write survives a
    /// power cut) or `normal` (it survives `kill -9` of the process; a power cut may lose
    /// the last ones, for more writes per second).
    #[arg(long, env = "TANDEM_SQLITE_SYNC", value_enum, default_value_t = Durability::Full)]
    pub sqlite_sync: Durability,

    /// The SQLite store's bound on its write-ahead log, in MiB.
    #[arg(long, env = "TANDEM_SQLITE_WAL_LIMIT_MB", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(4..=4096))]
    pub sqlite_wal_limit_mb: u64,

    /// API keys as `tenant:key,…` (a key may also be given as `sha256:<hex digest>`).
    /// Unset: authentication is off and every request acts for the tenant `local`
    /// (refused under Lambda).
    #[arg(long, env = "TANDEM_API_KEYS", hide_env_values = true, value_parser = parse_secret)]
    pub api_keys: Option<SecretString>,

    /// Without API keys, the host names (besides localhost, 127.0.0.1 and ::1) that requests
    /// may name in `Host`, comma-separated: others are refused (DNS rebinding).
    #[arg(long, env = "TANDEM_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// How long a connection may take to send a request's headers, in seconds; a client
    /// that trickles them is dropped.
    #[arg(long, env = "TANDEM_HEADER_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout_seconds: u64,

    /// How long a request may take, in seconds, body included; a long-poll's wait comes on
    /// top. Past it the answer is `408`.
    #[arg(long, env = "TANDEM_REQUEST_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub request_timeout_seconds: u64,

    /// The longest a long-poll (`?wait=N`) waits, in seconds; a longer wait is cut to this.
    /// Default: 25, or 10 under Lambda, where every second of a wait is billed.
    #[arg(long, env = "TANDEM_MAX_WAIT_SECONDS",
          value_parser = clap::value_parser!(u64).range(0..=25))]
    pub max_wait_seconds: Option<u64>,

    /// How many long-polls one tenant may hold at once in this process; one more is `429`.
    #[arg(long, env = "TANDEM_WAITS_PER_TENANT", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub waits_per_tenant: u64,

    /// How many connections the local server serves at once; more wait to be accepted.
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Failed short-code attempts allowed per end user (or, without `Tandem-End-User`, per
    /// client address) and clock hour, across every process on the store.
    #[arg(long, env = "TANDEM_CODE_FAILURES_PER_HOUR", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub code_failures_per_hour: u32,

    /// Failed short-code attempts allowed per tenant and clock hour, all its end users and
    /// addresses together, across every process on the store.
    #[arg(long, env = "TANDEM_TENANT_CODE_FAILURES_PER_HOUR", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_code_failures_per_hour: u32,

    /// Requests per second allowed per API key, in bursts of as many; 0: no limit.
    /// Without API keys there is no limit.
    #[arg(long, env = "TANDEM_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,

    /// Allow webhook endpoints at plain `http://` URLs of loopback hosts (`localhost`,
    /// 127.0.0.1, `[::1]`): for receivers on this machine. Otherwise `https://` only.
    #[arg(long, env = "TANDEM_WEBHOOK_ALLOW_HTTP_LOOPBACK", action = clap::ArgAction::SetTrue)]
    pub webhook_allow_http_loopback: bool,

    /// Allow webhook deliveries to private, loopback, link-local and other non-public
    /// addresses (refused by default, against server-side request forgery).
    #[arg(long, env = "TANDEM_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", action = clap::ArgAction::SetTrue)]
    pub webhook_allow_private_addresses: bool,

    /// The delays before each retry of a failed webhook delivery, in seconds,
    /// comma-separated; after the last one the delivery is given up. The first attempt is
    /// at once. Each delay varies by up to a tenth either way.
    #[arg(long, env = "TANDEM_WEBHOOK_RETRY_SECONDS", value_delimiter = ',',
          default_value = "5,300,1800,7200,18000,36000,36000", value_parser = parse_seconds)]
    pub webhook_retry_seconds: Vec<Duration>,

    /// How long one webhook delivery attempt may take, in seconds.
    #[arg(long, env = "TANDEM_WEBHOOK_TIMEOUT_SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub webhook_timeout_seconds: Duration,

    /// A webhook endpoint whose every delivery attempt failed for this long (in seconds;
    /// default 3 days) is disabled, with the reason shown to the tenant.
    #[arg(long, env = "TANDEM_WEBHOOK_DISABLE_AFTER_SECONDS", default_value = "259200", value_parser = parse_seconds)]
    pub webhook_disable_after_seconds: Duration,

    /// Under Lambda, which function this is: `api` (the HTTP API) or `webhooks` (the
    /// delivery function, fed by the table's stream and the retry queue).
    #[arg(long, env = "TANDEM_FUNCTION", value_enum, default_value_t = Function::Api)]
    pub function: Function,

    /// The SQS queue that the webhook delivery function retries through (its URL).
    #[arg(long, env = "TANDEM_WEBHOOK_QUEUE_URL")]
    pub webhook_queue_url: Option<String>,

    /// The built dashboard (`just web`), served at `/`; when it is missing, `/` says how
    /// to build it. Under Lambda a relative path is taken inside the function's unpacked
    /// zip (`LAMBDA_TASK_ROOT`), where `cargo lambda build --include web/dist` puts it.
    #[arg(long, env = "TANDEM_DASHBOARD_DIR", default_value = "./web/dist")]
    pub dashboard_dir: PathBuf,

    /// Log filter, in `tracing` `EnvFilter` syntax (for example `info,api=debug`).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info", global = true)]
    pub log_filter: String,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Config {
    /// How an SQLite store is to write.
    pub fn sqlite_options(&self) -> SqliteOptions {
        SqliteOptions {
            durability: self.sqlite_sync,
            wal_limit_bytes: self.sqlite_wal_limit_mb * 1024 * 1024,
            ..SqliteOptions::default()
        }
    }

    /// The long-polls' limits; `AWS_LAMBDA_RUNTIME_API` set means under Lambda.
    pub fn long_polls(&self) -> LongPolls {
        let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
        let default = if on_lambda {
            MAX_WAIT_ON_LAMBDA
        } else {
            MAX_WAIT
        };
        let max_wait = self.max_wait_seconds.map_or(default, Duration::from_secs);
        LongPolls::new(
            max_wait,
            usize::try_from(self.waits_per_tenant).unwrap_or(usize::MAX),
        )
    }

    /// The limits on failed short-code attempts.
    pub fn guess_limits(&self) -> GuessLimits {
        GuessLimits {
            per_guesser: self.code_failures_per_hour,
            per_tenant: self.tenant_code_failures_per_hour,
        }
    }

    /// Where webhooks may go and how they are retried.
    pub fn webhook_policy(&self) -> WebhookPolicy {
        WebhookPolicy {
            allow_http_loopback: self.webhook_allow_http_loopback,
            allow_private_addresses: self.webhook_allow_private_addresses,
            retry_delays: self.webhook_retry_seconds.clone(),
            timeout: self.webhook_timeout_seconds,
            disable_after: self.webhook_disable_after_seconds,
        }
    }

    /// The local server's limits on connections.
    pub fn serve_limits(&self) -> ServeLimits {
        ServeLimits {
            header_read_timeout: Duration::from_secs(self.header_timeout_seconds),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }

    /// Where the dashboard is: `dashboard_dir`, inside `task_root` (Lambda's
    /// `LAMBDA_TASK_ROOT`, the unpacked zip) when there is one and the path is relative.
    pub fn dashboard_dir_in(&self, task_root: Option<&Path>) -> PathBuf {
        match task_root {
            Some(root) if self.dashboard_dir.is_relative() => root.join(&self.dashboard_dir),
            _ => self.dashboard_dir.clone(),
        }
    }
}

/// Which function a Lambda deployment runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Function {
    /// The HTTP API.
    #[default]
    Api,
    /// The webhook delivery function.
    Webhooks,
}

/// One-off tasks.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Create the DynamoDB table that `--store dynamodb://TABLE` names, with the schema
    /// Terraform declares (key, GSIs, TTL, on-demand); does nothing if it exists.
    CreateTable,
}

/// Wraps a secret so that it never shows in `Debug` output or logs.
fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}

/// Parses a number of seconds, fractions allowed (`0.5`).
fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("expected a number of seconds, such as 5 or 0.5 (got {value:?})"))
}

/// Parses `HOST:PORT`, or `:PORT` for 127.0.0.1.
fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let full = match value.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => value.to_owned(),
    };
    full.parse()
        .map_err(|_| format!("expected HOST:PORT or :PORT, such as 127.0.0.1:3000 (got {value:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_a_bare_port_and_rejects_garbage() {
        assert_eq!(parse_listen(":0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            parse_listen("0.0.0.0:80").unwrap(),
            "0.0.0.0:80".parse().unwrap()
        );
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let config = Config::try_parse_from(["tandem-api"]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.store.to_string(), "sqlite://./data/tandem.db");
        assert_eq!(config.dashboard_dir, PathBuf::from("./web/dist"));
        assert!(config.command.is_none());
        assert_eq!(config.guess_limits(), GuessLimits::default());
        assert_eq!(config.webhook_policy(), WebhookPolicy::default());
    }

    #[test]
    fn under_lambda_a_relative_dashboard_is_inside_the_unpacked_zip() {
        let default = Config::try_parse_from(["tandem-api"]).unwrap();
        let absolute =
            Config::try_parse_from(["tandem-api", "--dashboard-dir", "/srv/dashboard"]).unwrap();
        let task_root = Path::new("/var/task");

        assert_eq!(
            default.dashboard_dir_in(Some(task_root)),
            PathBuf::from("/var/task/./web/dist")
        );
        assert_eq!(default.dashboard_dir_in(None), PathBuf::from("./web/dist"));
        assert_eq!(
            absolute.dashboard_dir_in(Some(task_root)),
            PathBuf::from("/srv/dashboard")
        );
    }

    #[test]
    fn create_table_takes_the_store_flag_on_either_side() {
        for args in [
            ["tandem-api", "--store", "dynamodb://tandem", "create-table"],
            ["tandem-api", "create-table", "--store", "dynamodb://tandem"],
        ] {
            let config = Config::try_parse_from(args).unwrap();
            assert!(matches!(config.command, Some(Command::CreateTable)));
            assert_eq!(config.store.to_string(), "dynamodb://tandem");
        }
    }
}
