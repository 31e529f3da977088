//! The facade users hold (being written).

use crate::api::types::{ChatChunk, ChatCompletion, ChatRequest, ModelList};
use crate::config::{ClientOptions, Config, RequestOptions};
use crate::error::Result;
use crate::keys::VaultStats;
use crate::rt::BoxStream;
use crate::secret::Secret;

#[derive(Clone)]
pub struct Client {}

pub struct ChatStream {
    _inner: BoxStream<'static, Result<ChatChunk>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub vault: VaultStats,
}

impl Client {
    pub fn new(_config: Config) -> Result<Client> {
        todo!()
    }
    pub fn from_options(_options: ClientOptions) -> Result<Client> {
        todo!()
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Result<Client> {
        todo!()
    }
    pub async fn chat_completions(
        &self,
        _request: ChatRequest,
        _options: RequestOptions,
    ) -> Result<ChatCompletion> {
        todo!()
    }
    pub async fn chat_completions_stream(
        &self,
        _request: ChatRequest,
        _options: RequestOptions,
    ) -> Result<ChatStream> {
        todo!()
    }
    pub async fn models(&self, _options: RequestOptions) -> Result<ModelList> {
        todo!()
    }
    pub async fn api_key(&self) -> Result<Secret> {
        todo!()
    }
    pub fn stats(&self) -> Stats {
        todo!()
    }
    pub fn close(&self) {}
}
