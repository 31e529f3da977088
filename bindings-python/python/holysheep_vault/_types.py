"""Reply objects: plain dicts shaped exactly like the API's JSON, readable by attribute too.

``reply["choices"][0]["message"]["content"]`` and ``reply.choices[0].message.content`` are the
same thing. What the library knows about the call (request id, attempts, cost) is an attribute,
``reply.meta``, so the dict itself stays the API's reply (``json.dumps(reply)`` round-trips).
"""

from __future__ import annotations

# `typing` only for the type checker (see _errors.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional

__all__ = ["AttrDict", "ChatCompletion", "ChatCompletionChunk", "ModelList"]


class AttrDict(dict):  # type: ignore[type-arg]
    """A dict whose keys can also be read as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute or key {name!r}"
            ) from None

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | {k for k in self if isinstance(k, str)})


class ChatCompletion(AttrDict):
    """The reply of ``chat_completions``.

    ``meta`` describes the call: ``request_id``, ``attempts``, ``cost_usd``, ``key_version``,
    ``latency_ms``.
    """

    __slots__ = ("meta",)
    meta: AttrDict

    @property
    def request_id(self) -> Optional[str]:
        """The ``x-request-id`` of the response."""
        meta = getattr(self, "meta", None)
        return None if meta is None else meta.get("request_id")

    @property
    def cost_usd(self) -> Optional[float]:
        """Cost from the price table and the reported usage, when both are known."""
        meta = getattr(self, "meta", None)
        return None if meta is None else meta.get("cost_usd")


class ChatCompletionChunk(AttrDict):
    """One event of a streamed reply. ``cost_usd`` is set on the usage chunk."""

    __slots__ = ("cost_usd",)
    cost_usd: Optional[float]


class ModelList(AttrDict):
    """The reply of ``models()``; ``meta`` describes the call."""

    __slots__ = ("meta",)
    meta: AttrDict
