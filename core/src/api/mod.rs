//! The OpenAI-compatible HTTP side: request and response types, the event-stream parser,
//! retries, error mapping, scrubbing of the key from provider text, and cost accounting.

pub mod cost;
pub(crate) mod retry;
pub mod scrub;
pub mod sse;
mod transport;
pub mod types;

pub use transport::ApiClient;
