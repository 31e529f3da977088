//! holysheep-vault: call OpenAI-compatible AI APIs (HolySheep by default) with an API key that
//! lives in HashiCorp Vault or OpenBao.
//!
//! One [`Client`] logs in to Vault (token, agent token file, AppRole, Kubernetes, JWT, or none
//! behind an agent's api_proxy), reads the key from a KV v2 secret, caches it with single-flight
//! refresh ahead of expiry, renews the Vault token, and calls the API with retries, typed errors,
//! key-rotation handling on 401, and cost accounting. The Node, Python and wasm packages are thin
//! layers over this crate, so every runtime behaves the same.
//!
//! ```no_run
//! # async fn demo() -> holysheep_vault::Result<()> {
//! use holysheep_vault::{ChatRequest, Client};
//! let client = Client::from_env()?;
//! let request = ChatRequest::from_json(serde_json::json!({
//!     "model": "deepseek-v3.2",
//!     "messages": [{"role": "user", "content": "Hello"}],
//! }))?;
//! let reply = client.chat_completions(request, Default::default()).await?;
//! println!("{}", reply.content().unwrap_or_default());
//! # Ok(()) }
//! ```

// `Error` carries the provider's whole error (message, codes, scrubbed body) so that every binding
// can show it; it is built only on the failure path, where its size costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod client;
pub mod config;
pub mod error;
pub mod keys;
pub mod rt;
pub mod secret;
pub mod vault;

pub use api::types::{ChatChunk, ChatCompletion, ChatRequest, ModelList};
pub use client::{ChatStream, Client, Stats};
pub use config::{ClientOptions, Config, RequestOptions};
pub use error::{ApiErrorInfo, Error, ErrorKind, KeyOrigin, Result, TimeoutPhase};
pub use secret::Secret;
