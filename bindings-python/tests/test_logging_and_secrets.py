"""The core's logs reach Python logging, and no key or credential shows anywhere: logs, reprs,
exception messages, bodies and tracebacks."""

from __future__ import annotations

import asyncio
import logging
import secrets
import traceback
from typing import Any, List

import pytest

import holysheep_vault as hv

HELLO = [{"role": "user", "content": "hello"}]


def canary(tag: str) -> str:
    return f"sk-scn-CANARY{tag}{secrets.token_hex(8)}"


def test_core_logs_reach_the_holysheep_vault_logger(scope: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="holysheep_vault")
    with hv.Client(**scope.options()) as client:
        client.chat_completions("gpt-4.1", HELLO)
        scope.rotate()  # the next call gets a 401, re-reads the key and says so
        client.chat_completions("gpt-4.1", HELLO)
    names = {r.name for r in caplog.records}
    assert any(n.startswith("holysheep_vault.") for n in names), names
    rotation = [r for r in caplog.records if "rejected the key" in r.getMessage()]
    assert rotation, [r.getMessage() for r in caplog.records]
    assert rotation[0].name.startswith("holysheep_vault.") and rotation[0].levelno >= logging.INFO


def test_log_levels_are_honoured(scope: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="holysheep_vault")
    with hv.Client(**scope.options()) as client:
        scope.rotate()
        client.chat_completions("gpt-4.1", HELLO)
    assert not [
        r
        for r in caplog.records
        if r.name.startswith("holysheep_vault") and r.levelno < logging.WARNING
    ]


def test_no_secret_in_logs_reprs_errors_or_tracebacks(
    rig: Any, make_scope: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, from every logger
    scope = make_scope("canary")
    first = canary("A")
    scope.key = first
    rig.write_secret(scope.secret_path, {"api_key": first})
    scope.patch(keys=[first])
    seen: List[str] = []

    def look(*objects: Any) -> None:
        for o in objects:
            seen.append(repr(o))
            seen.append(str(o))

    def look_at_error(e: BaseException) -> None:
        look(e, getattr(e, "body", None), getattr(e, "details", None))
        seen.append("".join(traceback.format_exception(type(e), e, e.__traceback__)))

    # AppRole, so the secret_id and the login token are in play too.
    options = scope.options(role_id=rig["RIG_ROLE_ID"], secret_id=rig["RIG_SECRET_ID"])
    options.pop("vault_token")
    with hv.Client(**options) as client:
        look(client, client.stats())
        reply = client.chat_completions("gpt-4.1", HELLO)
        look(reply, reply.meta)
        with client.chat_completions("gpt-4.1", HELLO, stream=True) as stream:
            look(stream, *list(stream))
        second = scope.rotate()
        look(client.chat_completions("gpt-4.1", HELLO))
        scope.patch(keys=["sk-none-of-these"])  # the key in hand is now rejected: a 401 body
        with pytest.raises(hv.AuthenticationError) as info:
            client.chat_completions("gpt-4.1", HELLO)
        look_at_error(info.value)
        scope.patch(keys=[second], faults=[{"status": 400}])
        with pytest.raises(hv.BadRequestError) as info2:
            client.chat_completions("gpt-4.1", HELLO)
        look_at_error(info2.value)
        look(client.stats())

    denied = scope.options(vault_token=rig["RIG_TOKEN_DENIED"])
    with hv.Client(**denied) as client, pytest.raises(hv.VaultPermissionDeniedError) as info3:
        client.chat_completions("gpt-4.1", HELLO)
    look_at_error(info3.value)

    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], vault_token=rig["RIG_TOKEN_PROD"])
    key = manager.get_holysheep_key()
    seen.append(repr(key))  # str(key) is the key, by design: it is what was asked for
    look(manager, hv.HolySheepAIClient(key, base_url=scope.base_url))
    look(hv.HolySheepAIClient(rig["RIG_PROD_KEY"], base_url=scope.base_url))

    async def use_async() -> None:
        async with hv.AsyncClient(**scope.options()) as aclient:
            look(aclient, await aclient.chat_completions("gpt-4.1", HELLO))

    asyncio.run(use_async())

    secrets_in_play = {
        "first key": first,
        "rotated key": second,
        "production key": rig["RIG_PROD_KEY"],
        "secret_id": rig["RIG_SECRET_ID"],
        "production token": rig["RIG_TOKEN_PROD"],
        "denied token": rig["RIG_TOKEN_DENIED"],
    }
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert caplog.records, "nothing was logged: the canary check would prove nothing"
    shown = "\n".join(seen)
    for what, value in secrets_in_play.items():
        assert value not in logged, f"the {what} appears in the logs"
        assert value not in shown, f"the {what} appears in a repr, message or traceback"
    # The key itself is still usable where it was asked for explicitly.
    assert key == rig["RIG_PROD_KEY"]
