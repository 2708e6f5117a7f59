//! Black-box tests of the API: a real server on a free port of 127.0.0.1, spoken to over HTTP.

mod auth;
mod codes;
mod concurrency;
mod dashboard;
mod durability;
mod dynamodb;
mod errors;
mod fuzz;
mod hardening;
mod helpers;
mod idempotency;
mod instances;
mod lambda;
mod list;
mod longpoll;
mod openapi;
mod readme;
mod seed;
mod stats;
mod tokens;
mod wal;
mod webhooks;
mod webhooks_lambda;
