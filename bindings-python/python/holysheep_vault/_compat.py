"""Drop-in replacements for the classes teams hand-write today (hvac + requests glue).

Same class names, constructor and method shapes, so existing code changes only its import::

    from holysheep_vault import VaultKeyManager, HolySheepAIClient

    vault_manager = VaultKeyManager(os.environ["VAULT_ADDR"])
    api_key = vault_manager.get_holysheep_key()          # "production/api_key"
    client = HolySheepAIClient(api_key)
    result = client.chat_completions(model="deepseek-v3.2", messages=[...], temperature=0.7)
    print(result["choices"][0]["message"]["content"], result["usage"]["total_tokens"])

Underneath: the core's login (AppRole, token, agent token file, ...), key cache with refresh,
token renewal, retries with backoff and typed errors. A 401 is an ``AuthenticationError``
(a ``PermissionError``, as before) and a timeout an ``APITimeoutError`` (a
``ConnectionError``, as before).
"""

from __future__ import annotations

from ._client import Client

# `typing` only for the type checker (see _errors.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Sequence

    from ._client import Message
    from ._types import ChatCompletion

__all__ = ["HolySheepAIClient", "VaultKey", "VaultKeyManager"]


class VaultKey(str):
    """The key ``VaultKeyManager.get_holysheep_key`` returns: a ``str`` (use it as before) that
    also remembers where it came from, so ``HolySheepAIClient(key)`` keeps following Vault
    (rotation, refresh) instead of holding a copy. Its ``repr`` never shows the key.

    It refers to its manager rather than copying the manager's settings, so no Vault credential
    travels with the key; pickled, it is a plain ``str``."""

    # (str subclasses cannot have __slots__.)
    _manager: Optional[VaultKeyManager] = None
    _secret_path: Optional[str] = None

    def __repr__(self) -> str:
        manager, path = self._manager, self._secret_path
        if manager is None or path is None:
            return "<VaultKey (value hidden)>"
        return f"<VaultKey from {manager._mount}/{path} (value hidden)>"

    def __reduce__(self) -> Any:
        return (str, (str(self),))


class VaultKeyManager:
    """Reads the HolySheep key from Vault, as the hand-written ``VaultKeyManager`` did.

    Login as the environment says, with the Vault CLI's variable names (``VAULT_TOKEN``, or
    ``VAULT_ROLE_ID`` and ``VAULT_SECRET_ID`` for AppRole, ``HOLYSHEEP_AUTH_METHOD``, ...),
    else with the Vault Agent token file at ``token_path``. Keyword ``options`` are further
    core options (``mount``, ``auth_method``, ``key_ttl``, ...).
    """

    def __init__(
        self, vault_addr: str, token_path: str = "/tmp/vault_token", **options: Any
    ) -> None:
        # A `secret_path` given here is the default of get_holysheep_key().
        self._default_path: str = options.pop("secret_path", None) or "production/api_key"
        self._options: Dict[str, Any] = {
            "vault_addr": vault_addr,
            "token_file": token_path,
            **options,
        }
        import threading  # here, not at the top: only the drop-in needs it

        self._clients: Dict[str, Client] = {}
        self._lock = threading.Lock()
        # Check the settings now, as the original failed at construction without credentials.
        self._client(self._default_path)

    @property
    def _mount(self) -> str:
        return str(self._options.get("mount") or "holysheep")

    def _client(self, secret_path: str) -> Client:
        with self._lock:
            client = self._clients.get(secret_path)
            if client is None:
                # A path the core rejects (`holysheep/data/...`) raises ConfigurationError
                # naming the path to use.
                client = Client.from_env(**self._options, secret_path=secret_path)
                self._clients[secret_path] = client
            return client

    def get_holysheep_key(self, secret_path: Optional[str] = None) -> str:
        """The key at ``secret_path`` (KV v2 path under the ``holysheep`` mount, without
        ``data/``; default ``production/api_key``). Cached; read again from Vault ahead of
        expiry."""
        if secret_path is None:
            secret_path = self._default_path
        if not isinstance(secret_path, str):
            raise TypeError(
                f"argument 'secret_path': expected str, not {type(secret_path).__name__!r}"
            )
        key = VaultKey(self._client(secret_path).api_key())
        key._manager, key._secret_path = self, secret_path
        return key

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> VaultKeyManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<VaultKeyManager vault_addr={self._options.get('vault_addr')!r}>"


class HolySheepAIClient:
    """Calls the HolySheep API, as the hand-written ``HolySheepAIClient`` did.

    Given a key from ``VaultKeyManager.get_holysheep_key``, the client reads it from Vault
    itself (so a rotation is picked up). Given any other string, that key is used as is.
    ``base_url`` and keyword ``options`` (``max_retries``, ``timeout``, ...) are core options.
    """

    BASE_URL = "https://api.holysheep.ai/v1"

    def __init__(self, api_key: str, *, base_url: Optional[str] = None, **options: Any) -> None:
        if not isinstance(api_key, str):
            raise TypeError(f"argument 'api_key': expected str, not {type(api_key).__name__!r}")
        options = {"base_url": base_url or self.BASE_URL, **options}
        if isinstance(api_key, VaultKey) and api_key._manager is not None:
            source = {**api_key._manager._options, "secret_path": api_key._secret_path}
            self._client = Client.from_env(**{**source, **options})
        else:
            # The core holds the key in its zeroizing secret type; nothing is cached or
            # refreshed, and a 401 is final, as with the hand-written class.
            self._client = Client(api_key=api_key, **options)

    def chat_completions(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        **kwargs: Any,
    ) -> ChatCompletion:
        """``POST /chat/completions``; ``kwargs`` are request fields (``temperature``,
        ``max_tokens``, ...); ``timeout`` and ``max_retries`` apply to this call. No
        streaming, as in the original: use ``Client`` for that."""
        if kwargs.pop("stream", False):
            raise TypeError(
                "HolySheepAIClient.chat_completions does not stream (nor did the class it "
                "replaces); use holysheep_vault.Client(...).chat_completions(..., stream=True)"
            )
        return self._client._native.chat_completions(model, messages, kwargs, timeout, max_retries)

    def stats(self) -> Dict[str, Any]:
        return self._client.stats()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HolySheepAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HolySheepAIClient base_url={self._client.base_url!r}>"
