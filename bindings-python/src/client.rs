//! `_native.Client`: the core `Client` behind both `holysheep_vault.Client` (blocking calls, GIL
//! released while waiting) and `holysheep_vault.AsyncClient` (asyncio awaitables).

use std::sync::{Mutex, PoisonError};

use holysheep_vault::{ChatRequest, ClientOptions, RequestOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::{Map, Value};

use crate::convert::{ToPy, arg_i64, arg_seconds, arg_str, py_to_json};
use crate::error::IntoPyResult;
use crate::runtime::{block_on, future_into_py, guard};
use crate::stream::ChatStream;

#[pyclass(module = "holysheep_vault._native", name = "Client", frozen)]
pub struct Client {
    /// The validated options, kept to rebuild the core client in a fork child.
    options: ClientOptions,
    state: Mutex<State>,
}

struct State {
    pid: u32,
    core: holysheep_vault::Client,
}

impl Client {
    /// The core client of this process. A fork child gets a new one built from the same options:
    /// the parent's holds connections, locks and background tasks of threads the child does not
    /// have. That one is leaked rather than dropped, because dropping it would deregister the
    /// parent's sockets from the epoll instance the two processes share.
    ///
    /// Called with the GIL held only (see `runtime::RUNTIME` for why that makes it fork-safe).
    fn core(&self, py: Python<'_>) -> PyResult<holysheep_vault::Client> {
        let pid = std::process::id();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.pid != pid {
            let fresh = holysheep_vault::Client::from_options(self.options.clone()).py_err(py)?;
            if state.core.is_closed() {
                fresh.close();
            }
            tracing::debug!(
                target: "holysheep_vault::python",
                pid,
                "new process after fork: the client starts afresh (new connections, new Vault login)"
            );
            std::mem::forget(std::mem::replace(&mut state.core, fresh));
            state.pid = pid;
        }
        Ok(state.core.clone())
    }
}

/// A chat request body: `model`, `messages` and the other parameters, type-checked here so a
/// wrong type names its argument; the core validates the values.
fn chat_request(
    model: &Bound<'_, PyAny>,
    messages: &Bound<'_, PyAny>,
    params: Option<&Bound<'_, PyDict>>,
) -> PyResult<Value> {
    let listish = messages.is_instance_of::<PyList>()
        || messages.is_instance_of::<PyTuple>()
        || crate::convert::is_sequence(messages);
    if !listish {
        let type_name = messages.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "argument 'messages': expected a list of message dicts, not '{type_name}'"
        )));
    }
    let mut body = Map::new();
    body.insert("model".into(), Value::String(arg_str("model", model)?));
    body.insert("messages".into(), py_to_json("messages", messages)?);
    if let Some(params) = params {
        for (name, value) in params.iter() {
            let name: String = name.extract()?;
            let value = py_to_json(&name, &value)?;
            body.insert(name, value);
        }
    }
    Ok(Value::Object(body))
}

/// A call's `timeout` (seconds) and `max_retries`: types checked here, values by the core.
fn options_json(
    timeout: Option<&Bound<'_, PyAny>>,
    max_retries: Option<&Bound<'_, PyAny>>,
) -> PyResult<Value> {
    let mut options = Map::new();
    if let Some(t) = arg_seconds("timeout", timeout)? {
        options.insert("timeout".into(), serde_json::json!(t));
    }
    if let Some(n) = arg_i64("max_retries", max_retries)? {
        options.insert("max_retries".into(), Value::from(n));
    }
    Ok(Value::Object(options))
}

fn request_options(
    py: Python<'_>,
    timeout: Option<&Bound<'_, PyAny>>,
    max_retries: Option<&Bound<'_, PyAny>>,
) -> PyResult<RequestOptions> {
    RequestOptions::from_json(options_json(timeout, max_retries)?).py_err(py)
}

/// Everything a chat call needs, converted and validated while the GIL is held.
struct ChatCall {
    core: holysheep_vault::Client,
    request: ChatRequest,
    options: RequestOptions,
}

#[pymethods]
impl Client {
    /// `options`: the core's option names (`vault_addr`, `role_id`, ...) and values. With
    /// `from_env`, they override the environment (`VAULT_ADDR`, `HOLYSHEEP_*`, ...).
    #[new]
    #[pyo3(signature = (options = None, *, from_env = false))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>, from_env: bool) -> PyResult<Self> {
        guard(py, || {
            crate::logging::install(py);
            crate::logging::refresh(py);
            let given = match options {
                Some(options) => py_to_json("options", options.as_any())?,
                None => Value::Object(Map::new()),
            };
            let given = ClientOptions::from_json(given).py_err(py)?;
            let options = if from_env {
                ClientOptions::from_env().py_err(py)?.merged_with(given)
            } else {
                given
            };
            let core = holysheep_vault::Client::from_options(options.clone()).py_err(py)?;
            tracing::debug!(target: "holysheep_vault::python", ?core, "client created");
            let state = State { pid: std::process::id(), core };
            Ok(Client { options, state: Mutex::new(state) })
        })
    }

    /// The unstreamed call; blocks with the GIL released.
    #[pyo3(signature = (model, messages, params = None, timeout = None, max_retries = None))]
    fn chat_completions<'py>(
        &self,
        py: Python<'py>,
        model: &Bound<'py, PyAny>,
        messages: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyDict>>,
        timeout: Option<&Bound<'py, PyAny>>,
        max_retries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let ChatCall { core, request, options } =
                self.chat_call(py, model, messages, params, timeout, max_retries)?;
            let reply = block_on(py, async move { core.chat_completions(request, options).await })?;
            reply.py_err(py)?.to_py(py)
        })
    }

    /// The streamed call; returns once the first event arrived (retries happen before that).
    #[pyo3(signature = (model, messages, params = None, timeout = None, max_retries = None))]
    fn chat_completions_stream(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        messages: &Bound<'_, PyAny>,
        params: Option<&Bound<'_, PyDict>>,
        timeout: Option<&Bound<'_, PyAny>>,
        max_retries: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ChatStream> {
        guard(py, || {
            let ChatCall { core, request, options } =
                self.chat_call(py, model, messages, params, timeout, max_retries)?;
            let stream =
                block_on(py, async move { core.chat_completions_stream(request, options).await })?;
            Ok(ChatStream::new(stream.py_err(py)?))
        })
    }

    #[pyo3(signature = (timeout = None, max_retries = None))]
    fn models<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
        max_retries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            crate::logging::refresh(py);
            let options = request_options(py, timeout, max_retries)?;
            let core = self.core(py)?;
            let list = block_on(py, async move { core.models(options).await })?;
            list.py_err(py)?.to_py(py)
        })
    }

    /// The current API key (cached), for SDKs that take a key.
    fn api_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            crate::logging::refresh(py);
            let core = self.core(py)?;
            let key = block_on(py, async move { core.api_key().await })?;
            key.py_err(py)?.to_py(py)
        })
    }

    #[pyo3(signature = (model, messages, params = None, timeout = None, max_retries = None))]
    fn chat_completions_async<'py>(
        &self,
        py: Python<'py>,
        model: &Bound<'py, PyAny>,
        messages: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyDict>>,
        timeout: Option<&Bound<'py, PyAny>>,
        max_retries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let ChatCall { core, request, options } =
                self.chat_call(py, model, messages, params, timeout, max_retries)?;
            future_into_py(py, async move { core.chat_completions(request, options).await })
        })
    }

    #[pyo3(signature = (model, messages, params = None, timeout = None, max_retries = None))]
    fn chat_completions_stream_async<'py>(
        &self,
        py: Python<'py>,
        model: &Bound<'py, PyAny>,
        messages: &Bound<'py, PyAny>,
        params: Option<&Bound<'py, PyDict>>,
        timeout: Option<&Bound<'py, PyAny>>,
        max_retries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let ChatCall { core, request, options } =
                self.chat_call(py, model, messages, params, timeout, max_retries)?;
            future_into_py(py, async move {
                core.chat_completions_stream(request, options).await.map(ChatStream::new)
            })
        })
    }

    #[pyo3(signature = (timeout = None, max_retries = None))]
    fn models_async<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
        max_retries: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            crate::logging::refresh(py);
            let options = request_options(py, timeout, max_retries)?;
            let core = self.core(py)?;
            future_into_py(py, async move { core.models(options).await })
        })
    }

    fn api_key_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            crate::logging::refresh(py);
            let core = self.core(py)?;
            future_into_py(py, async move { core.api_key().await })
        })
    }

    /// Counters since the client was built (in this process), as a plain dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let core = self.core(py)?;
            // The core takes short locks that a runtime thread may hold while it waits for the
            // GIL (to log); wait for them without the GIL.
            py.detach(move || core.stats()).to_py(py)
        })
    }

    /// The base URL calls go to.
    #[getter]
    fn base_url(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || Ok(self.core(py)?.base_url().to_owned()))
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        guard(py, || Ok(self.core(py)?.is_closed()))
    }

    /// Stops background work (refresh, renewal) and drops the cached key. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            let core = self.core(py)?;
            py.detach(move || core.close());
            Ok(())
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let core = self.core(py)?;
            Ok(format!(
                "<holysheep_vault._native.Client base_url={:?} closed={}>",
                core.base_url(),
                core.is_closed()
            ))
        })
    }
}

impl Client {
    #[allow(clippy::too_many_arguments)]
    fn chat_call(
        &self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        messages: &Bound<'_, PyAny>,
        params: Option<&Bound<'_, PyDict>>,
        timeout: Option<&Bound<'_, PyAny>>,
        max_retries: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ChatCall> {
        crate::logging::refresh(py);
        // Every type first (TypeError naming the argument), then the core's value checks.
        let body = chat_request(model, messages, params)?;
        let options = options_json(timeout, max_retries)?;
        let request = ChatRequest::from_json(body).py_err(py)?;
        let options = RequestOptions::from_json(options).py_err(py)?;
        Ok(ChatCall { core: self.core(py)?, request, options })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.pid == std::process::id() {
            // Nothing else can use this client now: stop its background refresh and renewal.
            let core = state.core.clone();
            Python::attach(|py| py.detach(move || core.close()));
        } else {
            // Inherited through fork and never used here: see `Client::core`. Leaking one more
            // reference keeps the shared state from ever being dropped in this process.
            std::mem::forget(state.core.clone());
        }
    }
}
