//! `_native.ChatStream`: a streamed reply, read chunk by chunk either blocking (`next`, GIL
//! released) or from asyncio (`anext`). Dropping or closing it closes the connection; closing it
//! from another thread or task also ends a read that is waiting on the network, so a watchdog can
//! stop a stalled stream.

use std::sync::Arc;

use futures::StreamExt;
use holysheep_vault::ChatChunk;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::watch;

use crate::convert::{ToPy, meta_to_py};
use crate::error::IntoPyResult;
use crate::runtime::{block_on, future_into_py, guard};

/// `None` once the stream ended, failed or was closed.
type Slot = Arc<tokio::sync::Mutex<Option<holysheep_vault::ChatStream>>>;

/// Set by `close`. A watch channel rather than a Notify: a read that starts after the close
/// still sees it.
type Closed = Arc<watch::Sender<bool>>;

#[pyclass(module = "holysheep_vault._native", name = "ChatStream", frozen)]
pub struct ChatStream {
    slot: Slot,
    closed: Closed,
    meta: holysheep_vault::api::types::CallMeta,
}

impl ChatStream {
    pub fn new(stream: holysheep_vault::ChatStream) -> Self {
        let meta = stream.meta().clone();
        ChatStream {
            slot: Arc::new(tokio::sync::Mutex::new(Some(stream))),
            closed: Arc::new(watch::Sender::new(false)),
            meta,
        }
    }
}

impl ChatStream {
    /// Marks the stream closed and takes it unless a read holds it (that read then drops it).
    fn take_for_close(&self) -> Option<holysheep_vault::ChatStream> {
        self.closed.send_replace(true);
        self.slot.try_lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Resolves once the stream was closed.
async fn closing(closed: &Closed) {
    // The sender is kept alive by the caller's Arc, so the channel cannot close under us.
    let _ = closed.subscribe().wait_for(|closed| *closed).await;
}

/// The next chunk; the stream is let go at its end or at its first error. A close that comes
/// while this waits (for the lock, or for the network) ends it as the end of the stream.
async fn next(slot: Slot, closed: Closed) -> holysheep_vault::Result<Option<ChatChunk>> {
    let mut guard = tokio::select! {
        biased;
        () = closing(&closed) => return Ok(None),
        guard = slot.lock() => guard,
    };
    let Some(stream) = guard.as_mut() else { return Ok(None) };
    let item = tokio::select! {
        biased;
        () = closing(&closed) => {
            *guard = None;
            return Ok(None);
        }
        item = stream.next() => item,
    };
    match item {
        Some(Ok(chunk)) => Ok(Some(chunk)),
        Some(Err(e)) => {
            *guard = None;
            Err(e)
        }
        None => {
            *guard = None;
            Ok(None)
        }
    }
}

/// A chunk for asyncio; the end of the stream raises `StopAsyncIteration` in the awaiting task.
pub enum Next {
    Chunk(Box<ChatChunk>),
    End,
}

impl ToPy for Next {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        match self {
            Next::Chunk(chunk) => (*chunk).to_py(py),
            Next::End => Err(PyStopAsyncIteration::new_err(())),
        }
    }
}

impl ToPy for ChatStream {
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, self)?.into_any())
    }
}

#[pymethods]
impl ChatStream {
    /// The next chunk, or `None` at the end. Blocks with the GIL released.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        guard(py, || {
            let (slot, closed) = (self.slot.clone(), self.closed.clone());
            match block_on(py, next(slot, closed))?.py_err(py)? {
                Some(chunk) => Ok(Some(chunk.to_py(py)?)),
                None => Ok(None),
            }
        })
    }

    /// An awaitable of the next chunk; it raises `StopAsyncIteration` at the end.
    fn anext<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let (slot, closed) = (self.slot.clone(), self.closed.clone());
            future_into_py(py, async move {
                Ok(match next(slot, closed).await? {
                    Some(chunk) => Next::Chunk(Box::new(chunk)),
                    None => Next::End,
                })
            })
        })
    }

    /// Closes the connection; a read waiting elsewhere and all later reads end at once. Never
    /// waits: a read in progress (in another thread, in a task, or suspended under a signal
    /// handler that called this) holds the stream, sees the close and drops it itself.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            let stream = self.take_for_close();
            // Dropping it closes the connection; no GIL needed for that.
            py.detach(move || drop(stream));
            Ok(())
        })
    }

    /// `close` for asyncio, as an awaitable (it completes at once).
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let stream = self.take_for_close();
            future_into_py(py, async move {
                drop(stream);
                Ok(())
            })
        })
    }

    /// Request id, attempts and key version of the call.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        meta_to_py(py, &self.meta)
    }

    fn __repr__(&self) -> String {
        format!("<holysheep_vault._native.ChatStream request_id={:?}>", self.meta.request_id)
    }
}
