"""One measurement of one Python client, in a process of its own (so RSS and Vault reads are
that client's alone). Driven by bench/bench.py:

    python bench/py/worker.py CONFIG.json RESULT.json

Clients: ``ours-sync`` (holysheep_vault.Client, threads), ``ours-async``
(holysheep_vault.AsyncClient, asyncio tasks), ``requests-hvac`` (baseline a, threads),
``openai-hvac`` (baseline b, openai.OpenAI, threads), ``openai-hvac-async`` (baseline b,
openai.AsyncOpenAI, asyncio tasks).

Phases:
- ``seq``: concurrency 1: non-streamed calls (latency), then streamed calls (time to the first
  chunk the caller sees, and to the end of the stream).
- ``conc``: ``concurrency`` callers (threads or tasks) for ``max_calls`` calls after
  ``warmup_calls``, capped at ``max_seconds``. Peak RSS at the end.
- ``refresh``: like ``conc`` for ``max_seconds``, recording every call's start and end on the
  monotonic clock (shared with the Vault proxy in bench.py), so the caller can pick out the
  calls in flight while the key is re-read.

Every call's latency is recorded; the percentiles are computed by bench.py, the same way for
every client and language.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MESSAGES = [{"role": "user", "content": "benchmark"}]
STREAM_MESSAGES = [{"role": "user", "content": "one two three four"}]
RSS_AT_CALLS = 2000  # peak RSS is also sampled when this many calls have completed


def proc_cpu(pid):
    """utime + stime of a process, in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuWindow:
    """CPU used by this process, the test server and the whole machine over a window."""

    def __init__(self, ts_pid):
        self.ts_pid = ts_pid

    def start(self):
        self.t0 = time.monotonic()
        self.self0 = time.process_time()
        self.ts0 = proc_cpu(self.ts_pid) if self.ts_pid else None
        self.m0 = machine_cpu()

    def stop(self):
        wall = time.monotonic() - self.t0
        ts1 = proc_cpu(self.ts_pid) if self.ts_pid else None
        m1 = machine_cpu()
        busy, total = m1[0] - self.m0[0], m1[1] - self.m0[1]
        return {
            "wall_s": wall,
            "client_cpu_s": time.process_time() - self.self0,
            "server_cpu_s": (ts1 - self.ts0) if ts1 is not None and self.ts0 is not None else None,
            "machine_busy": busy / total if total else None,
        }


# ---------------------------------------------------------------------------------------------
# Clients: each gives `call()` (sync) or `acall()` (async) for one non-streamed chat completion,
# and `stream()` / `astream()` yielding the chunks of a streamed one.


class OursSync:
    def __init__(self, cfg, base_url):
        import holysheep_vault as hv

        self.hv = hv
        self.client = hv.Client(**ours_options(cfg, base_url))
        self.client.api_key()  # log in and read the key now, like the baselines' start-up
        self.model = cfg["model"]

    def call(self):
        return self.client.chat_completions(self.model, MESSAGES, temperature=0.7)

    def stream(self):
        return self.client.chat_completions(
            self.model, STREAM_MESSAGES, stream=True, temperature=0.7
        )

    def stats(self):
        return self.client.stats()


class OursAsync:
    def __init__(self, cfg, base_url):
        import holysheep_vault as hv

        self.client = hv.AsyncClient(**ours_options(cfg, base_url))
        self.model = cfg["model"]

    async def start(self):
        await self.client.api_key()

    async def acall(self):
        return await self.client.chat_completions(self.model, MESSAGES, temperature=0.7)

    async def astream(self):
        stream = await self.client.chat_completions(
            self.model, STREAM_MESSAGES, stream=True, temperature=0.7
        )
        async for chunk in stream:
            yield chunk

    def stats(self):
        return self.client.stats()


def ours_options(cfg, base_url):
    options = {
        "vault_addr": cfg["vault_addr"],
        "auth_method": "approle",
        "role_id": cfg["role_id"],
        "secret_id": cfg["secret_id"],
        "mount": cfg["mount"],
        "secret_path": cfg["secret_path"],
        "base_url": base_url,
    }
    if cfg.get("key_ttl"):
        options["key_ttl"] = cfg["key_ttl"]
    return options


class RequestsHvac:
    def __init__(self, cfg, base_url):
        from baseline_requests import HolySheepAIClient, VaultKeyManager

        keys = VaultKeyManager(cfg["vault_addr"], cfg["role_id"], cfg["secret_id"], cfg["mount"])
        self.client = HolySheepAIClient(
            keys, base_url=base_url, pool_size=max(10, cfg.get("concurrency", 1))
        )
        self.model = cfg["model"]

    def call(self):
        return self.client.chat_completions(self.model, MESSAGES, temperature=0.7)

    def stream(self):
        return self.client.chat_completions_stream(self.model, STREAM_MESSAGES, temperature=0.7)


class OpenAIHvac:
    def __init__(self, cfg, base_url):
        from baseline_openai import VaultOpenAI

        self.client = VaultOpenAI(cfg["vault_addr"], cfg["role_id"], cfg["secret_id"], base_url)
        self.model = cfg["model"]

    def call(self):
        return self.client.chat_completions(model=self.model, messages=MESSAGES, temperature=0.7)

    def stream(self):
        return self.client.chat_completions(
            model=self.model, messages=STREAM_MESSAGES, temperature=0.7, stream=True
        )


class OpenAIHvacAsync:
    def __init__(self, cfg, base_url):
        from baseline_openai import AsyncVaultOpenAI

        self.client = AsyncVaultOpenAI(
            cfg["vault_addr"], cfg["role_id"], cfg["secret_id"], base_url
        )
        self.model = cfg["model"]

    async def start(self):
        pass

    async def acall(self):
        return await self.client.chat_completions(
            model=self.model, messages=MESSAGES, temperature=0.7
        )

    async def astream(self):
        stream = await self.client.chat_completions(
            model=self.model, messages=STREAM_MESSAGES, temperature=0.7, stream=True
        )
        async for chunk in stream:
            yield chunk


CLIENTS = {
    "ours-sync": (OursSync, False),
    "ours-async": (OursAsync, True),
    "requests-hvac": (RequestsHvac, False),
    "openai-hvac": (OpenAIHvac, False),
    "openai-hvac-async": (OpenAIHvacAsync, True),
}


def finish_reason(chunk):
    """The first choice's finish_reason of a chunk (dict, our AttrDict, or the SDK's model)."""
    choices = chunk["choices"] if isinstance(chunk, dict) else chunk.choices
    if not choices:
        return None
    first = choices[0]
    return first["finish_reason"] if isinstance(first, dict) else first.finish_reason


def maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def check_reply(reply):
    # Every client returns the parsed body (a dict or the SDK's model): make sure it is a reply.
    choices = reply["choices"] if isinstance(reply, dict) else reply.choices
    if not choices:
        raise RuntimeError("empty reply")


# ---------------------------------------------------------------------------------------------
# Drivers


def run_sync_load(call, concurrency, warmup, max_calls, max_seconds):
    """`concurrency` threads make calls until `warmup + max_calls` were started or the deadline
    (`max_seconds` after the first measured call) passed. Returns (spans, errors): the
    (start, end) of every measured call on the monotonic clock, and the errors."""
    total = warmup + max_calls
    counter = itertools.count()
    spans, errors = [], []
    started = threading.Event()
    state = {"deadline": None, "rss_at": None}
    done = itertools.count(1)

    def worker():
        started.wait()
        while True:
            i = next(counter)
            if i >= total:
                return
            if state["deadline"] is not None and time.monotonic() > state["deadline"]:
                return
            t0 = time.monotonic()
            try:
                check_reply(call())
            except Exception as e:
                errors.append(repr(e)[:200])
                continue
            t1 = time.monotonic()
            if next(done) == RSS_AT_CALLS:
                state["rss_at"] = maxrss_kb()
            if i >= warmup:
                if state["deadline"] is None:
                    state["deadline"] = t0 + max_seconds
                spans.append((t0, t1))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join()
    return spans, errors, state["rss_at"]


async def run_async_load(acall, concurrency, warmup, max_calls, max_seconds):
    total = warmup + max_calls
    counter = itertools.count()
    spans, errors = [], []
    state = {"deadline": None, "rss_at": None}
    done = itertools.count(1)

    async def worker():
        while True:
            i = next(counter)
            if i >= total:
                return
            if state["deadline"] is not None and time.monotonic() > state["deadline"]:
                return
            t0 = time.monotonic()
            try:
                check_reply(await acall())
            except Exception as e:
                errors.append(repr(e)[:200])
                continue
            t1 = time.monotonic()
            if next(done) == RSS_AT_CALLS:
                state["rss_at"] = maxrss_kb()
            if i >= warmup:
                if state["deadline"] is None:
                    state["deadline"] = t0 + max_seconds
                spans.append((t0, t1))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return spans, errors, state["rss_at"]


def stream_sync(stream_fn, n, warmup, max_seconds):
    ttfc, reply, total, errors, chunks = [], [], [], [], 0
    deadline = None
    for i in range(warmup + n):
        if deadline is not None and time.monotonic() > deadline:
            break
        t0 = time.monotonic()
        first = finished = None
        count = 0
        try:
            for chunk in stream_fn():
                if first is None:
                    first = time.monotonic()
                if finished is None and finish_reason(chunk):
                    finished = time.monotonic()
                count += 1
        except Exception as e:
            errors.append(repr(e)[:200])
            continue
        t1 = time.monotonic()
        if i >= warmup:
            if deadline is None:
                deadline = t0 + max_seconds
            ttfc.append(first - t0)
            reply.append(finished - t0)
            total.append(t1 - t0)
            chunks = count
    return ttfc, reply, total, errors, chunks


async def stream_async(astream_fn, n, warmup, max_seconds):
    ttfc, reply, total, errors, chunks = [], [], [], [], 0
    deadline = None
    for i in range(warmup + n):
        if deadline is not None and time.monotonic() > deadline:
            break
        t0 = time.monotonic()
        first = finished = None
        count = 0
        try:
            async for chunk in astream_fn():
                if first is None:
                    first = time.monotonic()
                if finished is None and finish_reason(chunk):
                    finished = time.monotonic()
                count += 1
        except Exception as e:
            errors.append(repr(e)[:200])
            continue
        t1 = time.monotonic()
        if i >= warmup:
            if deadline is None:
                deadline = t0 + max_seconds
            ttfc.append(first - t0)
            reply.append(finished - t0)
            total.append(t1 - t0)
            chunks = count
    return ttfc, reply, total, errors, chunks


def main():
    cfg_path, out_path = sys.argv[1], sys.argv[2]
    with open(cfg_path) as f:
        cfg = json.load(f)
    cls, is_async = CLIENTS[cfg["client"]]
    phase = cfg["phase"]
    cpu = CpuWindow(cfg.get("ts_pid"))
    result = {"client": cfg["client"], "phase": phase, "pid": os.getpid()}
    import_t0 = time.monotonic()
    client = cls(cfg, cfg["base_url"])
    result["setup_s"] = time.monotonic() - import_t0
    if cfg["client"].startswith("ours"):
        import holysheep_vault

        result["module_file"] = holysheep_vault.__file__

    if phase == "seq":
        conc_args = (1, cfg["warmup_calls"], cfg["max_calls"], cfg["max_seconds"])
        if is_async:

            async def seq():
                await client.start()
                cpu.start()
                spans, errs, _ = await run_async_load(client.acall, *conc_args)
                result["cpu"] = cpu.stop()
                stream_client = cls(cfg, cfg["stream_base_url"])
                await stream_client.start()
                s = await stream_async(
                    stream_client.astream,
                    cfg["stream_calls"],
                    cfg["stream_warmup"],
                    cfg["stream_max_seconds"],
                )
                return spans, errs, s

            spans, errs, s = asyncio.run(seq())
        else:
            cpu.start()
            spans, errs, _ = run_sync_load(client.call, *conc_args)
            result["cpu"] = cpu.stop()
            stream_client = cls(cfg, cfg["stream_base_url"])
            s = stream_sync(
                stream_client.stream,
                cfg["stream_calls"],
                cfg["stream_warmup"],
                cfg["stream_max_seconds"],
            )
        result.update(spans=spans, errors=errs)
        result.update(
            ttfc_s=s[0],
            stream_reply_s=s[1],
            stream_total_s=s[2],
            stream_errors=s[3],
            stream_chunks=s[4],
        )
    else:
        args = (cfg["concurrency"], cfg["warmup_calls"], cfg["max_calls"], cfg["max_seconds"])
        if is_async:

            async def conc():
                await client.start()
                cpu.start()
                out = await run_async_load(client.acall, *args)
                result["cpu"] = cpu.stop()
                return out

            spans, errs, rss_at = asyncio.run(conc())
        else:
            cpu.start()
            spans, errs, rss_at = run_sync_load(client.call, *args)
            result["cpu"] = cpu.stop()
        result.update(spans=spans, errors=errs, maxrss_at_kb=rss_at, rss_at_calls=RSS_AT_CALLS)
    result["maxrss_kb"] = maxrss_kb()
    if hasattr(client, "stats"):
        result["stats"] = client.stats()
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
