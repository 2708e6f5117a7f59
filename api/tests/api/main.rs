//! Black-box tests of the API: a real server on a free port of 127.0.0.1, spoken to over HTTP.

mod concurrency;
mod durability;
mod errors;
mod helpers;
mod list;
mod openapi;
mod seed;
mod tokens;
