//! Black-box tests of the API: a real server on a free port of 127.0.0.1, spoken to over HTTP.

mod concurrency;
mod durability;
mod dynamodb;
mod errors;
mod helpers;
mod lambda;
mod list;
mod openapi;
mod seed;
mod tokens;
