//! Cancellation from JavaScript: the JS layer makes a [`CancelToken`] for a call that has an
//! `AbortSignal` and calls `cancel()` when it fires. The call then drops the core's future, which
//! is how the core cancels (the connection is closed, nothing is retried).

use std::future::Future;
use std::sync::Arc;

use holysheep_vault::Error as CoreError;
use napi_derive::napi;
use tokio::sync::watch;

/// Cancels the calls it was passed to. Cancelling twice, or after the call ended, does nothing.
#[napi]
#[derive(Clone)]
pub struct CancelToken {
    // A watch channel rather than a Notify: a late waiter still sees a cancel that came first.
    sender: Arc<watch::Sender<bool>>,
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken { sender: Arc::new(watch::Sender::new(false)) }
    }
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi]
    pub fn cancel(&self) {
        self.sender.send_replace(true);
    }

    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        *self.sender.borrow()
    }
}

impl CancelToken {
    /// Resolves once [`CancelToken::cancel`] was called.
    async fn fired(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so the channel cannot close under us.
        let _ = receiver.wait_for(|cancelled| *cancelled).await;
    }

    /// Runs `call` unless the token fires first, in which case `call` is dropped.
    pub async fn run<T>(
        token: Option<&CancelToken>,
        call: impl Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let Some(token) = token else { return call.await };
        tokio::select! {
            biased;
            () = token.fired() => Err(CoreError::Cancelled),
            result = call => result,
        }
    }
}
