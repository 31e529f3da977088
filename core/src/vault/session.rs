//! The Vault session: which token a call carries, and keeping it alive.
//!
//! One [`Session`] owns the token for every method: a given token (`token`), a Vault Agent sink
//! re-read when it changes or is rejected (`token_file`), a login (`approle`, `kubernetes`,
//! `jwt`; credentials files are re-read at each login), or no token at all behind an agent's
//! api_proxy (`none`).
//!
//! Renewal: a token with a TTL is renewed at about two thirds of its TTL (with jitter), asking
//! for the TTL it was first granted. When Vault grants less (the max TTL is near) or the token is
//! not renewable, the next due time logs in again instead. A failed renewal logs in again; a
//! failed background login backs off with jitter while the old token is still valid. Natively
//! this runs in a tokio task that holds only a `Weak` reference, so it ends with the session (and
//! is aborted by `close`); without a runtime, and on wasm32, it runs lazily before the next call.
//!
//! Healing: a 403 on a token that came from a login logs in once more and retries; a 403 on a
//! token file re-reads the file (the agent may have rotated it) and retries if it changed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use zeroize::Zeroize;

use super::errors::{self, Site};
use super::{KvRead, LoginRequest, OpError, VaultOps};
use crate::config::{AuthConfig, SecretIdSource};
use crate::error::{Error, Result};
use crate::rt::{self, Instant, SystemTime};
use crate::secret::Secret;

/// Where the current token came from: it decides whether it can be renewed, healed or re-read.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    Login,
    Static,
    File(FileStamp),
    Agent,
}

/// Size and modification time of a file, to notice an agent rewriting it without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp { len: meta.len(), modified: meta.modified().ok().map(to_web_time) })
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn to_web_time(t: std::time::SystemTime) -> SystemTime {
    t
}

#[cfg(target_arch = "wasm32")]
fn to_web_time(t: std::time::SystemTime) -> SystemTime {
    // Never reached (no filesystem on wasm32), but the types differ there.
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rt::UNIX_EPOCH + since
}

/// Reads a secret from a file (agent sink, secret_id, JWT, rendered key), trimmed.
pub(crate) fn read_secret_file(path: &Path, setting: &str) -> Result<(Secret, FileStamp)> {
    let stamp = FileStamp::of(path);
    let mut text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(setting, format!("cannot read {}: {e}", path.display())))?;
    let value = text.trim().to_owned();
    text.zeroize();
    if value.is_empty() {
        return Err(Error::config(setting, format!("{} is empty", path.display())));
    }
    let value = Secret::new(value);
    if value.has_control_chars() {
        return Err(Error::config(
            setting,
            format!("{} holds more than one line; it should hold the value alone", path.display()),
        ));
    }
    let stamp = stamp.unwrap_or(FileStamp { len: value.expose().len() as u64, modified: None });
    Ok((value, stamp))
}

/// One background task slot: natively a tokio task, on wasm32 nothing (work is done lazily).
#[derive(Default)]
pub(crate) struct TaskSlot {
    #[cfg(not(target_arch = "wasm32"))]
    handle: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TaskSlot {
    /// Starts `future` and keeps its handle. `false` when there is no runtime to run it on.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn spawn<F>(&self, future: F) -> bool
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        match rt::spawn(future) {
            Some(handle) => {
                *self.handle.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
                true
            }
            None => false,
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn spawn<F>(&self, _future: F) -> bool
    where
        F: std::future::Future<Output = ()> + 'static,
    {
        false
    }

    pub(crate) fn alive(&self) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let handle = self.handle.lock().unwrap_or_else(PoisonError::into_inner);
            handle.as_ref().is_some_and(|h| !h.is_finished())
        }
        #[cfg(target_arch = "wasm32")]
        false
    }

    pub(crate) fn abort(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(handle) = self.handle.lock().unwrap_or_else(PoisonError::into_inner).take() {
            handle.abort();
        }
    }
}

/// Delay before retry `attempt` (1-based): 500ms doubling to 30s, with jitter.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500).saturating_mul(1 << attempt.saturating_sub(1).min(6));
    rt::jitter(base.min(Duration::from_secs(30)), 0.2)
}

/// A token and what is known about its lifetime. Immutable: renewal stores a new one.
#[derive(Debug)]
pub(crate) struct Token {
    secret: Option<Secret>,
    generation: u64,
    origin: Origin,
    /// The TTL Vault granted at login (or lookup): what renewals ask for. Zero: never expires.
    granted: Duration,
    expires: Option<Instant>,
    /// When the next renewal (or re-login, see `relogin_due`) is due; `None` when nothing is.
    renew_at: Option<Instant>,
    /// Renewal can no longer extend the token: log in again at `renew_at`.
    relogin_due: bool,
    /// Obtained by healing a 403; a second 403 is a policy problem, not a stale token.
    healed: bool,
    /// Consecutive failed renewals or background logins, for the backoff.
    failures: u32,
}

impl Token {
    fn new(secret: Option<Secret>, origin: Origin, granted: Duration, renewable: bool) -> Token {
        let now = Instant::now();
        let lives = !granted.is_zero();
        let (renew_at, relogin_due) = match origin {
            Origin::Login if lives => (Some(now + renew_delay(granted)), !renewable),
            Origin::Static if lives && renewable => (Some(now + renew_delay(granted)), false),
            _ => (None, false),
        };
        Token {
            secret,
            generation: 0,
            origin,
            granted,
            expires: lives.then(|| now + granted),
            renew_at,
            relogin_due,
            healed: false,
            failures: 0,
        }
    }

    pub(crate) fn secret(&self) -> Option<&Secret> {
        self.secret.as_ref()
    }

    fn copy_with(&self, f: impl FnOnce(&mut Token)) -> Token {
        let mut t = Token {
            secret: self.secret.clone(),
            generation: self.generation,
            origin: self.origin.clone(),
            granted: self.granted,
            expires: self.expires,
            renew_at: self.renew_at,
            relogin_due: self.relogin_due,
            healed: self.healed,
            failures: self.failures,
        };
        f(&mut t);
        t
    }
}

/// About two thirds of `ttl`, jittered so a fleet does not renew in lockstep.
fn renew_delay(ttl: Duration) -> Duration {
    rt::jitter(ttl.mul_f64(2.0 / 3.0), 0.1)
}

/// The Vault session of one [`crate::keys::KeyProvider`].
pub struct Session {
    me: Weak<Session>,
    ops: Arc<dyn VaultOps>,
    auth: AuthConfig,
    timeout: Duration,
    background: bool,
    current: RwLock<Option<Arc<Token>>>,
    /// Serialises logins, file re-reads and renewals, so concurrent callers share one.
    lock: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    logins: AtomicU64,
    renewals: AtomicU64,
    kv_reads: AtomicU64,
    closed: AtomicBool,
    wake: Arc<Notify>,
    renewer: TaskSlot,
}

impl Session {
    /// `background`: renew in a background task when a runtime allows it (else lazily).
    pub fn new(
        ops: Arc<dyn VaultOps>,
        auth: AuthConfig,
        timeout: Duration,
        background: bool,
    ) -> Arc<Session> {
        Arc::new_cyclic(|me| Session {
            me: me.clone(),
            ops,
            auth,
            timeout,
            background: background && rt::BACKGROUND_TASKS,
            current: RwLock::new(None),
            lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            renewals: AtomicU64::new(0),
            kv_reads: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
            renewer: TaskSlot::default(),
        })
    }

    pub fn method(&self) -> &'static str {
        self.auth.method()
    }

    pub fn address(&self) -> &str {
        self.ops.address()
    }

    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// KV reads sent to Vault (a healed call counts twice).
    pub fn kv_reads(&self) -> u64 {
        self.kv_reads.load(Ordering::Relaxed)
    }

    /// Stops the renewal task and drops the token (zeroed when the last copy goes).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.renewer.abort();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn current(&self) -> Option<Arc<Token>> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn auth_mount(&self) -> &str {
        self.auth.mount().unwrap_or("")
    }

    async fn timed<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, OpError>>,
    ) -> Result<T, OpError> {
        match rt::timeout(self.timeout, future).await {
            Some(result) => result,
            None => Err(OpError::Transport {
                message: format!("no answer within {}ms", self.timeout.as_millis()),
                timeout: true,
            }),
        }
    }

    fn map(&self, site: Site<'_>, err: OpError) -> Error {
        errors::map(self.ops.address(), site, err, &[])
    }

    /// Reads a KV v2 secret with the session's token, healing a rejected token once. A 404 is
    /// told apart from a KV v1 mount or a mount of another engine before it is reported.
    pub async fn read_kv(
        &self,
        mount: &str,
        path: &str,
        field: &str,
        version: Option<u64>,
    ) -> Result<KvRead> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if !self.renewer.alive() {
            self.tick().await;
        }
        let site = Site::Kv { mount, path, field };
        let token = self.token().await?;
        self.kv_reads.fetch_add(1, Ordering::Relaxed);
        let first = self.timed(self.ops.read_kv2(token.secret(), mount, path, version)).await;
        let (result, used) = match first {
            Err(err) if errors::is_token_rejected(&err) && self.can_heal(&token) => {
                let fresh = self.heal(&token).await?;
                if fresh.secret == token.secret {
                    return Err(self.map(site, err));
                }
                self.kv_reads.fetch_add(1, Ordering::Relaxed);
                let retry = self.timed(self.ops.read_kv2(fresh.secret(), mount, path, version));
                (retry.await, fresh)
            }
            other => (other, token),
        };
        match result {
            Ok(read) => Ok(read),
            Err(OpError::Status { status: 404, errors }) if errors.is_empty() => {
                Err(self.diagnose_not_found(&used, mount, site).await)
            }
            Err(err) => Err(self.map(site, err)),
        }
    }

    async fn diagnose_not_found(&self, token: &Token, mount: &str, site: Site<'_>) -> Error {
        let not_found = self.map(site, OpError::Status { status: 404, errors: vec![] });
        match self.timed(self.ops.mount_info(token.secret(), mount)).await {
            Ok(info) if info.kind == "kv" && info.version.as_deref() != Some("2") => {
                Error::VaultMisconfigured {
                    message: format!(
                        "\"{mount}/\" is a KV version 1 mount; the key must live in KV v2 \
                         (upgrade it with `vault kv enable-versioning {mount}`)"
                    ),
                }
            }
            Ok(info) if info.kind != "kv" => Error::VaultMisconfigured {
                message: format!("\"{mount}/\" is a {} secrets engine, not KV v2", info.kind),
            },
            // KV v2, or Vault would not say (no access to the mount lookup): a plain 404.
            _ => not_found,
        }
    }

    fn can_heal(&self, token: &Token) -> bool {
        match token.origin {
            Origin::Login => !token.healed,
            Origin::File(_) => true,
            Origin::Static | Origin::Agent => false,
        }
    }

    /// The token to send: the current one while it is usable, else a new one obtained once for
    /// all concurrent callers.
    pub(crate) async fn token(&self) -> Result<Arc<Token>> {
        if let Some(t) = self.current()
            && self.usable(&t)
        {
            return Ok(t);
        }
        let _guard = self.lock.lock().await;
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let reason = match self.current() {
            Some(t) if self.usable(&t) => return Ok(t),
            Some(t) if matches!(t.origin, Origin::File(_)) => "token file changed",
            Some(_) => "token expired",
            None => "first use",
        };
        let token = self.acquire(reason).await?;
        Ok(self.store(token))
    }

    fn usable(&self, token: &Token) -> bool {
        match &token.origin {
            Origin::Login => token.expires.is_none_or(|at| {
                let margin = (token.granted / 10).min(Duration::from_secs(1));
                Instant::now() + margin < at
            }),
            Origin::File(stamp) => match &self.auth {
                AuthConfig::TokenFile { path } => {
                    FileStamp::of(path).is_none_or(|now| &now == stamp)
                }
                _ => true,
            },
            Origin::Static | Origin::Agent => true,
        }
    }

    /// Replaces a rejected token: logs in again or re-reads the token file, unless another
    /// caller already did.
    async fn heal(&self, rejected: &Token) -> Result<Arc<Token>> {
        let _guard = self.lock.lock().await;
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if let Some(current) = self.current()
            && current.generation != rejected.generation
        {
            return Ok(current);
        }
        tracing::warn!(
            method = self.method(),
            auth_mount = self.auth_mount(),
            status = 403,
            "vault rejected the token; getting a new one"
        );
        let mut token = self.acquire("token rejected").await?;
        token.healed = true;
        Ok(self.store(token))
    }

    /// Gets a token the configured way. Called with `lock` held.
    async fn acquire(&self, reason: &str) -> Result<Token> {
        match &self.auth {
            AuthConfig::Token { token } => {
                let (granted, renewable) = match self.timed(self.ops.lookup_self(Some(token))).await
                {
                    Ok(info) => {
                        tracing::debug!(
                            ttl_secs = info.ttl.as_secs(),
                            renewable = info.renewable,
                            "vault token looked up"
                        );
                        (info.ttl, info.renewable)
                    }
                    Err(err) => {
                        // Only renewal needs this; the call itself will report a bad token.
                        let err = self.map(Site::Lookup, err);
                        tracing::debug!(error = %err, "vault token lookup failed; not renewing it");
                        (Duration::ZERO, false)
                    }
                };
                Ok(Token::new(Some(token.clone()), Origin::Static, granted, renewable))
            }
            AuthConfig::TokenFile { path } => {
                let (secret, stamp) = read_secret_file(path, "token_file (HOLYSHEEP_TOKEN_FILE)")?;
                if reason != "first use" {
                    tracing::info!(
                        path = %path.display(),
                        "vault token file changed; using the new token"
                    );
                }
                // The agent renews and replaces this token; the session only follows the file.
                Ok(Token::new(Some(secret), Origin::File(stamp), Duration::ZERO, false))
            }
            AuthConfig::AppRole { mount, role_id, secret_id } => {
                let secret_id = match secret_id {
                    SecretIdSource::Value(s) => s.clone(),
                    SecretIdSource::File(p) => {
                        read_secret_file(p, "secret_id_file (HOLYSHEEP_SECRET_ID_FILE)")?.0
                    }
                };
                let request = LoginRequest::AppRole { role_id, secret_id: &secret_id };
                self.login(mount, &request, &secret_id, reason).await
            }
            AuthConfig::Kubernetes { mount, role, jwt_path } => {
                let jwt = read_secret_file(jwt_path, "jwt_path (HOLYSHEEP_JWT_PATH)")?.0;
                self.login(mount, &LoginRequest::Kubernetes { role, jwt: &jwt }, &jwt, reason).await
            }
            AuthConfig::Jwt { mount, role, jwt_path } => {
                let jwt = read_secret_file(jwt_path, "jwt_path (HOLYSHEEP_JWT_PATH)")?.0;
                self.login(mount, &LoginRequest::Jwt { role, jwt: &jwt }, &jwt, reason).await
            }
            AuthConfig::None => Ok(Token::new(None, Origin::Agent, Duration::ZERO, false)),
        }
    }

    async fn login(
        &self,
        mount: &str,
        request: &LoginRequest<'_>,
        credential: &Secret,
        reason: &str,
    ) -> Result<Token> {
        let method = self.method();
        let auth = self.timed(self.ops.login(mount, request)).await.map_err(|e| {
            errors::map(self.ops.address(), Site::Login { method, mount }, e, &[credential])
        })?;
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            method,
            auth_mount = mount,
            ttl_secs = auth.lease.ttl.as_secs(),
            renewable = auth.lease.renewable,
            reason,
            "vault login succeeded"
        );
        Ok(Token::new(Some(auth.token), Origin::Login, auth.lease.ttl, auth.lease.renewable))
    }

    /// Makes `token` current under a new generation, and wakes or starts the renewer.
    fn store(&self, mut token: Token) -> Arc<Token> {
        token.generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.replace(token)
    }

    /// Makes `token` current keeping its generation (a renewal or a rescheduled retry).
    fn replace(&self, token: Token) -> Arc<Token> {
        let token = Arc::new(token);
        if self.is_closed() {
            // A login that finishes after close() hands its token to its caller only.
            return token;
        }
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        if token.renew_at.is_some() {
            self.ensure_renewer();
        }
        self.wake.notify_one();
        token
    }

    fn ensure_renewer(&self) {
        if !self.background || self.is_closed() || self.renewer.alive() {
            return;
        }
        let me = self.me.clone();
        let wake = self.wake.clone();
        self.renewer.spawn(renew_loop(me, wake));
    }

    /// Renews or replaces the token when that is due. Cheap when it is not.
    pub(crate) async fn tick(&self) {
        let due = |t: &Token| t.renew_at.is_some_and(|at| Instant::now() >= at);
        if !self.current().is_some_and(|t| due(&t)) {
            return;
        }
        let _guard = self.lock.lock().await;
        let Some(token) = self.current() else { return };
        if self.is_closed() || !due(&token) {
            return;
        }
        if token.relogin_due {
            return self.relogin_or_back_off(&token, "max TTL reached").await;
        }
        let Some(secret) = token.secret() else { return };
        match self.timed(self.ops.renew_self(secret, token.granted)).await {
            Ok(lease) => {
                self.renewals.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                // Vault caps the TTL at the max TTL and says so only by granting less.
                let capped = lease.ttl < token.granted || !lease.renewable;
                let renewed = token.copy_with(|t| {
                    t.expires = (!lease.ttl.is_zero()).then(|| now + lease.ttl);
                    t.failures = 0;
                    t.relogin_due = capped && t.origin == Origin::Login;
                    t.renew_at = if capped && t.origin != Origin::Login {
                        None
                    } else {
                        Some(now + renew_delay(lease.ttl))
                    };
                });
                if capped {
                    tracing::info!(
                        method = self.method(),
                        ttl_secs = lease.ttl.as_secs(),
                        "vault token reached its max TTL; will log in again"
                    );
                } else {
                    tracing::info!(
                        method = self.method(),
                        ttl_secs = lease.ttl.as_secs(),
                        "vault token renewed"
                    );
                }
                self.replace(renewed);
            }
            Err(err) => {
                let err = self.map(Site::Renew, err);
                let attempt = token.failures + 1;
                let delay = backoff(attempt);
                tracing::warn!(
                    method = self.method(),
                    attempt,
                    backoff_ms = delay.as_millis() as u64,
                    error = %err,
                    "vault token renewal failed"
                );
                if token.origin == Origin::Login {
                    self.relogin_or_back_off(&token, "renewal failed").await;
                } else {
                    self.replace(token.copy_with(|t| {
                        t.failures = attempt;
                        t.renew_at = Some(Instant::now() + delay);
                    }));
                }
            }
        }
    }

    /// Logs in again in the background. On failure the old token stays (it may still be valid)
    /// and the next try waits a jittered backoff.
    async fn relogin_or_back_off(&self, token: &Token, reason: &str) {
        match self.acquire(reason).await {
            Ok(fresh) => {
                self.store(fresh);
            }
            Err(err) => {
                let attempt = token.failures + 1;
                let delay = backoff(attempt);
                tracing::warn!(
                    method = self.method(),
                    auth_mount = self.auth_mount(),
                    attempt,
                    backoff_ms = delay.as_millis() as u64,
                    error = %err,
                    "vault login failed in the background"
                );
                self.replace(token.copy_with(|t| {
                    t.failures = attempt;
                    t.renew_at = Some(Instant::now() + delay);
                }));
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// The background renewer: sleeps until the current token's `renew_at` (or until woken by a new
/// token), then ticks. Holds the session only while it works, so dropping the session ends it.
async fn renew_loop(me: Weak<Session>, wake: Arc<Notify>) {
    loop {
        let wait = {
            let Some(session) = me.upgrade() else { return };
            if session.is_closed() {
                return;
            }
            session
                .current()
                .and_then(|t| t.renew_at)
                .map(|at| at.saturating_duration_since(Instant::now()))
        };
        let notified = wake.notified();
        match wait {
            Some(delay) => {
                let sleep = std::pin::pin!(rt::sleep(delay));
                let notified = std::pin::pin!(notified);
                futures::future::select(sleep, notified).await;
            }
            None => notified.await,
        }
        let Some(session) = me.upgrade() else { return };
        session.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= Duration::from_millis(600));
        assert!(backoff(4) >= Duration::from_millis(3200));
        assert!(backoff(40) <= Duration::from_secs(36));
    }

    #[test]
    fn login_tokens_renew_at_two_thirds() {
        let t = Token::new(Some("t".into()), Origin::Login, Duration::from_secs(30), true);
        let delay = t.renew_at.unwrap() - Instant::now();
        assert!(delay > Duration::from_secs(17) && delay <= Duration::from_secs(22), "{delay:?}");
        assert!(!t.relogin_due);
        let t = Token::new(Some("t".into()), Origin::Login, Duration::from_secs(30), false);
        assert!(t.relogin_due);
        let t = Token::new(Some("t".into()), Origin::Static, Duration::ZERO, true);
        assert!(t.renew_at.is_none() && t.expires.is_none());
    }
}
