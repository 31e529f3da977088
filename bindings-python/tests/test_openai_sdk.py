"""The official `openai` SDK as a real client of the test server, with its key from Vault."""

from __future__ import annotations

import asyncio
import time
from typing import Any, List

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

import holysheep_vault as hv

HELLO: List[ChatCompletionMessageParam] = [{"role": "user", "content": "hello from openai"}]


def test_sync_sdk_uses_the_provider(scope: Any) -> None:
    hs = hv.Client(**scope.options(key_ttl="300ms"))
    oa = openai.OpenAI(api_key=hv.openai_key_provider(hs), base_url=hs.base_url, max_retries=0)
    reply = oa.chat.completions.create(model="deepseek-v3.2", messages=HELLO)
    assert "hello from openai" in (reply.choices[0].message.content or "")
    # After a rotation and the key's TTL, the same SDK client sends the new key.
    scope.rotate()
    time.sleep(0.5)
    reply = oa.chat.completions.create(model="deepseek-v3.2", messages=HELLO)
    assert reply.choices[0].message.content
    assert hs.stats()["vault"]["key_version"] == 2
    hs.close()


def test_sdk_errors_are_the_sdks_own(scope: Any) -> None:
    hs = hv.Client(**scope.options())
    oa = openai.OpenAI(api_key=hv.openai_key_provider(hs), base_url=hs.base_url, max_retries=0)
    scope.patch(keys=["sk-revoked"])
    with pytest.raises(openai.AuthenticationError):
        oa.chat.completions.create(model="gpt-4.1", messages=HELLO)
    hs.close()


def test_async_sdk_uses_the_async_provider(scope: Any) -> None:
    async def main() -> None:
        hs = hv.AsyncClient(**scope.options())
        provider = hv.openai_key_provider(hs)
        assert asyncio.iscoroutinefunction(provider)
        oa = openai.AsyncOpenAI(api_key=provider, base_url=hs.base_url, max_retries=0)
        replies = await asyncio.gather(
            *(oa.chat.completions.create(model="gpt-4.1", messages=HELLO) for _ in range(3))
        )
        assert all("hello from openai" in (r.choices[0].message.content or "") for r in replies)
        stream = await oa.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert "hello from openai" in text
        await oa.close()
        await hs.close()

    asyncio.run(main())


def test_provider_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="argument 'client'"):
        hv.openai_key_provider("sk-a-string")  # type: ignore[call-overload]
