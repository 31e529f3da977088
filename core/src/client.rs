//! The facade users hold: a key from the [`KeyProvider`], the API calls of [`ApiClient`], and
//! the one thing that needs both, the re-read of a rejected key.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};

use futures::Stream;

use crate::api::ApiClient;
use crate::api::types::{
    CallMeta, ChatAccumulator, ChatChunk, ChatCompletion, ChatRequest, ModelList,
};
use crate::config::{ClientOptions, Config, RequestOptions};
use crate::error::{Error, Result};
use crate::keys::{ApiKey, KeyProvider, VaultStats};
use crate::rt::BoxStream;
use crate::secret::Secret;

pub use crate::api::cost::ModelUsage;

/// The client. Cheap to clone: clones share the key cache, the connection pool and the totals.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    api: ApiClient,
    keys: Arc<KeyProvider>,
    closed: AtomicBool,
}

/// A streamed reply: a [`Stream`] of [`ChatChunk`]s that ends after `data: [DONE]`, or with one
/// error. Dropping it cancels the request (the connection is closed).
pub struct ChatStream {
    inner: BoxStream<'static, Result<ChatChunk>>,
    meta: CallMeta,
}

/// Counters of one client since it was built, for `stats()` in every binding.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    /// The key provider's counters.
    pub vault: VaultStats,
    /// Calls made (each counts once, however many attempts it took).
    pub requests: u64,
    /// HTTP attempts sent.
    pub attempts: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Failed calls by error code (`rate_limited`, `timeout`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Prompt tokens reported by the API.
    pub tokens_in: u64,
    /// Completion tokens reported by the API.
    pub tokens_out: u64,
    /// Total cost from the price table, in USD.
    pub cost_usd: f64,
    /// Usage and cost per model (the model the request named).
    pub models: BTreeMap<String, ModelUsage>,
    pub budget_usd: Option<f64>,
    /// What is left of the budget (never below zero).
    pub budget_left_usd: Option<f64>,
}

impl Client {
    /// A client for a validated [`Config`]. Does no I/O: Vault is first contacted by the first
    /// call that needs the key.
    // wasm32 has one thread, and its JS-backed parts are not `Send`; the `Arc` is kept there
    // so that the type is the same on every target.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn new(config: Config) -> Result<Client> {
        let keys = KeyProvider::new(&config)?;
        let api = ApiClient::new(config.api)?;
        Ok(Client { inner: Arc::new(Inner { api, keys, closed: AtomicBool::new(false) }) })
    }

    /// A client from the options object every binding passes.
    pub fn from_options(options: ClientOptions) -> Result<Client> {
        Client::new(options.resolve()?)
    }

    /// A client from the environment (`VAULT_ADDR`, `VAULT_TOKEN`, `HOLYSHEEP_*`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Result<Client> {
        Client::from_options(ClientOptions::from_env()?)
    }

    /// A client from the environment, with every option that `overrides` sets taking precedence.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env_with(overrides: ClientOptions) -> Result<Client> {
        Client::from_options(ClientOptions::from_env()?.merged_with(overrides))
    }

    /// `POST /chat/completions`, unstreamed. `stream: true` in the request is rejected with
    /// [`Error::InvalidInput`]; use [`Client::chat_completions_stream`].
    pub async fn chat_completions(
        &self,
        request: ChatRequest,
        options: RequestOptions,
    ) -> Result<ChatCompletion> {
        let api = &self.inner.api;
        let result = async {
            self.check_open()?;
            api.prepare_chat(&request, false)?;
            let attempts = AtomicU32::new(0);
            self.with_key(|key| api.chat_with(key, &request, &options, &attempts)).await
        }
        .await;
        api.record_outcome(result.as_ref().err());
        result
    }

    /// `POST /chat/completions` with `stream: true`. Returns once the first event has arrived,
    /// so that failures before any data (statuses, dropped connections, timeouts) are retried
    /// like unstreamed calls; once data has been yielded, nothing is retried.
    pub async fn chat_completions_stream(
        &self,
        request: ChatRequest,
        options: RequestOptions,
    ) -> Result<ChatStream> {
        let api = &self.inner.api;
        let result = async {
            self.check_open()?;
            api.prepare_chat(&request, true)?;
            let attempts = AtomicU32::new(0);
            self.with_key(|key| api.chat_stream_with(key, &request, &options, &attempts)).await
        }
        .await;
        api.record_outcome(result.as_ref().err());
        let (inner, meta) = result?;
        Ok(ChatStream { inner, meta })
    }

    /// `GET /models`.
    pub async fn models(&self, options: RequestOptions) -> Result<ModelList> {
        let api = &self.inner.api;
        let result = async {
            self.check_open()?;
            let attempts = AtomicU32::new(0);
            self.with_key(|key| api.models_with(key, &options, &attempts)).await
        }
        .await;
        api.record_outcome(result.as_ref().err());
        result
    }

    /// The current API key, for handing to another SDK (the bindings' openai key providers).
    /// Served from the cache like every call's key.
    pub async fn api_key(&self) -> Result<Secret> {
        self.check_open()?;
        let key = self.inner.keys.get().await?;
        Ok((*key.secret).clone())
    }

    /// The base URL calls go to, for handing to another SDK together with [`Client::api_key`].
    pub fn base_url(&self) -> &str {
        self.inner.api.base_url()
    }

    /// Counters since the client was built.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.api.stats();
        stats.vault = self.inner.keys.stats();
        stats
    }

    /// Stops background work and drops the cached key. Idempotent; calls made afterwards fail
    /// with [`Error::Closed`]. Streams already returned run to their end.
    pub fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::SeqCst) {
            self.inner.keys.close();
        }
    }

    /// Whether [`Client::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() { Err(Error::Closed) } else { Ok(()) }
    }

    /// Runs `call` with the current key. On a 401 the key is reported to the provider, which
    /// re-reads it once; a different key (value or version) gets one more try, the same key (or a
    /// second 401) fails naming the key's location and version.
    async fn with_key<T, F, Fut>(&self, call: F) -> Result<T>
    where
        F: Fn(ApiKey) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let keys = &self.inner.keys;
        let key = keys.get().await?;
        let info = match call(key.clone()).await {
            Err(Error::Authentication { info, .. }) => info,
            other => return other,
        };
        let fresh = match keys.invalidate(&key).await {
            Ok(fresh) => fresh,
            Err(e) => {
                // The API's verdict is the primary failure; the re-read error is secondary.
                tracing::warn!(error = %e, "re-reading the rejected API key failed");
                return Err(Error::Authentication { info, key: Some(key.origin) });
            }
        };
        if fresh.secret == key.secret && fresh.origin.version == key.origin.version {
            tracing::warn!(key = %key.origin, "the API rejected the key and the source holds no other");
            return Err(Error::Authentication { info, key: Some(key.origin) });
        }
        tracing::info!(
            old = %key.origin, new = %fresh.origin,
            "the API rejected the key; retrying once with the key read again"
        );
        let origin = fresh.origin.clone();
        match call(fresh).await {
            Err(Error::Authentication { info, .. }) => {
                Err(Error::Authentication { info, key: Some(origin) })
            }
            other => other,
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.api.base_url())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    /// Wraps a stream of chunks, for bindings and tests that build one themselves.
    pub fn new(inner: BoxStream<'static, Result<ChatChunk>>, meta: CallMeta) -> Self {
        ChatStream { inner, meta }
    }

    /// Request id, attempts and key version of the call (the cost arrives on the usage chunk).
    pub fn meta(&self) -> &CallMeta {
        &self.meta
    }

    /// The `x-request-id` of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.meta.request_id.as_deref()
    }

    /// Reads the stream to its end and assembles the reply, as the unstreamed call returns it.
    pub async fn into_completion(mut self) -> Result<ChatCompletion> {
        use futures::StreamExt;
        let mut acc = ChatAccumulator::new();
        while let Some(chunk) = self.next().await {
            acc.push(&chunk?);
        }
        let mut done = acc.finish();
        let cost = done.meta.cost_usd;
        done.meta = CallMeta { cost_usd: cost, ..self.meta };
        Ok(done)
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").field("meta", &self.meta).finish_non_exhaustive()
    }
}
