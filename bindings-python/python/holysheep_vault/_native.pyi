# Stubs of the extension module (bindings-python/src). Private: use the `holysheep_vault`
# package; this module's signatures follow the package's needs, not a public contract.
from typing import Any, Awaitable, Dict, List, Mapping, Optional, Sequence

from ._types import ChatCompletion, ChatCompletionChunk, ModelList

__version__: str
ERROR_CODES: List[str]

class Client:
    def __init__(
        self, options: Optional[Mapping[str, Any]] = None, *, from_env: bool = False
    ) -> None: ...
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> ChatCompletion: ...
    def chat_completions_stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> ChatStream: ...
    def models(
        self, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> ModelList: ...
    def api_key(self) -> str: ...
    def chat_completions_async(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> Awaitable[ChatCompletion]: ...
    def chat_completions_stream_async(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Optional[Dict[str, Any]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> Awaitable[ChatStream]: ...
    def models_async(
        self, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> Awaitable[ModelList]: ...
    def api_key_async(self) -> Awaitable[str]: ...
    def stats(self) -> Dict[str, Any]: ...
    @property
    def base_url(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...

class ChatStream:
    def next(self) -> Optional[ChatCompletionChunk]: ...
    def anext(self) -> Awaitable[ChatCompletionChunk]: ...
    def close(self) -> None: ...
    def aclose(self) -> Awaitable[None]: ...
    @property
    def meta(self) -> Dict[str, Any]: ...

def reset_log_cache() -> None: ...
def _panic_for_tests() -> None: ...
def _panic_async_for_tests() -> Awaitable[None]: ...
