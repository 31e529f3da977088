//! The OpenAI-compatible HTTP side (being written).
pub mod types;
