//! Tandem's software development kit: the wire types of HTTP API v1, the validated
//! newtypes both sides agree on, and a typed async [`Client`].
//!
//! The same crate compiles for native targets and for `wasm32-unknown-unknown`, so the
//! bot, the load test and the browser dashboard all speak to the API through it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sdk::Error> {
//! use sdk::{Client, CreateToken, EntityId};
//!
//! let client = Client::new("http://127.0.0.1:3000");
//! let alice = EntityId::parse("alice")?;
//! let created = client.create_token(&CreateToken::new(&alice)).await?;
//! let bob = EntityId::parse("bob")?;
//! let paired = client.pair(&created.token, &bob).await?;
//! assert_eq!(paired.entity_b, Some(bob));
//! # Ok(()) }
//! ```

mod bounded;
mod client;
mod newtypes;
pub mod webhooks;
mod wire;

pub use bounded::{PageLimit, Ttl, WaitSeconds};
pub use client::{Client, Error};
pub use newtypes::{
    END_USER_HEADER, EndUser, EntityId, IdempotencyKey, Label, PageCursor, ShortCode, Token,
    ValidationError,
};
pub use wire::{
    CreateToken, ErrorBody, ErrorCode, ErrorDetail, Health, PairRequest, Stats, Status, TokenPage,
    TokenRecord,
};
