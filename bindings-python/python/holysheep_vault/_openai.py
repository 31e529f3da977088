"""A key provider for the official ``openai`` SDK, which accepts a callable as ``api_key`` and
calls it before each request::

    hs = holysheep_vault.Client.from_env()
    oa = openai.OpenAI(api_key=holysheep_vault.openai_key_provider(hs), base_url=hs.base_url)

    ahs = holysheep_vault.AsyncClient.from_env()
    aoa = openai.AsyncOpenAI(api_key=holysheep_vault.openai_key_provider(ahs),
                             base_url=ahs.base_url)

Each call gets the key from the client's cache, which Vault refreshes ahead of expiry, so a
long-lived SDK client follows rotations without being rebuilt. ``openai`` itself is not
imported here.
"""

from __future__ import annotations

from ._client import AsyncClient, Client

# `typing` only for the type checker (see _errors.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Awaitable, Callable, Union, overload
else:

    def overload(func):
        return func


__all__ = ["openai_key_provider"]


@overload
def openai_key_provider(client: Client) -> Callable[[], str]: ...


@overload
def openai_key_provider(client: AsyncClient) -> Callable[[], Awaitable[str]]: ...


def openai_key_provider(
    client: Union[Client, AsyncClient],
) -> Union[Callable[[], str], Callable[[], Awaitable[str]]]:
    """A callable for ``openai.OpenAI(api_key=...)`` (given a :class:`Client`) or an async one
    for ``openai.AsyncOpenAI(api_key=...)`` (given an :class:`AsyncClient`)."""
    if isinstance(client, AsyncClient):
        aclient = client

        async def async_provider() -> str:
            return await aclient.api_key()

        return async_provider
    if isinstance(client, Client):
        sclient = client

        def provider() -> str:
            return sclient.api_key()

        return provider
    raise TypeError(
        f"argument 'client': expected Client or AsyncClient, not {type(client).__name__!r}"
    )
