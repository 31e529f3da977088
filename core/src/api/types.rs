//! Request and response types (being written).

/// A validated chat-completions request.
#[derive(Debug, Clone)]
pub struct ChatRequest {}

impl ChatRequest {
    pub fn from_json(_value: serde_json::Value) -> crate::Result<Self> {
        todo!()
    }
}

#[derive(Debug, Clone)]
pub struct ChatCompletion {}

impl ChatCompletion {
    pub fn content(&self) -> Option<&str> {
        todo!()
    }
}

#[derive(Debug, Clone)]
pub struct ChatChunk {}

#[derive(Debug, Clone)]
pub struct ModelList {}
