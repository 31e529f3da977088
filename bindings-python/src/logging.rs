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
//!
//! Records from the runtime's threads pass a fork gate (see [`ForkGate`]): Python's logging
//! handlers write through buffered files whose locks are held across the write with the GIL
//! released, and a child forked at that moment inherits a lock nobody will release, so its first
//! log line would hang. `os.fork()` therefore waits for such records to finish and holds new
//! ones back until it is done.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use log::{LevelFilter, Log, Metadata, Record};
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
    let reset = logger.reset_handle();
    // Fails only if another `log` logger was installed in this module's copy of `log`.
    if log::set_boxed_logger(Box::new(GatedLogger(logger))).is_ok() {
        log::set_max_level(LevelFilter::Trace);
        let _ = RESET.set(reset);
        let os = py.import("os")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("before", wrap_pyfunction!(fork_before, py)?)?;
        kwargs.set_item("after_in_parent", wrap_pyfunction!(fork_after_in_parent, py)?)?;
        kwargs.set_item("after_in_child", wrap_pyfunction!(fork_after_in_child, py)?)?;
        os.call_method("register_at_fork", (), Some(&kwargs))?;
    }
    Ok(())
}

/// The state behind the fork gate. Atomics rather than a mutex: a child must be able to reset
/// it whatever the parent's threads were doing at the instant of the fork.
struct ForkGate {
    /// Runtime threads inside the Python logging call now.
    inside: AtomicUsize,
    /// A fork is under way: runtime threads wait before logging.
    forking: AtomicBool,
}

static GATE: ForkGate = ForkGate { inside: AtomicUsize::new(0), forking: AtomicBool::new(false) };

/// How long a fork waits for records in flight. A handler that blocks for longer (a network
/// handler, say) is not waited for: a fork must not hang on logging.
const FORK_WAIT: Duration = Duration::from_secs(2);
const GATE_POLL: Duration = Duration::from_millis(1);

/// pyo3-log's logger behind the fork gate.
struct GatedLogger(Logger);

impl Log for GatedLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        // Only the runtime's own threads are gated. A Python thread logging here holds the GIL,
        // and the forking thread needs the GIL to finish: holding it back would deadlock. (No
        // level check here: `log` asks `enabled` before calling this, and pyo3-log checks again.)
        if !on_runtime_thread() {
            return self.0.log(record);
        }
        loop {
            while GATE.forking.load(Ordering::SeqCst) {
                std::thread::sleep(GATE_POLL);
            }
            GATE.inside.fetch_add(1, Ordering::SeqCst);
            if !GATE.forking.load(Ordering::SeqCst) {
                break;
            }
            // A fork began between the two checks: step back out and wait for it.
            GATE.inside.fetch_sub(1, Ordering::SeqCst);
        }
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                GATE.inside.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave;
        self.0.log(record);
    }

    fn flush(&self) {
        self.0.flush();
    }
}

fn on_runtime_thread() -> bool {
    std::thread::current().name() == Some(crate::runtime::THREAD_NAME)
}

/// `os.register_at_fork(before=...)`: hold new records back, and wait (GIL released, so the
/// records in flight can finish) until none is inside a handler.
#[pyfunction]
fn fork_before(py: Python<'_>) {
    GATE.forking.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + FORK_WAIT;
        while GATE.inside.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(GATE_POLL);
        }
    });
}

#[pyfunction]
fn fork_after_in_parent() {
    GATE.forking.store(false, Ordering::SeqCst);
}

/// The child has none of the parent's runtime threads: nobody is inside, nobody waits.
#[pyfunction]
fn fork_after_in_child() {
    GATE.inside.store(0, Ordering::SeqCst);
    GATE.forking.store(false, Ordering::SeqCst);
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
