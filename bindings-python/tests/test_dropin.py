"""The drop-in classes keep the hand-written integration's names and call shapes."""

from __future__ import annotations

import os
from typing import Any

import pytest

import holysheep_vault as hv

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Tell me about Vault"},
]


@pytest.fixture
def clean_env(monkeypatch: Any) -> Any:
    # The manager reads credentials from the environment like the Vault CLI: start from none.
    for name in list(os.environ):
        if name.startswith(("VAULT_", "HOLYSHEEP_")) and name != "HOLYSHEEP_RIG_ENV":
            monkeypatch.delenv(name)
    return monkeypatch


def test_manager_with_the_agent_token_file(rig: Any, clean_env: Any) -> None:
    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], token_path=rig["RIG_AGENT_TOKEN_FILE"])
    key = manager.get_holysheep_key()  # the article's call, default path production/api_key
    assert key == rig["RIG_PROD_KEY"] and isinstance(key, str)
    assert rig["RIG_PROD_KEY"] not in repr(key)
    assert manager.get_holysheep_key("production/api_key") == key  # cached, same client
    manager.close()


def test_manager_with_approle_from_the_environment(rig: Any, clean_env: Any) -> None:
    clean_env.setenv("VAULT_ROLE_ID", rig["RIG_ROLE_ID"])
    clean_env.setenv("VAULT_SECRET_ID", rig["RIG_SECRET_ID"])
    # AppRole wins over the (missing) token file, as in the original's order.
    with hv.VaultKeyManager(rig["VAULT_ADDR"], token_path="/nonexistent/vault_token") as manager:
        assert manager.get_holysheep_key() == rig["RIG_PROD_KEY"]
        # The AppRole policy does not cover staging: Vault's refusal comes through typed.
        with pytest.raises(hv.VaultPermissionDeniedError):
            manager.get_holysheep_key("staging/api_key")


def test_manager_without_credentials_fails_naming_the_setting(rig: Any, clean_env: Any) -> None:
    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], token_path="/nonexistent/vault_token")
    with pytest.raises(hv.ConfigurationError) as info:
        manager.get_holysheep_key()
    assert "token_file" in str(info.value)


def test_kv_api_path_is_refused_with_the_fix(rig: Any, clean_env: Any) -> None:
    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], token_path=rig["RIG_AGENT_TOKEN_FILE"])
    with pytest.raises(hv.ConfigurationError) as info:
        manager.get_holysheep_key("holysheep/data/production/api_key")
    assert 'use "production/api_key"' in str(info.value)
    with pytest.raises(TypeError, match="argument 'secret_path'"):
        manager.get_holysheep_key(42)  # type: ignore[arg-type]


def test_client_from_a_vault_key_follows_rotation(rig: Any, scope: Any, clean_env: Any) -> None:
    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], vault_token=rig["RIG_TOKEN_PROD"])
    key = manager.get_holysheep_key(scope.secret_path)
    client = hv.HolySheepAIClient(key, base_url=scope.base_url)
    result = client.chat_completions(
        model="deepseek-v3.2", messages=MESSAGES, temperature=0.7, max_tokens=500
    )
    # The article's read of the result.
    assert "Tell me about Vault" in result["choices"][0]["message"]["content"]
    assert result["usage"]["total_tokens"] > 0
    scope.rotate()
    again = client.chat_completions("deepseek-v3.2", MESSAGES)
    assert again["choices"][0]["message"]["content"]
    assert client.stats()["vault"]["key_version"] == 2
    client.close()
    manager.close()


def test_client_with_a_plain_key(make_scope: Any, clean_env: Any) -> None:
    scope = make_scope("plain", key="sk-plain-0123456789abcdef")
    with hv.HolySheepAIClient("sk-plain-0123456789abcdef", base_url=scope.base_url) as client:
        assert client.chat_completions("gpt-4.1", MESSAGES)["choices"]
        assert "sk-plain" not in repr(client)
        scope.patch(keys=["sk-other"])
        with pytest.raises(PermissionError) as info:  # the article's 401 handling still works
            client.chat_completions("gpt-4.1", MESSAGES)
        assert isinstance(info.value, hv.AuthenticationError) and info.value.status_code == 401
    assert not [k for k in os.environ if k.startswith("HOLYSHEEP_PY_STATIC_KEY")], "key left behind"


def test_client_errors_keep_the_articles_exception_types(make_scope: Any, clean_env: Any) -> None:
    scope = make_scope("slow", faults=[{"delay_ms": 3000}], key="sk-plain-slow-0123456789")
    client = hv.HolySheepAIClient(
        "sk-plain-slow-0123456789", base_url=scope.base_url, max_retries=0
    )
    with pytest.raises(ConnectionError):  # a timeout was a ConnectionError there
        client.chat_completions("gpt-4.1", MESSAGES, timeout=0.3)
    client.close()


def test_default_base_url_is_holysheep(clean_env: Any) -> None:
    client = hv.HolySheepAIClient("sk-plain-default-0123456789")
    assert client._client.base_url == hv.HolySheepAIClient.BASE_URL == "https://api.holysheep.ai/v1"
    client.close()


def test_a_vault_key_carries_no_vault_credential(rig: Any, scope: Any, clean_env: Any) -> None:
    import pickle

    token = rig["RIG_TOKEN_PROD"]
    manager = hv.VaultKeyManager(rig["VAULT_ADDR"], vault_token=token)
    key = manager.get_holysheep_key(scope.secret_path)
    assert token not in repr(vars(key))
    restored = pickle.loads(pickle.dumps(key))
    assert token.encode() not in pickle.dumps(key)
    assert restored == key and type(restored) is str  # pickled as the plain key it is
    assert repr(key) == f"<VaultKey from holysheep/{scope.secret_path} (value hidden)>"
    assert repr(hv.VaultKey("sk-made-by-hand-0123456789")) == "<VaultKey (value hidden)>"
    manager.close()


def test_the_manager_takes_a_default_secret_path(rig: Any, scope: Any, clean_env: Any) -> None:
    manager = hv.VaultKeyManager(
        rig["VAULT_ADDR"], vault_token=rig["RIG_TOKEN_PROD"], secret_path=scope.secret_path
    )
    assert manager.get_holysheep_key() == scope.key
    assert manager.get_holysheep_key("production/api_key") == rig["RIG_PROD_KEY"]
    manager.close()


def test_asking_the_drop_in_client_to_stream_says_what_to_use(clean_env: Any) -> None:
    client = hv.HolySheepAIClient("sk-plain-nostream-0123456789")
    expected = r"Client\(\.\.\.\)\.chat_completions\(\.\.\., stream=True\)"
    with pytest.raises(TypeError, match=expected):
        client.chat_completions("gpt-4.1", MESSAGES, stream=True)
    client.close()
