"""Shared fixtures: the rig (tests/rig, named by HOLYSHEEP_RIG_ENV) and test-server scopes.

Every test talks to the real rig: OpenBao with KV v2 and the auth methods, a Vault Agent, and
the OpenAI-compatible test server. Run through ``tests/rig/with-rig.sh`` (or ``make test``).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, Optional

import pytest


class Rig:
    """The env file's values plus the few HTTP calls tests make to set up scenarios."""

    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env

    def __getitem__(self, name: str) -> str:
        try:
            return self.env[name]
        except KeyError:
            raise KeyError(f"{name} is not in the rig env file") from None

    @staticmethod
    def unique(name: str) -> str:
        # Scope names: 1-128 of [A-Za-z0-9._~-].
        safe = "".join(c if c.isalnum() or c in "._~-" else "-" for c in name)[:100]
        return f"py-{safe}-{secrets.token_hex(4)}"

    @staticmethod
    def random_key(prefix: str = "sk-scn-") -> str:
        return prefix + secrets.token_urlsafe(18).replace("_", "x").replace("-", "y")

    def _http(
        self, method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {url}: HTTP {e.code} {e.read()[:500]!r}") from None
        return json.loads(raw) if raw else None

    def write_secret(self, path: str, data: Dict[str, Any]) -> None:
        """Writes a KV v2 secret under the rig's mount with the root token."""
        self._http(
            "POST",
            f"{self['VAULT_ADDR']}/v1/{self['RIG_KV_MOUNT']}/data/{path}",
            {"data": data},
            {"X-Vault-Token": self["RIG_ROOT_TOKEN"]},
        )

    def control(self, method: str, path: str, body: Any = None) -> Any:
        return self._http(method, f"{self['RIG_API_BASE']}{path}", body)


class Scope:
    """A test-server scope with its own key in Vault (``scenarios/<scope>/api_key``)."""

    def __init__(
        self,
        rig: Rig,
        name: str,
        faults: Optional[List[Dict[str, Any]]] = None,
        key: Optional[str] = None,
    ) -> None:
        self.rig = rig
        self.name = rig.unique(name)
        self.secret_path = f"{rig['RIG_SCENARIOS_PREFIX']}/{self.name}/api_key"
        self.key = key or rig.random_key()
        rig.write_secret(self.secret_path, {"api_key": self.key})
        rig.control(
            "PUT", f"/_control/scopes/{self.name}", {"faults": faults or [], "keys": [self.key]}
        )

    @property
    def base_url(self) -> str:
        return f"{self.rig['RIG_API_BASE']}/s/{self.name}/v1"

    def options(self, **extra: Any) -> Dict[str, Any]:
        """Client options reading this scope's key with the production token."""
        return {
            "base_url": self.base_url,
            "vault_addr": self.rig["VAULT_ADDR"],
            "vault_token": self.rig["RIG_TOKEN_PROD"],
            "mount": self.rig["RIG_KV_MOUNT"],
            "secret_path": self.secret_path,
            **extra,
        }

    def rotate(self) -> str:
        """A new key version in Vault, and the only key the scope accepts."""
        self.key = self.rig.random_key()
        self.rig.write_secret(self.secret_path, {"api_key": self.key})
        self.patch(keys=[self.key])
        return self.key

    def patch(self, **body: Any) -> None:
        self.rig.control("PATCH", f"/_control/scopes/{self.name}", body)

    def report(self) -> Dict[str, Any]:
        report: Dict[str, Any] = self.rig.control("GET", f"/_control/scopes/{self.name}")
        return report

    @property
    def attempts(self) -> int:
        return int(self.report()["attempts"])

    def delete(self) -> None:
        try:
            self.rig.control("DELETE", f"/_control/scopes/{self.name}")
        except (AssertionError, OSError):
            pass


def load_env_file(path: str) -> Dict[str, str]:
    env: Dict[str, str] = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not os.environ.get("HOLYSHEEP_RIG_ENV"):
        terminalreporter.write_line(
            "HOLYSHEEP_RIG_ENV is not set: every test that needs the rig errored; "
            "run through tests/rig/with-rig.sh",
            red=True,
        )


@pytest.fixture(scope="session")
def rig() -> Rig:
    path = os.environ.get("HOLYSHEEP_RIG_ENV")
    if not path:
        pytest.fail(
            "HOLYSHEEP_RIG_ENV is not set: these tests need the rig; run them through "
            "tests/rig/with-rig.sh (e.g. `tests/rig/with-rig.sh .venv/bin/python -m pytest "
            "bindings-python/tests`) or `make test`",
            pytrace=False,
        )
    if not os.path.exists(path):
        pytest.fail(f"HOLYSHEEP_RIG_ENV={path} does not exist (is the rig up?)", pytrace=False)
    return Rig(load_env_file(path))


@pytest.fixture
def make_scope(rig: Rig) -> Iterator[Any]:
    """``make_scope(name, faults=[...])`` -> a fresh :class:`Scope`, deleted afterwards."""
    made: List[Scope] = []

    def make(
        name: str = "test",
        faults: Optional[List[Dict[str, Any]]] = None,
        key: Optional[str] = None,
    ) -> Scope:
        scope = Scope(rig, name, faults, key)
        made.append(scope)
        return scope

    yield make
    for scope in made:
        scope.delete()


@pytest.fixture
def scope(make_scope: Any, request: pytest.FixtureRequest) -> Scope:
    s: Scope = make_scope(request.node.name)
    return s
