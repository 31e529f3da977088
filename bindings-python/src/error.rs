//! Core errors to Python exceptions.
//!
//! The exception classes live in `holysheep_vault/_errors.py`, because Python expresses their
//! multiple inheritance (`APITimeoutError` is a `TimeoutError` and an `APIConnectionError`)
//! directly. There is one table from the core's `ErrorKind::code()` to a class, `_BY_CODE` in that
//! file; this side only gathers the error's data into keyword arguments and calls
//! `_errors._from_native(code, message, details)`.

use holysheep_vault::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use crate::convert::json_to_py;

static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for `err`. Never fails: if the exception cannot be built (the package's
/// Python half is missing), the reason is raised instead, with the original message.
pub fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    match build(py, &err) {
        Ok(exc) => exc,
        Err(why) => PyRuntimeError::new_err(format!(
            "holysheep_vault: {err} ({}: could not build its exception: {why})",
            err.code()
        )),
    }
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let from_native = FROM_NATIVE.get_or_try_init(py, || {
        py.import("holysheep_vault._errors")?.getattr("_from_native").map(Bound::unbind)
    })?;
    let details = details(py, err)?;
    let exc = from_native.bind(py).call1((err.code(), err.to_string(), details))?;
    Ok(PyErr::from_value(exc))
}

/// What the exception carries besides its message. Names are the attributes of the exception.
fn details<'py>(py: Python<'py>, err: &Error) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("retryable", err.is_retryable())?;
    if let Some(info) = err.api_info() {
        d.set_item("status_code", info.status)?;
        d.set_item("error_type", info.error_type.as_deref())?;
        d.set_item("provider_code", info.code.as_deref())?;
        d.set_item("param", info.param.as_deref())?;
        if let Some(body) = &info.body {
            // Already scrubbed of the key by the core.
            d.set_item("body", json_to_py(py, body, None)?)?;
        }
    }
    if let Some(id) = err.request_id() {
        d.set_item("request_id", id)?;
    }
    if let Some(wait) = err.retry_after() {
        d.set_item("retry_after", wait.as_secs_f64())?;
    }
    match err {
        Error::Authentication { key: Some(origin), .. } => {
            d.set_item("key_location", &origin.location)?;
            d.set_item("key_version", origin.version)?;
        }
        Error::Timeout { phase, after, attempts } => {
            d.set_item("phase", phase.to_string())?;
            d.set_item("timeout", after.as_secs_f64())?;
            d.set_item("attempts", attempts)?;
        }
        Error::Connection { attempts, .. } => d.set_item("attempts", attempts)?,
        Error::BudgetExceeded { budget_usd, spent_usd } => {
            d.set_item("budget_usd", budget_usd)?;
            d.set_item("spent_usd", spent_usd)?;
        }
        Error::VaultUnreachable { addr, .. } | Error::VaultSealed { addr } => {
            d.set_item("vault_addr", addr)?;
        }
        Error::VaultPermissionDenied { path, capability } => {
            d.set_item("path", path)?;
            d.set_item("capability", capability)?;
        }
        Error::VaultSecretNotFound { mount, path, field, .. } => {
            d.set_item("mount", mount)?;
            d.set_item("path", path)?;
            d.set_item("field", field.as_deref())?;
        }
        Error::VaultLoginFailed { method, mount, .. } => {
            d.set_item("method", method)?;
            d.set_item("mount", mount)?;
        }
        Error::Configuration { setting, .. } => d.set_item("setting", setting)?,
        Error::InvalidInput { field, .. } => d.set_item("field", field)?,
        _ => {}
    }
    Ok(d)
}

/// Converts a core result, raising the typed exception.
pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for holysheep_vault::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}
