"""Exceptions: one class per error code of the core, mapped by ``_BY_CODE``.

Classes also derive from the builtin exception that code already catches: an
``AuthenticationError`` is a ``PermissionError``, an ``APITimeoutError`` a
``TimeoutError`` *and* an ``APIConnectionError`` (so ``except ConnectionError``, which
hand-written integrations use for timeouts, still catches it), configuration and input
errors are ``ValueError``\\ s.

No exception holds a key: messages and bodies are scrubbed by the core before they get here.
"""

from __future__ import annotations

# `typing` only for the type checker: importing it would double `import holysheep_vault`'s time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Type

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ClientClosedError",
    "ConfigurationError",
    "HolySheepError",
    "InternalError",
    "InvalidInputError",
    "InvalidResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestCancelledError",
    "ServerError",
    "VaultError",
    "VaultLoginError",
    "VaultMisconfiguredError",
    "VaultPermissionDeniedError",
    "VaultSealedError",
    "VaultSecretNotFoundError",
    "VaultUnreachableError",
]


class HolySheepError(Exception):
    """Base of every error the library raises.

    ``code`` is the core's stable error code (``"rate_limited"``, ``"vault_sealed"``, ...), the
    same in every language; ``details`` holds every field the error came with.
    """

    code: str = "internal"
    message: str
    request_id: Optional[str]
    details: Dict[str, Any]

    def __init__(self, message: str, **details: Any) -> None:
        # One positional argument only: several would make OSError-based classes read them as
        # (errno, strerror).
        super().__init__(message)
        self.message = message
        self.details = details
        self.request_id = details.get("request_id")

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later (the core's verdict)."""
        return bool(self.details.get("retryable", False))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        extra = "".join(
            f", {name}={value!r}"
            for name, value in self.details.items()
            if name in ("status_code", "request_id", "setting", "field")
        )
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}{extra})"

    def __reduce__(self) -> Any:
        # Keeps the details through pickling (multiprocessing, concurrent.futures).
        return (_rebuild, (type(self), self.message, self.details))


def _rebuild(cls: Type[HolySheepError], message: str, details: Dict[str, Any]) -> HolySheepError:
    return cls(message, **details)


class APIError(HolySheepError):
    """The API answered with an error status."""

    status_code: Optional[int]
    body: Any
    error_type: Optional[str]
    provider_code: Optional[str]
    param: Optional[str]

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.status_code = details.get("status_code")
        self.body = details.get("body")
        self.error_type = details.get("error_type")
        self.provider_code = details.get("provider_code")
        self.param = details.get("param")


class AuthenticationError(APIError, PermissionError):
    """401: the key was rejected, after the library re-read it from Vault once.

    ``key_location`` and ``key_version`` say which key (never the key itself).
    """

    code = "authentication"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.key_location: Optional[str] = details.get("key_location")
        self.key_version: Optional[int] = details.get("key_version")


class PermissionDeniedError(APIError, PermissionError):
    """403: the key is valid but may not do this."""

    code = "permission_denied"


class NotFoundError(APIError):
    """404, e.g. an unknown model."""

    code = "not_found"


class BadRequestError(APIError):
    """400 or 422: the API rejected the request as invalid. Never retried."""

    code = "bad_request"


class RateLimitError(APIError):
    """429 after the retries, or with a Retry-After beyond ``retry_after_cap``."""

    code = "rate_limited"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        #: Seconds the API asked to wait, when it said.
        self.retry_after: Optional[float] = details.get("retry_after")


class ServerError(APIError):
    """A 5xx, or another 4xx that stayed after the retries."""

    code = "server"


class APIConnectionError(HolySheepError, ConnectionError):
    """The connection failed or broke before a complete response."""

    code = "connection"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.attempts: Optional[int] = details.get("attempts")


class APITimeoutError(APIConnectionError, TimeoutError):
    """A connect, read or total timeout (``phase``), after ``timeout`` seconds."""

    code = "timeout"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.phase: Optional[str] = details.get("phase")
        self.timeout: Optional[float] = details.get("timeout")


class InvalidResponseError(HolySheepError):
    """A response or stream that could not be understood (malformed, truncated, an error event)."""

    code = "invalid_response"


class BudgetExceededError(HolySheepError):
    """The client's ``budget_usd`` is spent; nothing was sent."""

    code = "budget_exceeded"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.budget_usd: Optional[float] = details.get("budget_usd")
        self.spent_usd: Optional[float] = details.get("spent_usd")


class VaultError(HolySheepError):
    """Base of the errors of the Vault side."""

    code = "vault"


class VaultUnreachableError(VaultError, ConnectionError):
    """Vault could not be reached and no stale key was left to serve."""

    code = "vault_unreachable"


class VaultSealedError(VaultError):
    """Vault answered that it is sealed."""

    code = "vault_sealed"


class VaultPermissionDeniedError(VaultError, PermissionError):
    """The token's policy lacks ``capability`` on ``path``."""

    code = "vault_permission_denied"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.path: Optional[str] = details.get("path")
        self.capability: Optional[str] = details.get("capability")


class VaultSecretNotFoundError(VaultError):
    """The KV secret, its version or its field does not exist."""

    code = "vault_secret_not_found"


class VaultLoginError(VaultError):
    """Logging in to Vault failed (AppRole, Kubernetes, JWT, token file)."""

    code = "vault_login_failed"


class VaultMisconfiguredError(VaultError):
    """Vault answered in a way that shows a setup problem (KV version, unknown mount)."""

    code = "vault_misconfigured"


class ConfigurationError(HolySheepError, ValueError):
    """A setting is missing or invalid; ``setting`` names it."""

    code = "configuration"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.setting: Optional[str] = details.get("setting")


class InvalidInputError(HolySheepError, ValueError):
    """An argument of a call is invalid; ``field`` names it (``messages[1].role``)."""

    code = "invalid_input"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.field: Optional[str] = details.get("field")


class RequestCancelledError(HolySheepError):
    """The call was cancelled."""

    code = "cancelled"


class ClientClosedError(HolySheepError):
    """The client was closed."""

    code = "closed"


class InternalError(HolySheepError):
    """A bug in the library (a panic caught at the boundary). Please report it."""

    code = "internal"


#: The one table from the core's error codes to classes.
_BY_CODE: Dict[str, Type[HolySheepError]] = {
    cls.code: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        BadRequestError,
        RateLimitError,
        APITimeoutError,
        APIConnectionError,
        ServerError,
        InvalidResponseError,
        BudgetExceededError,
        VaultUnreachableError,
        VaultSealedError,
        VaultPermissionDeniedError,
        VaultSecretNotFoundError,
        VaultLoginError,
        VaultMisconfiguredError,
        ConfigurationError,
        InvalidInputError,
        RequestCancelledError,
        ClientClosedError,
        InternalError,
    )
}


def _from_native(code: str, message: str, details: Dict[str, Any]) -> HolySheepError:
    """Called by the native module to build the exception of a core error."""
    cls = _BY_CODE.get(code, HolySheepError)
    exc = cls(message, **details)
    if cls is HolySheepError:
        # A code newer than this table: keep it visible rather than pretend it is "internal".
        exc.code = code
    return exc
