//! Tandem's test harness, shared by the API, bot, browser and deploy-rehearsal tests: the
//! API served in-process through production's [`api::serve()`] ([`ApiServer`]), a program
//! started under a guard that kills it even when the test fails ([`RunningBinary`]),
//! [`free_port`], an emulator of the Telegram Bot API ([`telegram`]), a webhook receiver
//! that verifies with the official Standard Webhooks library ([`webhooks`]), the Lambda
//! runtime emulator for a function the test starts itself ([`LambdaRuntime`]), and
//! README.md's shell blocks ([`readme`]).
//!
//! Everything listens on 127.0.0.1 only.

mod binary;
mod lambda;
pub mod readme;
mod server;
pub mod telegram;
pub mod webhooks;

pub use binary::{
    RunningBinary, tandem_api_command, tandem_api_command_on_one_core, target_dir, workspace_binary,
};
pub use lambda::LambdaRuntime;
pub use server::ApiServer;

/// A port of 127.0.0.1 that was free a moment ago, for programs that must be told their
/// port (chromedriver, the bot's webhook, `cargo lambda watch`). Prefer binding port 0
/// where the program reports the port it got.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port of 127.0.0.1")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port();

        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
