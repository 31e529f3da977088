"""Exceptions: the code table, the builtin bases, argument errors and panics."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any, Dict

import pytest

import holysheep_vault as hv
from holysheep_vault import _errors, _native


def test_one_class_per_core_error_code() -> None:
    codes = list(_native.ERROR_CODES)
    assert len(codes) == len(set(codes)) >= 21
    assert set(_errors._BY_CODE) == set(codes), "the table and the core disagree"
    classes = [_errors._BY_CODE[c] for c in codes]
    assert len(set(classes)) == len(classes), "two codes share a class"
    for code, cls in zip(codes, classes):
        assert cls.code == code
        assert issubclass(cls, hv.HolySheepError)
        assert getattr(hv, cls.__name__) is cls, f"{cls.__name__} is not exported"


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (hv.AuthenticationError, (hv.APIError, PermissionError)),
        (hv.PermissionDeniedError, (hv.APIError, PermissionError)),
        (hv.RateLimitError, (hv.APIError,)),
        (hv.APIConnectionError, (ConnectionError,)),
        (hv.APITimeoutError, (TimeoutError, hv.APIConnectionError, ConnectionError)),
        (hv.VaultPermissionDeniedError, (hv.VaultError, PermissionError)),
        (hv.VaultUnreachableError, (hv.VaultError, ConnectionError)),
        (hv.ConfigurationError, (ValueError,)),
        (hv.InvalidInputError, (ValueError,)),
    ],
)
def test_builtin_bases(cls: type, bases: Any) -> None:
    for base in bases:
        assert issubclass(cls, base), f"{cls.__name__} is not a {base.__name__}"
    # Instances behave: one message, no OSError (errno, strerror) reading of it.
    e = cls("boom", status_code=500, request_id="req-1")
    assert str(e) == "boom" and e.message == "boom"
    assert e.request_id == "req-1"


def test_native_errors_carry_their_data() -> None:
    exc = _errors._from_native(
        "rate_limited",
        "rate limited: HTTP 429",
        {"status_code": 429, "request_id": "r", "retry_after": 1.5, "body": {"error": {}}},
    )
    assert isinstance(exc, hv.RateLimitError)
    assert (exc.status_code, exc.request_id, exc.retry_after, exc.body) == (
        429,
        "r",
        1.5,
        {"error": {}},
    )
    # A code newer than the table still surfaces, with its code.
    other = _errors._from_native("brand_new", "x", {})
    assert type(other) is hv.HolySheepError and other.code == "brand_new"


def test_exceptions_pickle_with_their_details() -> None:
    e = hv.RateLimitError("slow down", status_code=429, retry_after=2.0)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is hv.RateLimitError
    assert (str(back), back.status_code, back.retry_after) == ("slow down", 429, 2.0)


def test_configuration_error_names_the_setting() -> None:
    with pytest.raises(hv.ConfigurationError) as info:
        hv.Client(vault_addr="http://127.0.0.1:1", vault_token="t", max_retires=2)
    assert "max_retires" in str(info.value)
    with pytest.raises(ValueError) as info2:  # a ConfigurationError is a ValueError
        hv.Client(vault_addr="http://127.0.0.1:1")
    assert "VAULT_TOKEN" in str(info2.value)
    assert isinstance(info2.value, hv.ConfigurationError) and info2.value.setting


@pytest.fixture
def offline_client() -> Any:
    # Argument checks happen before any I/O: nothing listens on these ports.
    with hv.Client(
        vault_addr="http://127.0.0.1:9", vault_token="t", base_url="http://127.0.0.1:9/v1"
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.chat_completions(3, [{"role": "user", "content": "x"}]), "model"),
        (lambda c: c.chat_completions(None, [{"role": "user", "content": "x"}]), "model"),
        (lambda c: c.chat_completions("m", "hello"), "messages"),
        (lambda c: c.chat_completions("m", {"role": "user"}), "messages"),
        (
            lambda c: c.chat_completions("m", [{"role": "user", "content": object()}]),
            "messages[0].content",
        ),
        (lambda c: c.chat_completions("m", [{1: "x"}]), "messages[0]"),
        (lambda c: c.chat_completions("m", [], timeout="soon"), "timeout"),
        (lambda c: c.chat_completions("m", [], max_retries=1.5), "max_retries"),
        (lambda c: c.chat_completions("m", [], stream="yes"), "stream"),
        (lambda c: c.chat_completions("m", [], temperature={1, 2}), "temperature"),
        (lambda c: c.models(timeout=[1]), "timeout"),
    ],
)
def test_wrong_argument_type_is_a_type_error_naming_it(
    offline_client: Any, call: Any, name: str
) -> None:
    with pytest.raises(TypeError) as info:
        call(offline_client)
    assert f"argument '{name}'" in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.chat_completions("m", [], timeout=float("nan")), "timeout"),
        (lambda c: c.chat_completions("m", [], timeout=float("inf")), "timeout"),
        (lambda c: c.models(timeout=float("-inf")), "timeout"),
        (lambda c: c.chat_completions("m", [], max_retries=2**70), "max_retries"),
        (lambda c: c.models(max_retries=-(2**70)), "max_retries"),
    ],
)
def test_out_of_range_numbers_are_value_errors_naming_them(
    offline_client: Any, call: Any, name: str
) -> None:
    with pytest.raises(ValueError) as info:
        call(offline_client)
    assert f"argument '{name}'" in str(info.value), str(info.value)


def test_any_sequence_of_mappings_is_accepted_as_messages(offline_client: Any) -> None:
    import collections
    import types

    # Converted, then refused by the core for the one bad value: proof the shapes were read.
    messages = collections.deque([types.MappingProxyType({"role": "robot", "content": "x"})])
    with pytest.raises(hv.InvalidInputError) as info:
        offline_client.chat_completions("m", messages)
    assert info.value.field == "messages[0].role"


def test_a_value_that_changes_its_dict_while_read_is_not_a_crash() -> None:
    prices: Dict[str, Any] = {}

    class Sneaky:
        def __fspath__(self) -> str:
            prices["added_meanwhile"] = 1  # runs while `prices` is being converted
            return "not-a-price"

    prices["m"] = Sneaky()
    with pytest.raises(hv.HolySheepError) as info:
        hv.Client(vault_addr="http://127.0.0.1:1", vault_token="t", prices=prices)
    assert not isinstance(info.value, hv.InternalError), repr(info.value)
    assert isinstance(info.value, hv.ConfigurationError)


def test_invalid_values_are_invalid_input_naming_the_field(offline_client: Any) -> None:
    with pytest.raises(hv.InvalidInputError) as info:
        offline_client.chat_completions("m", [{"role": "robot", "content": "x"}])
    assert info.value.field and "messages[0]" in info.value.field
    assert isinstance(info.value, ValueError)


def test_closed_client_raises_client_closed(offline_client: Any) -> None:
    offline_client.close()
    assert offline_client.closed
    with pytest.raises(hv.ClientClosedError):
        offline_client.chat_completions("m", [{"role": "user", "content": "x"}])


def test_panic_becomes_internal_error() -> None:
    with pytest.raises(hv.InternalError) as info:
        _native._panic_for_tests()
    assert "panic requested" in str(info.value)
    # An Exception, so `except Exception` catches it (pyo3's PanicException would not be).
    assert isinstance(info.value, Exception)


def test_panic_in_a_future_becomes_internal_error() -> None:
    async def main() -> None:
        with pytest.raises(hv.InternalError) as info:
            await _native._panic_async_for_tests()
        assert "panic requested" in str(info.value)

    asyncio.run(main())


def test_process_survives_many_panics() -> None:
    for _ in range(20):
        with pytest.raises(hv.InternalError):
            _native._panic_for_tests()
