//! The one tokio runtime of the process, how Python waits on it, and the panic boundary.
//!
//! - Sync calls run the core's future with `block_on` while the GIL is released (`py.detach`), so
//!   other Python threads run during every network wait. Every 100 ms the wait steps out of the
//!   runtime and takes the GIL back for a moment to run Python's signal handlers, so Ctrl-C
//!   interrupts a sync call (the Rust future is dropped, which cancels the request) and a
//!   handler may call the library itself.
//! - Asyncio calls go through pyo3-async-runtimes' generic bridge with [`ForkSafeRuntime`]; its
//!   `future_into_py` drops the Rust future when the asyncio future is cancelled.
//! - After `os.fork()` the child has none of the parent's runtime threads, so the runtime is
//!   rebuilt on first use in the child (the pid is part of the cached runtime). The parent's
//!   runtime is leaked in the child, never dropped: dropping it would wait for threads that do
//!   not exist there.
//! - Panics never cross into Python as `PanicException` (a `BaseException`): [`guard`] and
//!   [`catch_panics`] turn them into `holysheep_vault.InternalError`.

use std::cell::OnceCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use tokio::runtime::{Handle, Runtime};

use crate::error::to_pyerr;

/// The name of the runtime's threads (the logging bridge tells them apart by it).
pub const THREAD_NAME: &str = "holysheep-vault";

/// How often a blocked sync call looks at Python's pending signals (KeyboardInterrupt).
const SIGNAL_POLL: Duration = Duration::from_millis(100);

struct PerProcess {
    pid: u32,
    runtime: Runtime,
}

/// Taken only by threads that are not runtime workers, and those hold the GIL when they take it
/// (every caller runs inside a `#[pymethods]` body before it detaches). `os.fork()` also runs
/// with the GIL held, so no thread can be inside this lock at the moment of a fork and the
/// child never finds it locked by a thread it does not have.
static RUNTIME: Mutex<Option<PerProcess>> = Mutex::new(None);

/// A handle on this process's runtime, built on first use and rebuilt after a fork.
pub fn handle() -> Handle {
    // Runtime workers (a task spawning another) already know their runtime.
    if let Ok(handle) = Handle::try_current() {
        return handle;
    }
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(current) = slot.as_ref().filter(|p| p.pid == pid) {
        return current.runtime.handle().clone();
    }
    if let Some(inherited) = slot.take() {
        // A fork child: the parent's worker threads are gone; see the module docs.
        std::mem::forget(inherited);
    }
    let runtime = build_runtime();
    let handle = runtime.handle().clone();
    *slot = Some(PerProcess { pid, runtime });
    handle
}

fn build_runtime() -> Runtime {
    // A client library needs few threads: requests wait on I/O, not on CPU.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()
        .expect("the holysheep-vault tokio runtime could not start")
}

/// Runs `future` to completion with the GIL released. Returns the Python error of a pending
/// signal (KeyboardInterrupt) instead, after dropping the future.
pub fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = handle();
    let mut future = Box::pin(future);
    loop {
        // Signal handlers run between the waits, outside the runtime's context: a handler may
        // itself call the library (close a stream, read the key), and that call's own
        // `block_on` would panic inside another one.
        // (The timer is made inside the async block: a tokio timer needs the runtime's context.)
        let step = py.detach(|| {
            handle.block_on(async { tokio::time::timeout(SIGNAL_POLL, future.as_mut()).await })
        });
        match step {
            Ok(output) => return Ok(output),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Runs a `#[pymethods]` body, turning a panic into `InternalError`.
pub fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(to_pyerr(py, panic_error(payload.as_ref()))),
    }
}

/// `future`, with a panic while it is polled turned into [`holysheep_vault::Error::Internal`].
pub async fn catch_panics<F, T>(future: F) -> holysheep_vault::Result<T>
where
    F: Future<Output = holysheep_vault::Result<T>>,
{
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(panic_error(payload.as_ref())),
    }
}

fn panic_error(payload: &(dyn std::any::Any + Send)) -> holysheep_vault::Error {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned());
    holysheep_vault::Error::Internal { message: format!("a bug in holysheep-vault: {text}") }
}

/// The asyncio bridge's runtime: tasks go to [`handle`], so they too follow a fork.
pub struct ForkSafeRuntime;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl GenericRuntime for ForkSafeRuntime {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = tokio::task::JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        handle().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        handle().spawn_blocking(f)
    }
}

impl ContextExt for ForkSafeRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

/// An asyncio awaitable for `future`; cancelling it drops `future`. The output is converted to
/// Python objects (or a typed exception) on the asyncio side, holding the GIL only then.
pub fn future_into_py<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = holysheep_vault::Result<T>> + Send + 'static,
    T: crate::convert::ToPy + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<ForkSafeRuntime, _, _>(py, async move {
        Ok(crate::convert::Outcome(catch_panics(future).await))
    })
}
