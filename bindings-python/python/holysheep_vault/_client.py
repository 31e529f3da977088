"""``Client`` (blocking) and ``AsyncClient`` (asyncio) over the native core client."""

from __future__ import annotations

from . import _native
from ._types import ChatCompletionChunk

# `typing` only for the type checker (see _errors.py); at run time `overload` is the identity,
# which is all typing.overload does for a call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import (
        Any,
        Dict,
        Literal,
        Mapping,
        Optional,
        Sequence,
        Type,
        TypeVar,
        Union,
        overload,
    )

    from ._types import ChatCompletion, ModelList

    Message = Mapping[str, Any]
    # `typing.Self` is 3.11+; the package supports 3.9 without typing_extensions.
    _C = TypeVar("_C", bound="_Base")
else:

    def overload(func):
        return func


__all__ = ["AsyncClient", "AsyncStream", "Client", "Stream"]


def _check_stream(stream: object) -> bool:
    # `stream="no"` would otherwise be true; say which argument is wrong, as for the others.
    if not isinstance(stream, bool):
        raise TypeError(f"argument 'stream': expected bool, not {type(stream).__name__!r}")
    return stream


class Stream:
    """A streamed reply: iterate for ``ChatCompletionChunk``\\ s. Closing it (or leaving a
    ``with`` block) closes the connection."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.ChatStream) -> None:
        self._native = native

    # An iterator by protocol (no collections.abc base: importing `collections` costs a third
    # of `import holysheep_vault`).
    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> ChatCompletionChunk:
        chunk = self._native.next()
        if chunk is None:
            raise StopIteration
        return chunk

    @property
    def meta(self) -> Dict[str, Any]:
        """``request_id``, ``attempts``, ``key_version``, ``latency_ms`` (to the first event)."""
        return self._native.meta

    @property
    def request_id(self) -> Optional[str]:
        return self._native.meta.get("request_id")

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<holysheep_vault.Stream request_id={self.request_id!r}>"


class AsyncStream:
    """A streamed reply for asyncio: ``async for chunk in stream``."""

    __slots__ = ("_native",)

    def __init__(self, native: _native.ChatStream) -> None:
        self._native = native

    def __aiter__(self) -> AsyncStream:
        return self

    def __anext__(self) -> Any:
        # The native awaitable itself (no coroutine wrapper): it raises StopAsyncIteration at
        # the end, and cancelling it drops the read.
        return self._native.anext()

    @property
    def meta(self) -> Dict[str, Any]:
        return self._native.meta

    @property
    def request_id(self) -> Optional[str]:
        return self._native.meta.get("request_id")

    async def close(self) -> None:
        await self._native.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._native.aclose()

    def __repr__(self) -> str:
        return f"<holysheep_vault.AsyncStream request_id={self.request_id!r}>"


class _Base:
    __slots__ = ("__weakref__", "_native")
    _native: _native.Client

    def __init__(self, **options: Any) -> None:
        """Options are the core's option names: ``vault_addr``, ``vault_token``, ``role_id``,
        ``secret_id``, ``auth_method``, ``mount``, ``secret_path``, ``base_url``,
        ``max_retries``, ``timeout``, ... Nothing is read from the environment; see
        :meth:`from_env`."""
        self._native = _native.Client(options)

    @classmethod
    def from_env(cls: Type[_C], **overrides: Any) -> _C:
        """Options from the environment (``VAULT_ADDR``, ``VAULT_TOKEN``, ``VAULT_ROLE_ID``,
        ``HOLYSHEEP_*``, ...), each overridden by a keyword given here."""
        self = cls.__new__(cls)
        self._native = _native.Client(overrides, from_env=True)
        return self

    @property
    def base_url(self) -> str:
        """Where calls go (for handing to another SDK with :func:`openai_key_provider`)."""
        return self._native.base_url

    @property
    def closed(self) -> bool:
        return self._native.closed

    def stats(self) -> Dict[str, Any]:
        """Counters since the client was built: ``requests``, ``attempts``, ``retries``,
        ``errors``, tokens, ``cost_usd``, per-model usage, and ``vault`` (reads, logins,
        renewals, cache hits, key version)."""
        return self._native.stats()

    def __repr__(self) -> str:
        return f"<holysheep_vault.{type(self).__name__} base_url={self.base_url!r}>"


class Client(_Base):
    """Blocking client. Every network wait releases the GIL, so other threads keep running."""

    __slots__ = ()

    @overload
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        **kwargs: Any,
    ) -> ChatCompletion: ...

    @overload
    def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: Literal[True],
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        **kwargs: Any,
    ) -> Stream: ...

    def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: bool = False,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> Union[ChatCompletion, Stream]:
        """``POST /chat/completions``. ``kwargs`` are further request fields (``temperature``,
        ``tools``, ``response_format``, ...). ``timeout`` (seconds, retries included) and
        ``max_retries`` override the client's for this call. With ``stream=True``, returns a
        :class:`Stream` of chunks once the first event arrived."""
        if _check_stream(stream):
            return Stream(
                self._native.chat_completions_stream(model, messages, kwargs, timeout, max_retries)
            )
        return self._native.chat_completions(model, messages, kwargs, timeout, max_retries)

    def models(
        self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> ModelList:
        """``GET /models``."""
        return self._native.models(timeout, max_retries)

    def api_key(self) -> str:
        """The current API key, from the cache (read from Vault when due)."""
        return self._native.api_key()

    def close(self) -> None:
        """Stops background refresh and renewal and drops the cached key. Idempotent."""
        self._native.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()


class AsyncClient(_Base):
    """asyncio client. Cancelling a call (``task.cancel()``, ``asyncio.wait_for``) cancels the
    request."""

    __slots__ = ()

    @overload
    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        **kwargs: Any,
    ) -> ChatCompletion: ...

    @overload
    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: Literal[True],
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        **kwargs: Any,
    ) -> AsyncStream: ...

    async def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        stream: bool = False,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> Union[ChatCompletion, AsyncStream]:
        """As :meth:`Client.chat_completions`; with ``stream=True`` returns an
        :class:`AsyncStream`."""
        if _check_stream(stream):
            native = await self._native.chat_completions_stream_async(
                model, messages, kwargs, timeout, max_retries
            )
            return AsyncStream(native)
        return await self._native.chat_completions_async(
            model, messages, kwargs, timeout, max_retries
        )

    async def models(
        self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> ModelList:
        return await self._native.models_async(timeout, max_retries)

    async def api_key(self) -> str:
        return await self._native.api_key_async()

    async def close(self) -> None:
        self._native.close()

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._native.close()
