"""The binding inside a Python process: the GIL, threads, fork, cancellation, signals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from typing import Any, List

import pytest

import holysheep_vault as hv

HELLO = [{"role": "user", "content": "hello"}]


def test_other_threads_run_while_a_call_waits(make_scope: Any) -> None:
    scope = make_scope("gil", faults=[{"delay_ms": 1500}])
    client = hv.Client(**scope.options())
    client.api_key()  # Vault read out of the way: the wait below is the API's
    stop = threading.Event()
    count = [0]

    def counter() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        # The counter's pace while this thread merely sleeps (GIL released) ...
        before = count[0]
        time.sleep(0.3)
        free_rate = (count[0] - before) / 0.3
        # ... and while this thread waits in a call.
        before = count[0]
        started = time.monotonic()
        client.chat_completions("gpt-4.1", HELLO)
        elapsed = time.monotonic() - started
        rate = (count[0] - before) / elapsed
    finally:
        stop.set()
        thread.join()
    assert elapsed >= 1.4
    # Holding the GIL for 1.5 s would leave the counter nearly still.
    assert rate > 0.25 * free_rate, (
        f"counter rate {rate:.0f}/s during the call, {free_rate:.0f}/s free"
    )


def test_calls_in_threads_run_in_parallel(make_scope: Any) -> None:
    scope = make_scope("parallel", faults=[{"delay_ms": 1000}] * 4)
    client = hv.Client(**scope.options())
    client.api_key()
    results: List[Any] = []

    def call() -> None:
        results.append(client.chat_completions("gpt-4.1", HELLO))

    threads = [threading.Thread(target=call) for _ in range(4)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(results) == 4
    assert elapsed < 3.0, f"4 calls of 1 s each took {elapsed:.1f}s: they did not overlap"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# 3.12+ warns about fork() in a process with threads (ours has the runtime's): the point here.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_fork_child_can_call(scope: Any) -> None:
    client = hv.Client(**scope.options())
    assert "hello" in client.chat_completions("gpt-4.1", HELLO).choices[0].message.content
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        code = 1
        try:
            inherited = client.chat_completions(
                "gpt-4.1", [{"role": "user", "content": "from the child"}]
            )
            with hv.Client(**scope.options()) as fresh:
                fresh_reply = fresh.chat_completions(
                    "gpt-4.1", [{"role": "user", "content": "fresh client"}]
                )
            result = {
                "inherited": inherited.choices[0].message.content,
                "fresh": fresh_reply.choices[0].message.content,
                "stats": client.stats()["requests"],
            }
            code = 0
        except BaseException as e:
            result = {"error": repr(e)}
        os.write(write_fd, json.dumps(result).encode())
        os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the fork child hung (a lock or runtime thread inherited from the parent?)")
        time.sleep(0.05)
    with os.fdopen(read_fd) as f:
        result = json.loads(f.read() or "{}")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, result
    assert "from the child" in result["inherited"] and "fresh client" in result["fresh"]
    assert result["stats"] == 1  # the child's client started afresh
    # The parent's client and its connections are untouched by the child.
    assert (
        "after"
        in client.chat_completions("gpt-4.1", [{"role": "user", "content": "after"}])
        .choices[0]
        .message.content
    )
    assert client.stats()["requests"] == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_while_the_runtime_logs_leaves_a_working_child(scope: Any, tmp_path: Any) -> None:
    # The runtime's threads write debug records to a file while calls are in flight; a fork at
    # that moment must not hand the child a file lock held by a thread it does not have.
    import logging

    logger = logging.getLogger("holysheep_vault")
    handler = logging.FileHandler(str(tmp_path / "debug.log"))
    saved_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    hung = 0
    try:
        sync_client = hv.Client(**scope.options())
        async_client = hv.AsyncClient(**scope.options())

        async def main() -> None:
            nonlocal hung
            for i in range(25):
                calls = [async_client.chat_completions("gpt-4.1", HELLO) for _ in range(8)]
                tasks = [asyncio.ensure_future(c) for c in calls]
                await asyncio.sleep(0.002 * (i % 5))
                pid = os.fork()
                if pid == 0:  # the child: one logged call, then out, never back into pytest
                    signal.alarm(5)
                    try:
                        sync_client.chat_completions("gpt-4.1", HELLO)
                    finally:
                        os._exit(0)
                await asyncio.gather(*tasks)
                while True:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        break
                    await asyncio.sleep(0.02)
                hung += os.WIFSIGNALED(status)

        asyncio.run(main())
        sync_client.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        handler.close()
    assert hung == 0, f"{hung} of 25 fork children hung on a lock inherited from the parent"


def test_asyncio_cancellation_drops_the_request(make_scope: Any) -> None:
    scope = make_scope("cancel", faults=[{"delay_ms": 1500}])

    async def main() -> None:
        client = hv.AsyncClient(**scope.options())
        await client.api_key()
        task = asyncio.ensure_future(client.chat_completions("gpt-4.1", HELLO))
        await asyncio.sleep(0.3)
        assert scope.attempts == 1  # the request is on the wire
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.5
        # Were the Rust future still running, the reply would land after the delay and count.
        await asyncio.sleep(1.8)
        stats = client.stats()
        assert stats["requests"] == 0 and stats["attempts"] == 1, stats
        # The client is still fine afterwards.
        reply = await client.chat_completions("gpt-4.1", HELLO)
        assert reply.choices
        await client.close()

    asyncio.run(main())


def test_wait_for_timeout_cancels_too(make_scope: Any) -> None:
    scope = make_scope("wait-for", faults=[{"delay_ms": 1500}])

    async def main() -> None:
        async with hv.AsyncClient(**scope.options()) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.chat_completions("gpt-4.1", HELLO), 0.3)
            await asyncio.sleep(1.6)
            assert client.stats()["requests"] == 0

    asyncio.run(main())


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_ctrl_c_interrupts_a_blocking_call(make_scope: Any) -> None:
    scope = make_scope("sigint", faults=[{"delay_ms": 5000}])
    client = hv.Client(**scope.options())
    client.api_key()
    timer = threading.Timer(
        0.3, lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    )
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.chat_completions("gpt-4.1", HELLO)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 2.0


def test_async_stream_close_ends_a_waiting_read_without_blocking_the_loop(
    make_scope: Any,
) -> None:
    scope = make_scope("aclose", faults=[{"chunk_delay_ms": 5000}])

    async def main() -> None:
        async with hv.AsyncClient(**scope.options()) as client:
            stream = await client.chat_completions(
                "gpt-4.1", [{"role": "user", "content": "a b c d e f"}], stream=True
            )
            await stream.__anext__()
            reader = asyncio.ensure_future(stream.__anext__())  # waits 5 s for the next chunk
            await asyncio.sleep(0.05)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticking = asyncio.ensure_future(ticker())
            started = time.monotonic()
            await stream.close()
            # The waiting read ends as the end of the stream, long before the next chunk.
            with pytest.raises(StopAsyncIteration):
                await reader
            assert time.monotonic() - started < 2.5
            ticking.cancel()
            with pytest.raises(StopAsyncIteration):
                await stream.__anext__()

    asyncio.run(main())


def test_stream_close_from_another_thread_ends_a_waiting_read(make_scope: Any) -> None:
    scope = make_scope("close-thread", faults=[{"chunk_delay_ms": 5000}])
    with hv.Client(**scope.options()) as client:
        stream = client.chat_completions(
            "gpt-4.1", [{"role": "user", "content": "a b c d e f"}], stream=True
        )
        next(stream)
        watchdog = threading.Timer(0.2, stream.close)
        started = time.monotonic()
        watchdog.start()
        rest = list(stream)  # waits for the next chunk until the watchdog closes the stream
        watchdog.join()
        assert rest == []
        assert time.monotonic() - started < 2.5, "close() did not end the waiting read"


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_a_signal_handler_may_call_the_library_during_a_blocking_call(make_scope: Any) -> None:
    scope = make_scope("handler", faults=[{"delay_ms": 1000}, {"chunk_delay_ms": 5000}])
    client = hv.Client(**scope.options())
    expected_key = client.api_key()
    seen: List[str] = []
    stream: Any = None

    def handler(signum: int, frame: Any) -> None:
        seen.append(client.api_key())
        if stream is not None:
            stream.close()

    previous = signal.signal(signal.SIGUSR1, handler)
    kill = lambda: signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)  # noqa: E731
    try:
        timer = threading.Timer(0.3, kill)
        timer.start()
        reply = client.chat_completions("gpt-4.1", HELLO)  # the handler runs during its wait
        timer.join()
        assert reply["choices"][0]["message"]["content"].endswith("hello")
        assert seen == [expected_key]

        # A handler that closes the stream being read: the loop ends, nothing hangs.
        stream = client.chat_completions(
            "gpt-4.1", [{"role": "user", "content": "a b c d"}], stream=True
        )
        next(stream)
        timer = threading.Timer(0.3, kill)
        started = time.monotonic()
        timer.start()
        assert list(stream) == []
        timer.join()
        assert time.monotonic() - started < 2.5
        assert len(seen) == 2
    finally:
        signal.signal(signal.SIGUSR1, previous)
        client.close()
