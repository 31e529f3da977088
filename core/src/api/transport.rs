//! The HTTP side: one `reqwest::Client` (one connection pool) per [`ApiClient`], the retry loop,
//! the read timeouts, error mapping, the event-stream reader and cost accounting.
//!
//! Timeouts are kept with [`rt::timeout`] around each await rather than with reqwest's own
//! settings, so that they behave the same on wasm32, where reqwest has no read timeout.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::api::cost::Metrics;
use crate::api::retry::{self, Policy};
use crate::api::scrub::Scrubber;
use crate::api::sse::{SseEvent, SseParser};
use crate::api::types::{CallMeta, ChatChunk, ChatCompletion, ChatRequest, ModelList, Usage};
use crate::client::{ChatStream, Stats};
use crate::config::{ApiConfig, RequestOptions};
use crate::error::{ApiErrorInfo, Error, Result, TimeoutPhase};
use crate::keys::ApiKey;
use crate::rt::{self, BoxStream, Instant};
use crate::secret::Secret;

/// Largest response body read into memory; a larger one is an invalid response, not an OOM.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest error body read: enough for any provider's message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest provider text quoted in an error when the body is not JSON.
const MAX_QUOTED: usize = 500;

/// Calls the OpenAI-compatible API with a key it is given. [`crate::Client`] wraps it with the
/// key provider; tests and benchmarks may use it directly. Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    /// Clients for calls that override the connect timeout, which reqwest only takes per client.
    #[cfg(not(target_arch = "wasm32"))]
    by_connect_timeout: std::sync::Mutex<Vec<(Duration, reqwest::Client)>>,
    config: ApiConfig,
    chat_url: Url,
    models_url: Url,
    metrics: Metrics,
}

/// A failed attempt and whether another may succeed.
struct Failure {
    error: Error,
    retry: bool,
    /// The wait the server asked for.
    wait: Option<Duration>,
}

impl Failure {
    fn fatal(error: Error) -> Self {
        Failure { error, retry: false, wait: None }
    }

    fn retryable(error: Error) -> Self {
        Failure { error, retry: true, wait: None }
    }

    /// The error as the caller sees it, with the attempt count filled in.
    fn into_error(self, attempts: u32) -> Error {
        match self.error {
            Error::Timeout { phase, after, .. } => Error::Timeout { phase, after, attempts },
            Error::Connection { message, .. } => Error::Connection { message, attempts },
            other => other,
        }
    }

    fn reason(&self) -> String {
        match &self.error {
            Error::Timeout { phase, .. } => format!("{phase} timeout"),
            Error::Connection { message, .. } => format!("connection error: {message}"),
            other => match other.status() {
                Some(status) => format!("HTTP {status}"),
                None => other.code().to_owned(),
            },
        }
    }
}

/// One call: what to send, with which key and policy.
struct Call<'a> {
    method: Method,
    url: &'a Url,
    body: Option<Bytes>,
    key: &'a ApiKey,
    policy: Policy,
    model: &'a str,
    stream: bool,
    started: Instant,
}

impl ApiClient {
    /// A client for `config`; builds the connection pool, does no I/O.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn new(config: ApiConfig) -> Result<ApiClient> {
        let base = config.base_url.trim_end_matches('/');
        let url = |path: &str| {
            Url::parse(&format!("{base}{path}"))
                // Not echoed: a URL may carry credentials (`https://user:pass@host`).
                .map_err(|e| Error::config("base_url", format!("is not a URL ({e})")))
        };
        let chat_url = url("/chat/completions")?;
        let models_url = url("/models")?;
        let http = build_http(config.retry.connect_timeout)?;
        let metrics = Metrics::new(config.prices.clone(), config.budget_usd);
        Ok(ApiClient {
            shared: Arc::new(Shared {
                http,
                #[cfg(not(target_arch = "wasm32"))]
                by_connect_timeout: Default::default(),
                config,
                chat_url,
                models_url,
                metrics,
            }),
        })
    }

    /// The base URL, ending in `/v1`.
    pub fn base_url(&self) -> &str {
        &self.shared.config.base_url
    }

    /// The API settings.
    pub fn config(&self) -> &ApiConfig {
        &self.shared.config
    }

    /// Counters and cost totals (the `vault` part is left empty).
    pub fn stats(&self) -> Stats {
        self.shared.metrics.snapshot()
    }

    /// `POST /chat/completions`, unstreamed, with `key`.
    pub async fn chat(
        &self,
        key: &ApiKey,
        request: &ChatRequest,
        options: &RequestOptions,
    ) -> Result<ChatCompletion> {
        let result = async {
            self.prepare_chat(request, false)?;
            self.chat_with(key.clone(), request, options, &AtomicU32::new(0)).await
        }
        .await;
        self.record_outcome(result.as_ref().err());
        result
    }

    /// `POST /chat/completions`, streamed, with `key`.
    pub async fn chat_stream(
        &self,
        key: &ApiKey,
        request: &ChatRequest,
        options: &RequestOptions,
    ) -> Result<ChatStream> {
        let result = async {
            self.prepare_chat(request, true)?;
            self.chat_stream_with(key.clone(), request, options, &AtomicU32::new(0)).await
        }
        .await;
        self.record_outcome(result.as_ref().err());
        let (inner, meta) = result?;
        Ok(ChatStream::new(inner, meta))
    }

    /// `GET /models` with `key`.
    pub async fn models(&self, key: &ApiKey, options: &RequestOptions) -> Result<ModelList> {
        let result = self.models_with(key.clone(), options, &AtomicU32::new(0)).await;
        self.record_outcome(result.as_ref().err());
        result
    }

    /// Checks a request and the budget before anything else happens (a key read included).
    pub(crate) fn prepare_chat(&self, request: &ChatRequest, stream: bool) -> Result<()> {
        request.validate()?;
        if !stream && request.is_stream() {
            return Err(Error::input(
                "stream",
                "is true: use chat_completions_stream for a streamed reply",
            ));
        }
        self.shared.metrics.check_budget()
    }

    /// Counts a finished public call. Calls refused before anything was attempted (invalid
    /// input, budget, closed client) count only among the errors.
    pub(crate) fn record_outcome(&self, error: Option<&Error>) {
        let metrics = &self.shared.metrics;
        match error {
            None => {
                metrics.requests.fetch_add(1, Ordering::Relaxed);
            }
            Some(e) => {
                if !matches!(
                    e,
                    Error::InvalidInput { .. } | Error::BudgetExceeded { .. } | Error::Closed
                ) {
                    metrics.requests.fetch_add(1, Ordering::Relaxed);
                }
                metrics.record_error(e);
            }
        }
    }

    pub(crate) async fn chat_with(
        &self,
        key: ApiKey,
        request: &ChatRequest,
        options: &RequestOptions,
        attempts: &AtomicU32,
    ) -> Result<ChatCompletion> {
        let shared = &self.shared;
        shared.metrics.check_budget()?;
        let started = Instant::now();
        let body = serde_json::to_vec(request).map_err(|e| Error::internal(e.to_string()))?;
        let call = Call {
            method: Method::POST,
            url: &shared.chat_url,
            body: Some(Bytes::from(body)),
            key: &key,
            policy: policy(&shared.config, options, started)?,
            model: request.model(),
            stream: false,
            started,
        };
        let (value, request_id) =
            self.run(&call, attempts, |n| self.attempt_json(&call, n)).await?;
        let mut completion = ChatCompletion::from_json(value)
            .map_err(|e| scrubbed(with_id(e, &request_id), &key.secret))?;
        let cost =
            completion.usage.and_then(|u| shared.metrics.cost(call.model, &completion.model, u));
        shared.metrics.record_call(call.model, completion.usage, cost);
        completion.meta = CallMeta {
            request_id,
            attempts: attempts.load(Ordering::Relaxed),
            cost_usd: cost,
            key_version: key.origin.version,
            latency_ms: ms(started),
        };
        tracing::debug!(
            model = call.model,
            request_id = completion.meta.request_id.as_deref(),
            attempts = completion.meta.attempts,
            latency_ms = completion.meta.latency_ms,
            cost_usd = cost,
            "chat completion done"
        );
        Ok(completion)
    }

    pub(crate) async fn chat_stream_with(
        &self,
        key: ApiKey,
        request: &ChatRequest,
        options: &RequestOptions,
        attempts: &AtomicU32,
    ) -> Result<(BoxStream<'static, Result<ChatChunk>>, CallMeta)> {
        let shared = &self.shared;
        shared.metrics.check_budget()?;
        let started = Instant::now();
        let mut body = request.as_map().clone();
        body.insert("stream".into(), Value::Bool(true));
        // Ask for the usage chunk, without which the call cannot be costed, unless the caller
        // decided about it. A caller who did not ask for it does not get it either: OpenAI-style
        // loops index `choices[0]` of every chunk, and the usage chunk has no choices.
        let caller_asked = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .is_some_and(|v| !v.is_null());
        match body.get_mut("stream_options") {
            Some(Value::Object(o)) => {
                o.entry("include_usage").or_insert(Value::Bool(true));
            }
            _ => {
                body.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
            }
        }
        let body = serde_json::to_vec(&body).map_err(|e| Error::internal(e.to_string()))?;
        let call = Call {
            method: Method::POST,
            url: &shared.chat_url,
            body: Some(Bytes::from(body)),
            key: &key,
            policy: policy(&shared.config, options, started)?,
            model: request.model(),
            stream: true,
            started,
        };
        let reader = self.run(&call, attempts, |n| self.attempt_stream(&call, n)).await?;
        let meta = CallMeta {
            request_id: reader.request_id.clone(),
            attempts: attempts.load(Ordering::Relaxed),
            cost_usd: None,
            key_version: key.origin.version,
            latency_ms: ms(started),
        };
        tracing::debug!(
            model = call.model,
            request_id = meta.request_id.as_deref(),
            attempts = meta.attempts,
            latency_ms = meta.latency_ms,
            "chat stream started"
        );
        let stream = futures::stream::unfold(reader, move |mut reader| async move {
            loop {
                let item = reader.next_chunk().await?;
                // Its cost is already counted by the reader; only the chunk is held back.
                let added_usage_chunk =
                    matches!(&item, Ok(c) if c.choices.is_empty() && c.usage.is_some());
                if caller_asked || !added_usage_chunk {
                    return Some((item, reader));
                }
            }
        });
        Ok((Box::pin(stream), meta))
    }

    pub(crate) async fn models_with(
        &self,
        key: ApiKey,
        options: &RequestOptions,
        attempts: &AtomicU32,
    ) -> Result<ModelList> {
        let shared = &self.shared;
        let started = Instant::now();
        let call = Call {
            method: Method::GET,
            url: &shared.models_url,
            body: None,
            key: &key,
            policy: policy(&shared.config, options, started)?,
            model: "",
            stream: false,
            started,
        };
        let (value, request_id) =
            self.run(&call, attempts, |n| self.attempt_json(&call, n)).await?;
        let mut list = ModelList::from_json(value)
            .map_err(|e| scrubbed(with_id(e, &request_id), &key.secret))?;
        list.meta = CallMeta {
            request_id,
            attempts: attempts.load(Ordering::Relaxed),
            cost_usd: None,
            key_version: key.origin.version,
            latency_ms: ms(started),
        };
        Ok(list)
    }

    /// The retry loop: attempts until success, a failure not worth retrying, the retries are
    /// spent, or the total timeout would pass.
    async fn run<T, F, Fut>(
        &self,
        call: &Call<'_>,
        attempts: &AtomicU32,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let metrics = &self.shared.metrics;
        let policy = &call.policy;
        let mut n = 0;
        loop {
            n += 1;
            attempts.fetch_add(1, Ordering::Relaxed);
            metrics.attempts.fetch_add(1, Ordering::Relaxed);
            if n > 1 {
                metrics.retries.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = match policy.remaining() {
                Some(left) => rt::timeout(left, attempt(n))
                    .await
                    .unwrap_or_else(|| Err(Failure::fatal(total_timeout(policy)))),
                None => attempt(n).await,
            };
            let failure = match outcome {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let total = attempts.load(Ordering::Relaxed);
            if !failure.retry || n > policy.max_retries {
                return Err(failure.into_error(total));
            }
            let wait = match failure.wait {
                Some(wait) if wait > policy.retry_after_cap => {
                    tracing::warn!(
                        model = call.model,
                        attempt = n,
                        wait_ms = wait.as_millis() as u64,
                        cap_ms = policy.retry_after_cap.as_millis() as u64,
                        "the server asked for a wait beyond retry_after_cap; not retrying"
                    );
                    // Whatever the status (a 503 with Retry-After too), the caller is being told
                    // to come back later: that is a rate limit, and it carries the wait.
                    let error = match failure.into_error(total) {
                        Error::Server { info } => {
                            Error::RateLimited { info, retry_after: Some(wait) }
                        }
                        other => other,
                    };
                    return Err(error);
                }
                Some(wait) => wait,
                None => policy.backoff(n),
            };
            if policy.remaining().is_some_and(|left| wait >= left) {
                return Err(failure.into_error(total));
            }
            let reason = failure.reason();
            if matches!(failure.error, Error::RateLimited { .. }) {
                tracing::info!(
                    model = call.model,
                    attempt = n,
                    wait_ms = wait.as_millis() as u64,
                    reason,
                    "retrying"
                );
            } else {
                tracing::warn!(
                    model = call.model,
                    attempt = n,
                    wait_ms = wait.as_millis() as u64,
                    reason,
                    "retrying"
                );
            }
            rt::sleep(wait).await;
        }
    }

    /// Sends one attempt and waits for the response headers. A non-2xx response becomes a
    /// [`Failure`] carrying the provider's error.
    async fn send(
        &self,
        call: &Call<'_>,
        attempt: u32,
    ) -> std::result::Result<reqwest::Response, Failure> {
        let policy = &call.policy;
        let http = self.http_for(policy.connect_timeout);
        let mut builder = http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, bearer(&call.key.secret).map_err(Failure::fatal)?)
            .header(
                ACCEPT,
                HeaderValue::from_static(if call.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                }),
            );
        if let Some(body) = &call.body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        tracing::debug!(model = call.model, attempt, url = %call.url, "request start");
        let sent = Instant::now();
        let (limit, is_total) = policy.read_limit();
        let response = match rt::timeout(limit, builder.send()).await {
            None if is_total => return Err(Failure::fatal(total_timeout(policy))),
            None => return Err(Failure::retryable(read_timeout(policy))),
            Some(Err(e)) => return Err(transport_failure(e, policy)),
            Some(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        let request_id = request_id(response.headers());
        tracing::debug!(
            model = call.model,
            attempt,
            status,
            request_id = request_id.as_deref(),
            latency_ms = ms(sent),
            "response headers"
        );
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.error_response(response, call, request_id).await)
    }

    /// One attempt of a JSON call: the whole body, parsed.
    async fn attempt_json(
        &self,
        call: &Call<'_>,
        attempt: u32,
    ) -> std::result::Result<(Value, Option<String>), Failure> {
        let response = self.send(call, attempt).await?;
        let request_id = request_id(response.headers());
        let body = read_body(response, &call.policy, MAX_BODY).await?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => Ok((value, request_id)),
            Err(e) => {
                let what = if body.is_empty() { "empty".to_owned() } else { e.to_string() };
                Err(Failure::fatal(Error::InvalidResponse {
                    message: format!("the response body is not JSON ({what})"),
                    request_id,
                }))
            }
        }
    }

    /// One attempt of a streamed call: the headers and the first event, so that a failure
    /// before any data can still be retried.
    async fn attempt_stream(
        &self,
        call: &Call<'_>,
        attempt: u32,
    ) -> std::result::Result<StreamReader, Failure> {
        let response = self.send(call, attempt).await?;
        let request_id = request_id(response.headers());
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if json {
            // A server that ignored `stream: true`, or an error object sent with a 200.
            let body = read_body(response, &call.policy, MAX_ERROR_BODY).await?;
            let message = match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.get("error").is_some() => {
                    stream_error_message(&v, &Scrubber::new(call.key.secret.expose()))
                }
                _ => "expected an event stream, got an application/json body".to_owned(),
            };
            return Err(Failure::fatal(Error::InvalidResponse { message, request_id }));
        }
        let mut reader = StreamReader {
            shared: self.shared.clone(),
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::new(),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            read_timeout: call.policy.read_timeout,
            deadline: call.policy.deadline,
            total_timeout: call.policy.total_timeout,
            model: call.model.to_owned(),
            request_id,
            key: call.key.secret.clone(),
            usage: None,
            chunks: 0,
            eof: false,
            finished: false,
            recorded: false,
            started: call.started,
        };
        reader.fill().await?;
        Ok(reader)
    }

    /// Turns an error response into a failure: the provider's error, scrubbed of the key, and
    /// whether and when to retry.
    async fn error_response(
        &self,
        response: reqwest::Response,
        call: &Call<'_>,
        request_id: Option<String>,
    ) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        // The body is read briefly and best-effort: the status alone is enough to act on.
        let body = read_body(response, &call.policy, MAX_ERROR_BODY).await.unwrap_or_default();
        let info = error_info(status, &body, request_id, call.key.secret.expose());
        let code = status.as_u16();
        let wait = retry::retry_after(&headers);
        let error = match code {
            400 | 422 => Error::BadRequest { info },
            401 => Error::Authentication { info, key: None },
            403 => Error::PermissionDenied { info },
            404 => Error::NotFound { info },
            429 => Error::RateLimited { info, retry_after: wait },
            _ => Error::Server { info },
        };
        Failure { error, retry: retry::should_retry(code, &headers), wait }
    }

    fn http_for(&self, connect_timeout: Duration) -> reqwest::Client {
        #[cfg(not(target_arch = "wasm32"))]
        if connect_timeout != self.shared.config.retry.connect_timeout {
            let mut cache =
                self.shared.by_connect_timeout.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, client)) = cache.iter().find(|(t, _)| *t == connect_timeout) {
                return client.clone();
            }
            if let Ok(client) = build_http(connect_timeout) {
                // Bounded: per-call overrides are a handful of distinct values in practice.
                if cache.len() >= 8 {
                    cache.remove(0);
                }
                cache.push((connect_timeout, client.clone()));
                return client;
            }
        }
        // wasm32: fetch has no connect timeout; the read timeout bounds the wait for headers.
        let _ = connect_timeout;
        self.shared.http.clone()
    }
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

fn build_http(connect_timeout: Duration) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder();
    #[cfg(not(target_arch = "wasm32"))]
    let builder = builder
        .user_agent(concat!("holysheep-vault/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        // Never follow a redirect with the key in the Authorization header.
        .redirect(reqwest::redirect::Policy::none());
    #[cfg(target_arch = "wasm32")]
    let _ = connect_timeout;
    builder.build().map_err(|e| Error::config("http client", e.to_string()))
}

fn policy(config: &ApiConfig, options: &RequestOptions, started: Instant) -> Result<Policy> {
    for (name, value) in [
        ("read_timeout", options.read_timeout),
        ("connect_timeout", options.connect_timeout),
        ("timeout", options.total_timeout),
    ] {
        if value.is_some_and(|d| d.is_zero()) {
            return Err(Error::input(format!("options.{name}"), "must be greater than zero"));
        }
    }
    if let Some(n) = options.max_retries
        && n > 10
    {
        return Err(Error::input("options.max_retries", format!("{n} is more than 10")));
    }
    Ok(Policy::new(&config.retry, options, started))
}

fn bearer(key: &Secret) -> Result<HeaderValue> {
    let value = zeroize::Zeroizing::new(format!("Bearer {}", key.expose().trim()));
    let mut header = HeaderValue::from_str(&value).map_err(|_| {
        Error::config("api key", "the key holds characters that cannot be sent in a header")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .or_else(|| headers.get("request-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn with_id(error: Error, id: &Option<String>) -> Error {
    match error {
        Error::InvalidResponse { message, request_id: None } => {
            Error::InvalidResponse { message, request_id: id.clone() }
        }
        other => other,
    }
}

/// An invalid-response message may quote the provider (an error object sent with a 200).
fn scrubbed(error: Error, key: &Secret) -> Error {
    match error {
        Error::InvalidResponse { message, request_id } => Error::InvalidResponse {
            message: Scrubber::new(key.expose()).text(&message).into_owned(),
            request_id,
        },
        other => other,
    }
}

fn read_timeout(policy: &Policy) -> Error {
    Error::Timeout { phase: TimeoutPhase::Read, after: policy.read_timeout, attempts: 1 }
}

fn total_timeout(policy: &Policy) -> Error {
    let after = policy.total_timeout.unwrap_or_default();
    Error::Timeout { phase: TimeoutPhase::Total, after, attempts: 1 }
}

/// An error of reqwest (no response): connect failures and timeouts are worth a retry.
fn transport_failure(e: reqwest::Error, policy: &Policy) -> Failure {
    if e.is_builder() {
        return Failure::fatal(Error::internal(format!("building the request failed: {e}")));
    }
    if e.is_timeout() {
        #[cfg(not(target_arch = "wasm32"))]
        if e.is_connect() {
            let after = policy.connect_timeout;
            let error = Error::Timeout { phase: TimeoutPhase::Connect, after, attempts: 1 };
            return Failure::retryable(error);
        }
        return Failure::retryable(read_timeout(policy));
    }
    Failure::retryable(Error::Connection { message: chain(&e), attempts: 1 })
}

/// An error and its causes, e.g. "error sending request: tcp connect error: Connection refused".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The next piece of a body within `limit`. A piece that is ready is taken without a timer: a
/// timer costs a registration and a removal, and most reads of a fast stream need none.
async fn next_within<S>(limit: Duration, body: &mut S) -> Option<Option<S::Item>>
where
    S: futures::Stream + Unpin,
{
    if let Some(item) = body.next().now_or_never() {
        return Some(item);
    }
    rt::timeout(limit, body.next()).await
}

/// Reads a whole body with the read timeout applied to each piece.
async fn read_body(
    response: reqwest::Response,
    policy: &Policy,
    max: usize,
) -> std::result::Result<Bytes, Failure> {
    let request_id = request_id(response.headers());
    let expected = response.content_length().unwrap_or(0) as usize;
    let mut body = std::pin::pin!(response.bytes_stream());
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let (limit, is_total) = policy.read_limit();
        let piece = match next_within(limit, &mut body).await {
            None if is_total => return Err(Failure::fatal(total_timeout(policy))),
            None => return Err(Failure::retryable(read_timeout(policy))),
            Some(None) => break,
            Some(Some(Ok(piece))) => piece,
            Some(Some(Err(e))) => {
                if e.is_timeout() {
                    return Err(Failure::retryable(read_timeout(policy)));
                }
                let message =
                    format!("the connection broke while reading the response: {}", chain(&e));
                return Err(Failure::retryable(Error::Connection { message, attempts: 1 }));
            }
        };
        // The common single-piece body is passed on without a copy.
        match &first {
            None if rest.is_empty() => first = Some(piece),
            _ => {
                if let Some(f) = first.take() {
                    rest.reserve(expected.max(f.len() + piece.len()).min(max));
                    rest.extend_from_slice(&f);
                }
                rest.extend_from_slice(&piece);
            }
        }
        if first.as_ref().map_or(rest.len(), Bytes::len) > max {
            return Err(Failure::fatal(Error::InvalidResponse {
                message: format!("the response body is larger than {max} bytes"),
                request_id,
            }));
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(rest)))
}

/// What the provider said about a failed call, scrubbed of the key.
fn error_info(
    status: reqwest::StatusCode,
    body: &[u8],
    request_id: Option<String>,
    key: &str,
) -> ApiErrorInfo {
    let scrubber = Scrubber::new(key);
    let text_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let reason = status.canonical_reason().unwrap_or("no error message").to_owned();
    let mut info = ApiErrorInfo { status: status.as_u16(), request_id, ..Default::default() };
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            scrubber.json(&mut value);
            let e = value.get("error");
            let detail = e.filter(|e| e.is_object());
            info.message = text_of(detail.and_then(|e| e.get("message")))
                .or_else(|| text_of(e))
                .or_else(|| text_of(value.get("message")))
                .or_else(|| text_of(value.get("detail")))
                .unwrap_or(reason);
            info.error_type = text_of(detail.and_then(|e| e.get("type")));
            info.code = text_of(detail.and_then(|e| e.get("code")));
            info.param = text_of(detail.and_then(|e| e.get("param")));
            info.body = Some(value);
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            info.message = if text.is_empty() {
                reason
            } else {
                let mut end = text.len().min(MAX_QUOTED);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                scrubber.text(&text[..end]).into_owned()
            };
        }
    }
    info
}

/// The message of an `{"error": ...}` object found in a stream, scrubbed.
fn stream_error_message(value: &Value, scrubber: &Scrubber<'_>) -> String {
    let e = &value["error"];
    let message =
        e.get("message").and_then(Value::as_str).or_else(|| e.as_str()).unwrap_or("no message");
    let mut text = format!("the stream reported an error: {}", scrubber.text(message));
    if let Some(kind) = e.get("type").and_then(Value::as_str) {
        text.push_str(&format!(" (type {})", scrubber.text(kind)));
    }
    if let Some(code) = e.get("code").filter(|c| !c.is_null()) {
        let code = code.as_str().map_or_else(|| code.to_string(), str::to_owned);
        text.push_str(&format!(" (code {})", scrubber.text(&code)));
    }
    text
}

/// Reads a streamed reply: bytes in, chunks out.
struct StreamReader {
    shared: Arc<Shared>,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    parser: SseParser,
    queue: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    read_timeout: Duration,
    deadline: Option<Instant>,
    total_timeout: Option<Duration>,
    model: String,
    request_id: Option<String>,
    /// For scrubbing error objects inside the stream.
    key: Arc<Secret>,
    /// The last usage seen (with the model the server named), not yet added to the totals.
    usage: Option<(Usage, Option<f64>)>,
    chunks: u64,
    eof: bool,
    finished: bool,
    recorded: bool,
    started: Instant,
}

enum Next {
    Chunk(ChatChunk),
    Skip,
    Done,
    Fail(Error),
}

impl StreamReader {
    /// Reads until at least one event is queued. Failures here happen before any data reached
    /// the caller, so they are retryable like those of unstreamed calls.
    async fn fill(&mut self) -> std::result::Result<(), Failure> {
        while self.queue.is_empty() {
            if self.eof {
                return Err(Failure::fatal(self.truncated()));
            }
            let (limit, is_total) = self.read_limit();
            match next_within(limit, &mut self.body).await {
                None if is_total => {
                    let after = self.total_timeout.unwrap_or_default();
                    let error = Error::Timeout { phase: TimeoutPhase::Total, after, attempts: 1 };
                    return Err(Failure::fatal(error));
                }
                None => {
                    let error = Error::Timeout {
                        phase: TimeoutPhase::Read,
                        after: self.read_timeout,
                        attempts: 1,
                    };
                    return Err(Failure::retryable(error));
                }
                Some(None) => {
                    self.eof = true;
                    if let Some(event) = self.parser.finish() {
                        self.queue.push_back(event);
                    }
                }
                Some(Some(Ok(bytes))) => {
                    if let Err(e) = self.parser.feed(&bytes, &mut self.scratch) {
                        return Err(Failure::fatal(Error::InvalidResponse {
                            message: e.to_string(),
                            request_id: self.request_id.clone(),
                        }));
                    }
                    self.queue.extend(self.scratch.drain(..));
                }
                Some(Some(Err(e))) => {
                    let message = format!(
                        "the connection broke after {} chunks of the stream: {}",
                        self.chunks,
                        chain(&e)
                    );
                    return Err(Failure::retryable(Error::Connection { message, attempts: 1 }));
                }
            }
        }
        Ok(())
    }

    fn read_limit(&self) -> (Duration, bool) {
        match self.deadline.map(|d| d.saturating_duration_since(Instant::now())) {
            Some(left) if left < self.read_timeout => (left, true),
            _ => (self.read_timeout, false),
        }
    }

    fn truncated(&self) -> Error {
        Error::InvalidResponse {
            message: "stream ended before [DONE]".to_owned(),
            request_id: self.request_id.clone(),
        }
    }

    /// The next item of the stream; `None` after `[DONE]` or after an error.
    async fn next_chunk(&mut self) -> Option<Result<ChatChunk>> {
        if self.finished {
            return None;
        }
        loop {
            while let Some(event) = self.queue.pop_front() {
                match self.handle(event) {
                    Next::Chunk(chunk) => {
                        self.chunks += 1;
                        return Some(Ok(chunk));
                    }
                    Next::Skip => {}
                    Next::Done => {
                        self.done();
                        return None;
                    }
                    Next::Fail(e) => return Some(Err(self.fail(e))),
                }
            }
            if let Err(failure) = self.fill().await {
                // Data has been yielded (or could have been): nothing is retried from here.
                return Some(Err(self.fail(failure.into_error(1))));
            }
        }
    }

    fn handle(&mut self, event: SseEvent) -> Next {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Next::Done;
        }
        let is_error_event = event.event.as_deref() == Some("error");
        if data.is_empty()
            || !(event.event.is_none()
                || event.event.as_deref() == Some("message")
                || is_error_event)
        {
            // Keep-alives and event types this API does not define.
            return Next::Skip;
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                return Next::Fail(Error::InvalidResponse {
                    message: format!("malformed event in the stream: {e}"),
                    request_id: self.request_id.clone(),
                });
            }
        };
        if is_error_event || (value.get("error").is_some() && value.get("choices").is_none()) {
            let scrubber = Scrubber::new(self.key.expose());
            let message = if value.get("error").is_some() {
                stream_error_message(&value, &scrubber)
            } else {
                format!("the stream reported an error: {}", scrubber.text(data))
            };
            return Next::Fail(Error::InvalidResponse {
                message,
                request_id: self.request_id.clone(),
            });
        }
        let mut chunk = match ChatChunk::from_json(value) {
            Ok(c) => c,
            Err(e) => return Next::Fail(with_id(e, &self.request_id)),
        };
        if let Some(usage) = chunk.usage {
            let cost = self.shared.metrics.cost(&self.model, &chunk.model, usage);
            chunk.cost_usd = cost;
            self.usage = Some((usage, cost));
        }
        Next::Chunk(chunk)
    }

    fn done(&mut self) {
        self.finished = true;
        self.record_usage(true);
        self.release_connection();
        tracing::debug!(
            model = %self.model,
            request_id = self.request_id.as_deref(),
            chunks = self.chunks,
            latency_ms = ms(self.started),
            cost_usd = self.usage.and_then(|u| u.1),
            "chat stream done"
        );
    }

    /// Reads the rest of the body after `[DONE]` so the connection goes back to the pool: a
    /// body dropped before its end closes the connection, and the next call pays for a new one.
    /// The end (the chunked terminator) is usually there already; when it is not, natively it is
    /// awaited in the background, so the caller never waits for it.
    fn release_connection(&mut self) {
        for _ in 0..16 {
            match self.body.next().now_or_never() {
                Some(Some(Ok(_))) => continue,
                Some(None) | Some(Some(Err(_))) => return,
                None => break,
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut body = std::mem::replace(&mut self.body, Box::pin(futures::stream::empty()));
            let limit = self.read_timeout.min(Duration::from_secs(5));
            rt::spawn(async move {
                let drain = async {
                    let mut left = MAX_ERROR_BODY;
                    while let Some(Ok(piece)) = body.next().await {
                        left = match left.checked_sub(piece.len()) {
                            Some(left) => left,
                            // Data after [DONE]: not a clean end; give the connection up.
                            None => return,
                        };
                    }
                };
                let _ = rt::timeout(limit, drain).await;
            });
        }
    }

    fn fail(&mut self, error: Error) -> Error {
        self.finished = true;
        self.record_usage(false);
        self.shared.metrics.record_error(&error);
        tracing::debug!(
            model = %self.model,
            request_id = self.request_id.as_deref(),
            chunks = self.chunks,
            error = %error,
            "chat stream failed"
        );
        error
    }

    /// Adds the call to the totals once: at `[DONE]`, or at an error or a drop when a usage
    /// chunk had arrived (those tokens were spent and billed).
    fn record_usage(&mut self, success: bool) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        if success || self.usage.is_some() {
            let usage = self.usage.map(|u| u.0);
            let cost = self.usage.and_then(|u| u.1);
            self.shared.metrics.record_call(&self.model, usage, cost);
        }
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        // Dropped by the caller mid-stream: the request is cancelled (the connection closes
        // with the body), but tokens a usage chunk reported still count.
        if !self.recorded && self.usage.is_some() {
            self.record_usage(false);
        }
    }
}
