//! Node.js binding of holysheep-vault: conversion and error mapping only. Every behaviour lives in
//! the core crate; `lib/index.js` adds the JavaScript conveniences (AbortSignal, error classes,
//! async iteration, the drop-in `HolySheepVaultClient`).
//!
//! Every exported async method runs on napi's tokio runtime, so the event loop never waits on the
//! network, and inside [`error::guard`], so a panic rejects its promise instead of aborting Node.

// The core's `Error` is large (it carries the provider's error body) and every native call returns
// it by value, as the core does; boxing it here would only move the cost, so follow the core.
#![allow(clippy::result_large_err)]

mod cancel;
mod client;
mod error;
mod logging;
mod stream;

use napi_derive::napi;

pub use cancel::CancelToken;
pub use client::{Client, Reply};
pub use stream::ChatStream;

/// Every error code the core reports (`rate_limited`, `vault_sealed`, ...).
#[napi]
pub fn error_codes() -> Vec<String> {
    error::all_codes()
}

/// Test hook: panics inside an exported async body, to prove the panic becomes a rejected
/// promise. Not part of the typed API.
#[napi(js_name = "__panicForTests", skip_typescript)]
pub async fn panic_for_tests(message: String) -> error::Outcome<()> {
    error::guard(async move {
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
    .await
}

/// Test hook: the synchronous counterpart (constructors and getters use this guard).
#[napi(js_name = "__panicSyncForTests", skip_typescript)]
pub fn panic_sync_for_tests(env: napi::bindgen_prelude::Env, message: String) -> napi::Result<()> {
    error::guard_sync(&env, || {
        if !message.is_empty() {
            panic!("{message}");
        }
        Ok(())
    })
}
