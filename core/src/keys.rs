//! The key cache: where the API key comes from, how long it is trusted, and how it is refreshed.
//!
//! A [`KeyProvider`] reads the key from a KV v2 secret (through the Vault session in
//! [`crate::vault::session`]), from a file rendered by a Vault Agent template, or from an
//! environment variable (explicit opt-in, for local development), and caches it for `key_ttl`:
//!
//! - **Single flight.** However many callers find the cache cold or expired at once, one read
//!   goes to the source and every caller gets its result (or its error).
//! - **Refresh ahead.** In the last `refresh_ahead` fraction of `key_ttl` a caller gets the cached
//!   key at once and one background refresh starts, so in steady state no caller waits on Vault.
//!   Without background tasks (wasm32, or no tokio runtime) that caller refreshes inline.
//! - **Stale on outage.** When Vault is unreachable or sealed, the last good key is served for
//!   `stale_window` past its expiry (each serve counted, a warning per failed attempt); then the
//!   callers get the Vault error. Failed reads back off with jitter: during the backoff callers
//!   get the stale key or the last error without another trip to Vault.
//! - **Invalidation.** After a 401, [`KeyProvider::invalidate`] re-reads once for all callers that
//!   saw the same rejected key, and returns a newer key at once if another caller already has.
//!
//! The hit path is a read lock, a clock read and a relaxed counter: no await, no tokio lock.
//! Logs and statistics carry facts only (see the event list in [`crate::vault`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use crate::config::{CacheConfig, Config, KeySource};
use crate::error::{Error, KeyOrigin, Result};
use crate::rt::{self, Instant};
use crate::secret::Secret;
use crate::vault::session::{self, Session, TaskSlot, backoff};
use crate::vault::{self, VaultBackend};

/// How often a key file is looked at again, whatever `key_ttl` says: an agent template rewrites
/// it on rotation and the change should show within a second.
const FILE_RECHECK: Duration = Duration::from_secs(1);

/// An API key and where it came from.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub secret: Arc<Secret>,
    pub origin: KeyOrigin,
}

impl ApiKey {
    /// Whether two keys hold the same value (cheap when they share the allocation).
    pub fn same_value(&self, other: &ApiKey) -> bool {
        Arc::ptr_eq(&self.secret, &other.secret) || self.secret.expose() == other.secret.expose()
    }
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

/// How a [`KeyProvider`] runs, beyond its [`Config`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderOptions {
    /// Which Vault client implementation to use.
    pub backend: VaultBackend,
    /// Refresh and renew in background tasks when a tokio runtime is there. `false` does that
    /// work lazily on the next call, as the wasm build always does.
    pub background_tasks: bool,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions { backend: VaultBackend::default(), background_tasks: rt::BACKGROUND_TASKS }
    }
}

enum Source {
    Kv { session: Arc<Session>, mount: String, path: String, field: String, version: Option<u64> },
    File { path: PathBuf },
    Env { var: String },
    Static { key: Secret },
}

struct Entry {
    key: ApiKey,
    /// The read attempt that produced it.
    seq: u64,
    refresh_at: Instant,
    expires: Instant,
}

struct Failure {
    seq: u64,
    error: Error,
    retry_at: Instant,
    attempts: u32,
}

/// Keeps the hot counter off the cache line of the lock every reader also writes.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Default)]
struct Counters {
    hits: Padded<AtomicU64>,
    misses: AtomicU64,
    stale: AtomicU64,
    invalidations: AtomicU64,
}

/// Owns the Vault session and the cached key.
pub struct KeyProvider {
    me: Weak<KeyProvider>,
    source: Source,
    cache: CacheConfig,
    location: String,
    auth_method: &'static str,
    background: bool,
    entry: RwLock<Option<Arc<Entry>>>,
    /// Held by the one caller reading the source; the others wait on it and share the result.
    fill: tokio::sync::Mutex<()>,
    /// Completed read attempts, successful or not.
    seq: AtomicU64,
    failure: Mutex<Option<Failure>>,
    /// The failed attempt a stale-serve warning was logged for, so it is logged once.
    warned_seq: AtomicU64,
    refreshing: AtomicBool,
    refresher: TaskSlot,
    closed: AtomicBool,
    last_version: AtomicU64,
    counters: Counters,
}

enum Lookup {
    Fresh(ApiKey),
    RefreshDue(ApiKey),
    Miss,
}

impl KeyProvider {
    /// Builds the provider. Does no I/O: the first [`KeyProvider::get`] logs in and reads.
    pub fn new(config: &Config) -> Result<Arc<Self>> {
        let options = ProviderOptions { backend: config.vault.backend, ..Default::default() };
        Self::with_options(config, options)
    }

    /// [`KeyProvider::new`] with a chosen Vault backend and background mode.
    pub fn with_options(config: &Config, options: ProviderOptions) -> Result<Arc<Self>> {
        check_platform(config)?;
        let background = options.background_tasks && rt::BACKGROUND_TASKS;
        let source = match &config.key {
            KeySource::Kv { mount, path, field, version } => {
                let ops = vault::connect(&config.vault, options.backend)?;
                let session = Session::new(
                    ops,
                    config.vault.auth.clone(),
                    config.vault.request_timeout,
                    background,
                );
                Source::Kv {
                    session,
                    mount: mount.clone(),
                    path: path.clone(),
                    field: field.clone(),
                    version: *version,
                }
            }
            KeySource::File { path } => Source::File { path: path.clone() },
            KeySource::Env { var } => Source::Env { var: var.clone() },
            KeySource::Static { key } => Source::Static { key: key.clone() },
        };
        Ok(Arc::new_cyclic(|me| KeyProvider {
            me: me.clone(),
            source,
            cache: config.cache.clone(),
            location: key_location(config),
            auth_method: config.vault.auth.method(),
            background,
            entry: RwLock::new(None),
            fill: tokio::sync::Mutex::new(()),
            seq: AtomicU64::new(0),
            failure: Mutex::new(None),
            warned_seq: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            refresher: TaskSlot::default(),
            closed: AtomicBool::new(false),
            last_version: AtomicU64::new(0),
            counters: Counters::default(),
        }))
    }

    /// Where the key lives, e.g. `holysheep/production/api_key`, or
    /// `team-ai/holysheep/production/api_key` inside the Vault namespace `team-ai`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The current key: from the cache when fresh, else one read shared by all waiting callers.
    pub async fn get(&self) -> Result<ApiKey> {
        match self.lookup() {
            Lookup::Fresh(key) => Ok(key),
            Lookup::RefreshDue(key) => Ok(self.refresh_ahead(key).await),
            Lookup::Miss => self.load().await,
        }
    }

    /// The hit path: no await, no tokio lock.
    fn lookup(&self) -> Lookup {
        let guard = self.entry.read().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = guard.as_ref() else { return Lookup::Miss };
        let now = Instant::now();
        if now < entry.refresh_at {
            self.counters.hits.0.fetch_add(1, Ordering::Relaxed);
            Lookup::Fresh(entry.key.clone())
        } else if now < entry.expires {
            self.counters.hits.0.fetch_add(1, Ordering::Relaxed);
            Lookup::RefreshDue(entry.key.clone())
        } else {
            Lookup::Miss
        }
    }

    /// Called when the API rejected `rejected` with a 401: re-reads the key once (shared by
    /// concurrent callers that saw the same rejection) and returns what Vault holds now, which
    /// may be the same key.
    pub async fn invalidate(&self, rejected: &ApiKey) -> Result<ApiKey> {
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        self.ensure_open()?;
        if let Some(entry) = self.current()
            && Instant::now() < entry.expires
            && !entry.key.same_value(rejected)
        {
            tracing::debug!(location = %self.location, version = ?entry.key.origin.version,
                "key invalidated; a newer key is already cached");
            return Ok(entry.key.clone());
        }
        let seen = self.seq.load(Ordering::Acquire);
        let _fill = self.fill.lock().await;
        self.ensure_open()?;
        if self.seq.load(Ordering::Acquire) != seen {
            if let Some(entry) = self.current()
                && entry.seq > seen
            {
                tracing::debug!(location = %self.location, version = ?entry.key.origin.version,
                    "key served from a concurrent read");
                return Ok(entry.key.clone());
            }
            if let Some(err) = self.failure_since(seen) {
                return Err(err);
            }
        }
        tracing::debug!(location = %self.location, "key invalidated; reading it again");
        self.fetch("invalidated").await.map(|entry| entry.key.clone())
    }

    pub fn stats(&self) -> VaultStats {
        let (vault_reads, logins, renewals) = match &self.source {
            Source::Kv { session, .. } => {
                (session.kv_reads(), session.logins(), session.renewals())
            }
            _ => (0, 0, 0),
        };
        let version = self.last_version.load(Ordering::Relaxed);
        VaultStats {
            auth_method: self.auth_method.to_owned(),
            key_location: self.location.clone(),
            key_version: (version != 0).then_some(version),
            vault_reads,
            logins,
            renewals,
            cache_hits: self.counters.hits.0.load(Ordering::Relaxed),
            cache_misses: self.counters.misses.load(Ordering::Relaxed),
            stale_serves: self.counters.stale.load(Ordering::Relaxed),
            invalidations: self.counters.invalidations.load(Ordering::Relaxed),
        }
    }

    /// Stops background work and drops the cached key and token.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.refresher.abort();
        if let Source::Kv { session, .. } = &self.source {
            session.close();
        }
        *self.entry.write().unwrap_or_else(PoisonError::into_inner) = None;
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn ensure_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) { Err(Error::Closed) } else { Ok(()) }
    }

    fn current(&self) -> Option<Arc<Entry>> {
        self.entry.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The error of an attempt that completed after `seen`, when that attempt failed.
    fn failure_since(&self, seen: u64) -> Option<Error> {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.as_ref().filter(|f| f.seq > seen).map(|f| replay(&f.error))
    }

    /// The last error while its backoff lasts: callers get it without another trip to Vault.
    fn backing_off(&self) -> Option<Error> {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.as_ref().filter(|f| Instant::now() < f.retry_at).map(|f| replay(&f.error))
    }

    /// The cache miss path: one read for all callers.
    async fn load(&self) -> Result<ApiKey> {
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        self.ensure_open()?;
        let seen = self.seq.load(Ordering::Acquire);
        // A known outage: answer from the stale key now rather than queueing behind a read that
        // may take the whole Vault timeout.
        if let Some(key) = self.stale_during_outage() {
            return Ok(key);
        }
        tracing::debug!(location = %self.location, "key cache miss");
        let _fill = self.fill.lock().await;
        self.ensure_open()?;
        if let Some(entry) = self.current()
            && Instant::now() < entry.expires
        {
            return Ok(entry.key.clone());
        }
        if self.seq.load(Ordering::Acquire) != seen
            && let Some(err) = self.failure_since(seen)
        {
            return self.stale_or(err);
        }
        if let Some(err) = self.backing_off() {
            return self.stale_or(err);
        }
        match self.fetch("cache miss").await {
            Ok(entry) => Ok(entry.key.clone()),
            Err(err) => self.stale_or(err),
        }
    }

    /// When the cached key has expired and the last read failed with an outage: the stale key
    /// (inside `stale_window`), with a background retry started once the backoff has passed.
    fn stale_during_outage(&self) -> Option<ApiKey> {
        let entry = self.current()?;
        let (error, retry_due) = {
            let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
            let f = failure.as_ref().filter(|f| f.seq > entry.seq && is_outage(&f.error))?;
            (replay(&f.error), Instant::now() >= f.retry_at)
        };
        // Without a background task the caller retries itself, once the backoff has passed.
        if retry_due && !(self.background && self.spawn_refresh()) {
            return None;
        }
        self.stale_or(error).ok()
    }

    /// Serves the last good key when `err` is an outage and the key is inside its stale window.
    fn stale_or(&self, err: Error) -> Result<ApiKey> {
        if !is_outage(&err) {
            return Err(err);
        }
        let Some(entry) = self.current() else { return Err(err) };
        let now = Instant::now();
        if now >= entry.expires + self.cache.stale_window {
            return Err(err);
        }
        self.counters.stale.fetch_add(1, Ordering::Relaxed);
        let seq = self.seq.load(Ordering::Acquire);
        if self.warned_seq.swap(seq, Ordering::AcqRel) != seq {
            tracing::warn!(
                location = %self.location,
                version = ?entry.key.origin.version,
                stale_ms = now.saturating_duration_since(entry.expires).as_millis() as u64,
                error = %err,
                "serving the last good api key past its expiry"
            );
        }
        Ok(entry.key.clone())
    }

    /// A caller found the key in its refresh window: it keeps the cached key, and one refresh
    /// starts in the background (or, without background tasks, runs here if none is running).
    async fn refresh_ahead(&self, cached: ApiKey) -> ApiKey {
        // Checked first: callers arriving while the refresh runs touch nothing but this flag.
        if self.background && self.refreshing.load(Ordering::Acquire) {
            return cached;
        }
        if self.backing_off().is_some() {
            return cached;
        }
        if self.background && self.spawn_refresh() {
            return cached;
        }
        let Ok(_fill) = self.fill.try_lock() else { return cached };
        if self.current().is_some_and(|e| Instant::now() < e.refresh_at) {
            return self.current().map_or(cached, |e| e.key.clone());
        }
        match self.fetch("refresh ahead").await {
            Ok(entry) => entry.key.clone(),
            Err(_) => cached,
        }
    }

    /// Starts one background refresh unless one is running. `false` when it could not start.
    fn spawn_refresh(&self) -> bool {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return true;
        }
        let me = self.me.clone();
        let started = self.refresher.spawn(async move {
            let Some(provider) = me.upgrade() else { return };
            let _done = ClearOnDrop(&provider.refreshing);
            provider.refresh_in_background().await;
        });
        if started {
            tracing::debug!(location = %self.location, "key refresh ahead started");
        } else {
            self.refreshing.store(false, Ordering::Release);
        }
        started
    }

    async fn refresh_in_background(&self) {
        let seen = self.seq.load(Ordering::Acquire);
        let _fill = self.fill.lock().await;
        if self.ensure_open().is_err() || self.seq.load(Ordering::Acquire) != seen {
            return;
        }
        if self.backing_off().is_some() {
            return;
        }
        // A failure is recorded (and logged) by `fetch`; callers see it through the cache.
        let _ = self.fetch("refresh ahead").await;
    }

    /// Reads the key from its source and caches it, or records the failure. Called with `fill`
    /// held.
    async fn fetch(&self, reason: &'static str) -> Result<Arc<Entry>> {
        let seq = self.seq.load(Ordering::Acquire) + 1;
        let result = self.read_source(reason).await;
        // A read that finishes after close() must not put the key back in memory.
        self.ensure_open()?;
        let now = Instant::now();
        let result = match result {
            Ok((secret, version)) => {
                let previous = self.current();
                let secret = match &previous {
                    // Keep the old allocation for an unchanged value: `same_value` is then a
                    // pointer comparison.
                    Some(p) if p.key.secret.expose() == secret.expose() => p.key.secret.clone(),
                    _ => Arc::new(secret),
                };
                self.note_rotation(previous.as_deref(), &secret, version);
                let ttl = match self.source {
                    Source::File { .. } => self.cache.key_ttl.min(FILE_RECHECK),
                    _ => self.cache.key_ttl,
                };
                let ahead = match self.source {
                    Source::File { .. } => Duration::ZERO,
                    _ => ttl.mul_f64(self.cache.refresh_ahead.clamp(0.0, 1.0)),
                };
                let entry = Arc::new(Entry {
                    key: ApiKey {
                        secret,
                        origin: KeyOrigin { location: self.location.clone(), version },
                    },
                    seq,
                    refresh_at: now + (ttl - ahead),
                    expires: now + ttl,
                });
                self.last_version.store(version.unwrap_or(0), Ordering::Relaxed);
                *self.entry.write().unwrap_or_else(PoisonError::into_inner) = Some(entry.clone());
                *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = None;
                Ok(entry)
            }
            Err(err) => {
                let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
                let attempts = failure.as_ref().map_or(0, |f| f.attempts) + 1;
                let delay = backoff(attempts);
                let backoff_ms = delay.as_millis() as u64;
                // With a key cached this is a refresh going wrong (worth a warning); on a cold
                // cache the caller gets the error itself.
                if reason == "refresh ahead" || self.current().is_some() {
                    tracing::warn!(location = %self.location, attempt = attempts, backoff_ms,
                        error = %err, "api key refresh failed");
                } else {
                    tracing::debug!(location = %self.location, attempt = attempts, backoff_ms,
                        error = %err, "api key read failed");
                }
                let copy = replay(&err);
                *failure = Some(Failure { seq, error: err, retry_at: now + delay, attempts });
                Err(copy)
            }
        };
        self.seq.store(seq, Ordering::Release);
        result
    }

    fn note_rotation(&self, previous: Option<&Entry>, secret: &Arc<Secret>, version: Option<u64>) {
        let Some(previous) = previous else { return };
        let changed = !Arc::ptr_eq(&previous.key.secret, secret);
        let old_version = previous.key.origin.version;
        if changed || old_version != version {
            match &self.source {
                Source::Kv { mount, path, .. } => tracing::info!(
                    kv_mount = %mount, path = %path, old_version = ?old_version,
                    new_version = ?version, "api key rotation detected"
                ),
                _ => tracing::info!(location = %self.location, "api key rotation detected"),
            }
        }
    }

    async fn read_source(&self, reason: &'static str) -> Result<(Secret, Option<u64>)> {
        match &self.source {
            Source::Kv { session, mount, path, field, version } => {
                let read = session.read_kv(mount, path, field, *version).await?;
                let (secret, version) = extract_key(read, mount, path, field, *version)?;
                tracing::info!(source = "kv", kv_mount = %mount, path = %path, version,
                    reason, "api key read");
                Ok((secret, Some(version)))
            }
            Source::File { path } => {
                let (secret, _) = session::read_secret_file(path, "key_file (HOLYSHEEP_KEY_FILE)")?;
                tracing::debug!(source = "file", path = %path.display(), reason, "api key read");
                Ok((secret, None))
            }
            Source::Static { key } => Ok((key.clone(), None)),
            Source::Env { var } => {
                let value = std::env::var(var).unwrap_or_default();
                let secret = Secret::new(value.trim().to_owned());
                drop(Secret::new(value));
                if secret.is_blank() {
                    return Err(Error::config(
                        format!("key_env ({var})"),
                        "the environment variable is not set or empty",
                    ));
                }
                tracing::debug!(source = "env", var = %var, reason, "api key read");
                Ok((secret, None))
            }
        }
    }
}

impl Drop for KeyProvider {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyProvider")
            .field("location", &self.location)
            .field("auth_method", &self.auth_method)
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Vault could not answer now, so a stale key beats no key.
fn is_outage(err: &Error) -> bool {
    matches!(err, Error::VaultUnreachable { .. } | Error::VaultSealed { .. })
}

/// Takes the key field out of a KV v2 read, or says precisely why there is none.
fn extract_key(
    read: vault::KvRead,
    mount: &str,
    path: &str,
    field: &str,
    pinned: Option<u64>,
) -> Result<(Secret, u64)> {
    let not_found = |message: String| Error::VaultSecretNotFound {
        mount: mount.to_owned(),
        path: path.to_owned(),
        field: Some(field.to_owned()),
        message,
    };
    let Some(meta) = read.metadata else {
        return Err(Error::VaultMisconfigured {
            message: format!(
                "{mount}/{path} came back without KV v2 metadata; is \"{mount}/\" a KV v2 mount?"
            ),
        });
    };
    let at = format!("{mount}/{path} (version {})", meta.version);
    let Some(mut data) = read.data else {
        let why = if meta.destroyed {
            "was destroyed".to_owned()
        } else if !meta.deletion_time.is_empty() {
            format!("was deleted at {}", meta.deletion_time)
        } else {
            "has no data".to_owned()
        };
        let hint = if pinned.is_some() { "; pin another version or unpin it" } else { "" };
        return Err(not_found(format!("{at} {why}{hint}")));
    };
    match data.take(field) {
        Some(serde_json::Value::String(value)) => {
            let secret = Secret::new(value);
            if secret.is_blank() {
                return Err(not_found(format!("field \"{field}\" of {at} is empty")));
            }
            Ok((secret, meta.version))
        }
        Some(other) => Err(Error::VaultMisconfigured {
            message: format!(
                "field \"{field}\" of {at} is {}, not a string",
                match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Array(_) => "an array",
                    _ => "an object",
                }
            ),
        }),
        None => Err(not_found(format!(
            "{at} has no field \"{field}\" (it has: {})",
            data.field_names().join(", ")
        ))),
    }
}

/// A copy of an error the key source produced, for callers that share one failed read.
fn replay(err: &Error) -> Error {
    match err {
        Error::VaultUnreachable { addr, message } => {
            Error::VaultUnreachable { addr: addr.clone(), message: message.clone() }
        }
        Error::VaultSealed { addr } => Error::VaultSealed { addr: addr.clone() },
        Error::VaultPermissionDenied { path, capability } => {
            Error::VaultPermissionDenied { path: path.clone(), capability: capability.clone() }
        }
        Error::VaultSecretNotFound { mount, path, field, message } => Error::VaultSecretNotFound {
            mount: mount.clone(),
            path: path.clone(),
            field: field.clone(),
            message: message.clone(),
        },
        Error::VaultLoginFailed { method, mount, message } => Error::VaultLoginFailed {
            method: method.clone(),
            mount: mount.clone(),
            message: message.clone(),
        },
        Error::VaultMisconfigured { message } => {
            Error::VaultMisconfigured { message: message.clone() }
        }
        Error::Configuration { setting, message } => {
            Error::Configuration { setting: setting.clone(), message: message.clone() }
        }
        Error::Closed => Error::Closed,
        other => Error::Internal { message: other.to_string() },
    }
}

/// The key's location as people name it in messages and logs. Inside a Vault namespace the
/// same mount and path exist once per namespace, so the namespace leads (the form Vault itself
/// accepts as a path prefix).
fn key_location(config: &Config) -> String {
    match (&config.key, &config.vault.namespace) {
        (KeySource::Kv { .. }, Some(ns)) => {
            format!("{}/{}", ns.trim_matches('/'), config.key.location())
        }
        _ => config.key.location(),
    }
}

/// Files do not exist on wasm32: say which setting cannot work there, at construction.
fn check_platform(config: &Config) -> Result<()> {
    if !cfg!(target_arch = "wasm32") {
        return Ok(());
    }
    use crate::config::{AuthConfig, SecretIdSource};
    let file_setting = match (&config.key, &config.vault.auth) {
        (KeySource::File { .. }, _) => Some("key_file"),
        (_, AuthConfig::TokenFile { .. }) => Some("token_file"),
        (_, AuthConfig::AppRole { secret_id: SecretIdSource::File(_), .. }) => {
            Some("secret_id_file")
        }
        (_, AuthConfig::Kubernetes { .. } | AuthConfig::Jwt { .. }) => Some("jwt_path"),
        _ => None,
    };
    match file_setting {
        Some(setting) => Err(Error::config(
            setting,
            "files cannot be read in the wasm build; pass the value itself (or use a token)",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientOptions;

    fn env_provider(var: &str, ttl: &str) -> Arc<KeyProvider> {
        let config = ClientOptions::from_json(serde_json::json!({
            "key_source": "env", "key_env": var, "key_ttl": ttl,
        }))
        .unwrap()
        .resolve()
        .unwrap();
        KeyProvider::new(&config).unwrap()
    }

    #[tokio::test]
    async fn env_source_caches_and_invalidates() {
        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("HOLYSHEEP_UNIT_KEY_A", "sk-unit-a-0123456789") };
        let provider = env_provider("HOLYSHEEP_UNIT_KEY_A", "60s");
        let first = provider.get().await.unwrap();
        let again = provider.get().await.unwrap();
        assert!(Arc::ptr_eq(&first.secret, &again.secret));
        assert_eq!(first.origin.location, "env:HOLYSHEEP_UNIT_KEY_A");
        unsafe { std::env::set_var("HOLYSHEEP_UNIT_KEY_A", "sk-unit-b-0123456789") };
        let fresh = provider.invalidate(&first).await.unwrap();
        assert_eq!(fresh.secret.expose(), "sk-unit-b-0123456789");
        // A second caller holding the old key gets the new one without another read.
        let shared = provider.invalidate(&first).await.unwrap();
        assert!(Arc::ptr_eq(&fresh.secret, &shared.secret));
        let stats = provider.stats();
        assert_eq!((stats.cache_hits, stats.cache_misses, stats.invalidations), (1, 1, 2));
        provider.close();
        assert!(matches!(provider.get().await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn missing_env_key_names_the_variable() {
        let provider = env_provider("HOLYSHEEP_UNIT_KEY_UNSET", "60s");
        let err = provider.get().await.unwrap_err();
        assert!(err.to_string().contains("HOLYSHEEP_UNIT_KEY_UNSET"), "{err}");
    }

    #[test]
    fn extract_key_explains_deleted_versions_and_missing_fields() {
        let meta = |deleted: &str| vault::KvMetadata {
            version: 4,
            created_time: "t".into(),
            deletion_time: deleted.into(),
            destroyed: false,
        };
        let read = vault::KvRead { data: None, metadata: Some(meta("2026-01-01T00:00:00Z")) };
        let err = extract_key(read, "hs", "p/api_key", "api_key", Some(4)).unwrap_err();
        assert!(err.to_string().contains("hs/p/api_key (version 4) was deleted at"), "{err}");
        let mut map = serde_json::Map::new();
        map.insert("other".into(), "sk-canary".into());
        let read = vault::KvRead { data: Some(vault::KvData::new(map)), metadata: Some(meta("")) };
        let err = extract_key(read, "hs", "p/api_key", "api_key", None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no field \"api_key\" (it has: other)"), "{text}");
        assert!(!text.contains("canary"), "{text}");
    }
}
