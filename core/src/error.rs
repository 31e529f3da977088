//! The one error type every layer returns and every binding maps.
//!
//! Each variant is a kind a user can act on differently, and [`ErrorKind::code`] is the stable
//! string the bindings expose (`err.code` in JavaScript, the exception class in Python). No variant
//! ever holds a key, a token or a secret_id: messages that come from a provider are scrubbed of the
//! key before they get here (see `api::scrub`).

use std::fmt;
use std::time::Duration;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the upstream API said about a failed call: enough to act on and to quote in a support
/// ticket, never the request body or the key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiErrorInfo {
    /// HTTP status of the response.
    pub status: u16,
    /// The provider's `error.message`, or a short description when the body had none.
    pub message: String,
    /// The provider's `error.type`, e.g. `invalid_request_error`.
    pub error_type: Option<String>,
    /// The provider's `error.code`, e.g. `invalid_api_key`.
    pub code: Option<String>,
    /// The provider's `error.param`.
    pub param: Option<String>,
    /// The `x-request-id` response header.
    pub request_id: Option<String>,
    /// The parsed error body, when it was JSON (already scrubbed of the key).
    pub body: Option<serde_json::Value>,
}

impl fmt::Display for ApiErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// Where an API key came from, for error messages and statistics. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// Human-readable location: `holysheep/production/api_key`, a file path or `env:NAME`.
    pub location: String,
    /// KV v2 version of the key, when it came from KV.
    pub version: Option<u64>,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{} (version {v})", self.location),
            None => f.write_str(&self.location),
        }
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Establishing the TCP/TLS connection.
    Connect,
    /// Waiting for response headers or for the next piece of the body.
    Read,
    /// The whole call, retries included.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Total => "total",
        })
    }
}

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401 from the API. `key` says which Vault key was rejected, after the library re-read it
    /// once and found it unchanged (or changed and rejected again).
    #[error("authentication failed: {}{info}", key_note(.key))]
    Authentication { info: ApiErrorInfo, key: Option<KeyOrigin> },

    /// 403 from the API: the key is valid but may not do this.
    #[error("permission denied by the API: {info}")]
    PermissionDenied { info: ApiErrorInfo },

    /// 404 from the API, e.g. an unknown model.
    #[error("not found: {info}")]
    NotFound { info: ApiErrorInfo },

    /// 400 or 422 from the API: the request was rejected as invalid. Never retried.
    #[error("bad request: {info}")]
    BadRequest { info: ApiErrorInfo },

    /// 429 after the retries were spent, or with a `Retry-After` beyond the configured cap.
    #[error("rate limited: {info}{}", retry_note(.retry_after))]
    RateLimited { info: ApiErrorInfo, retry_after: Option<Duration> },

    /// A connect, read or total timeout.
    #[error("{phase} timeout after {}ms{}", after.as_millis(), attempts_note(*.attempts))]
    Timeout { phase: TimeoutPhase, after: Duration, attempts: u32 },

    /// The connection failed or broke before a complete response arrived.
    #[error("connection error: {message}{}", attempts_note(*.attempts))]
    Connection { message: String, attempts: u32 },

    /// Another 4xx the API returned (e.g. 409 after retries) or a 5xx.
    #[error("server error: {info}")]
    Server { info: ApiErrorInfo },

    /// The response or stream could not be understood: malformed JSON, a truncated stream, an
    /// error object inside the stream.
    #[error("invalid response: {message}")]
    InvalidResponse { message: String, request_id: Option<String> },

    /// The configured budget is spent; nothing was sent.
    #[error("budget exceeded: ${spent_usd:.6} spent of a ${budget_usd:.6} budget")]
    BudgetExceeded { budget_usd: f64, spent_usd: f64 },

    /// Vault could not be reached (and no stale key was left to serve).
    #[error("vault unreachable at {addr}: {message}")]
    VaultUnreachable { addr: String, message: String },

    /// Vault answered that it is sealed.
    #[error("vault at {addr} is sealed")]
    VaultSealed { addr: String },

    /// The Vault token's policy does not allow `capability` on `path`.
    #[error("vault permission denied: the token's policy lacks \"{capability}\" on {path}")]
    VaultPermissionDenied { path: String, capability: String },

    /// The KV secret, its version or the field does not exist.
    #[error("vault secret not found: {message}")]
    VaultSecretNotFound { mount: String, path: String, field: Option<String>, message: String },

    /// Logging in to Vault failed.
    #[error("vault login with {method} at auth/{mount} failed: {message}")]
    VaultLoginFailed { method: String, mount: String, message: String },

    /// Vault answered in a way that shows a setup problem (wrong KV version, unknown mount, an
    /// unexpected response shape).
    #[error("vault misconfigured: {message}")]
    VaultMisconfigured { message: String },

    /// A setting is missing or invalid. `setting` names it (`VAULT_ADDR`, `max_retries`, ...).
    #[error("invalid configuration: {setting}: {message}")]
    Configuration { setting: String, message: String },

    /// An argument of a call is missing or invalid. `field` names it (`model`, `messages[2]`).
    #[error("invalid input: {field}: {message}")]
    InvalidInput { field: String, message: String },

    /// The caller cancelled the call (dropped it, an `AbortSignal`, asyncio cancellation).
    #[error("the request was cancelled")]
    Cancelled,

    /// The client was closed.
    #[error("the client is closed")]
    Closed,

    /// A bug: an invariant broke or a panic was caught at a binding boundary.
    #[error("internal error: {message}")]
    Internal { message: String },
}

fn key_note(key: &Option<KeyOrigin>) -> String {
    match key {
        Some(origin) => format!("the key at {origin} was rejected: "),
        None => String::new(),
    }
}

fn retry_note(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {}ms)", d.as_millis()),
        None => String::new(),
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() }
}

/// The kind of an [`Error`], without its data: what bindings switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    Authentication,
    PermissionDenied,
    NotFound,
    BadRequest,
    RateLimited,
    Timeout,
    Connection,
    Server,
    InvalidResponse,
    BudgetExceeded,
    VaultUnreachable,
    VaultSealed,
    VaultPermissionDenied,
    VaultSecretNotFound,
    VaultLoginFailed,
    VaultMisconfigured,
    Configuration,
    InvalidInput,
    Cancelled,
    Closed,
    Internal,
}

impl ErrorKind {
    /// Every kind, for bindings that build one class per kind and for tests that check them all.
    pub const ALL: [ErrorKind; 21] = [
        ErrorKind::Authentication,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::BadRequest,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Server,
        ErrorKind::InvalidResponse,
        ErrorKind::BudgetExceeded,
        ErrorKind::VaultUnreachable,
        ErrorKind::VaultSealed,
        ErrorKind::VaultPermissionDenied,
        ErrorKind::VaultSecretNotFound,
        ErrorKind::VaultLoginFailed,
        ErrorKind::VaultMisconfigured,
        ErrorKind::Configuration,
        ErrorKind::InvalidInput,
        ErrorKind::Cancelled,
        ErrorKind::Closed,
        ErrorKind::Internal,
    ];

    /// The stable code shown to users of every binding, and used in the scenario files.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Server => "server",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::VaultUnreachable => "vault_unreachable",
            ErrorKind::VaultSealed => "vault_sealed",
            ErrorKind::VaultPermissionDenied => "vault_permission_denied",
            ErrorKind::VaultSecretNotFound => "vault_secret_not_found",
            ErrorKind::VaultLoginFailed => "vault_login_failed",
            ErrorKind::VaultMisconfigured => "vault_misconfigured",
            ErrorKind::Configuration => "configuration",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Closed => "closed",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Authentication { .. } => ErrorKind::Authentication,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::BadRequest { .. } => ErrorKind::BadRequest,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Server { .. } => ErrorKind::Server,
            Error::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            Error::BudgetExceeded { .. } => ErrorKind::BudgetExceeded,
            Error::VaultUnreachable { .. } => ErrorKind::VaultUnreachable,
            Error::VaultSealed { .. } => ErrorKind::VaultSealed,
            Error::VaultPermissionDenied { .. } => ErrorKind::VaultPermissionDenied,
            Error::VaultSecretNotFound { .. } => ErrorKind::VaultSecretNotFound,
            Error::VaultLoginFailed { .. } => ErrorKind::VaultLoginFailed,
            Error::VaultMisconfigured { .. } => ErrorKind::VaultMisconfigured,
            Error::Configuration { .. } => ErrorKind::Configuration,
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Closed => ErrorKind::Closed,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// Shorthand for [`ErrorKind::code`] of this error.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// What the API said, for the variants that come from an HTTP response.
    pub fn api_info(&self) -> Option<&ApiErrorInfo> {
        match self {
            Error::Authentication { info, .. }
            | Error::PermissionDenied { info }
            | Error::NotFound { info }
            | Error::BadRequest { info }
            | Error::RateLimited { info, .. }
            | Error::Server { info } => Some(info),
            _ => None,
        }
    }

    /// HTTP status of the API response behind this error.
    pub fn status(&self) -> Option<u16> {
        self.api_info().map(|i| i.status)
    }

    /// The `x-request-id` of the API response behind this error.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => self.api_info().and_then(|i| i.request_id.as_deref()),
        }
    }

    /// How long the API asked the caller to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::RateLimited
                | ErrorKind::Timeout
                | ErrorKind::Connection
                | ErrorKind::Server
                | ErrorKind::VaultUnreachable
                | ErrorKind::VaultSealed
        )
    }

    pub(crate) fn config(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Configuration { setting: setting.into(), message: message.into() }
    }

    pub(crate) fn input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), message: message.into() }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal { message: message.into() }
    }
}

/// A word the user gave (an option name, an enum value) as an error message may show it: quoted
/// when it looks like a mistyped name, which is worth showing, and `None` otherwise. A value in the
/// wrong place may be a secret (a key pasted as the option name or as `role`), and secrets are
/// long or carry a key prefix, so only short plain words are echoed.
pub(crate) fn shown_word(word: &str) -> Option<String> {
    let plain = !word.is_empty()
        && word.len() <= 24
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !["sk-", "hs-", "hvs.", "s."].iter().any(|prefix| word.starts_with(prefix));
    plain.then(|| format!("\"{word}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            let code = kind.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
        }
    }

    #[test]
    fn authentication_message_names_the_key_location_and_version() {
        let err = Error::Authentication {
            info: ApiErrorInfo { status: 401, message: "bad key".into(), ..Default::default() },
            key: Some(KeyOrigin {
                location: "holysheep/production/api_key".into(),
                version: Some(3),
            }),
        };
        let text = err.to_string();
        assert!(text.contains("holysheep/production/api_key (version 3) was rejected"), "{text}");
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.code(), "authentication");
    }
}
