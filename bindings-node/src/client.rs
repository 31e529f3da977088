//! `Client`: the core's facade, with options and requests passed as JSON so that the core
//! validates them and names a bad setting or field itself.

use holysheep_vault::{ChatRequest, ClientOptions, RequestOptions};
use napi::bindgen_prelude::Env;
use napi_derive::napi;
use serde_json::Value;
use tracing::Instrument;

use crate::cancel::CancelToken;
use crate::error::{Outcome, guard, guard_sync};
use crate::logging::{self, ClientLog, LogFunction};
use crate::stream::ChatStream;

/// A response body exactly as the API sent it, and what the library knows about the call
/// (`request_id`, `attempts`, `cost_usd`, `key_version`, `latency_ms`).
#[napi(object)]
pub struct Reply {
    pub body: Value,
    pub meta: Value,
}

/// The native client. Use it through `lib/index.js`, which adds `AbortSignal` support, error
/// classes and argument checks.
#[napi]
pub struct Client {
    inner: holysheep_vault::Client,
    log: ClientLog,
}

#[napi]
impl Client {
    /// A client from an options object (`vaultAddr`, `vaultToken`, `baseUrl`, `timeoutMs`, ...).
    /// `logger(level, message, fields)` receives the library's events at `logLevel` and above.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        #[napi(ts_arg_type = "Record<string, any>")] options: Value,
        #[napi(
            ts_arg_type = "(level: string, message: string, fields: Record<string, any>) => unknown"
        )]
        logger: Option<LogFunction<'_>>,
        log_level: Option<String>,
    ) -> napi::Result<Self> {
        let level = guard_sync(&env, || logging::parse_level(log_level.as_deref()))?;
        let log = ClientLog::new(logger, level)?;
        let inner = guard_sync(&env, || {
            holysheep_vault::Client::from_options(ClientOptions::from_json(options)?)
        })?;
        Ok(Client { inner, log })
    }

    /// A client from the environment (`VAULT_ADDR`, `VAULT_TOKEN`, `HOLYSHEEP_*`), with the
    /// options in `overrides` taking precedence.
    #[napi(factory)]
    pub fn from_env(
        env: Env,
        #[napi(ts_arg_type = "Record<string, any> | undefined | null")] overrides: Option<Value>,
        #[napi(
            ts_arg_type = "(level: string, message: string, fields: Record<string, any>) => unknown"
        )]
        logger: Option<LogFunction<'_>>,
        log_level: Option<String>,
    ) -> napi::Result<Self> {
        let level = guard_sync(&env, || logging::parse_level(log_level.as_deref()))?;
        let log = ClientLog::new(logger, level)?;
        let inner = guard_sync(&env, || {
            let overrides = match overrides {
                Some(value) => ClientOptions::from_json(value)?,
                None => ClientOptions::default(),
            };
            holysheep_vault::Client::from_env_with(overrides)
        })?;
        Ok(Client { inner, log })
    }

    /// `POST /chat/completions`, unstreamed.
    #[napi(ts_return_type = "Promise<Reply>")]
    pub async fn chat_completions(
        &self,
        #[napi(ts_arg_type = "Record<string, any>")] request: Value,
        #[napi(ts_arg_type = "Record<string, any> | undefined | null")] options: Option<Value>,
        cancel: Option<&CancelToken>,
    ) -> Outcome<Reply> {
        let call = async {
            let request = ChatRequest::from_json(request)?;
            let options = RequestOptions::from_json(options.unwrap_or(Value::Null))?;
            let reply = self.inner.chat_completions(request, options).await?;
            Ok(Reply { body: reply.raw, meta: meta_json(&reply.meta) })
        };
        guard(CancelToken::run(cancel, call).instrument(self.log.span().clone())).await
    }

    /// `POST /chat/completions` with `stream: true`. The request and options are checked now;
    /// the request is sent by the stream's first `next()`.
    #[napi]
    pub fn chat_completions_stream(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, any>")] request: Value,
        #[napi(ts_arg_type = "Record<string, any> | undefined | null")] options: Option<Value>,
    ) -> napi::Result<ChatStream> {
        guard_sync(&env, || {
            let request = ChatRequest::from_json(request)?;
            let options = RequestOptions::from_json(options.unwrap_or(Value::Null))?;
            Ok(ChatStream::new(self.inner.clone(), request, options, self.log.span().clone()))
        })
    }

    /// `GET /models`.
    #[napi(ts_return_type = "Promise<Reply>")]
    pub async fn models(
        &self,
        #[napi(ts_arg_type = "Record<string, any> | undefined | null")] options: Option<Value>,
        cancel: Option<&CancelToken>,
    ) -> Outcome<Reply> {
        let call = async {
            let options = RequestOptions::from_json(options.unwrap_or(Value::Null))?;
            let list = self.inner.models(options).await?;
            Ok(Reply { body: list.raw, meta: meta_json(&list.meta) })
        };
        guard(CancelToken::run(cancel, call).instrument(self.log.span().clone())).await
    }

    /// The current API key (from the cache), for handing to another SDK.
    #[napi(ts_return_type = "Promise<string>")]
    pub async fn api_key(&self) -> Outcome<String> {
        // The `Secret` is zeroed when it drops here; only the JS string copy remains.
        let call = async { Ok(self.inner.api_key().await?.expose().to_owned()) };
        guard(call.instrument(self.log.span().clone())).await
    }

    /// Logs in to Vault and reads the key now rather than at the first call, so that a setup
    /// problem shows at start-up. The key stays in the core.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn connect(&self) -> Outcome<()> {
        let call = async { self.inner.api_key().await.map(drop) };
        guard(call.instrument(self.log.span().clone())).await
    }

    /// The base URL calls go to, for handing to another SDK with the key.
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    /// Counters since the client was built (`requests`, `vault.vault_reads`, `cost_usd`, ...).
    #[napi(ts_return_type = "Record<string, any>")]
    pub fn stats(&self, env: Env) -> napi::Result<Value> {
        guard_sync(&env, || {
            serde_json::to_value(self.inner.stats()).map_err(|e| holysheep_vault::Error::Internal {
                message: format!("stats did not serialize: {e}"),
            })
        })
    }

    /// Stops background work and drops (and zeroes) the cached key; later calls fail with
    /// `closed`. Idempotent.
    #[napi]
    pub fn close(&self) {
        self.inner.close();
        self.log.detach();
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}

fn meta_json(meta: &holysheep_vault::api::types::CallMeta) -> Value {
    serde_json::to_value(meta).unwrap_or(Value::Null)
}
