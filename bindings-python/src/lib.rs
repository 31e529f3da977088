//! `holysheep_vault._native`: the extension module under the `holysheep_vault` Python package.
//!
//! A thin layer: conversion (`convert`), error mapping (`error`), the runtime and the GIL
//! (`runtime`), logging (`logging`), and the classes (`client`, `stream`). Behaviour lives in
//! the core crate, so that Python, Node and wasm behave the same.

mod client;
mod convert;
mod error;
mod logging;
mod runtime;
mod stream;

use pyo3::prelude::*;

/// Raises a panic inside the module, to test that it becomes `InternalError` (sync path).
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    runtime::guard(py, || panic!("panic requested by _panic_for_tests"))
}

/// An awaitable whose Rust future panics, to test the asyncio path.
#[pyfunction]
fn _panic_async_for_tests(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    runtime::guard(py, || {
        runtime::future_into_py(py, async {
            if true {
                panic!("panic requested by _panic_async_for_tests");
            }
            Ok(())
        })
    })
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Every core error code, for the Python side's table and its tests.
    let codes: Vec<&str> = holysheep_vault::ErrorKind::ALL.iter().map(|k| k.code()).collect();
    m.add("ERROR_CODES", codes)?;
    m.add_class::<client::Client>()?;
    m.add_class::<stream::ChatStream>()?;
    m.add_function(wrap_pyfunction!(logging::reset_log_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_async_for_tests, m)?)?;
    Ok(())
}
