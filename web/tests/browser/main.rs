//! The dashboard in a real browser: headless Chromium, driven through chromedriver, on the
//! built dashboard served by the real `tandem-api` binary.
//!
//! Needs `just web` (the built dashboard) and Chromium with chromedriver; `just test`
//! provides both before it runs these.

mod flows;
mod helpers;
mod webhooks;
