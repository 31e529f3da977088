"""The shape of the API: replies, streams, metadata, stats, context managers, from_env."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import holysheep_vault as hv

HELLO = [{"role": "user", "content": "hello there"}]


def test_reply_is_the_api_json_with_attribute_access(scope: Any) -> None:
    with hv.Client(**scope.options()) as client:
        reply = client.chat_completions("deepseek-v3.2", HELLO, temperature=0.2, max_tokens=50)
    assert isinstance(reply, dict) and isinstance(reply, hv.ChatCompletion)
    content = reply["choices"][0]["message"]["content"]
    assert "hello there" in content
    assert reply.choices[0].message.content == content
    assert reply.usage.total_tokens == reply["usage"]["total_tokens"] > 0
    # Metadata is an attribute, not a key: the dict is exactly the reply.
    assert "meta" not in reply and "request_id" not in reply
    assert reply.meta.attempts == 1 and reply.meta.key_version == 1
    assert reply.request_id and reply.request_id == reply.meta["request_id"]
    assert reply.cost_usd is not None and reply.cost_usd > 0
    assert json.loads(json.dumps(reply)) == reply
    with pytest.raises(AttributeError):
        _ = reply.no_such_field
    with pytest.raises(AttributeError):
        reply.model = "x"  # type: ignore[attr-defined]  # set keys instead


def test_stream_yields_chunks_and_closes(scope: Any) -> None:
    with hv.Client(**scope.options()) as client:
        with client.chat_completions(
            "gpt-4.1", [{"role": "user", "content": "one two three four"}], stream=True
        ) as stream:
            assert isinstance(stream, hv.Stream)
            assert stream.request_id and stream.meta["attempts"] == 1
            chunks = list(stream)
        assert all(isinstance(c, hv.ChatCompletionChunk) for c in chunks)
        # Without include_usage every chunk has choices, as OpenAI-style loops expect ...
        assert chunks and all(c.choices for c in chunks)
        text = "".join(c.choices[0].delta.get("content") or "" for c in chunks)
        assert "one two three four" in text
        # ... and the call is costed all the same (the core asks the server for usage).
        assert client.stats()["cost_usd"] > 0
        assert list(stream) == []  # ended
        asked = client.chat_completions(
            "gpt-4.1", HELLO, stream=True, stream_options={"include_usage": True}
        )
        usage = [c for c in asked if c.get("usage")]
        assert usage and usage[-1].cost_usd is not None
        # Closing a stream halfway is fine, and a second close too.
        stream2 = client.chat_completions("gpt-4.1", HELLO, stream=True)
        next(stream2)
        stream2.close()
        stream2.close()
        assert list(stream2) == []


def test_models_stats_and_repr(scope: Any) -> None:
    client = hv.Client(**scope.options())
    models = client.models()
    assert isinstance(models, hv.ModelList)
    assert "deepseek-v3.2" in [m.id for m in models.data]
    assert models.meta.request_id
    client.chat_completions("gpt-4.1", HELLO)
    stats = client.stats()
    assert type(stats) is dict
    assert stats["requests"] == 2 and stats["vault"]["vault_reads"] == 1
    assert stats["models"]["gpt-4.1"]["requests"] == 1
    assert scope.base_url in repr(client) and client.base_url == scope.base_url
    client.close()
    assert client.closed


def test_per_call_options(make_scope: Any) -> None:
    scope = make_scope("per-call", faults=[{"status": 500}, {"status": 500}])
    with hv.Client(**scope.options(backoff_initial="10ms", max_retries=5)) as client:
        with pytest.raises(hv.ServerError) as info:
            client.chat_completions("gpt-4.1", HELLO, max_retries=0)
        assert info.value.status_code == 500 and info.value.retryable
        assert scope.attempts == 1


def test_timeout_is_a_timeout_and_a_connection_error(make_scope: Any) -> None:
    scope = make_scope("timeout", faults=[{"delay_ms": 3000}])
    with hv.Client(**scope.options()) as client:
        with pytest.raises(ConnectionError) as info:  # how hand-written code catches timeouts
            client.chat_completions("gpt-4.1", HELLO, timeout=0.3, max_retries=0)
    err = info.value
    assert isinstance(err, hv.APITimeoutError) and isinstance(err, TimeoutError)
    assert err.phase == "total" and err.timeout == pytest.approx(0.3)


def test_authentication_error_is_a_permission_error(scope: Any) -> None:
    scope.patch(keys=["sk-nobody-has-this"])
    with hv.Client(**scope.options()) as client:
        with pytest.raises(PermissionError) as info:
            client.chat_completions("gpt-4.1", HELLO)
    err = info.value
    assert isinstance(err, hv.AuthenticationError)
    assert err.status_code == 401 and err.key_version == 1
    assert err.key_location and scope.secret_path in err.key_location


def test_rate_limit_carries_retry_after(make_scope: Any) -> None:
    scope = make_scope("ratelimit", faults=[{"status": 429, "headers": {"retry-after": "90"}}])
    with hv.Client(**scope.options()) as client:
        with pytest.raises(hv.RateLimitError) as info:
            client.chat_completions("gpt-4.1", HELLO)
    assert info.value.retry_after == 90.0 and info.value.request_id


def test_vault_errors(rig: Any, scope: Any) -> None:
    denied = scope.options(vault_token=rig["RIG_TOKEN_DENIED"])
    with hv.Client(**denied) as client, pytest.raises(PermissionError) as info:
        client.chat_completions("gpt-4.1", HELLO)
    assert isinstance(info.value, hv.VaultPermissionDeniedError)
    assert info.value.path and "holysheep/data/scenarios/" in info.value.path
    down = scope.options(vault_addr="http://127.0.0.1:9", vault_timeout=0.5)
    with hv.Client(**down) as client, pytest.raises(ConnectionError) as info2:
        client.chat_completions("gpt-4.1", HELLO)
    assert isinstance(info2.value, hv.VaultUnreachableError)
    assert scope.attempts == 0


def test_from_env_with_overrides(rig: Any, scope: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("VAULT_ADDR", rig["VAULT_ADDR"])
    monkeypatch.setenv("VAULT_ROLE_ID", rig["RIG_ROLE_ID"])
    monkeypatch.setenv("VAULT_SECRET_ID", rig["RIG_SECRET_ID"])
    monkeypatch.setenv("HOLYSHEEP_SECRET_PATH", scope.secret_path)
    monkeypatch.setenv("HOLYSHEEP_BASE_URL", "http://127.0.0.1:9/v1")  # overridden below
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    with hv.Client.from_env(base_url=scope.base_url) as client:
        assert client.base_url == scope.base_url
        reply = client.chat_completions("gpt-4.1", HELLO)
        assert "hello there" in reply.choices[0].message.content
        stats = client.stats()
        assert stats["vault"]["auth_method"] == "approle" and stats["vault"]["logins"] == 1


def test_async_client(scope: Any) -> None:
    async def main() -> None:
        async with hv.AsyncClient(**scope.options()) as client:
            replies = await asyncio.gather(
                *(
                    client.chat_completions("gpt-4.1", [{"role": "user", "content": f"n{i}"}])
                    for i in range(5)
                )
            )
            assert [r.choices[0].message.content for r in replies] == [
                r["choices"][0]["message"]["content"] for r in replies
            ]
            assert all(f"n{i}" in r.choices[0].message.content for i, r in enumerate(replies))
            stream = await client.chat_completions("gpt-4.1", HELLO, stream=True)
            assert isinstance(stream, hv.AsyncStream)
            text = ""
            async with stream:
                async for chunk in stream:
                    if chunk.choices:
                        text += chunk.choices[0].delta.get("content") or ""
            assert "hello there" in text
            models = await client.models()
            assert models.data
            assert (await client.api_key()) == scope.key
            assert client.stats()["requests"] == 7
        assert client.closed

    asyncio.run(main())


def test_async_errors_are_typed(make_scope: Any) -> None:
    scope = make_scope("async-errors", faults=[{"status": 404}])

    async def main() -> None:
        async with hv.AsyncClient(**scope.options()) as client:
            with pytest.raises(hv.NotFoundError) as info:
                await client.chat_completions("no-such-model", HELLO)
            assert info.value.status_code == 404
            with pytest.raises(TypeError, match="argument 'model'"):
                await client.chat_completions(7, HELLO)  # type: ignore[call-overload]

    asyncio.run(main())
