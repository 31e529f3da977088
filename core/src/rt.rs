//! The few runtime services the core needs, with one implementation per platform: tokio on
//! native targets, the host's timers and event loop on wasm32. Everything above this module is
//! written once.

use std::future::Future;
use std::time::Duration;

pub use web_time::{Instant, SystemTime, UNIX_EPOCH};

/// Boxed future that is `Send` on native targets, where tokio may move it across threads, and
/// not on wasm32, where JS values are `!Send` and there is only one thread.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = futures::future::LocalBoxFuture<'a, T>;

/// Boxed stream, `Send` on native targets for the same reason as [`BoxFuture`].
#[cfg(not(target_arch = "wasm32"))]
pub type BoxStream<'a, T> = futures::stream::BoxStream<'a, T>;
#[cfg(target_arch = "wasm32")]
pub type BoxStream<'a, T> = futures::stream::LocalBoxStream<'a, T>;

/// `Send` on native targets, nothing on wasm32: a bound for generic futures and closures.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32: the companion of [`MaybeSend`] for shared state.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// Sleeps without blocking the thread.
pub async fn sleep(duration: Duration) {
    #[cfg(not(target_arch = "wasm32"))]
    tokio::time::sleep(duration).await;
    #[cfg(target_arch = "wasm32")]
    gloo_timers::future::sleep(duration).await;
}

/// Runs `future` for at most `limit`; `None` when the limit passed first. Written over
/// [`sleep`] rather than `tokio::time::timeout` so it behaves the same on wasm32.
pub async fn timeout<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    use futures::future::{Either, select};
    let future = std::pin::pin!(future);
    let timer = std::pin::pin!(sleep(limit));
    match select(future, timer).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}

/// Whether this build can run tasks in the background. Edge runtimes give no background time,
/// so on wasm32 the cache refreshes and the token renews lazily, on the next call.
pub const BACKGROUND_TASKS: bool = cfg!(not(target_arch = "wasm32"));

/// Starts `future` in the background on the current tokio runtime. Returns `None` when there is
/// no runtime to run it on (a caller outside tokio), in which case the work is left to be done
/// lazily on the next call.
#[cfg(not(target_arch = "wasm32"))]
pub fn spawn<F>(future: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    // The task keeps the caller's span, so its events (a background refresh, a renewal) reach
    // the subscriber and the per-client logger of the binding that started it.
    use tracing::Instrument;
    let future = future.in_current_span();
    tokio::runtime::Handle::try_current().ok().map(|handle| handle.spawn(future))
}

/// A random factor in `[1 - spread, 1 + spread]`, to keep many clients from acting in lockstep.
pub fn jitter(duration: Duration, spread: f64) -> Duration {
    let factor = 1.0 + spread * (rand::random::<f64>() * 2.0 - 1.0);
    duration.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timeout_returns_none_when_the_limit_passes_first() {
        let slow = sleep(Duration::from_millis(200));
        assert!(timeout(Duration::from_millis(10), slow).await.is_none());
        assert_eq!(timeout(Duration::from_millis(200), async { 7 }).await, Some(7));
    }

    #[test]
    fn jitter_stays_in_its_band() {
        for _ in 0..1000 {
            let d = jitter(Duration::from_millis(1000), 0.2);
            assert!(d >= Duration::from_millis(800) && d <= Duration::from_millis(1200), "{d:?}");
        }
    }
}
