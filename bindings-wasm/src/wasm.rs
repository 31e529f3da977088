//! The wasm32 binding: conversion and error mapping only.

// The core's `Error` is what every helper here returns; its size is the core's choice.
#![allow(clippy::result_large_err)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;

use futures::StreamExt;
use futures::future::{Either, select};
use holysheep_vault::api::types::CallMeta;
use holysheep_vault::{ChatRequest, ChatStream, Client, ClientOptions, Error, RequestOptions};
use js_sys::{Function, Object, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
    #[wasm_bindgen(js_namespace = console, js_name = info)]
    fn console_info(message: &str);
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    fn console_debug(message: &str);
    // `js_sys::Object::assign` is not declared as throwing, but a getter or a Proxy in the
    // caller's options can throw: with `catch` that is an error, not an exception unwinding
    // through Rust frames.
    #[wasm_bindgen(js_namespace = Object, js_name = assign, catch)]
    fn object_assign(target: &Object, source: &JsValue) -> Result<Object, JsValue>;
}

// ---------------------------------------------------------------------------------------------
// Panics
//
// wasm32-unknown-unknown has no unwinding on stable Rust: a panic runs the hook and then traps
// (`unreachable`). The trap reaches JavaScript as a `WebAssembly.RuntimeError` when the panic
// happened inside a synchronous call, but a panic inside an async call happens in a microtask of
// wasm-bindgen-futures' queue, so its promise would never settle and the caller would hang. The
// hook below therefore (1) prints the panic to `console.error`, (2) rejects every call still in
// flight with an `internal` error, and (3) marks the instance as poisoned, so that every later
// call fails at once with `internal` instead of running on possibly broken state. The core
// validates every input, so no input is expected to panic; this is the safety net for bugs.

thread_local! {
    static IN_FLIGHT: RefCell<BTreeMap<u64, Function>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_CALL: Cell<u64> = const { Cell::new(0) };
    static POISONED: Cell<bool> = const { Cell::new(false) };
}

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(panic_hook));
    logging::install();
}

fn panic_hook(info: &std::panic::PanicHookInfo<'_>) {
    POISONED.with(|p| p.set(true));
    let message = format!(
        "a Rust panic (a bug in holysheep-vault, please report it): {info}. This wasm instance \
         is unusable from now on: load the module again (in a Worker, let the isolate restart)"
    );
    console_error(&format!("holysheep-vault: {message}"));
    let pending = IN_FLIGHT
        .with(|calls| calls.try_borrow_mut().map(|mut c| std::mem::take(&mut *c)))
        .unwrap_or_default();
    if !pending.is_empty() {
        let error = internal_error(&message);
        for reject in pending.values() {
            let _ = reject.call1(&JsValue::UNDEFINED, &error);
        }
    }
}

fn poisoned() -> bool {
    POISONED.with(Cell::get)
}

fn internal_error(message: &str) -> JsValue {
    error_to_js(&Error::Internal { message: message.to_owned() })
}

fn poisoned_error() -> JsValue {
    internal_error("an earlier panic left this wasm instance unusable; load the module again")
}

/// Runs `future` on the host's event loop and returns its promise. The promise's reject function
/// is registered while the call runs, so that the panic hook can settle it.
fn spawn_call<F>(future: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    if poisoned() {
        return Promise::reject(&poisoned_error());
    }
    let mut settle: Option<(Function, Function)> = None;
    // The executor runs synchronously, inside `Promise::new`.
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let Some((resolve, reject)) = settle else {
        return Promise::reject(&internal_error("Promise executor did not run"));
    };
    let id = NEXT_CALL.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    IN_FLIGHT.with(|calls| calls.borrow_mut().insert(id, reject.clone()));
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = future.await;
        IN_FLIGHT.with(|calls| calls.borrow_mut().remove(&id));
        let _ = match outcome {
            Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
            Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
        };
    });
    promise
}

/// Races `call` against the caller's abort promise (made from an `AbortSignal` by `api.js`).
/// Losing the race drops the call, which aborts its `fetch`.
async fn cancellable<T>(
    abort: Option<Promise>,
    call: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(abort) = abort else { return call.await };
    let call = std::pin::pin!(call);
    match select(call, JsFuture::from(abort)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(_) => Err(Error::Cancelled),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The core's error as a JS `Error` with the core's `code` and, where they apply, `status`,
/// `requestId`, `retryAfter` (ms), `retryable` and the details the Node package sets too.
/// `api.js` turns it into the class of its code (`RateLimitError`, ...). Messages come from the core, which never puts a secret in one.
fn error_to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("HolySheepError");
    let set = |name: &str, value: JsValue| {
        let _ = Reflect::set(&js, &JsValue::from_str(name), &value);
    };
    set("code", error.code().into());
    set("retryable", error.is_retryable().into());
    if let Some(status) = error.status() {
        set("status", f64::from(status).into());
    }
    if let Some(id) = error.request_id() {
        set("requestId", id.into());
    }
    if let Some(wait) = error.retry_after() {
        set("retryAfter", (wait.as_millis() as f64).into());
    }
    if let Some(info) = error.api_info() {
        // The provider's own `error` object, as the openai SDK exposes it; the core has already
        // scrubbed the key from it.
        if let Some(body) = &info.body
            && let Ok(value) = json_to_js(body.get("error").unwrap_or(body))
        {
            set("error", value);
        }
        if let Some(kind) = &info.error_type {
            set("type", kind.as_str().into());
        }
        if let Some(param) = &info.param {
            set("param", param.as_str().into());
        }
    }
    match error {
        Error::Configuration { setting, .. } => set("setting", setting.as_str().into()),
        Error::InvalidInput { field, .. } => set("field", field.as_str().into()),
        Error::Timeout { phase, .. } => set("phase", phase.to_string().into()),
        Error::Authentication { key: Some(origin), .. } => {
            set("keyLocation", origin.location.as_str().into());
            if let Some(version) = origin.version {
                set("keyVersion", (version as f64).into());
            }
        }
        _ => {}
    }
    js.into()
}

fn to_js<T>(result: Result<T, Error>) -> Result<T, JsValue> {
    result.map_err(|e| error_to_js(&e))
}

// ---------------------------------------------------------------------------------------------
// Conversion: JavaScript values <-> JSON, which the core reads and writes.

enum Role {
    Options,
    Argument(&'static str),
}

impl Role {
    fn error(&self, message: String) -> Error {
        match self {
            Role::Options => Error::Configuration { setting: "options".into(), message },
            Role::Argument(field) => Error::InvalidInput { field: (*field).into(), message },
        }
    }
}

/// The message of a thrown JS value, for an error of ours.
fn js_message(thrown: &JsValue) -> String {
    thrown
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| "a non-Error value was thrown".into())
}

/// A JS value as JSON, through `JSON.stringify` (so `toJSON` methods and `undefined` fields
/// behave as users expect). `undefined` and `null` are `null`.
fn js_to_json(value: &JsValue, role: Role) -> Result<Value, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| role.error(format!("cannot be converted to JSON: {}", js_message(&e))))?;
    let Some(text) = text.as_string() else {
        return Err(role.error("must be a JSON-serialisable object".into()));
    };
    serde_json::from_str(&text).map_err(|e| role.error(format!("is not valid JSON: {e}")))
}

fn json_to_js(value: &Value) -> Result<JsValue, Error> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Internal { message: format!("serialising a reply: {e}") })?;
    js_sys::JSON::parse(&text)
        .map_err(|_| Error::Internal { message: "JSON.parse rejected a reply".into() })
}

fn to_json_value(value: &impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::Internal { message: format!("serialising: {e}") })
}

fn request_options(value: &JsValue) -> Result<RequestOptions, Error> {
    RequestOptions::from_json(js_to_json(value, Role::Argument("options"))?)
}

fn chat_request(value: &JsValue) -> Result<ChatRequest, Error> {
    if value.is_undefined() || value.is_null() {
        return Err(Error::InvalidInput { field: "request".into(), message: "is required".into() });
    }
    ChatRequest::from_json(js_to_json(value, Role::Argument("request"))?)
}

/// A Worker's `env` (or any object of strings) as the core's environment lookup. Non-string
/// bindings (KV namespaces, services, ...) are ignored; numbers and booleans are read as text.
fn env_lookup(env: JsValue) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        let value = Reflect::get(&env, &JsValue::from_str(name)).ok()?;
        if let Some(s) = value.as_string() {
            Some(s)
        } else if let Some(n) = value.as_f64() {
            Some(n.to_string())
        } else {
            value.as_bool().map(|b| b.to_string())
        }
    }
}

fn client_options(options: &JsValue) -> Result<ClientOptions, Error> {
    if options.is_undefined() || options.is_null() {
        return Ok(ClientOptions::default());
    }
    if !options.is_object() {
        return Err(Role::Options.error("expected an object of options".into()));
    }
    let env = Reflect::get(options, &JsValue::from_str("env")).unwrap_or(JsValue::UNDEFINED);
    // Serialise the options without `env`: it may hold bindings that are not JSON.
    let plain = object_assign(&Object::new(), options)
        .map_err(|e| Role::Options.error(format!("cannot be read: {}", js_message(&e))))?;
    let _ = Reflect::delete_property(&plain, &JsValue::from_str("env"));
    let explicit = ClientOptions::from_json(js_to_json(&plain, Role::Options)?)?;
    if env.is_undefined() || env.is_null() {
        return Ok(explicit);
    }
    if !env.is_object() {
        return Err(Error::Configuration {
            setting: "env".into(),
            message: "expected the Worker's env object (VAULT_ADDR, VAULT_TOKEN, ...)".into(),
        });
    }
    Ok(ClientOptions::from_env_map(env_lookup(env))?.merged_with(explicit))
}

fn optional_promise(value: JsValue) -> Option<Promise> {
    value.dyn_into::<Promise>().ok()
}

// ---------------------------------------------------------------------------------------------
// Classes

/// A call's reply: the body as the API sent it, and the library's facts about the call.
fn reply_js(raw: &Value, meta: &CallMeta) -> Result<JsValue, Error> {
    let mut out = serde_json::Map::new();
    out.insert("body".into(), raw.clone());
    out.insert("meta".into(), to_json_value(meta)?);
    json_to_js(&Value::Object(out))
}

/// The core's client. Use `Client` from the package's entry module, which wraps this.
#[wasm_bindgen]
pub struct RawClient {
    inner: Client,
}

#[wasm_bindgen]
impl RawClient {
    /// Builds a client from an options object (the core's names, snake_case or camelCase, `*Ms`
    /// durations), optionally with `env`: a Worker's bindings read as environment variables,
    /// which explicit options override. Does no I/O.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<RawClient, JsValue> {
        if poisoned() {
            return Err(poisoned_error());
        }
        let options = to_js(client_options(&options))?;
        Ok(RawClient { inner: to_js(Client::from_options(options))? })
    }

    /// `chat_completions(request, options)`; resolves to `{body, meta}`.
    #[wasm_bindgen(js_name = chatCompletions)]
    pub fn chat_completions(&self, request: JsValue, options: JsValue, abort: JsValue) -> Promise {
        let client = self.inner.clone();
        let parsed = chat_request(&request).and_then(|r| Ok((r, request_options(&options)?)));
        let abort = optional_promise(abort);
        spawn_call(async move {
            let call = async {
                let (request, options) = parsed?;
                let reply = cancellable(abort, client.chat_completions(request, options)).await?;
                reply_js(&reply.raw, &reply.meta)
            };
            to_js(call.await)
        })
    }

    /// The streamed call. The request and options are checked now; the request is sent by the
    /// stream's first `next()`.
    #[wasm_bindgen(js_name = chatCompletionsStream)]
    pub fn chat_completions_stream(
        &self,
        request: JsValue,
        options: JsValue,
    ) -> Result<RawChatStream, JsValue> {
        if poisoned() {
            return Err(poisoned_error());
        }
        let request = to_js(chat_request(&request))?;
        let options = to_js(request_options(&options))?;
        Ok(RawChatStream::new(self.inner.clone(), request, options))
    }

    /// `models()`; resolves to `{body, meta}`.
    pub fn models(&self, options: JsValue, abort: JsValue) -> Promise {
        let client = self.inner.clone();
        let parsed = request_options(&options);
        let abort = optional_promise(abort);
        spawn_call(async move {
            let call = async {
                let list = cancellable(abort, client.models(parsed?)).await?;
                reply_js(&list.raw, &list.meta)
            };
            to_js(call.await)
        })
    }

    /// The current API key (from the isolate's cache), for handing to another SDK.
    #[wasm_bindgen(js_name = apiKey)]
    pub fn api_key(&self) -> Promise {
        let client = self.inner.clone();
        spawn_call(async move {
            // The `Secret` is zeroed when it drops here; only the JS string copy remains.
            to_js(client.api_key().await.map(|key| JsValue::from_str(key.expose())))
        })
    }

    /// Logs in to Vault and reads the key now rather than at the first call.
    pub fn connect(&self) -> Promise {
        let client = self.inner.clone();
        spawn_call(async move { to_js(client.api_key().await.map(|_| JsValue::UNDEFINED)) })
    }

    /// The client's counters (the core's `Stats`, snake_case as in every binding).
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        if poisoned() {
            return Err(poisoned_error());
        }
        to_js(to_json_value(&self.inner.stats()).and_then(|v| json_to_js(&v)))
    }

    /// Drops the cached key; later calls fail with `closed`. Idempotent.
    pub fn close(&self) {
        if !poisoned() {
            self.inner.close();
        }
    }

    #[wasm_bindgen(getter, js_name = baseUrl)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_owned()
    }

    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}

enum State {
    /// Not sent yet: the first `next()` sends it.
    Ready {
        client: Client,
        request: ChatRequest,
        options: RequestOptions,
    },
    Open(ChatStream),
    Finished,
    Cancelled,
}

/// A streamed reply pulled one chunk per `next()`; `api.js` makes it async-iterable.
#[wasm_bindgen]
pub struct RawChatStream {
    // An async mutex: `next()` holds it across the network wait, and a second `next()` waits its
    // turn instead of reading the same response concurrently.
    state: Rc<futures::lock::Mutex<State>>,
    /// Resolved by `cancel()`; a pending `next()` races it.
    cancelled: Promise,
    cancel: Function,
}

impl RawChatStream {
    fn new(client: Client, request: ChatRequest, options: RequestOptions) -> Self {
        let mut resolve = None;
        let cancelled = Promise::new(&mut |res, _| resolve = Some(res));
        let cancel = resolve.unwrap_or_else(|| Function::new_no_args(""));
        let state = State::Ready { client, request, options };
        RawChatStream { state: Rc::new(futures::lock::Mutex::new(state)), cancelled, cancel }
    }
}

/// One step of the stream. The response is moved out of `state` while it is awaited, so a cancel
/// that drops this future drops (and closes) the response with it.
async fn advance(state: &mut State) -> Result<Option<holysheep_vault::ChatChunk>, Error> {
    loop {
        match std::mem::replace(state, State::Finished) {
            State::Ready { client, request, options } => {
                *state = State::Open(client.chat_completions_stream(request, options).await?);
            }
            State::Open(mut stream) => {
                let item = stream.next().await;
                *state = State::Open(stream);
                return item.transpose();
            }
            State::Finished => return Ok(None),
            State::Cancelled => {
                *state = State::Cancelled;
                return Err(Error::Cancelled);
            }
        }
    }
}

#[wasm_bindgen]
impl RawChatStream {
    /// The next chunk (`{body, cost_usd}`), or `null` after the last one.
    pub fn next(&self) -> Promise {
        let state = self.state.clone();
        let cancelled = self.cancelled.clone();
        spawn_call(async move {
            let mut state = state.lock().await;
            let result = cancellable(Some(cancelled), advance(&mut state)).await;
            match &result {
                Err(Error::Cancelled) => *state = State::Cancelled,
                Err(_) | Ok(None) => *state = State::Finished,
                Ok(Some(_)) => {}
            }
            let chunk = match to_js(result)? {
                None => return Ok(JsValue::NULL),
                Some(chunk) => chunk,
            };
            let mut out = serde_json::Map::new();
            out.insert("body".into(), chunk.raw);
            out.insert("cost_usd".into(), chunk.cost_usd.map_or(Value::Null, Value::from));
            to_js(json_to_js(&Value::Object(out)))
        })
    }

    /// Stops the stream: a pending `next()` rejects with `cancelled` and the connection is
    /// closed. Does nothing once the stream has ended.
    pub fn cancel(&self) {
        let _ = self.cancel.call0(&JsValue::UNDEFINED);
        // Drop the response now if no `next()` holds it; a pending one drops it as it returns.
        if let Some(mut state) = self.state.try_lock()
            && matches!(*state, State::Ready { .. } | State::Open(_))
        {
            *state = State::Cancelled;
        }
    }
}

/// Every error code the core reports (`rate_limited`, `vault_sealed`, ...).
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    holysheep_vault::ErrorKind::ALL.iter().map(|k| k.code().to_owned()).collect()
}

/// Sets which core log events reach the console: "off", "error", "warn" (default), "info",
/// "debug". Log events never carry a secret.
#[wasm_bindgen(js_name = setLogLevel)]
pub fn set_log_level(level: &str) -> Result<(), JsValue> {
    logging::set_level(level)
        .map_err(|message| error_to_js(&Error::InvalidInput { field: "level".into(), message }))
}

/// Panics on purpose, to test the panic handling: "sync" panics inside this call, "async" inside
/// a pending promise. It poisons the instance; never call it outside tests.
#[wasm_bindgen(js_name = __panicForTests)]
pub fn panic_for_tests(mode: &str) -> Promise {
    if mode == "sync" {
        panic!("deliberate panic for tests (sync)");
    }
    spawn_call(async {
        holysheep_vault::rt::sleep(std::time::Duration::from_millis(5)).await;
        panic!("deliberate panic for tests (async)");
    })
}

// ---------------------------------------------------------------------------------------------
// Logging: the core's `tracing` events, to the console.

mod logging {
    use std::cell::Cell;
    use std::fmt::Write;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Metadata, Subscriber};

    thread_local! {
        // 0 off, 1 error, 2 warn, 3 info, 4 debug
        static LEVEL: Cell<u8> = const { Cell::new(2) };
    }

    pub fn set_level(level: &str) -> Result<(), String> {
        let n = match level.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => 0,
            "error" => 1,
            "warn" | "warning" => 2,
            "info" => 3,
            "debug" | "trace" => 4,
            other => {
                return Err(format!("\"{other}\" is not one of off, error, warn, info, debug"));
            }
        };
        LEVEL.with(|l| l.set(n));
        Ok(())
    }

    fn rank(level: &Level) -> u8 {
        match *level {
            Level::ERROR => 1,
            Level::WARN => 2,
            Level::INFO => 3,
            _ => 4,
        }
    }

    pub fn install() {
        let _ = tracing::subscriber::set_global_default(Console);
    }

    struct Console;

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.0, " {value:?}");
            } else {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                let _ = write!(self.0, " {value}");
            } else {
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
    }

    impl Subscriber for Console {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::sometimes()
        }
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.is_event() && rank(metadata.level()) <= LEVEL.with(Cell::get)
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let metadata = event.metadata();
            let mut fields = Fields(format!("holysheep-vault [{}]", metadata.target()));
            event.record(&mut fields);
            match *metadata.level() {
                Level::ERROR => super::console_error(&fields.0),
                Level::WARN => super::console_warn(&fields.0),
                Level::INFO => super::console_info(&fields.0),
                _ => super::console_debug(&fields.0),
            }
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
