//! The lean side of Tandem's load testing, for `just bench` and `just soak`: the load-test
//! mix on a light HTTP client ([`mix`]), what to watch on the server while it runs
//! ([`probe`]), a timed run that samples every second ([`soak`]) and its chart ([`chart`]).
//! The Goose load test (`tandem-loadtest`, `src/main.rs`) stays the load test users run.

pub mod chart;
pub mod mix;
pub mod probe;
pub mod soak;
