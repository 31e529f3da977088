"""Checked by mypy (strict) in the test command, not run: the annotations users see.

Each assignment states the type a call must have; a stub or overload that drifts fails mypy.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional

import holysheep_vault as hv


def sync_usage(client: hv.Client) -> None:
    reply: hv.ChatCompletion = client.chat_completions(
        "gpt-4.1", [{"role": "user", "content": "hi"}], temperature=0.2
    )
    content: Any = reply.choices[0].message.content  # attribute access is Any, like json
    request_id: Optional[str] = reply.request_id
    cost: Optional[float] = reply.cost_usd
    stream: hv.Stream = client.chat_completions("gpt-4.1", [], stream=True)
    for chunk in stream:
        typed_chunk: hv.ChatCompletionChunk = chunk
        chunk_cost: Optional[float] = typed_chunk.cost_usd
    models: hv.ModelList = client.models(timeout=5)
    stats: Dict[str, Any] = client.stats()
    key: str = client.api_key()
    provider: Callable[[], str] = hv.openai_key_provider(client)
    with hv.Client.from_env(max_retries=1) as scoped:
        same: hv.Client = scoped
    del content, request_id, cost, chunk_cost, models, stats, key, provider, same


async def async_usage(client: hv.AsyncClient) -> None:
    reply: hv.ChatCompletion = await client.chat_completions("gpt-4.1", [])
    stream: hv.AsyncStream = await client.chat_completions("gpt-4.1", [], stream=True)
    async for chunk in stream:
        typed_chunk: hv.ChatCompletionChunk = chunk
        del typed_chunk
    provider: Callable[[], Awaitable[str]] = hv.openai_key_provider(client)
    async with hv.AsyncClient.from_env() as scoped:
        same: hv.AsyncClient = scoped
    del reply, provider, same


def dropin_usage() -> None:
    manager = hv.VaultKeyManager("http://127.0.0.1:8200")
    key: str = manager.get_holysheep_key()
    client = hv.HolySheepAIClient(key)
    result: Dict[str, Any] = client.chat_completions(model="deepseek-v3.2", messages=[])
    del result


def errors_usage(err: hv.HolySheepError) -> None:
    code: str = err.code
    if isinstance(err, hv.RateLimitError):
        wait: Optional[float] = err.retry_after
        status: Optional[int] = err.status_code
        del wait, status
    del code
