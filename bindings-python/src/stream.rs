//! `_native.ChatStream`: a streamed reply, read chunk by chunk either blocking (`next`, GIL
//! released) or from asyncio (`anext`). Dropping or closing it closes the connection.

use std::sync::Arc;

use futures::StreamExt;
use holysheep_vault::ChatChunk;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::convert::{ToPy, meta_to_py};
use crate::error::IntoPyResult;
use crate::runtime::{block_on, future_into_py, guard};

/// `None` once the stream ended, failed or was closed.
type Slot = Arc<tokio::sync::Mutex<Option<holysheep_vault::ChatStream>>>;

#[pyclass(module = "holysheep_vault._native", name = "ChatStream", frozen)]
pub struct ChatStream {
    slot: Slot,
    meta: holysheep_vault::api::types::CallMeta,
}

impl ChatStream {
    pub fn new(stream: holysheep_vault::ChatStream) -> Self {
        let meta = stream.meta().clone();
        ChatStream { slot: Arc::new(tokio::sync::Mutex::new(Some(stream))), meta }
    }
}

/// The next chunk; the stream is let go at its end or at its first error.
async fn next(slot: Slot) -> holysheep_vault::Result<Option<ChatChunk>> {
    let mut guard = slot.lock().await;
    let Some(stream) = guard.as_mut() else { return Ok(None) };
    match stream.next().await {
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
            let slot = self.slot.clone();
            match block_on(py, next(slot))?.py_err(py)? {
                Some(chunk) => Ok(Some(chunk.to_py(py)?)),
                None => Ok(None),
            }
        })
    }

    /// An awaitable of the next chunk; it raises `StopAsyncIteration` at the end.
    fn anext<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let slot = self.slot.clone();
            future_into_py(py, async move {
                Ok(match next(slot).await? {
                    Some(chunk) => Next::Chunk(Box::new(chunk)),
                    None => Next::End,
                })
            })
        })
    }

    /// Closes the connection; later reads end at once. Waits for a read in progress elsewhere.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            let slot = self.slot.clone();
            let stream = block_on(py, async move { slot.lock().await.take() })?;
            // Dropping it closes the connection; no GIL needed for that.
            py.detach(move || drop(stream));
            Ok(())
        })
    }

    /// `close` for asyncio: an awaitable, so that waiting for a read in progress in another task
    /// does not block the event loop.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let slot = self.slot.clone();
            future_into_py(py, async move {
                drop(slot.lock().await.take());
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
