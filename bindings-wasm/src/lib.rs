//! WebAssembly binding of holysheep-vault for edge runtimes: Cloudflare Workers (workerd), Deno,
//! Node and browsers.
//!
//! Everything that decides anything (option validation, Vault login and key cache, retries and
//! their waits, error kinds) is the core's. This crate only converts between JavaScript values
//! and the core's types (through JSON, which the core already speaks) and maps errors to JS
//! `Error`s carrying the core's `code`. HTTP goes through the host's `fetch` (reqwest's wasm
//! backend) and waits through the host's timers (`holysheep_vault::rt`).
//!
//! The JavaScript API users see (`Client.create`, async iteration of streams, `HolySheepError`)
//! is the small ES module in `js/api.js`, over the raw classes exported here.
//!
//! On the host (not wasm32) this crate is empty, so workspace-wide native builds are unaffected.

#[cfg(target_arch = "wasm32")]
mod wasm;
