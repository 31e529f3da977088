//! `ChatStream`: a streamed reply pulled one chunk per `next()`. The JS layer wraps it in an
//! async generator whose `return()` (leaving a `for await` loop) calls `cancel()`.

use std::sync::Arc;

use futures::StreamExt;
use holysheep_vault::{ChatRequest, Client, Error as CoreError, RequestOptions};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::cancel::CancelToken;
use crate::error::{Outcome, guard};

enum State {
    /// Not sent yet: the first `next()` sends it.
    Ready {
        client: Client,
        request: ChatRequest,
        options: RequestOptions,
    },
    Open(holysheep_vault::ChatStream),
    Finished,
    Cancelled,
}

#[napi]
pub struct ChatStream {
    // An async mutex: `next()` holds it across the network wait, and a second `next()` waits its
    // turn instead of reading the same response concurrently.
    state: Arc<Mutex<State>>,
    cancel: CancelToken,
    span: tracing::Span,
}

impl ChatStream {
    pub fn new(
        client: Client,
        request: ChatRequest,
        options: RequestOptions,
        span: tracing::Span,
    ) -> Self {
        ChatStream {
            state: Arc::new(Mutex::new(State::Ready { client, request, options })),
            cancel: CancelToken::default(),
            span,
        }
    }
}

#[napi]
impl ChatStream {
    /// The next chunk's JSON, or `null` after the last one.
    #[napi(ts_return_type = "Promise<Record<string, any> | null>")]
    pub async fn next(&self) -> Outcome<Option<Value>> {
        let call = async {
            let mut state = self.state.lock().await;
            let result = CancelToken::run(Some(&self.cancel), advance(&mut state)).await;
            match &result {
                Err(CoreError::Cancelled) => *state = State::Cancelled,
                Err(_) | Ok(None) => *state = State::Finished,
                Ok(Some(_)) => {}
            }
            result
        };
        guard(call.instrument(self.span.clone())).await
    }

    /// Stops the stream: a pending `next()` rejects with `cancelled` and the connection is
    /// closed. Does nothing once the stream has ended.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.cancel();
        // Drop the response now if no `next()` holds it; a pending one drops it as it returns.
        if let Ok(mut state) = self.state.try_lock()
            && matches!(*state, State::Ready { .. } | State::Open(_))
        {
            *state = State::Cancelled;
        }
    }
}

/// One step of the stream. The response is moved out of `state` while it is awaited, so a cancel
/// that drops this future drops (and closes) the response with it.
async fn advance(state: &mut State) -> Result<Option<Value>, CoreError> {
    loop {
        match std::mem::replace(state, State::Finished) {
            State::Ready { client, request, options } => {
                *state = State::Open(client.chat_completions_stream(request, options).await?);
            }
            State::Open(mut stream) => {
                let item = stream.next().await;
                *state = State::Open(stream);
                return item.transpose().map(|chunk| chunk.map(|c| c.raw));
            }
            State::Finished => return Ok(None),
            State::Cancelled => {
                *state = State::Cancelled;
                return Err(CoreError::Cancelled);
            }
        }
    }
}
