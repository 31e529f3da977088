//! The key cache: where the API key comes from, how long it is trusted, and how it is refreshed.
//!
//! INTERFACE CONTRACT (used by `client.rs` and the bindings); the bodies are being written.

use std::sync::Arc;

use crate::config::Config;
use crate::error::{KeyOrigin, Result};
use crate::secret::Secret;

/// An API key and where it came from.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub secret: Arc<Secret>,
    pub origin: KeyOrigin,
}

/// Counters of the Vault side, for `stats()` in every binding. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct VaultStats {
    pub auth_method: String,
    pub key_location: String,
    pub key_version: Option<u64>,
    pub vault_reads: u64,
    pub logins: u64,
    pub renewals: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub stale_serves: u64,
    pub invalidations: u64,
}

/// Owns the Vault session and the cached key.
pub struct KeyProvider {
    _private: (),
}

impl KeyProvider {
    /// Builds the provider. Does no I/O: the first [`KeyProvider::get`] logs in and reads.
    pub fn new(_config: &Config) -> Result<Arc<Self>> {
        todo!("keys: KeyProvider::new")
    }

    /// The current key: from the cache when fresh, else one read shared by all waiting callers.
    pub async fn get(&self) -> Result<ApiKey> {
        todo!("keys: get")
    }

    /// Called when the API rejected `rejected` with a 401: re-reads the key once (shared by
    /// concurrent callers that saw the same rejection) and returns what Vault holds now, which
    /// may be the same key.
    pub async fn invalidate(&self, _rejected: &ApiKey) -> Result<ApiKey> {
        todo!("keys: invalidate")
    }

    pub fn stats(&self) -> VaultStats {
        todo!("keys: stats")
    }

    /// Stops background work and drops the cached key and token.
    pub fn close(&self) {
        todo!("keys: close")
    }
}
