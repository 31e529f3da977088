"""holysheep-vault: call the OpenAI-compatible HolySheep API with a key kept in HashiCorp
Vault or OpenBao (login, KV v2 read, cache, renewal, retries, typed errors).

    import holysheep_vault

    with holysheep_vault.Client.from_env() as client:      # VAULT_ADDR, VAULT_ROLE_ID, ...
        reply = client.chat_completions(
            model="deepseek-v3.2", messages=[{"role": "user", "content": "Hello"}]
        )
        print(reply.choices[0].message.content, reply.usage.total_tokens, reply.meta.cost_usd)

The library logs to the ``holysheep_vault`` logger (never a key or token).
"""

from . import _native
from ._client import AsyncClient, AsyncStream, Client, Stream
from ._compat import HolySheepAIClient, VaultKey, VaultKeyManager
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    ClientClosedError,
    ConfigurationError,
    HolySheepError,
    InternalError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestCancelledError,
    ServerError,
    VaultError,
    VaultLoginError,
    VaultMisconfiguredError,
    VaultPermissionDeniedError,
    VaultSealedError,
    VaultSecretNotFoundError,
    VaultUnreachableError,
)
from ._openai import openai_key_provider
from ._types import AttrDict, ChatCompletion, ChatCompletionChunk, ModelList

__version__: str = _native.__version__


def reset_log_cache() -> None:
    """Makes the library see new levels of its child loggers (``holysheep_vault.keys``, ...)
    set after the first call; changes to ``holysheep_vault`` itself are seen without it."""
    _native.reset_log_cache()


__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStream",
    "AttrDict",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "HolySheepAIClient",
    "HolySheepError",
    "InternalError",
    "InvalidInputError",
    "InvalidResponseError",
    "ModelList",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestCancelledError",
    "ServerError",
    "Stream",
    "VaultError",
    "VaultKey",
    "VaultKeyManager",
    "VaultLoginError",
    "VaultMisconfiguredError",
    "VaultPermissionDeniedError",
    "VaultSealedError",
    "VaultSecretNotFoundError",
    "VaultUnreachableError",
    "__version__",
    "openai_key_provider",
    "reset_log_cache",
]
