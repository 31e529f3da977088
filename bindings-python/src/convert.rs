//! Python objects to JSON (arguments, options) and JSON to Python objects (replies).
//!
//! Replies become instances of the dict subclasses in `holysheep_vault/_types.py` (`AttrDict` for
//! nested objects), so both `reply["usage"]["total_tokens"]` and `reply.usage.total_tokens` work
//! and the objects stay plain dicts for `json.dumps`, `==` and pattern matching.

use holysheep_vault::{ChatChunk, ChatCompletion, ModelList, Secret, Stats};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use serde_json::{Map, Number, Value};

use crate::error::to_pyerr;

// ---------------------------------------------------------------------------------------------
// Python -> JSON

/// Why a value could not become JSON, and where inside the argument it was.
struct Unconvertible {
    /// Path segments from the innermost outwards (`[0]`, `.content`, ...).
    path: Vec<String>,
    message: String,
    type_error: bool,
}

impl Unconvertible {
    fn type_error(message: String) -> Self {
        Unconvertible { path: Vec::new(), message, type_error: true }
    }

    fn value_error(message: String) -> Self {
        Unconvertible { path: Vec::new(), message, type_error: false }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

/// Converts argument `name` to JSON. A value JSON cannot hold raises `TypeError` naming the
/// argument and the place inside it: `messages[0].content: ...`.
pub fn py_to_json(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json(value, 0).map_err(|e| {
        let mut at = name.to_owned();
        for segment in e.path.iter().rev() {
            at.push_str(segment);
        }
        let message = format!("argument '{at}': {}", e.message);
        if e.type_error { PyTypeError::new_err(message) } else { PyValueError::new_err(message) }
    })
}

/// `err`, raised for argument `name`, with the name in its message: pyo3 only attaches it as a
/// note (Python 3.11+), which `str(err)` does not show.
fn named(py: Python<'_>, name: &str, err: PyErr) -> PyErr {
    PyErr::from_type(err.get_type(py), format!("argument '{name}': {}", err.value(py)))
}

/// A `str` argument.
pub fn arg_str(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    value.extract::<String>().map_err(|e| named(value.py(), name, e))
}

/// An optional duration argument in seconds (`None` is absent): a number or a `timedelta`.
/// NaN and infinity are bad values (ValueError), as they are for the client's own timeout;
/// anything else is a TypeError naming the argument.
pub fn arg_seconds(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    let Some(v) = value.filter(|v| !v.is_none()) else { return Ok(None) };
    let secs = if is_timedelta(v) {
        v.call_method0("total_seconds")?.extract::<f64>()?
    } else {
        v.extract::<f64>().map_err(|e| named(v.py(), name, e))?
    };
    if !secs.is_finite() {
        return Err(PyValueError::new_err(format!(
            "argument '{name}': must be a finite number of seconds, not {secs}"
        )));
    }
    Ok(Some(secs))
}

/// An optional integer argument (`None` is absent).
pub fn arg_i64(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match value {
        Some(v) if !v.is_none() => v.extract::<i64>().map(Some).map_err(|e| {
            // An int too large is a bad value, like any other out-of-range one: ValueError.
            if e.is_instance_of::<PyOverflowError>(v.py()) {
                PyValueError::new_err(format!("argument '{name}': out of range"))
            } else {
                named(v.py(), name, e)
            }
        }),
        _ => Ok(None),
    }
}

/// Deeper than any real request; stops a self-referencing list from overflowing the stack.
const MAX_DEPTH: usize = 128;

fn to_json(value: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Unconvertible> {
    if depth > MAX_DEPTH {
        return Err(Unconvertible::value_error("nested too deeply (a reference cycle?)".into()));
    }
    // Most common types first; bool before int, as bool is an int in Python.
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_cow().map_err(py_failure)?.into_owned()));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = value.cast::<PyInt>() {
        if let Ok(n) = i.extract::<i64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = i.extract::<u64>() {
            return Ok(Value::from(n));
        }
        return Err(Unconvertible::value_error("integer out of the 64-bit range".into()));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let n = f.value();
        return Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| Unconvertible::value_error(format!("{n} is not a JSON number")));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        // Over a snapshot of the items: converting a value runs Python code (`__fspath__`,
        // `total_seconds`) that may change the dict, which a live iteration would not survive.
        for item in dict.items().iter() {
            let (k, v) =
                item.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>().map_err(py_failure)?;
            let Ok(key) = k.cast::<PyString>() else {
                let type_name = type_name(&k);
                return Err(Unconvertible::type_error(format!(
                    "dict keys must be str, not {type_name}"
                )));
            };
            let key = key.to_cow().map_err(py_failure)?.into_owned();
            let v = to_json(&v, depth + 1).map_err(|e| e.at(format!(".{key}")))?;
            map.insert(key, v);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return list
            .iter()
            .enumerate()
            .map(|(i, item)| to_json(&item, depth + 1).map_err(|e| e.at(format!("[{i}]"))))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple
            .iter()
            .enumerate()
            .map(|(i, item)| to_json(&item, depth + 1).map_err(|e| e.at(format!("[{i}]"))))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    // Paths (`vault_cacert=Path(...)`) and durations (`timeout=timedelta(seconds=5)`) as Python
    // users hold them; the core reads strings and seconds.
    if let Ok(Some(fspath)) = value.getattr_opt("__fspath__") {
        let path = fspath.call0().map_err(py_failure)?;
        return to_json(&path, depth + 1);
    }
    if is_timedelta(value) {
        let secs: f64 =
            value.call_method0("total_seconds").and_then(|s| s.extract()).map_err(py_failure)?;
        return Ok(Number::from_f64(secs).map_or(Value::Null, Value::Number));
    }
    // Other mappings and sequences (a MappingProxy, a deque, a user's Sequence class), as the
    // type hints promise: converted through a dict or a list. str and bytes never get here as
    // sequences: str was handled first, bytes is not JSON.
    if is_abc(value, "Mapping") {
        let dict = PyDict::new(value.py());
        for item in value.call_method0("items").and_then(|i| i.try_iter()).map_err(py_failure)? {
            let (k, v) = item
                .and_then(|i| i.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>())
                .map_err(py_failure)?;
            dict.set_item(k, v).map_err(py_failure)?;
        }
        return to_json(dict.as_any(), depth);
    }
    if is_sequence(value) {
        let list = PyList::empty(value.py());
        for item in value.try_iter().map_err(py_failure)? {
            list.append(item.map_err(py_failure)?).map_err(py_failure)?;
        }
        return to_json(list.as_any(), depth);
    }
    Err(Unconvertible::type_error(format!(
        "{} is not JSON-serializable (use dict, list, str, int, float, bool or None)",
        type_name(value)
    )))
}

/// Whether `value` is a `collections.abc` `name` (`Mapping`, `Sequence`).
fn is_abc(value: &Bound<'_, PyAny>, name: &str) -> bool {
    let py = value.py();
    py.import("collections.abc")
        .and_then(|abc| abc.getattr(name))
        .is_ok_and(|t| value.is_instance(&t).unwrap_or(false))
}

/// A sequence that JSON can hold as an array: not a str, bytes or bytearray.
pub fn is_sequence(value: &Bound<'_, PyAny>) -> bool {
    !(value.is_instance_of::<PyString>()
        || value.is_instance_of::<PyBytes>()
        || value.is_instance_of::<PyByteArray>())
        && is_abc(value, "Sequence")
}

fn is_timedelta(value: &Bound<'_, PyAny>) -> bool {
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TIMEDELTA
        .import(value.py(), "datetime", "timedelta")
        .is_ok_and(|t| value.is_instance(t).unwrap_or(false))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map_or_else(|_| "this type".to_owned(), |n| format!("'{n}'"))
}

fn py_failure(err: PyErr) -> Unconvertible {
    Unconvertible::value_error(err.to_string())
}

// ---------------------------------------------------------------------------------------------
// JSON -> Python

/// The reply classes of `holysheep_vault/_types.py`.
struct Types {
    attr_dict: Py<PyType>,
    chat_completion: Py<PyType>,
    chat_chunk: Py<PyType>,
    model_list: Py<PyType>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let m = py.import("holysheep_vault._types")?;
        let get = |name: &str| -> PyResult<Py<PyType>> {
            Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind())
        };
        Ok(Types {
            attr_dict: get("AttrDict")?,
            chat_completion: get("ChatCompletion")?,
            chat_chunk: get("ChatCompletionChunk")?,
            model_list: get("ModelList")?,
        })
    })
}

/// Converts JSON to Python; objects become `dict_class` instances (nested ones too), or plain
/// dicts when it is `None`.
pub fn json_to_py<'py>(
    py: Python<'py>,
    value: &Value,
    dict_class: Option<&Bound<'py, PyType>>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item, dict_class)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = new_dict(py, dict_class)?;
            fill(py, &dict, map, dict_class)?;
            dict.into_any()
        }
    })
}

fn new_dict<'py>(
    py: Python<'py>,
    class: Option<&Bound<'py, PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    match class {
        Some(class) => Ok(class.call0()?.cast_into::<PyDict>()?),
        None => Ok(PyDict::new(py)),
    }
}

fn fill<'py>(
    py: Python<'py>,
    dict: &Bound<'py, PyDict>,
    map: &Map<String, Value>,
    dict_class: Option<&Bound<'py, PyType>>,
) -> PyResult<()> {
    for (k, v) in map {
        dict.set_item(k, json_to_py(py, v, dict_class)?)?;
    }
    Ok(())
}

/// A reply object: `class` filled with the JSON object `raw` (anything else is kept under the
/// key `raw`, which cannot happen with replies the core has already checked).
fn reply<'py>(py: Python<'py>, class: &Py<PyType>, raw: &Value) -> PyResult<Bound<'py, PyDict>> {
    let attr = types(py)?.attr_dict.bind(py);
    let dict = new_dict(py, Some(class.bind(py)))?;
    match raw {
        Value::Object(map) => fill(py, &dict, map, Some(attr))?,
        other => dict.set_item("raw", json_to_py(py, other, Some(attr))?)?,
    }
    Ok(dict)
}

/// Metadata of a call as an `AttrDict` (`request_id`, `attempts`, `cost_usd`, ...).
pub fn meta_to_py<'py>(
    py: Python<'py>,
    meta: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(meta).map_err(|e| PyValueError::new_err(e.to_string()))?;
    json_to_py(py, &value, Some(types(py)?.attr_dict.bind(py)))
}

// ---------------------------------------------------------------------------------------------
// Core results to Python

/// A core value with a Python form.
pub trait ToPy {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>>;
}

impl ToPy for ChatCompletion {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let dict = reply(py, &types(py)?.chat_completion, &self.raw)?;
        // Metadata is an attribute, not a key: the dict stays exactly the API's reply.
        dict.setattr("meta", meta_to_py(py, &self.meta)?)?;
        Ok(dict.into_any())
    }
}

impl ToPy for ChatChunk {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let dict = reply(py, &types(py)?.chat_chunk, &self.raw)?;
        dict.setattr("cost_usd", self.cost_usd)?;
        Ok(dict.into_any())
    }
}

impl ToPy for ModelList {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let dict = reply(py, &types(py)?.model_list, &self.raw)?;
        dict.setattr("meta", meta_to_py(py, &self.meta)?)?;
        Ok(dict.into_any())
    }
}

impl ToPy for Stats {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let value =
            serde_json::to_value(&self).map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &value, None)
    }
}

impl ToPy for Secret {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        // The one place a key becomes a Python object: for SDKs that need it (openai's api_key).
        Ok(PyString::new(py, self.expose()).into_any())
    }
}

impl ToPy for () {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(py.None().into_bound(py))
    }
}

/// A core result on its way to asyncio: converted, or raised as the typed exception, only once
/// the GIL is held on the asyncio side.
pub struct Outcome<T>(pub holysheep_vault::Result<T>);

impl<'py, T: ToPy> IntoPyObject<'py> for Outcome<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => value.to_py(py),
            Err(err) => Err(to_pyerr(py, err)),
        }
    }
}
