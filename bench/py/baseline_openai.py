"""Baseline (b): the official ``openai`` SDK, with the key read from Vault with ``hvac``.

As teams write it: AppRole login and one KV v2 read at start-up, the key handed to
``openai.OpenAI`` / ``openai.AsyncOpenAI`` (their defaults: retries, timeouts, connection
pool), and on an ``AuthenticationError`` the key read again and the client rebuilt once.
"""

from __future__ import annotations

import threading

import hvac
import openai


def read_api_key(
    vault_addr, role_id, secret_id, mount="holysheep", secret_path="production/api_key"
):
    vault = hvac.Client(url=vault_addr)
    vault.auth.approle.login(role_id=role_id, secret_id=secret_id)
    secret = vault.secrets.kv.v2.read_secret_version(
        path=secret_path, mount_point=mount, raise_on_deleted_version=True
    )
    return secret["data"]["data"]["api_key"]


class VaultOpenAI:
    """``openai.OpenAI`` with its key from Vault, rebuilt once when the key is rejected."""

    def __init__(self, vault_addr, role_id, secret_id, base_url):
        self._vault = (vault_addr, role_id, secret_id)
        self._base_url = base_url
        self._lock = threading.Lock()
        self.client = openai.OpenAI(api_key=read_api_key(*self._vault), base_url=base_url)

    def chat_completions(self, **kwargs):
        client = self.client
        try:
            return client.chat.completions.create(**kwargs)
        except openai.AuthenticationError:
            with self._lock:
                if self.client is client:
                    self.client = openai.OpenAI(
                        api_key=read_api_key(*self._vault), base_url=self._base_url
                    )
            return self.client.chat.completions.create(**kwargs)


class AsyncVaultOpenAI:
    """``openai.AsyncOpenAI`` with its key from Vault (read at start-up, as above)."""

    def __init__(self, vault_addr, role_id, secret_id, base_url):
        self._vault = (vault_addr, role_id, secret_id)
        self._base_url = base_url
        self.client = openai.AsyncOpenAI(api_key=read_api_key(*self._vault), base_url=base_url)

    async def chat_completions(self, **kwargs):
        client = self.client
        try:
            return await client.chat.completions.create(**kwargs)
        except openai.AuthenticationError:
            if self.client is client:
                self.client = openai.AsyncOpenAI(
                    api_key=read_api_key(*self._vault), base_url=self._base_url
                )
            return await self.client.chat.completions.create(**kwargs)
