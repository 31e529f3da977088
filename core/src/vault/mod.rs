//! The few Vault operations the core needs, behind one interface.
//!
//! [`VaultOps`] is the whole surface: log in with a method's credentials, renew and look up the
//! calling token, read a KV v2 secret with its version metadata, and describe a mount (to tell a
//! missing secret from a KV v1 mount). Two implementations exist: [`native::VaultrsOps`] over the
//! `vaultrs` crate (native builds, the default there) and [`http::HttpOps`], a small client over
//! `reqwest` that also compiles for wasm32 (the wasm package uses it). They only speak HTTP and
//! decode JSON: they hand back Vault's raw answer as an [`OpError`]. Every decision (which token,
//! when to renew or log in again, what an error means for the user, caching, backoff) is made
//! once, above this interface, in [`session`] and [`crate::keys`].
//!
//! # Tracing events
//!
//! Targets are the module paths (`holysheep_vault::vault::session`, `holysheep_vault::keys`).
//! Fields carry facts only: never a token, a secret_id, a JWT or a key.
//!
//! - info `vault login succeeded`: `method`, `auth_mount`, `ttl_secs`, `renewable`, `reason`
//! - info `vault token renewed`: `method`, `ttl_secs`
//! - info `vault token reached its max TTL; will log in again`: `method`, `ttl_secs`
//! - info `vault token file changed; using the new token`: `path`
//! - info `api key read` (KV): `source`, `kv_mount`, `path`, `version`, `reason`
//! - info `api key rotation detected`: `kv_mount`, `path`, `old_version`, `new_version` (or
//!   `location` for a file or variable)
//! - warn `vault rejected the token; getting a new one`: `method`, `auth_mount`, `status`
//! - warn `vault token renewal failed`: `method`, `attempt`, `backoff_ms`, `error`
//! - warn `vault login failed in the background`: `method`, `auth_mount`, `attempt`,
//!   `backoff_ms`, `error`
//! - warn `api key refresh failed`: `location`, `attempt`, `backoff_ms`, `error`
//! - warn `serving the last good api key past its expiry`: `location`, `version`, `stale_ms`,
//!   `error` (once per failed read; every serve is counted in `stale_serves`)
//! - debug `vault token looked up`: `ttl_secs`, `renewable`; `vault token lookup failed; not
//!   renewing it`: `error`
//! - debug `api key read` (file, env): `source`, `path` or `var`, `reason`; `api key read
//!   failed` (cold cache, the caller gets the error): `location`, `attempt`, `backoff_ms`,
//!   `error`
//! - debug cache events: `key cache miss`, `key refresh ahead started`, `key invalidated;
//!   reading it again`, `key invalidated; a newer key is already cached`, `key served from a
//!   concurrent read`: `location`, `version`
//!
//! `vaultrs` and `rustify` (native default backend) log through `tracing` too; `rustify` reports
//! every non-2xx answer (a 404 we then diagnose, a 403 we heal) as an `ERROR` event of its own
//! span. Filter with `rustify=off` if that is noise.

pub mod errors;
pub mod http;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod session;
pub(crate) mod wire;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::VaultConfig;
use crate::error::{Error, Result};
use crate::rt::{MaybeSend, MaybeSync};
use crate::secret::Secret;

/// Which implementation of [`VaultOps`] talks to Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultBackend {
    /// The `vaultrs` crate. Native builds only; the default there.
    #[cfg_attr(not(target_arch = "wasm32"), default)]
    Vaultrs,
    /// The crate's own small `reqwest` client; the only choice on wasm32.
    #[cfg_attr(target_arch = "wasm32", default)]
    Http,
}

impl VaultBackend {
    pub fn name(self) -> &'static str {
        match self {
            VaultBackend::Vaultrs => "vaultrs",
            VaultBackend::Http => "http",
        }
    }
}

/// Credentials of one login. The secret parts are borrowed [`Secret`]s so they never leave one.
pub enum LoginRequest<'a> {
    AppRole { role_id: &'a str, secret_id: &'a Secret },
    Kubernetes { role: &'a str, jwt: &'a Secret },
    Jwt { role: &'a str, jwt: &'a Secret },
}

impl LoginRequest<'_> {
    /// The JSON body. Serialized from borrowed strings so the only copy is the one sent.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct AppRole<'a> {
            role_id: &'a str,
            secret_id: &'a str,
        }
        #[derive(serde::Serialize)]
        struct RoleJwt<'a> {
            role: &'a str,
            jwt: &'a str,
        }
        let body = match self {
            LoginRequest::AppRole { role_id, secret_id } => {
                serde_json::to_vec(&AppRole { role_id, secret_id: secret_id.expose() })
            }
            LoginRequest::Kubernetes { role, jwt } | LoginRequest::Jwt { role, jwt } => {
                serde_json::to_vec(&RoleJwt { role, jwt: jwt.expose() })
            }
        };
        body.unwrap_or_default()
    }
}

impl fmt::Debug for LoginRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginRequest::AppRole { role_id, .. } => write!(f, "AppRole {{ role_id: {role_id} }}"),
            LoginRequest::Kubernetes { role, .. } => write!(f, "Kubernetes {{ role: {role} }}"),
            LoginRequest::Jwt { role, .. } => write!(f, "Jwt {{ role: {role} }}"),
        }
    }
}

/// The lease part of a login or renewal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// `lease_duration`: zero for a token that never expires.
    pub ttl: Duration,
    pub renewable: bool,
}

/// What a login returns.
#[derive(Debug)]
pub struct LoginAuth {
    pub token: Secret,
    pub lease: Lease,
    pub policies: Vec<String>,
}

/// What `auth/token/lookup-self` says about the calling token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Remaining time to live; zero for a token that never expires.
    pub ttl: Duration,
    pub renewable: bool,
    /// Zero when there is none beyond the mount's.
    pub explicit_max_ttl: Duration,
}

/// The `metadata` of a KV v2 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMetadata {
    pub version: u64,
    pub created_time: String,
    /// Empty unless the version was soft-deleted.
    pub deletion_time: String,
    pub destroyed: bool,
}

/// The `data.data` object of a KV v2 secret: the values are secrets, so `Debug` names the fields
/// only, and string values are zeroed on drop.
#[derive(Default)]
pub struct KvData(serde_json::Map<String, serde_json::Value>);

impl KvData {
    pub fn new(map: serde_json::Map<String, serde_json::Value>) -> Self {
        KvData(map)
    }

    /// Moves one field out, so the value is not copied.
    pub fn take(&mut self, field: &str) -> Option<serde_json::Value> {
        self.0.remove(field)
    }

    pub fn field_names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl Drop for KvData {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for value in self.0.values_mut() {
            if let serde_json::Value::String(s) = value {
                s.zeroize();
            }
        }
    }
}

impl fmt::Debug for KvData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KvData(fields: {:?})", self.field_names())
    }
}

/// A KV v2 read. Vault answers 404 with the metadata (and no data) for a deleted or destroyed
/// version; that comes back as `data: None` with the metadata, so the layer above can say why.
#[derive(Debug, Default)]
pub struct KvRead {
    pub data: Option<KvData>,
    pub metadata: Option<KvMetadata>,
}

/// A secrets engine mount, from `sys/internal/ui/mounts/<mount>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The engine type, e.g. `kv`.
    pub kind: String,
    /// `options.version` (`"1"` or `"2"` for kv), when set.
    pub version: Option<String>,
    pub path: String,
}

/// Vault's raw answer to a failed operation. Implementations classify nothing beyond this: what
/// an answer means for the caller is decided once, in [`errors`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpError {
    /// No HTTP answer: refused, DNS, TLS, reset, or the client's own timeout.
    Transport { message: String, timeout: bool },
    /// Vault answered with a non-2xx status and these `errors`.
    Status { status: u16, errors: Vec<String> },
    /// A 2xx answer that is not the expected shape. The message never quotes the body.
    Shape { message: String },
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Transport { message, .. } => f.write_str(message),
            OpError::Status { status, errors } if errors.is_empty() => write!(f, "HTTP {status}"),
            OpError::Status { status, errors } => {
                write!(f, "HTTP {status}: {}", wire::join_errors(errors))
            }
            OpError::Shape { message } => f.write_str(message),
        }
    }
}

/// The Vault operations the core uses. `token` is `None` for requests sent without
/// `X-Vault-Token` (a Vault Agent api_proxy adds its own).
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait VaultOps: MaybeSend + MaybeSync {
    /// `VAULT_ADDR`, for error messages.
    fn address(&self) -> &str;

    /// The implementation's name, for logs.
    fn backend(&self) -> VaultBackend;

    /// `POST auth/<mount>/login`.
    async fn login(&self, mount: &str, request: &LoginRequest<'_>) -> Result<LoginAuth, OpError>;

    /// `POST auth/token/renew-self` asking for `increment`.
    async fn renew_self(&self, token: &Secret, increment: Duration) -> Result<Lease, OpError>;

    /// `GET auth/token/lookup-self`.
    async fn lookup_self(&self, token: Option<&Secret>) -> Result<TokenInfo, OpError>;

    /// `GET <mount>/data/<path>[?version=N]`.
    async fn read_kv2(
        &self,
        token: Option<&Secret>,
        mount: &str,
        path: &str,
        version: Option<u64>,
    ) -> Result<KvRead, OpError>;

    /// `GET sys/internal/ui/mounts/<mount>`.
    async fn mount_info(&self, token: Option<&Secret>, mount: &str) -> Result<MountInfo, OpError>;
}

/// Builds the chosen implementation for `config`.
pub fn connect(config: &VaultConfig, backend: VaultBackend) -> Result<Arc<dyn VaultOps>> {
    let addr = config.addr.as_deref().ok_or_else(|| {
        Error::config("vault_addr (VAULT_ADDR)", "not set; it is needed to read the key from Vault")
    })?;
    match backend {
        #[cfg(not(target_arch = "wasm32"))]
        VaultBackend::Vaultrs => Ok(Arc::new(native::VaultrsOps::new(addr, config)?)),
        #[cfg(target_arch = "wasm32")]
        VaultBackend::Vaultrs => {
            Err(Error::config("vault_backend", "vaultrs is not available in the wasm build"))
        }
        VaultBackend::Http => Ok(Arc::new(http::HttpOps::new(addr, config)?)),
    }
}

/// `ttl` in whole seconds, as Vault's `increment` wants it (at least one).
pub(crate) fn increment_string(ttl: Duration) -> String {
    format!("{}s", ttl.as_secs().max(1))
}
