//! The core's `tracing` events reach Python's `logging`.
//!
//! With no tracing subscriber installed, tracing's `log` feature turns each event into a `log`
//! record, and pyo3-log hands those to `logging.getLogger(target)`: the core's targets
//! (`holysheep_vault::client`, ...) become the loggers `holysheep_vault.client`, ..., children
//! of `holysheep_vault`. Other crates' records (HTTP and Vault clients) are not forwarded: their
//! debug output may show request bodies, which carry Vault credentials, and their errors reach
//! the caller as the core's typed errors anyway.
//!
//! The bridge is installed by the first client, not at import: importing `logging` costs more
//! than the rest of `import holysheep_vault` together, and nothing logs before a client exists.
//!
//! pyo3-log caches each logger's level so that a record nobody wants never takes the GIL on a
//! runtime thread. The cache is dropped whenever the effective level of `holysheep_vault` has
//! changed since the previous call, which each call checks on entry (it holds the GIL anyway).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Once, OnceLock};

use log::LevelFilter;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3_log::{Caching, Logger, ResetHandle};

static INSTALL: Once = Once::new();
static RESET: OnceLock<ResetHandle> = OnceLock::new();
static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static LAST_LEVEL: AtomicI64 = AtomicI64::new(-1);

/// Installs the bridge, once per process. Never fails: without `logging` there are no logs.
pub fn install(py: Python<'_>) {
    INSTALL.call_once(|| {
        let _ = try_install(py);
    });
}

fn try_install(py: Python<'_>) -> PyResult<()> {
    // The usual courtesy of a library: no "no handler" fallback output for its records when
    // the application configured no logging at all.
    let logging = py.import("logging")?;
    let null = logging.getattr("NullHandler")?.call0()?;
    logging.call_method1("getLogger", ("holysheep_vault",))?.call_method1("addHandler", (null,))?;
    let logger = Logger::new(py, Caching::LoggersAndLevels)?
        .filter(LevelFilter::Off)
        .filter_target("holysheep_vault".to_owned(), LevelFilter::Trace);
    // Fails only if another `log` logger was installed in this module's copy of `log`.
    if let Ok(reset) = logger.install() {
        let _ = RESET.set(reset);
    }
    Ok(())
}

/// Forgets the cached levels when `holysheep_vault`'s effective level changed. Never fails: a
/// broken `logging` setup must not break calls.
pub fn refresh(py: Python<'_>) {
    let Some(reset) = RESET.get() else { return };
    let level = LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?.call_method1("getLogger", ("holysheep_vault",)).map(Bound::unbind)
        })
        .and_then(|logger| logger.bind(py).call_method0("getEffectiveLevel")?.extract::<i64>());
    if let Ok(level) = level
        && LAST_LEVEL.swap(level, Ordering::Relaxed) != level
    {
        reset.reset();
    }
}

/// Drops every cached logger level now (`holysheep_vault.reset_log_cache()`), for a program
/// that changed the level of a child logger such as `holysheep_vault.keys`.
#[pyfunction]
pub fn reset_log_cache() {
    if let Some(reset) = RESET.get() {
        reset.reset();
    }
}
