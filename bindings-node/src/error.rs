//! The core's errors as JavaScript errors, and the panic guards every export runs inside.
//!
//! A core [`CoreError`] becomes a JS `Error` whose `code` is [`ErrorKind::code`] (the same string
//! in every binding and in the scenario files), with `status`, `requestId`, `retryAfter` (ms) and
//! the provider's details where they apply. `lib/index.js` turns it into the matching subclass.
//! Messages come from the core, which never puts a key or token in them.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use holysheep_vault::{Error as CoreError, ErrorKind};
use napi::JsValue;
use napi::bindgen_prelude::{
    Env, Object, Status, ToNapiValue, TypeName, ValidateNapiValue, ValueType, sys,
};

/// A call's result with the core's error still typed, so the JS error is built on the JS thread,
/// where it can carry properties (a plain `napi::Error` only has a code and a message).
pub struct Outcome<T>(pub Result<T, CoreError>);

impl<T> From<Result<T, CoreError>> for Outcome<T> {
    fn from(result: Result<T, CoreError>) -> Self {
        Outcome(result)
    }
}

impl<T: ToNapiValue> ToNapiValue for Outcome<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: forwarded unchanged from napi's own call, on the JS thread.
            Ok(value) => unsafe { T::to_napi_value(env, value) },
            // An `Err` holding a JS error object makes napi reject (or throw) with that very
            // object, properties included.
            Err(err) => Err(to_napi_error(&Env::from_raw(env), &err)),
        }
    }
}

impl<T: TypeName> TypeName for Outcome<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }

    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for Outcome<T> {}

/// The JS error for a core error, wrapped so that napi throws or rejects with it as it is.
pub fn to_napi_error(env: &Env, err: &CoreError) -> napi::Error {
    match js_error(env, err) {
        Ok(object) => napi::Error::from(object.to_unknown()),
        // Only when the environment is shutting down; the code and message still get through.
        Err(_) => napi::Error::new(Status::GenericFailure, format!("{}: {err}", err.code())),
    }
}

fn js_error<'e>(env: &'e Env, err: &CoreError) -> napi::Result<Object<'e>> {
    let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, err.to_string()))?;
    obj.set("code", err.code())?;
    obj.set("retryable", err.is_retryable())?;
    if let Some(status) = err.status() {
        obj.set("status", status)?;
    }
    if let Some(id) = err.request_id() {
        obj.set("requestId", id)?;
    }
    if let Some(wait) = err.retry_after() {
        obj.set("retryAfter", wait.as_millis() as f64)?;
    }
    if let Some(info) = err.api_info() {
        // The provider's own `error` object, as the openai SDK exposes it; already scrubbed of
        // the key by the core.
        if let Some(body) = &info.body {
            obj.set("error", body.get("error").unwrap_or(body).clone())?;
        }
        if let Some(kind) = &info.error_type {
            obj.set("type", kind.as_str())?;
        }
        if let Some(param) = &info.param {
            obj.set("param", param.as_str())?;
        }
    }
    match err {
        CoreError::Configuration { setting, .. } => obj.set("setting", setting.as_str())?,
        CoreError::InvalidInput { field, .. } => obj.set("field", field.as_str())?,
        CoreError::Timeout { phase, .. } => obj.set("phase", phase.to_string())?,
        CoreError::Authentication { key: Some(origin), .. } => {
            obj.set("keyLocation", origin.location.as_str())?;
            if let Some(version) = origin.version {
                obj.set("keyVersion", version as f64)?;
            }
        }
        _ => {}
    }
    Ok(obj)
}

/// Runs an exported async body so that a panic rejects its promise with an `internal` error
/// instead of tearing down the process or leaving the promise pending.
pub async fn guard<T>(body: impl Future<Output = Result<T, CoreError>>) -> Outcome<T> {
    Outcome(AssertUnwindSafe(body).catch_unwind().await.unwrap_or_else(|p| Err(panicked(p))))
}

/// The synchronous counterpart of [`guard`], for constructors and getters: a panic throws.
pub fn guard_sync<T>(env: &Env, body: impl FnOnce() -> Result<T, CoreError>) -> napi::Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|p| Err(panicked(p)))
        .map_err(|e| to_napi_error(env, &e))
}

fn panicked(payload: Box<dyn std::any::Any + Send>) -> CoreError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned());
    CoreError::Internal { message: format!("panic in the native module: {what}") }
}

/// Every code the core can report, so the JS layer's class table is checked against it.
pub fn all_codes() -> Vec<String> {
    ErrorKind::ALL.iter().map(|k| k.code().to_owned()).collect()
}
