"""Baseline (a): the integration teams hand-write today with ``requests`` + ``hvac``.

Written the way a typical service writes it (and the way the README's "hand-written class"
reads): AppRole login and one KV v2 read when the process starts, the key kept in memory, a
``requests.Session`` for keep-alive, the key read again once after a 401. Nothing here is
slowed down on purpose, and nothing is tuned beyond what such a team does: the only setting
beyond the defaults is the connection pool sized to the worker threads, which is what urllib3's
"Connection pool is full, discarding connection" warning tells everyone to do at 64 threads.
"""

from __future__ import annotations

import json
import threading

import hvac
import requests
from requests.adapters import HTTPAdapter


class VaultKeyManager:
    """Logs in to Vault with AppRole and reads the HolySheep key from KV v2."""

    def __init__(self, vault_addr, role_id, secret_id, mount="holysheep"):
        self.mount = mount
        self.client = hvac.Client(url=vault_addr)
        self.client.auth.approle.login(role_id=role_id, secret_id=secret_id)
        self._lock = threading.Lock()
        self._keys = {}

    def get_holysheep_key(self, secret_path="production/api_key", refresh=False):
        with self._lock:
            if refresh or secret_path not in self._keys:
                secret = self.client.secrets.kv.v2.read_secret_version(
                    path=secret_path, mount_point=self.mount, raise_on_deleted_version=True
                )
                self._keys[secret_path] = secret["data"]["data"]["api_key"]
            return self._keys[secret_path]


class HolySheepAIClient:
    """Calls the OpenAI-compatible HolySheep API with the key from Vault."""

    def __init__(
        self, key_manager, base_url="https://api.holysheep.ai/v1", pool_size=10, timeout=30
    ):
        self.key_manager = key_manager
        self.api_key = key_manager.get_holysheep_key()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def _post(self, payload, stream=False):
        return self.session.post(
            f"{self.base_url}/chat/completions",
            json=payload,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout,
            stream=stream,
        )

    def _send(self, payload, stream=False):
        resp = self._post(payload, stream)
        if resp.status_code == 401:
            # The key was rotated: read it again once and retry.
            resp.close()
            self.api_key = self.key_manager.get_holysheep_key(refresh=True)
            resp = self._post(payload, stream)
        resp.raise_for_status()
        return resp

    def chat_completions(self, model, messages, **kwargs):
        return self._send({"model": model, "messages": messages, **kwargs}).json()

    def chat_completions_stream(self, model, messages, **kwargs):
        """Yields the chunks of a streamed reply (server-sent events)."""
        payload = {"model": model, "messages": messages, "stream": True, **kwargs}
        with self._send(payload, stream=True) as resp:
            for line in resp.iter_lines():
                if not line.startswith(b"data: "):
                    continue
                data = line[6:]
                if data == b"[DONE]":
                    break
                yield json.loads(data)
