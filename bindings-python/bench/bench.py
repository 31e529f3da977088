"""Benchmarks of the Python package; prints figures, asserts nothing.

    bindings-python/bench/run.sh            # release build, rig, this script

1. ``import holysheep_vault`` time: a fresh interpreter per sample, minus an empty one.
2. Per-call overhead over the raw HTTP round trip: the same request to the same test-server
   scope, once with ``http.client`` on a keep-alive connection (bearer key, ``json`` both
   ways), once through ``Client.chat_completions`` (key from the cache), once through
   ``AsyncClient``. The difference is what the library adds: conversion, the GIL hand-off, the
   runtime, retries bookkeeping, cost accounting.
3. Calls from several threads at once, to show the GIL is not held while waiting.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from conftest import Rig, Scope, load_env_file  # noqa: E402

N_CALLS = int(os.environ.get("BENCH_CALLS", "2000"))
N_IMPORTS = int(os.environ.get("BENCH_IMPORTS", "20"))
BODY: Dict[str, Any] = {
    "model": "deepseek-v3.2",
    "messages": [{"role": "user", "content": "benchmark"}],
}


def import_time() -> None:
    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    run("import holysheep_vault")  # warm the page cache
    empty = [run("pass") for _ in range(N_IMPORTS)]
    full = [run("import holysheep_vault") for _ in range(N_IMPORTS)]
    delta_ms = (statistics.median(full) - statistics.median(empty)) * 1000
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import holysheep_vault"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    own = [line for line in out.splitlines() if line.rstrip().endswith("| holysheep_vault")]
    cumulative_us = int(own[-1].split("|")[1]) if own else -1
    heavy = sorted(
        (int(line.split("|")[1]), line.split("|")[2].strip())
        for line in out.splitlines()
        if line.startswith("import time:") and line.split("|")[1].strip().isdigit()
    )[-6:]
    print("import holysheep_vault")
    print(f"  wall clock, median of {N_IMPORTS} runs minus an empty interpreter: {delta_ms:.1f} ms")
    print(f"  -X importtime cumulative (holysheep_vault): {cumulative_us / 1000:.1f} ms")
    print(
        "  largest cumulative imports: "
        + ", ".join(f"{n} {us / 1000:.1f} ms" for us, n in reversed(heavy))
    )


def timed(label: str, n: int, call: Callable[[], Any]) -> float:
    for _ in range(min(200, n // 5)):  # warm up: connections, caches, allocator
        call()
    samples: List[float] = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    median_us = statistics.median(samples) * 1e6
    p90_us = sorted(samples)[int(n * 0.9)] * 1e6
    print(f"  {label:<46} median {median_us:7.1f} us   p90 {p90_us:7.1f} us")
    return median_us


def per_call(rig: Rig) -> None:
    import holysheep_vault as hv

    scope = Scope(rig, "bench")
    url = urllib.parse.urlsplit(scope.base_url)
    path = url.path + "/chat/completions"
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    headers = {"Authorization": f"Bearer {scope.key}", "Content-Type": "application/json"}

    def raw() -> Any:
        conn.request("POST", path, json.dumps(BODY), headers)
        resp = conn.getresponse()
        data = resp.read()
        assert resp.status == 200, data
        return json.loads(data)

    client = hv.Client(**scope.options())

    def library() -> Any:
        return client.chat_completions(BODY["model"], BODY["messages"])

    print(f"per call, {N_CALLS} sequential calls to one test-server scope")
    raw_us = timed("raw http.client keep-alive + json", N_CALLS, raw)
    lib_us = timed("holysheep_vault.Client.chat_completions", N_CALLS, library)

    async def async_bench() -> float:
        aclient = hv.AsyncClient(**scope.options())
        await aclient.api_key()
        samples: List[float] = []
        for i in range(N_CALLS + 200):
            started = time.perf_counter()
            await aclient.chat_completions(BODY["model"], BODY["messages"])
            if i >= 200:
                samples.append(time.perf_counter() - started)
        await aclient.close()
        us = statistics.median(samples) * 1e6
        p90 = sorted(samples)[int(len(samples) * 0.9)] * 1e6
        label = "holysheep_vault.AsyncClient (asyncio.run loop)"
        print(f"  {label:<46} median {us:7.1f} us   p90 {p90:7.1f} us")
        return us

    async_us = asyncio.run(async_bench())
    sync_extra, async_extra = lib_us - raw_us, async_us - raw_us
    print(f"  overhead over raw: sync {sync_extra:+.1f} us/call, async {async_extra:+.1f} us/call")

    threads = 4
    per_thread = max(50, N_CALLS // 4)
    done = [0]

    def worker() -> None:
        for _ in range(per_thread):
            client.chat_completions(BODY["model"], BODY["messages"])
        done[0] += per_thread

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    rate, sequential = done[0] / elapsed, 1e6 / lib_us
    print(f"  {threads} threads x {per_thread}: {rate:.0f} calls/s ({sequential:.0f}/s sequential)")
    client.close()
    scope.delete()


def main() -> None:
    import holysheep_vault

    native = holysheep_vault._native.__file__
    print(
        f"holysheep_vault {holysheep_vault.__version__} ({native}), Python {sys.version.split()[0]}"
    )
    import_time()
    env_file = os.environ.get("HOLYSHEEP_RIG_ENV")
    if not env_file:
        print("per-call figures need the rig: run through tests/rig/with-rig.sh (see run.sh)")
        return
    per_call(Rig(load_env_file(env_file)))


if __name__ == "__main__":
    main()
