//! Settings: from code, from a JSON-shaped options object (what every binding passes), or from the
//! environment with the Vault CLI's own variable names. Everything is validated here, once, so a
//! missing or invalid setting fails at construction with an error that names it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result, shown_word};
use crate::secret::Secret;

/// Where the service-account token of a Kubernetes pod is mounted.
pub const KUBERNETES_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The HolySheep endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.holysheep.ai/v1";
pub const DEFAULT_MOUNT: &str = "holysheep";
pub const DEFAULT_SECRET_PATH: &str = "production/api_key";
pub const DEFAULT_FIELD: &str = "api_key";
pub const DEFAULT_KEY_ENV: &str = "HOLYSHEEP_API_KEY";

/// How to log in to Vault.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthConfig {
    /// A token given directly (`VAULT_TOKEN`).
    Token { token: Secret },
    /// A token file written by a Vault Agent sink; re-read when it changes or is rejected.
    TokenFile { path: PathBuf },
    /// AppRole login.
    AppRole { mount: String, role_id: String, secret_id: SecretIdSource },
    /// Kubernetes login with the pod's service-account JWT.
    Kubernetes { mount: String, role: String, jwt_path: PathBuf },
    /// JWT/OIDC login with a JWT read from a file.
    Jwt { mount: String, role: String, jwt_path: PathBuf },
    /// No token: requests go to a Vault Agent api_proxy with `use_auto_auth_token`.
    None,
}

impl AuthConfig {
    /// The method's name as users write it (`approle`, `kubernetes`, ...).
    pub fn method(&self) -> &'static str {
        match self {
            AuthConfig::Token { .. } => "token",
            AuthConfig::TokenFile { .. } => "token_file",
            AuthConfig::AppRole { .. } => "approle",
            AuthConfig::Kubernetes { .. } => "kubernetes",
            AuthConfig::Jwt { .. } => "jwt",
            AuthConfig::None => "none",
        }
    }

    /// The auth mount for methods that log in, e.g. `approle`.
    pub fn mount(&self) -> Option<&str> {
        match self {
            AuthConfig::AppRole { mount, .. }
            | AuthConfig::Kubernetes { mount, .. }
            | AuthConfig::Jwt { mount, .. } => Some(mount),
            _ => None,
        }
    }
}

/// Where an AppRole secret_id comes from. A file is re-read at each login, so a rotated
/// secret_id is picked up without a restart.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretIdSource {
    Value(Secret),
    File(PathBuf),
}

/// Where the API key comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// A field of a KV v2 secret.
    Kv { mount: String, path: String, field: String, version: Option<u64> },
    /// A file rendered by a Vault Agent template; re-read when it changes.
    File { path: PathBuf },
    /// An environment variable. For local development only, and only when asked for explicitly.
    Env { var: String },
    /// A key given in code (`api_key`): for callers that already hold one, such as the drop-in
    /// `HolySheepAIClient(api_key)`. Nothing is cached or refreshed; a 401 is final.
    Static { key: Secret },
}

impl KeySource {
    /// Where the key lives, for errors, logs and statistics.
    pub fn location(&self) -> String {
        match self {
            KeySource::Kv { mount, path, .. } => format!("{mount}/{path}"),
            KeySource::File { path } => path.display().to_string(),
            KeySource::Env { var } => format!("env:{var}"),
            KeySource::Static { .. } => "api_key".to_owned(),
        }
    }
}

/// Connection settings for Vault.
#[derive(Debug, Clone, PartialEq)]
pub struct VaultConfig {
    /// `VAULT_ADDR`, e.g. `https://vault.internal:8200`. Required unless the key comes from a
    /// file or the environment.
    pub addr: Option<String>,
    /// `VAULT_NAMESPACE`, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// `VAULT_CACERT`: a PEM file of CA certificates to trust.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`: PEM files for mutual TLS.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// `VAULT_SKIP_VERIFY`: do not verify Vault's certificate. For development only.
    pub skip_verify: bool,
    /// Timeout of each Vault request.
    pub request_timeout: Duration,
    /// Which Vault client speaks to Vault: `vaultrs` (native default) or the crate's own small
    /// `reqwest` client (`http`, the only one in the wasm build).
    pub backend: crate::vault::VaultBackend,
    pub auth: AuthConfig,
}

/// How long a key is trusted before it is read again, and what happens when Vault is down.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// A key is re-read from Vault after this long.
    pub key_ttl: Duration,
    /// Refresh starts this fraction of `key_ttl` before expiry, in the background, so that in
    /// steady state no caller waits on Vault.
    pub refresh_ahead: f64,
    /// When Vault is unreachable at refresh, the last good key is served for this long past its
    /// expiry, with a warning; then callers get the Vault error.
    pub stale_window: Duration,
}

/// A model's price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl Price {
    pub const fn flat(usd_per_million: f64) -> Self {
        Price { input: usd_per_million, output: usd_per_million }
    }
}

/// The prices HolySheep lists, in USD per million tokens, input and output alike.
pub fn default_prices() -> BTreeMap<String, Price> {
    [
        ("gpt-4.1", 8.0),
        ("claude-sonnet-4.5", 15.0),
        ("gemini-2.5-flash", 2.50),
        ("deepseek-v3.2", 0.42),
    ]
    .into_iter()
    .map(|(model, usd)| (model.to_owned(), Price::flat(usd)))
    .collect()
}

/// Retry and timeout policy of API calls. Every field can be overridden per request.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff; it doubles each retry up to `backoff_max`, with jitter.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A `Retry-After` longer than this fails at once, with the wait in the error.
    pub retry_after_cap: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for response headers or for the next piece of the body.
    pub read_timeout: Duration,
    /// Longest time for the whole call, retries included.
    pub total_timeout: Option<Duration>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 2,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(45),
            total_timeout: None,
        }
    }
}

/// Settings of the AI API side.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// Base URL ending in `/v1`; `/chat/completions` and `/models` are appended.
    pub base_url: String,
    pub retry: RetryConfig,
    /// Prices per model; models not listed cost nothing in the totals (and are logged once).
    pub prices: BTreeMap<String, Price>,
    /// Refuse calls once this much USD is spent by this client.
    pub budget_usd: Option<f64>,
}

/// Everything a [`crate::Client`] needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub vault: VaultConfig,
    pub key: KeySource,
    pub cache: CacheConfig,
    pub api: ApiConfig,
}

/// Per-call overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    pub max_retries: Option<u32>,
    pub total_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
}

/// A duration as users write it: a number of seconds, or a string such as `"500ms"`, `"30s"`,
/// `"5m"` or `"1h"` (Vault's own notation).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(f64),
    Text(String),
}

impl DurationValue {
    fn to_duration(&self, setting: &str) -> Result<Duration> {
        let secs = match self {
            DurationValue::Seconds(s) => *s,
            DurationValue::Text(t) => parse_duration_secs(t).ok_or_else(|| {
                // The value is not quoted: a misplaced secret must not reach an error.
                Error::config(setting, "is not a duration (try 30, \"30s\" or \"500ms\")")
            })?,
        };
        if !secs.is_finite() || !(0.0..=1.0e9).contains(&secs) {
            return Err(Error::config(
                setting,
                format!("{secs} is not a usable number of seconds"),
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

fn parse_duration_secs(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Some(n * scale)
}

/// A price as users write it: one number for input and output, or `{input, output}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PriceValue {
    Flat(f64),
    Split(Price),
}

/// The options object every binding passes through: the same names in every language, snake_case
/// (camelCase accepted too, for JavaScript). Unknown names are an error, so a typo is caught.
/// Each field has an environment variable, read by [`ClientOptions::from_env`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientOptions {
    #[serde(alias = "vaultAddr")]
    pub vault_addr: Option<String>,
    #[serde(alias = "vaultToken", deserialize_with = "secret_opt")]
    pub vault_token: Option<Secret>,
    #[serde(alias = "vaultNamespace")]
    pub vault_namespace: Option<String>,
    #[serde(alias = "vaultCacert")]
    pub vault_cacert: Option<PathBuf>,
    #[serde(alias = "vaultClientCert")]
    pub vault_client_cert: Option<PathBuf>,
    #[serde(alias = "vaultClientKey")]
    pub vault_client_key: Option<PathBuf>,
    #[serde(alias = "vaultSkipVerify")]
    pub vault_skip_verify: Option<bool>,
    #[serde(alias = "vaultTimeout")]
    pub vault_timeout: Option<DurationValue>,
    /// `vaultrs` or `http`; see [`VaultConfig::backend`].
    #[serde(alias = "vaultBackend")]
    pub vault_backend: Option<String>,

    /// `token`, `token_file`, `approle`, `kubernetes`, `jwt` or `none`; detected when unset.
    #[serde(alias = "authMethod")]
    pub auth_method: Option<String>,
    #[serde(alias = "authMount")]
    pub auth_mount: Option<String>,
    pub role: Option<String>,
    #[serde(alias = "roleId")]
    pub role_id: Option<String>,
    #[serde(alias = "secretId", deserialize_with = "secret_opt")]
    pub secret_id: Option<Secret>,
    #[serde(alias = "secretIdFile")]
    pub secret_id_file: Option<PathBuf>,
    #[serde(alias = "jwtPath")]
    pub jwt_path: Option<PathBuf>,
    #[serde(alias = "tokenFile", alias = "tokenPath", alias = "token_path")]
    pub token_file: Option<PathBuf>,

    /// `kv` (default), `file` or `env`.
    #[serde(alias = "keySource")]
    pub key_source: Option<String>,
    pub mount: Option<String>,
    #[serde(alias = "secretPath")]
    pub secret_path: Option<String>,
    pub field: Option<String>,
    #[serde(alias = "secretVersion")]
    pub secret_version: Option<u64>,
    #[serde(alias = "keyFile")]
    pub key_file: Option<PathBuf>,
    #[serde(alias = "keyEnv")]
    pub key_env: Option<String>,
    /// The key itself, with `key_source: "static"` (set implicitly when only `api_key` is given).
    #[serde(alias = "apiKey", deserialize_with = "secret_opt")]
    pub api_key: Option<Secret>,
    #[serde(alias = "keyTtl")]
    pub key_ttl: Option<DurationValue>,
    #[serde(alias = "staleWindow")]
    pub stale_window: Option<DurationValue>,

    #[serde(alias = "baseUrl", alias = "base_url")]
    pub base_url: Option<String>,
    #[serde(alias = "maxRetries")]
    pub max_retries: Option<u32>,
    #[serde(alias = "connectTimeout")]
    pub connect_timeout: Option<DurationValue>,
    #[serde(alias = "readTimeout")]
    pub read_timeout: Option<DurationValue>,
    /// Total time for a call, retries included.
    pub timeout: Option<DurationValue>,
    #[serde(alias = "retryAfterCap")]
    pub retry_after_cap: Option<DurationValue>,
    #[serde(alias = "backoffInitial")]
    pub backoff_initial: Option<DurationValue>,
    #[serde(alias = "backoffMax")]
    pub backoff_max: Option<DurationValue>,
    pub prices: Option<BTreeMap<String, PriceValue>>,
    #[serde(alias = "budgetUsd")]
    pub budget_usd: Option<f64>,
}

fn secret_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(Secret::new))
}

/// The environment variable behind each option.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("vault_addr", "VAULT_ADDR"),
    ("vault_token", "VAULT_TOKEN"),
    ("vault_namespace", "VAULT_NAMESPACE"),
    ("vault_cacert", "VAULT_CACERT"),
    ("vault_client_cert", "VAULT_CLIENT_CERT"),
    ("vault_client_key", "VAULT_CLIENT_KEY"),
    ("vault_skip_verify", "VAULT_SKIP_VERIFY"),
    ("vault_timeout", "HOLYSHEEP_VAULT_TIMEOUT"),
    ("vault_backend", "HOLYSHEEP_VAULT_BACKEND"),
    ("auth_method", "HOLYSHEEP_AUTH_METHOD"),
    ("auth_mount", "HOLYSHEEP_AUTH_MOUNT"),
    ("role", "HOLYSHEEP_ROLE"),
    ("role_id", "VAULT_ROLE_ID"),
    ("secret_id", "VAULT_SECRET_ID"),
    ("secret_id_file", "HOLYSHEEP_SECRET_ID_FILE"),
    ("jwt_path", "HOLYSHEEP_JWT_PATH"),
    ("token_file", "HOLYSHEEP_TOKEN_FILE"),
    ("key_source", "HOLYSHEEP_KEY_SOURCE"),
    ("mount", "HOLYSHEEP_MOUNT"),
    ("secret_path", "HOLYSHEEP_SECRET_PATH"),
    ("field", "HOLYSHEEP_FIELD"),
    ("secret_version", "HOLYSHEEP_SECRET_VERSION"),
    ("key_file", "HOLYSHEEP_KEY_FILE"),
    ("key_env", "HOLYSHEEP_KEY_ENV"),
    ("key_ttl", "HOLYSHEEP_KEY_TTL"),
    ("stale_window", "HOLYSHEEP_STALE_WINDOW"),
    ("base_url", "HOLYSHEEP_BASE_URL"),
    ("max_retries", "HOLYSHEEP_MAX_RETRIES"),
    ("connect_timeout", "HOLYSHEEP_CONNECT_TIMEOUT"),
    ("read_timeout", "HOLYSHEEP_READ_TIMEOUT"),
    ("timeout", "HOLYSHEEP_TIMEOUT"),
    ("retry_after_cap", "HOLYSHEEP_RETRY_AFTER_CAP"),
    ("budget_usd", "HOLYSHEEP_BUDGET_USD"),
];

impl ClientOptions {
    /// Reads a JSON-shaped options object, as the bindings pass it. An unknown or mistyped option
    /// is a [`Error::Configuration`] naming it.
    pub fn from_json(value: serde_json::Value) -> Result<Self> {
        decode(ms_suffixes_to_durations(value)?).map_err(|(field, why)| Error::config(field, why))
    }

    /// Reads the options from the process environment.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Result<Self> {
        Self::from_env_map(|name| std::env::var(name).ok())
    }

    /// Reads the options from any environment-like lookup: a Cloudflare Worker's `env`, a test's
    /// map. Blank values count as unset, as the Vault CLI treats them.
    pub fn from_env_map(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut object = serde_json::Map::new();
        for (option, var) in ENV_VARS {
            let Some(raw) = lookup(var).filter(|v| !v.trim().is_empty()) else { continue };
            let value = env_value(option, var, raw)?;
            object.insert((*option).to_owned(), value);
        }
        decode(serde_json::Value::Object(object)).map_err(|(field, why)| {
            let var = ENV_VARS.iter().find(|(o, _)| *o == field).map_or(field.as_str(), |(_, v)| v);
            Error::config(var, why)
        })
    }

    /// `self`, with every option that `overrides` sets taken from `overrides`.
    pub fn merged_with(self, overrides: ClientOptions) -> ClientOptions {
        macro_rules! pick {
            ($($f:ident),* $(,)?) => { ClientOptions { $($f: overrides.$f.or(self.$f)),* } };
        }
        pick!(
            vault_addr,
            vault_token,
            vault_namespace,
            vault_cacert,
            vault_client_cert,
            vault_client_key,
            vault_skip_verify,
            vault_timeout,
            vault_backend,
            auth_method,
            auth_mount,
            role,
            role_id,
            secret_id,
            secret_id_file,
            jwt_path,
            token_file,
            key_source,
            mount,
            secret_path,
            field,
            secret_version,
            key_file,
            key_env,
            api_key,
            key_ttl,
            stale_window,
            base_url,
            max_retries,
            connect_timeout,
            read_timeout,
            timeout,
            retry_after_cap,
            backoff_initial,
            backoff_max,
            prices,
            budget_usd,
        )
    }

    /// Validates the options and fills in defaults.
    pub fn resolve(self) -> Result<Config> {
        let key = self.key_source()?;
        let auth = self.auth()?;
        let addr = self.vault_addr.clone().map(|a| a.trim().trim_end_matches('/').to_owned());
        if let Some(a) = &addr {
            check_url("vault_addr (VAULT_ADDR)", a)?;
        } else if matches!(key, KeySource::Kv { .. }) {
            return Err(Error::config(
                "vault_addr (VAULT_ADDR)",
                "not set; it is needed to read the key from Vault",
            ));
        }
        if self.vault_client_cert.is_some() != self.vault_client_key.is_some() {
            return Err(Error::config(
                "vault_client_cert (VAULT_CLIENT_CERT)",
                "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY must be set together",
            ));
        }
        let vault = VaultConfig {
            addr,
            namespace: self.vault_namespace.clone().filter(|n| !n.trim().is_empty()),
            ca_cert: self.vault_cacert.clone(),
            client_cert: self.vault_client_cert.clone(),
            client_key: self.vault_client_key.clone(),
            skip_verify: self.vault_skip_verify.unwrap_or(false),
            request_timeout: dur(&self.vault_timeout, "vault_timeout", Duration::from_secs(10))?,
            backend: self.vault_backend()?,
            auth,
        };

        let key_ttl = dur(&self.key_ttl, "key_ttl", Duration::from_secs(300))?;
        if key_ttl < Duration::from_millis(100) {
            return Err(Error::config("key_ttl", "must be at least 100ms"));
        }
        let cache = CacheConfig {
            key_ttl,
            refresh_ahead: 0.2,
            stale_window: dur(&self.stale_window, "stale_window", Duration::from_secs(300))?,
        };

        Ok(Config { vault, key, cache, api: self.api()? })
    }

    fn vault_backend(&self) -> Result<crate::vault::VaultBackend> {
        use crate::vault::VaultBackend;
        match self.vault_backend.as_deref().map(str::trim) {
            None | Some("") => Ok(VaultBackend::default()),
            Some("http") => Ok(VaultBackend::Http),
            Some("vaultrs") if cfg!(not(target_arch = "wasm32")) => Ok(VaultBackend::Vaultrs),
            Some("vaultrs") => {
                Err(Error::config("vault_backend", "vaultrs is not available in the wasm build"))
            }
            Some(other) => Err(Error::config(
                "vault_backend (HOLYSHEEP_VAULT_BACKEND)",
                not_one_of(other, "vaultrs, http"),
            )),
        }
    }

    /// `key_source` as given, or `static` when only `api_key` is, or `kv`.
    fn key_source_name(&self) -> &str {
        match self.key_source.as_deref().map(str::trim) {
            Some(name) => name,
            None if self.api_key.is_some() => "static",
            None => "kv",
        }
    }

    fn key_source(&self) -> Result<KeySource> {
        let source = self.key_source_name();
        // (An unknown source falls through to the error that lists the valid ones.)
        if self.api_key.is_some() && matches!(source, "kv" | "file" | "env") {
            return Err(Error::config(
                "api_key",
                format!("given together with key_source={source}; pass one or the other"),
            ));
        }
        match source {
            "kv" => {
                let mount = non_blank(&self.mount, "mount", DEFAULT_MOUNT)?;
                let path = non_blank(&self.secret_path, "secret_path", DEFAULT_SECRET_PATH)?;
                let field = non_blank(&self.field, "field", DEFAULT_FIELD)?;
                let mount = mount.trim_matches('/').to_owned();
                let path = normalise_secret_path(&mount, &path)?;
                Ok(KeySource::Kv { mount, path, field, version: self.secret_version })
            }
            "file" => match &self.key_file {
                Some(path) => Ok(KeySource::File { path: path.clone() }),
                None => Err(Error::config(
                    "key_file (HOLYSHEEP_KEY_FILE)",
                    "required by key_source=file",
                )),
            },
            "env" => {
                Ok(KeySource::Env { var: non_blank(&self.key_env, "key_env", DEFAULT_KEY_ENV)? })
            }
            "static" => match &self.api_key {
                Some(key) if key.has_control_chars() => Err(Error::config(
                    "api_key",
                    "holds a line break or control character; it should be the key alone",
                )),
                Some(key) if !key.is_blank() => Ok(KeySource::Static { key: key.clone() }),
                _ => Err(Error::config("api_key", "required by key_source=static")),
            },
            other => Err(Error::config(
                "key_source (HOLYSHEEP_KEY_SOURCE)",
                not_one_of(other, "kv, file, env, static"),
            )),
        }
    }

    fn auth(&self) -> Result<AuthConfig> {
        let method = match self.auth_method.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => m.to_ascii_lowercase(),
            _ => self.detect_auth_method().to_owned(),
        };
        let mount = |default: &str| {
            self.auth_mount
                .clone()
                .map(|m| m.trim_matches('/').to_owned())
                .unwrap_or(default.into())
        };
        let role = || {
            self.role.clone().filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                Error::config("role (HOLYSHEEP_ROLE)", format!("required by auth_method={method}"))
            })
        };
        let jwt_path = || self.jwt_path.clone().unwrap_or_else(|| KUBERNETES_JWT_PATH.into());
        match method.as_str() {
            "token" => match &self.vault_token {
                Some(t) if t.has_control_chars() => Err(Error::config(
                    "vault_token (VAULT_TOKEN)",
                    "holds a line break or control character; it should be the token alone",
                )),
                Some(t) if !t.is_blank() => Ok(AuthConfig::Token { token: t.clone() }),
                _ => {
                    Err(Error::config("vault_token (VAULT_TOKEN)", "required by auth_method=token"))
                }
            },
            "token_file" => match &self.token_file {
                Some(path) => Ok(AuthConfig::TokenFile { path: path.clone() }),
                None => Err(Error::config(
                    "token_file (HOLYSHEEP_TOKEN_FILE)",
                    "required by auth_method=token_file",
                )),
            },
            "approle" => {
                let role_id =
                    self.role_id.clone().filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                        Error::config("role_id (VAULT_ROLE_ID)", "required by auth_method=approle")
                    })?;
                let secret_id = match (&self.secret_id, &self.secret_id_file) {
                    (Some(s), _) if !s.is_blank() => SecretIdSource::Value(s.clone()),
                    (_, Some(path)) => SecretIdSource::File(path.clone()),
                    _ => {
                        return Err(Error::config(
                            "secret_id (VAULT_SECRET_ID)",
                            "required by auth_method=approle (or secret_id_file)",
                        ));
                    }
                };
                Ok(AuthConfig::AppRole { mount: mount("approle"), role_id, secret_id })
            }
            "kubernetes" | "k8s" => Ok(AuthConfig::Kubernetes {
                mount: mount("kubernetes"),
                role: role()?,
                jwt_path: jwt_path(),
            }),
            "jwt" | "oidc" => {
                Ok(AuthConfig::Jwt { mount: mount("jwt"), role: role()?, jwt_path: jwt_path() })
            }
            "none" | "agent" => Ok(AuthConfig::None),
            other => Err(Error::config(
                "auth_method (HOLYSHEEP_AUTH_METHOD)",
                not_one_of(other, "token, token_file, approle, kubernetes, jwt, none"),
            )),
        }
    }

    /// The documented detection order when `auth_method` is unset: an explicit token, then
    /// AppRole credentials, then an agent token file, then Kubernetes when a role is set, and
    /// otherwise `none` (a Vault Agent api_proxy) for key sources that need no Vault at all.
    fn detect_auth_method(&self) -> &'static str {
        if self.vault_token.as_ref().is_some_and(|t| !t.is_blank()) {
            "token"
        } else if self.role_id.is_some()
            && (self.secret_id.is_some() || self.secret_id_file.is_some())
        {
            "approle"
        } else if self.token_file.is_some() {
            "token_file"
        } else if self.role.is_some() {
            "kubernetes"
        } else if self.key_source_name() != "kv" {
            "none"
        } else {
            // Fall through to `token` so the error names VAULT_TOKEN, the most common fix.
            "token"
        }
    }

    fn api(&self) -> Result<ApiConfig> {
        let base_url = self
            .base_url
            .clone()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        check_url("base_url (HOLYSHEEP_BASE_URL)", &base_url)?;
        let defaults = RetryConfig::default();
        let retry = RetryConfig {
            max_retries: match self.max_retries {
                Some(n) if n > 10 => {
                    return Err(Error::config("max_retries", format!("{n} is more than 10")));
                }
                Some(n) => n,
                None => defaults.max_retries,
            },
            backoff_initial: dur(
                &self.backoff_initial,
                "backoff_initial",
                defaults.backoff_initial,
            )?,
            backoff_max: dur(&self.backoff_max, "backoff_max", defaults.backoff_max)?,
            retry_after_cap: dur(
                &self.retry_after_cap,
                "retry_after_cap",
                defaults.retry_after_cap,
            )?,
            connect_timeout: positive(
                dur(&self.connect_timeout, "connect_timeout", defaults.connect_timeout)?,
                "connect_timeout",
            )?,
            read_timeout: positive(
                dur(&self.read_timeout, "read_timeout", defaults.read_timeout)?,
                "read_timeout",
            )?,
            total_timeout: match &self.timeout {
                Some(t) => Some(positive(t.to_duration("timeout")?, "timeout")?),
                None => None,
            },
        };
        let mut prices = default_prices();
        for (model, price) in self.prices.clone().unwrap_or_default() {
            let price = match price {
                PriceValue::Flat(p) => Price::flat(p),
                PriceValue::Split(p) => p,
            };
            if !(price.input.is_finite() && price.output.is_finite())
                || price.input < 0.0
                || price.output < 0.0
            {
                return Err(Error::config(
                    format!("prices.{model}"),
                    "must be a non-negative number",
                ));
            }
            prices.insert(model, price);
        }
        if let Some(b) = self.budget_usd
            && !(b.is_finite() && b >= 0.0)
        {
            return Err(Error::config("budget_usd", "must be a non-negative number"));
        }
        Ok(ApiConfig { base_url, retry, prices, budget_usd: self.budget_usd })
    }
}

/// "`"aprole"` is not one of ...", or without the value when it is not a plain word.
fn not_one_of(value: &str, choices: &str) -> String {
    match shown_word(value) {
        Some(v) => format!("{v} is not one of {choices}"),
        None => format!("is not one of {choices} (the value given is not shown)"),
    }
}

/// Deserialises options, and on failure returns the option's name and what was wrong with it,
/// never the value: serde quotes offending values in its messages, and a secret passed in the
/// wrong place (a key given as `max_retries`) must not end up in an error.
fn decode<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> std::result::Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let text = e.inner().to_string();
        if let Some(rest) = text.strip_prefix("unknown field `") {
            // The path already ends in the unknown name. The name itself is shown only when it
            // is a plain word (see `shown_word`): a key pasted as an option name stays out.
            let name = rest.split('`').next().unwrap_or_default();
            let parent = path.strip_suffix(name).unwrap_or(&path).trim_end_matches('.');
            return match (shown_word(name).is_some(), parent) {
                (true, "") => (name.to_owned(), "is not a known option".to_owned()),
                (true, parent) => (format!("{parent}.{name}"), "is not a known option".to_owned()),
                (false, parent) => (
                    if parent.is_empty() { "options" } else { parent }.to_owned(),
                    "holds an unknown option whose name is not shown (not a plain word)".to_owned(),
                ),
            };
        }
        let why = match text.split_once(", expected ") {
            Some((_, expected)) => format!("expected {expected}"),
            None if text.starts_with("missing field") => text.clone(),
            None => "has an invalid value".to_owned(),
        };
        let field = if path == "." { "options".to_owned() } else { path };
        (field, why)
    })
}

/// JavaScript users write durations in milliseconds (`timeoutMs: 500`), Python users in seconds
/// (`timeout=0.5`). Both are accepted: a `*_ms` / `*Ms` key becomes the plain option with an
/// explicit unit, so one parser serves every binding.
fn ms_suffixes_to_durations(value: serde_json::Value) -> Result<serde_json::Value> {
    let serde_json::Value::Object(map) = value else {
        return Err(Error::config("options", "expected an object of options"));
    };
    let mut out = serde_json::Map::with_capacity(map.len());
    for (key, v) in map {
        let base = key.strip_suffix("_ms").or_else(|| key.strip_suffix("Ms"));
        match (base, &v) {
            (Some(base), serde_json::Value::Number(n)) => {
                let ms = n.as_f64().unwrap_or(-1.0);
                out.insert(base.to_owned(), serde_json::Value::String(format!("{ms}ms")));
            }
            (Some(_), serde_json::Value::Null) => {}
            (Some(_), _) => {
                let setting = shown_word(&key).map(|k| k.trim_matches('"').to_owned());
                return Err(Error::config(
                    setting.unwrap_or_else(|| "options".to_owned()),
                    "expected a number of milliseconds",
                ));
            }
            (None, _) => {
                out.insert(key, v);
            }
        }
    }
    Ok(serde_json::Value::Object(out))
}

/// What a call's options object may hold, in every binding.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RequestOptionsJson {
    #[serde(alias = "maxRetries")]
    max_retries: Option<u32>,
    timeout: Option<DurationValue>,
    #[serde(alias = "readTimeout")]
    read_timeout: Option<DurationValue>,
    #[serde(alias = "connectTimeout")]
    connect_timeout: Option<DurationValue>,
}

impl RequestOptions {
    /// Reads a call's options object (`{"max_retries": 0, "timeout_ms": 500}`); `null` means
    /// none. Unknown names are an error naming them.
    pub fn from_json(value: serde_json::Value) -> Result<Self> {
        if value.is_null() {
            return Ok(RequestOptions::default());
        }
        let raw: RequestOptionsJson = decode(ms_suffixes_to_durations(value)?)
            .map_err(|(field, why)| Error::input(field, why))?;
        let opt = |v: &Option<DurationValue>, name: &str| -> Result<Option<Duration>> {
            match v {
                Some(d) => Ok(Some(positive(d.to_duration(name)?, name)?)),
                None => Ok(None),
            }
        };
        if raw.max_retries.is_some_and(|n| n > 10) {
            return Err(Error::input("max_retries", "must be at most 10"));
        }
        Ok(RequestOptions {
            max_retries: raw.max_retries,
            total_timeout: opt(&raw.timeout, "timeout")?,
            read_timeout: opt(&raw.read_timeout, "read_timeout")?,
            connect_timeout: opt(&raw.connect_timeout, "connect_timeout")?,
        })
    }
}

fn env_value(option: &str, var: &str, raw: String) -> Result<serde_json::Value> {
    use serde_json::Value;
    let bad = |what: &str| Error::config(var.to_owned(), format!("expected {what}"));
    Ok(match option {
        "max_retries" | "secret_version" => {
            Value::from(raw.trim().parse::<u64>().map_err(|_| bad("a whole number"))?)
        }
        "budget_usd" => Value::from(raw.trim().parse::<f64>().map_err(|_| bad("a number"))?),
        "vault_skip_verify" => Value::Bool(matches!(
            raw.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )),
        _ => Value::String(raw),
    })
}

fn dur(value: &Option<DurationValue>, setting: &str, default: Duration) -> Result<Duration> {
    value.as_ref().map_or(Ok(default), |v| v.to_duration(setting))
}

fn positive(d: Duration, setting: &str) -> Result<Duration> {
    if d.is_zero() { Err(Error::config(setting, "must be greater than zero")) } else { Ok(d) }
}

fn non_blank(value: &Option<String>, setting: &str, default: &str) -> Result<String> {
    match value {
        None => Ok(default.to_owned()),
        Some(v) if v.trim().is_empty() => Err(Error::config(setting, "must not be empty")),
        Some(v) => Ok(v.trim().to_owned()),
    }
}

fn check_url(setting: &str, url: &str) -> Result<()> {
    match url::Url::parse(url) {
        // Credentials in the URL would go out with every request and into every log line that
        // names the URL; neither Vault nor the API authenticates that way, so they are refused.
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Err(Error::config(
            setting,
            "must not carry credentials (user:password@): Vault takes a token and the API a \
             key, which are options of their own",
        )),
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        // The URL itself is not quoted: it may carry credentials (`https://user:pass@host`).
        Ok(u) => Err(Error::config(setting, format!("scheme \"{}\" is not http(s)", u.scheme()))),
        Err(e) => Err(Error::config(setting, format!("is not a URL: {e}"))),
    }
}

/// Accepts the path as users write it. Paths that repeat the mount or spell out KV v2's `data/`
/// segment (`holysheep/data/production/api_key`) are a common slip; they would read the wrong
/// secret, so they are rejected with the path to use instead.
fn normalise_secret_path(mount: &str, path: &str) -> Result<String> {
    let path = path.trim().trim_matches('/');
    if path.is_empty() {
        return Err(Error::config("secret_path", "must not be empty"));
    }
    let stripped = path.strip_prefix(&format!("{mount}/")).unwrap_or(path);
    if let Some(rest) =
        stripped.strip_prefix("data/").or_else(|| stripped.strip_prefix("metadata/"))
    {
        return Err(Error::config(
            "secret_path (HOLYSHEEP_SECRET_PATH)",
            format!(
                "\"{path}\" includes the KV v2 API segment; use \"{rest}\" with mount \"{mount}\""
            ),
        ));
    }
    // The handwritten integrations this library replaces pass `secret/data/holysheep/api_key`:
    // the API path of another mount. Reading it under `mount` would ask for the wrong secret.
    if let Some((other_mount, rest)) = stripped.split_once("/data/")
        && !other_mount.contains('/')
    {
        return Err(Error::config(
            "secret_path (HOLYSHEEP_SECRET_PATH)",
            format!(
                "\"{path}\" looks like the KV v2 API path of mount \"{other_mount}\"; use \
                 mount \"{other_mount}\" with path \"{rest}\", or just the path inside \"{mount}\""
            ),
        ));
    }
    if stripped != path {
        return Err(Error::config(
            "secret_path (HOLYSHEEP_SECRET_PATH)",
            format!("\"{path}\" repeats the mount; use \"{stripped}\" with mount \"{mount}\""),
        ));
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<ClientOptions> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ClientOptions::from_env_map(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_what_teams_use() {
        let cfg = env(&[("VAULT_ADDR", "http://127.0.0.1:8200"), ("VAULT_TOKEN", "hvs.x")])
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(
            cfg.key,
            KeySource::Kv {
                mount: "holysheep".into(),
                path: "production/api_key".into(),
                field: "api_key".into(),
                version: None
            }
        );
        assert_eq!(cfg.api.base_url, "https://api.holysheep.ai/v1");
        assert_eq!(cfg.api.retry.max_retries, 2);
        assert_eq!(cfg.api.prices["deepseek-v3.2"], Price::flat(0.42));
        assert_eq!(cfg.vault.auth.method(), "token");
    }

    #[test]
    fn missing_setting_is_named() {
        let err = env(&[("VAULT_TOKEN", "hvs.x")]).unwrap().resolve().unwrap_err();
        assert!(err.to_string().contains("VAULT_ADDR"), "{err}");
        let err = env(&[
            ("VAULT_ADDR", "http://v:8200"),
            ("VAULT_ROLE_ID", "r"),
            ("HOLYSHEEP_AUTH_METHOD", "approle"),
        ])
        .unwrap()
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("VAULT_SECRET_ID"), "{err}");
        let err = env(&[("HOLYSHEEP_MAX_RETRIES", "many")]).unwrap_err();
        assert!(err.to_string().contains("HOLYSHEEP_MAX_RETRIES"), "{err}");
    }

    #[test]
    fn approle_is_detected_and_secret_never_printed() {
        let cfg = env(&[
            ("VAULT_ADDR", "http://v:8200"),
            ("VAULT_ROLE_ID", "role-1"),
            ("VAULT_SECRET_ID", "canary-secret-id-value"),
        ])
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(cfg.vault.auth.method(), "approle");
        assert!(!format!("{cfg:?}").contains("canary"));
    }

    #[test]
    fn kv_api_segment_in_path_is_rejected_with_the_fix() {
        let err = ClientOptions {
            vault_addr: Some("http://v:8200".into()),
            vault_token: Some("t".into()),
            secret_path: Some("holysheep/data/production/api_key".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("use \"production/api_key\""), "{err}");
    }

    #[test]
    fn json_options_accept_camel_case_and_reject_unknown_names() {
        let opts = ClientOptions::from_json(serde_json::json!({
            "vaultAddr": "http://v:8200", "vaultToken": "t", "maxRetries": 4, "timeout": "2s",
            "prices": {"my-model": {"input": 1.0, "output": 2.0}, "gpt-4.1": 9}
        }))
        .unwrap();
        let cfg = opts.resolve().unwrap();
        assert_eq!(cfg.api.retry.max_retries, 4);
        assert_eq!(cfg.api.retry.total_timeout, Some(Duration::from_secs(2)));
        assert_eq!(cfg.api.prices["my-model"], Price { input: 1.0, output: 2.0 });
        assert_eq!(cfg.api.prices["gpt-4.1"], Price::flat(9.0));
        let err = ClientOptions::from_json(serde_json::json!({"max_retires": 1})).unwrap_err();
        assert_eq!(err.to_string(), "invalid configuration: max_retires: is not a known option");
        let err = RequestOptions::from_json(serde_json::json!({"timout": "1s"})).unwrap_err();
        assert!(err.to_string().ends_with("timout: is not a known option"), "{err}");
    }

    #[test]
    fn a_secret_in_the_wrong_option_is_named_but_never_quoted() {
        let canary = "sk-canary-wrong-place-0123456789";
        let err = ClientOptions::from_json(serde_json::json!({"maxRetries": canary})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("maxRetries") && !text.contains("canary"), "{text}");
        let err =
            RequestOptions::from_json(serde_json::json!({"max_retries": canary})).unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
        let err = env(&[
            ("VAULT_ADDR", "http://v:8200"),
            ("VAULT_TOKEN", "t"),
            ("HOLYSHEEP_KEY_TTL", canary),
        ])
        .unwrap()
        .resolve()
        .unwrap_err();
        assert!(
            err.to_string().contains("key_ttl") && !err.to_string().contains("canary"),
            "{err}"
        );
    }

    #[test]
    fn a_secret_used_as_an_option_name_or_choice_is_never_quoted() {
        let canary = "sk-canary-wrong-place-0123456789";
        let short = "sk-live-SECRET123";
        for key in [canary, short] {
            let err = ClientOptions::from_json(serde_json::json!({ key: 1 })).unwrap_err();
            assert!(!err.to_string().contains("SECRET") && !err.to_string().contains("canary"));
            assert!(err.to_string().contains("unknown option whose name is not shown"), "{err}");
            let err = RequestOptions::from_json(serde_json::json!({ key: 1 })).unwrap_err();
            assert!(!err.to_string().contains("SECRET") && !err.to_string().contains("canary"));
            for option in ["key_source", "auth_method", "vault_backend"] {
                let err = ClientOptions::from_json(serde_json::json!({
                    "vault_addr": "http://v:8200", "vault_token": "t", option: key,
                }))
                .unwrap()
                .resolve()
                .unwrap_err();
                let text = err.to_string();
                assert!(text.contains(option) && text.contains("is not one of"), "{text}");
                assert!(!text.contains("SECRET") && !text.contains("canary"), "{text}");
            }
        }
        let err =
            ClientOptions::from_json(serde_json::json!({"api_key": "sk-x", "key_source": short}))
                .unwrap()
                .resolve()
                .unwrap_err();
        assert!(err.to_string().contains("is not one of kv, file"), "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
        // A mistyped word is still shown: that is what the person needs to see.
        let err = ClientOptions::from_json(serde_json::json!({
            "vault_addr": "http://v:8200", "role_id": "r", "secret_id": "s", "auth_method": "aprole",
        }))
        .unwrap()
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("\"aprole\" is not one of token,"), "{err}");
        for url in ["https://u:pw@api.example/v1", "https://u:pw@ex ample"] {
            let err = ClientOptions::from_json(serde_json::json!({
                "vault_addr": "http://v:8200", "vault_token": "t", "base_url": url,
            }))
            .unwrap()
            .resolve()
            .unwrap_err();
            let text = err.to_string();
            assert!(text.contains("base_url") && !text.contains("pw"), "{text}");
        }
        let err = ClientOptions::from_json(serde_json::json!({
            "vault_addr": "http://admin:pw@v:8200", "vault_token": "t",
        }))
        .unwrap()
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("vault_addr") && !err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn a_token_or_key_with_a_line_break_is_a_setting_error() {
        let err = ClientOptions::from_json(serde_json::json!({
            "vault_addr": "http://v:8200", "vault_token": "s.first-line\ns.second",
        }))
        .unwrap()
        .resolve()
        .unwrap_err();
        assert!(
            matches!(err, Error::Configuration { ref setting, .. } if setting.starts_with("vault_token"))
        );
        assert!(!err.to_string().contains("first-line"), "{err}");
        let err = ClientOptions::from_json(serde_json::json!({"api_key": "sk-a\r\nX-Evil: 1"}))
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(matches!(err, Error::Configuration { ref setting, .. } if setting == "api_key"));
        // A trailing newline (a file read whole, an `echo` into a variable) is fine.
        let ok = ClientOptions::from_json(serde_json::json!({
            "vault_addr": "http://v:8200", "vault_token": "s.token\n",
        }));
        assert!(ok.unwrap().resolve().is_ok());
    }

    #[test]
    fn millisecond_keys_are_accepted_for_javascript() {
        let cfg = ClientOptions::from_json(serde_json::json!({
            "vaultAddr": "http://v:8200", "vaultToken": "t", "timeoutMs": 1500, "readTimeoutMs": 250
        }))
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(cfg.api.retry.total_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(cfg.api.retry.read_timeout, Duration::from_millis(250));
        let call = RequestOptions::from_json(serde_json::json!({"maxRetries": 0, "timeoutMs": 20}))
            .unwrap();
        assert_eq!(call.max_retries, Some(0));
        assert_eq!(call.total_timeout, Some(Duration::from_millis(20)));
        let err = RequestOptions::from_json(serde_json::json!({"timeoutMs": "soon"})).unwrap_err();
        assert!(err.to_string().contains("timeoutMs"), "{err}");
    }

    #[test]
    fn the_articles_kv_path_is_rejected_with_the_fix() {
        let opts = |path: &str| ClientOptions {
            vault_addr: Some("http://v:8200".into()),
            vault_token: Some("t".into()),
            secret_path: Some(path.into()),
            ..Default::default()
        };
        let err = opts("secret/data/holysheep/api_key").resolve().unwrap_err();
        assert!(
            err.to_string().contains("mount \"secret\" with path \"holysheep/api_key\""),
            "{err}"
        );
        assert!(opts("team/apps/data/api_key").resolve().is_ok());
    }

    #[test]
    fn a_static_key_needs_no_vault_and_is_never_printed() {
        let cfg = ClientOptions {
            api_key: Some("sk-canary-static-0123456789".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert!(matches!(cfg.key, KeySource::Static { .. }));
        assert_eq!(cfg.vault.auth.method(), "none");
        assert!(!format!("{cfg:?}").contains("canary"));
        let err = ClientOptions {
            api_key: Some("sk-x".into()),
            key_source: Some("kv".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(err.to_string().contains("api_key"), "{err}");
    }

    #[test]
    fn durations_parse_like_vault() {
        assert_eq!(parse_duration_secs("500ms"), Some(0.5));
        assert_eq!(parse_duration_secs("2m"), Some(120.0));
        assert_eq!(parse_duration_secs("30"), Some(30.0));
        assert_eq!(parse_duration_secs("soon"), None);
    }
}
