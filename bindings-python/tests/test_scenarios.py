"""Runs the shared scenario suite (tests/scenarios/*.json) through the Python API.

The contract is tests/scenarios/README.md: each scenario gets a fresh test-server scope and a
fresh client; one pytest test per scenario, named ``<file stem>/<scenario name>``, run through
both ``Client`` and ``AsyncClient``. Scenarios that need a capability this runtime lacks are
skipped and say so.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import holysheep_vault as hv

SCENARIOS = Path(__file__).resolve().parents[2] / "tests" / "scenarios"
#: What this runtime can do: it reads files and runs background refresh and renewal.
CAPABILITIES = {"fs", "background"}


def load() -> List[Tuple[str, Dict[str, Any]]]:
    out = []
    for path in sorted(SCENARIOS.glob("*.json")):
        for scenario in json.loads(path.read_text())["scenarios"]:
            out.append((f"{path.stem}/{scenario['name']}", scenario))
    return out


ALL = load()


def test_the_suite_is_there() -> None:
    # A missing or moved folder must fail, not pass as "no scenarios".
    assert len(ALL) >= 20, f"found only {len(ALL)} scenarios in {SCENARIOS}"


# ---------------------------------------------------------------------------------------------
# Setup


class Prepared:
    def __init__(self, rig: Any, scenario: Dict[str, Any]) -> None:
        setup = scenario.get("setup", {})
        self.rig = rig
        self.scope = rig.unique(scenario["name"])
        kind = setup.get("secret", "scenario")
        if kind == "scenario":
            self.secret_path = f"scenarios/{self.scope}/api_key"
            key = rig.random_key()
            rig.write_secret(self.secret_path, {"api_key": key})
        elif kind in ("production", "agent_file"):
            self.secret_path, key = rig["RIG_PROD_PATH"], rig["RIG_PROD_KEY"]
        elif kind == "namespace":
            self.secret_path, key = rig["RIG_PROD_PATH"], rig["RIG_NS_KEY"]
        elif kind == "missing":
            self.secret_path, key = f"scenarios/{self.scope}/absent", rig.random_key()
        else:
            raise AssertionError(f"unknown setup.secret {kind}")
        rig.control(
            "PUT",
            f"/_control/scopes/{self.scope}",
            {"faults": setup.get("faults", []), "keys": [key]},
        )

        options: Dict[str, Any] = {
            "base_url": f"{rig['RIG_API_BASE']}/s/{self.scope}/v1",
            "vault_addr": rig["VAULT_ADDR"],
            "mount": rig["RIG_KV_MOUNT"],
            "secret_path": self.secret_path,
        }
        auth = setup.get("auth", "token")
        if auth == "token":
            options["vault_token"] = rig["RIG_TOKEN_PROD"]
        elif auth == "denied":
            options["vault_token"] = rig["RIG_TOKEN_DENIED"]
        elif auth == "approle":
            options.update(role_id=rig["RIG_ROLE_ID"], secret_id=rig["RIG_SECRET_ID"])
        elif auth in ("jwt", "kubernetes"):
            prefix = "RIG_JWT" if auth == "jwt" else "RIG_K8S"
            options.update(
                auth_method=auth,
                auth_mount=rig[f"{prefix}_MOUNT"],
                role=rig[f"{prefix}_ROLE"],
                jwt_path=rig["RIG_JWT_FILE" if auth == "jwt" else "RIG_K8S_JWT_FILE"],
            )
        elif auth == "token_file":
            options["token_file"] = rig["RIG_AGENT_TOKEN_FILE"]
        elif auth == "none":
            options.update(auth_method="none", vault_addr=rig["RIG_AGENT_PROXY_ADDR"])
        elif auth == "namespace_approle":
            options.update(
                vault_namespace=rig["RIG_NAMESPACE"],
                role_id=rig["RIG_NS_ROLE_ID"],
                secret_id=rig["RIG_NS_SECRET_ID"],
            )
        elif auth == "namespace_token":
            options.update(vault_namespace=rig["RIG_NAMESPACE"], vault_token=rig["RIG_NS_TOKEN"])
        else:
            raise AssertionError(f"unknown setup.auth {auth}")
        if kind == "agent_file":
            options.update(key_source="file", key_file=rig["RIG_AGENT_KEY_FILE"])
        options.update(setup.get("client", {}))
        self.options = options

    def run_action(self, step: Dict[str, Any]) -> None:
        url = f"/_control/scopes/{self.scope}"
        action = step["action"]
        if action == "rotate_key":
            key = self.rig.random_key()
            self.rig.write_secret(self.secret_path, {"api_key": key})
            self.rig.control("PATCH", url, {"keys": [key]})
        elif action == "revoke_server_key":
            self.rig.control("PATCH", url, {"keys": [self.rig.random_key("sk-none-")]})
        elif action == "add_faults":
            self.rig.control("PATCH", url, {"faults": step["faults"]})
        elif action == "sleep":
            time.sleep(step.get("ms", 0) / 1000)
        else:
            raise AssertionError(f"unknown action {action}")

    def finish(self, stats: Dict[str, Any], expect: Dict[str, Any]) -> None:
        report = self.rig.control("GET", f"/_control/scopes/{self.scope}")
        self.rig.control("DELETE", f"/_control/scopes/{self.scope}")
        actual = {
            "upstream_attempts": report["attempts"],
            "vault_reads": stats["vault"]["vault_reads"],
            "invalidations": stats["vault"]["invalidations"],
            "stats_requests": stats["requests"],
            "key_version": stats["vault"]["key_version"],
        }
        for name, value in actual.items():
            if name in expect:
                assert value == expect[name], (
                    f"{name}: expected {expect[name]}, got {value}; stats {stats}"
                )


# ---------------------------------------------------------------------------------------------
# Outcomes and checks


class Outcome:
    """A successful call reduced to what expectations look at."""

    def __init__(self, reply: Dict[str, Any], content: str, chunks: int) -> None:
        self.json, self.content, self.chunks = reply, content, chunks


def from_reply(reply: hv.ChatCompletion) -> Outcome:
    # Attribute and key access must agree: check both on every reply of the suite.
    message = reply["choices"][0]["message"]
    assert reply.choices[0].message == message
    return Outcome(reply, message.get("content") or "", 1)


class StreamAssembler:
    def __init__(self) -> None:
        self.content, self.chunks = "", 0
        self.finish: Optional[str] = None
        self.usage: Optional[Dict[str, Any]] = None
        self.tool_name: Optional[str] = None
        self.tool_args = ""

    def push(self, chunk: hv.ChatCompletionChunk) -> None:
        assert isinstance(chunk, dict)
        self.chunks += 1
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if not chunk.get("choices"):
            return
        choice = chunk["choices"][0]
        delta = choice.get("delta") or {}
        self.content += delta.get("content") or ""
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        for call in (delta.get("tool_calls") or [])[:1]:
            fn = call.get("function") or {}
            self.tool_name = fn.get("name") or self.tool_name
            self.tool_args += fn.get("arguments") or ""

    def outcome(self) -> Outcome:
        message: Dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_name:
            message["tool_calls"] = [
                {
                    "type": "function",
                    "function": {"name": self.tool_name, "arguments": self.tool_args},
                }
            ]
        reply = {
            "choices": [{"message": message, "finish_reason": self.finish}],
            "usage": self.usage,
        }
        return Outcome(reply, self.content, self.chunks)


def check(expect: Dict[str, Any], outcome: Any, elapsed_ms: float) -> None:
    if "min_elapsed_ms" in expect:
        assert elapsed_ms >= expect["min_elapsed_ms"], f"took {elapsed_ms:.0f}ms"
    code = expect.get("error")
    if isinstance(outcome, BaseException):
        if code is None:
            raise AssertionError(f"expected success, got {outcome!r}") from outcome
        check_error(expect, outcome, code)
        return
    assert code is None, f"expected error {code}, the call succeeded"
    choice = outcome.json["choices"][0] if outcome.json.get("choices") else {}
    if "content_contains" in expect:
        assert expect["content_contains"] in outcome.content, outcome.content
    if "finish_reason" in expect:
        assert choice.get("finish_reason") == expect["finish_reason"], choice
    if "tool_call" in expect:
        fn = choice["message"]["tool_calls"][0]["function"]
        assert fn["name"] == expect["tool_call"], fn
        if expect.get("tool_arguments_json"):
            json.loads(fn["arguments"])
    if "total_tokens_min" in expect:
        assert (outcome.json.get("usage") or {}).get("total_tokens", 0) >= expect[
            "total_tokens_min"
        ]
    if expect.get("usage"):
        assert isinstance(outcome.json.get("usage"), dict), "no usage arrived"
    if "field" in expect:
        node: Any = outcome.json
        for part in expect["field"]:
            assert isinstance(node, dict) and part in node, f"field {expect['field']} missing"
            node = node[part]
    if "min_chunks" in expect:
        assert outcome.chunks >= expect["min_chunks"], outcome.chunks
    if "model_ids" in expect:
        listed = [m["id"] for m in outcome.json["data"]]
        for model in expect["model_ids"]:
            assert model in listed, listed


def check_error(expect: Dict[str, Any], err: BaseException, code: str) -> None:
    assert isinstance(err, hv.HolySheepError), f"not a HolySheepError: {err!r}"
    assert err.code == code, f"expected error {code}, got {err.code}: {err}"
    # The class is the one the table gives for the code, whichever path raised it.
    assert type(err).code == code
    if "status" in expect:
        assert getattr(err, "status_code", None) == expect["status"], repr(err)
    if "retry_after_ms" in expect:
        assert isinstance(err, hv.RateLimitError)
        assert err.retry_after is not None
        assert round(err.retry_after * 1000) == expect["retry_after_ms"]
    if "message_contains" in expect:
        assert expect["message_contains"] in str(err), str(err)


# ---------------------------------------------------------------------------------------------
# The two runners


def run_sync(p: Prepared, scenario: Dict[str, Any]) -> Dict[str, Any]:
    with hv.Client(**p.options) as client:
        for i, step in enumerate(scenario["steps"]):
            for round_ in range(step.get("repeat", 1)):
                if "action" in step:
                    p.run_action(step)
                    continue
                started = time.monotonic()
                outcome: Any
                try:
                    outcome = call_sync(client, step)
                except hv.HolySheepError as e:
                    outcome = e
                elapsed = (time.monotonic() - started) * 1000
                try:
                    check(step.get("expect", {}), outcome, elapsed)
                except AssertionError as e:
                    raise AssertionError(f"step {i} (round {round_}): {e}") from None
        return client.stats()


def call_sync(client: hv.Client, step: Dict[str, Any]) -> Outcome:
    opts = step.get("options", {})
    if step["call"] == "models":
        return Outcome(client.models(**opts), "", 0)
    req = dict(step["request"])
    model, messages = req.pop("model", None), req.pop("messages", None)
    if messages is None:
        # The scenario checks the core's own validation: send an empty list, which it rejects
        # naming `messages` (a missing argument would be Python's TypeError instead).
        messages = []
    if step["call"] == "chat":
        return from_reply(client.chat_completions(model, messages, **opts, **req))
    assembler = StreamAssembler()
    with client.chat_completions(model, messages, stream=True, **opts, **req) as stream:
        for chunk in stream:
            assembler.push(chunk)
    return assembler.outcome()


async def run_async(p: Prepared, scenario: Dict[str, Any]) -> Dict[str, Any]:
    async with hv.AsyncClient(**p.options) as client:
        for i, step in enumerate(scenario["steps"]):
            for round_ in range(step.get("repeat", 1)):
                if "action" in step:
                    await asyncio.to_thread(p.run_action, step)
                    continue
                started = time.monotonic()
                outcome: Any
                try:
                    outcome = await call_async(client, step)
                except hv.HolySheepError as e:
                    outcome = e
                elapsed = (time.monotonic() - started) * 1000
                try:
                    check(step.get("expect", {}), outcome, elapsed)
                except AssertionError as e:
                    raise AssertionError(f"step {i} (round {round_}): {e}") from None
        return client.stats()


async def call_async(client: hv.AsyncClient, step: Dict[str, Any]) -> Outcome:
    opts = step.get("options", {})
    if step["call"] == "models":
        return Outcome(await client.models(**opts), "", 0)
    req = dict(step["request"])
    model, messages = req.pop("model", None), req.pop("messages", None) or []
    if step["call"] == "chat":
        return from_reply(await client.chat_completions(model, messages, **opts, **req))
    assembler = StreamAssembler()
    async with await client.chat_completions(model, messages, stream=True, **opts, **req) as stream:
        async for chunk in stream:
            assembler.push(chunk)
    return assembler.outcome()


def params() -> List[Any]:
    out = []
    for name, scenario in ALL:
        missing = set(scenario.get("needs", [])) - CAPABILITIES
        for mode in ("sync", "async"):
            marks = (
                [pytest.mark.skip(reason=f"not applicable: needs {sorted(missing)}")]
                if missing
                else []
            )
            out.append(pytest.param(scenario, mode, id=f"{name}[{mode}]", marks=marks))
    return out


@pytest.mark.parametrize(("scenario", "mode"), params())
def test_scenario(rig: Any, scenario: Dict[str, Any], mode: str) -> None:
    p = Prepared(rig, scenario)
    if mode == "sync":
        stats = run_sync(p, scenario)
    else:
        stats = asyncio.run(run_async(p, scenario))
    p.finish(stats, scenario.get("expect", {}))
