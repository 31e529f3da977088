"""The orchestrator of bench/run.sh: measures holysheep-vault beside the integrations it
replaces, in one run, against one live rig, and writes bench/RESULTS.md.

    tests/rig/with-rig.sh .venv/bin/python bench/bench.py      (bench/run.sh does the builds)

Every client runs in a process of its own (bench/py/worker.py, bench/node/worker.js) so that
peak RSS and Vault traffic belong to that client alone. Vault traffic is counted from outside by
a counting proxy (bench/vault_proxy.py) that every client, ours and the baselines, is pointed
at. Each figure is reported raw and as the ratio ours / baseline, measured side by side in the
same run (the machine is shared: absolute figures are noisy, ratios much less so).

Knobs (environment): BENCH_ROUNDS (rounds of the concurrency-64 runs, best kept; default 2),
BENCH_SECONDS (cap of a measured load window, default 4), BENCH_CALLS (calls per
concurrency-64 run, default 10000), BENCH_IMPORTS (fresh processes per import-time figure,
default 10), BENCH_ONLY (comma list of client names to run), BENCH_PHASES (comma list of
imports, seq, conc, refresh; all by default). The last two are for debugging: a partial run
still writes RESULTS.md.
"""

from __future__ import annotations

import datetime
import gzip
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from vault_proxy import VaultProxy  # noqa: E402

PY = os.path.join(ROOT, ".venv", "bin", "python")
BUILD = os.path.join(HERE, ".build")
PY_RELEASE = os.path.join(BUILD, "py")  # the release wheel, installed with pip --target
NODE_ADDON = os.path.join(BUILD, "node", "holysheep-vault.linux-x64-gnu.node")
NODE_PKG = os.path.join(ROOT, "bindings-node")
WASM = os.path.join(ROOT, "bindings-wasm", "pkg", "holysheep_vault_wasm_bg.wasm")

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
CALLS = int(os.environ.get("BENCH_CALLS", "10000"))
IMPORTS = int(os.environ.get("BENCH_IMPORTS", "10"))
ONLY = {c for c in os.environ.get("BENCH_ONLY", "").split(",") if c}
PHASES = set(os.environ.get("BENCH_PHASES", "imports,seq,conc,refresh").split(","))
CONCURRENCY = 64
REFRESH_TTL_S = 2.0
REFRESH_SECONDS = 10.0
REFRESH_PAD_S = 0.05
# During the refresh runs every KV read is held back this long by the proxy (a Vault across a
# network rather than on loopback), so that a refresh which made callers wait would show.
REFRESH_VAULT_DELAY_S = 0.05
MODEL = "deepseek-v3.2"
STREAM_CALLS = 150

# name -> (language, label)
PY_CLIENTS = {
    "ours-sync": "holysheep_vault.Client (threads)",
    "ours-async": "holysheep_vault.AsyncClient (asyncio)",
    "requests-hvac": "requests + hvac (threads)",
    "openai-hvac": "openai.OpenAI + hvac (threads)",
    "openai-hvac-async": "openai.AsyncOpenAI + hvac (asyncio)",
}
NODE_CLIENTS = {
    "ours": "holysheep-vault (napi)",
    "axios-node-vault": "axios + node-vault",
    "openai-node-vault": "openai + node-vault",
}
OURS = {"py:ours-sync", "py:ours-async", "node:ours"}


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Rig, machine, versions


def load_env(path: str) -> dict:
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def find_testserver_pid(rig_pid: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == rig_pid and os.path.basename(exe).startswith("holysheep-testserver"):
            return int(entry)
    return None


def cmd_out(argv, **kw) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, **kw).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine_info() -> dict:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "load": load,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


def npm_version(name: str) -> str:
    try:
        with open(os.path.join(HERE, "node_modules", name, "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "?"


def versions(rig: dict, ts_bin: str) -> dict:
    def dist(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    ours_py = cmd_out(
        [PY, "-c", "import holysheep_vault as h; print(h.__version__)"],
        env={**os.environ, "PYTHONPATH": PY_RELEASE},
    )
    return {
        "python": platform.python_version(),
        "node": cmd_out(["node", "--version"]),
        "rustc": cmd_out(["rustc", "--version"]),
        "holysheep-vault (py wheel, release)": ours_py,
        "holysheep-vault (npm, release addon)": json.load(
            open(os.path.join(NODE_PKG, "package.json"))
        )["version"],
        "requests": dist("requests"),
        "urllib3": dist("urllib3"),
        "hvac": dist("hvac"),
        "openai (PyPI)": dist("openai"),
        "httpx2": dist("httpx2"),
        "axios": npm_version("axios"),
        "node-vault": npm_version("node-vault"),
        "openai (npm)": npm_version("openai"),
        "OpenBao": cmd_out([rig.get("RIG_BAO_BIN", "bao"), "version"]).splitlines()[0]
        if rig.get("RIG_BAO_BIN")
        else "?",
        "test server": os.path.relpath(ts_bin, ROOT) if ts_bin else "?",
    }


# ---------------------------------------------------------------------------------------------
# Statistics


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def spans_summary(spans):
    lat = [e - s for s, e in spans]
    if not spans:
        return {"n": 0, "rate": float("nan"), "p50": float("nan"), "p99": float("nan")}
    window = max(e for _, e in spans) - min(s for s, _ in spans)
    return {
        "n": len(spans),
        "window_s": window,
        "rate": len(spans) / window if window > 0 else float("nan"),
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": max(lat),
    }


# ---------------------------------------------------------------------------------------------
# Running workers


class Bench:
    def __init__(self, rig_env_path: str):
        self.rig = load_env(rig_env_path)
        self.api_base = self.rig["RIG_API_BASE"]
        self.ts_pid = find_testserver_pid(int(self.rig["RIG_PID"]))
        self.ts_bin = os.readlink(f"/proc/{self.ts_pid}/exe") if self.ts_pid else None
        self.proxy = VaultProxy(self.rig["VAULT_ADDR"], self.rig.get("RIG_KV_MOUNT", "holysheep"))
        self.tmp = tempfile.mkdtemp(prefix="holysheep-bench-")
        self.seq = 0
        self.scopes: dict = {}

    def close(self):
        self.proxy.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.api_base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def scope(self, name, **fault):
        """A fresh test-server scope (its own counters and request log) for one run."""
        body = {"default_fault": fault or None}
        return self.control("PUT", f"/_control/scopes/{name}", body)["base_url"]

    def base_cfg(self):
        return {
            "vault_addr": self.proxy.url,
            "role_id": self.rig["RIG_ROLE_ID"],
            "secret_id": self.rig["RIG_SECRET_ID"],
            "mount": self.rig.get("RIG_KV_MOUNT", "holysheep"),
            "secret_path": self.rig.get("RIG_PROD_PATH", "production/api_key"),
            "model": MODEL,
            "ts_pid": self.ts_pid,
            "ours_package": NODE_PKG,
        }

    def run_worker(self, lang, client, phase, timeout=120, **cfg):
        self.seq += 1
        tag = f"{self.seq:03d}-{lang}-{client}-{phase}"
        scope = re.sub(r"[^A-Za-z0-9._~-]", "-", f"bench-{tag}")
        full = {**self.base_cfg(), **cfg, "client": client, "phase": phase}
        full["base_url"] = self.scope(scope)
        if phase == "seq":
            # Streams: two words per event, 2 ms between events, so the first chunk is
            # distinguishable from the whole reply (which takes about 8 events = 16 ms).
            full["stream_base_url"] = self.scope(scope + "-stream", chunk_delay_ms=2)
        cfg_path = os.path.join(self.tmp, tag + ".json")
        out_path = os.path.join(self.tmp, tag + ".out.json")
        with open(cfg_path, "w") as f:
            json.dump(full, f)
        env = dict(os.environ)
        if lang == "py":
            argv = [PY, os.path.join(HERE, "py", "worker.py"), cfg_path, out_path]
            env["PYTHONPATH"] = PY_RELEASE
        else:
            argv = ["node", os.path.join(HERE, "node", "worker.js"), cfg_path, out_path]
            env["NAPI_RS_NATIVE_LIBRARY_PATH"] = NODE_ADDON
        mark = self.proxy.mark()
        t0 = time.monotonic()
        proc = subprocess.run(
            argv, env=env, cwd=HERE, capture_output=True, text=True, timeout=timeout
        )
        elapsed = time.monotonic() - t0
        events = self.proxy.since(mark)
        if proc.returncode != 0 or not os.path.exists(out_path):
            raise RuntimeError(f"{tag} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        with open(out_path) as f:
            result = json.load(f)
        result["vault_events"] = events
        result["vault"] = VaultProxy.count(events)
        result["process_s"] = elapsed
        result["stderr"] = proc.stderr[-2000:]
        nerr = len(result.get("errors", [])) + len(result.get("stream_errors", []))
        log(f"{tag}: {elapsed:.1f}s, {len(result.get('spans', []))} calls, {nerr} errors")
        if nerr:
            errs = (result.get("errors") or []) + (result.get("stream_errors") or [])
            log(f"  first error: {errs[0]}")
        return result

    # -----------------------------------------------------------------------------------------

    def import_times(self):
        """Median wall time of the import statement(s) in fresh processes, interleaved."""
        snippets = {
            "py:ours": [
                PY,
                "-c",
                "import time; t=time.perf_counter(); import holysheep_vault;"
                " print(time.perf_counter()-t)",
            ],
            "py:requests-hvac": [
                PY,
                "-c",
                "import time; t=time.perf_counter(); import requests,"
                " hvac; print(time.perf_counter()-t)",
            ],
            "py:openai-hvac": [
                PY,
                "-c",
                "import time; t=time.perf_counter(); import openai,"
                " hvac; print(time.perf_counter()-t)",
            ],
            "node:ours": [
                "node",
                "-e",
                "const t=process.hrtime.bigint();"
                f"require({json.dumps(NODE_PKG)});"
                "console.log(Number(process.hrtime.bigint()-t)/1e9)",
            ],
            "node:axios-node-vault": [
                "node",
                "-e",
                "const t=process.hrtime.bigint();"
                "require('axios');require('node-vault');"
                "console.log(Number(process.hrtime.bigint()-t)/1e9)",
            ],
            "node:openai-node-vault": [
                "node",
                "-e",
                "const t=process.hrtime.bigint();"
                "require('openai');require('node-vault');"
                "console.log(Number(process.hrtime.bigint()-t)/1e9)",
            ],
        }
        env = dict(os.environ, PYTHONPATH=PY_RELEASE, NAPI_RS_NATIVE_LIBRARY_PATH=NODE_ADDON)
        samples = {k: [] for k in snippets}
        for argv in snippets.values():  # warm the page cache
            subprocess.run(argv, env=env, cwd=HERE, capture_output=True, check=True)
        for _ in range(IMPORTS):
            for k, argv in snippets.items():
                out = subprocess.run(
                    argv, env=env, cwd=HERE, capture_output=True, text=True, check=True
                ).stdout
                samples[k].append(float(out.strip().splitlines()[-1]))
        return {k: statistics.median(v) for k, v in samples.items()}

    def wasm_size(self):
        if not os.path.exists(WASM):
            return None
        data = open(WASM, "rb").read()
        return {
            "raw": len(data),
            "gzip": len(gzip.compress(data, 9)),
            "built": datetime.datetime.fromtimestamp(os.path.getmtime(WASM)).strftime(
                "%Y-%m-%d %H:%M"
            ),
        }


def want(key):
    return not ONLY or key in ONLY or key.split(":", 1)[1] in ONLY


def main():
    rig_env = os.environ.get("HOLYSHEEP_RIG_ENV")
    if not rig_env:
        sys.exit("bench.py needs a rig: run it through bench/run.sh (or tests/rig/with-rig.sh)")
    machine = machine_info()
    started = time.monotonic()
    b = Bench(rig_env)
    try:
        if not b.ts_pid:
            log("WARNING: test server process not found; its CPU share is not measured")
        vers = versions(b.rig, b.ts_bin)
        log(f"machine: {machine}")
        clients = [("py", c) for c in PY_CLIENTS] + [("node", c) for c in NODE_CLIENTS]
        clients = [(lang, c) for lang, c in clients if want(f"{lang}:{c}")]

        imports, seq, conc, refresh = {}, {}, {}, {}
        if "imports" in PHASES:
            log("import / require times")
            imports = b.import_times()

        log("concurrency 1 + streaming")
        for lang, c in clients if "seq" in PHASES else []:
            seq[f"{lang}:{c}"] = b.run_worker(
                lang,
                c,
                "seq",
                warmup_calls=100,
                max_calls=3000,
                max_seconds=2.5,
                stream_calls=STREAM_CALLS,
                stream_warmup=10,
                stream_max_seconds=3,
            )

        log(f"concurrency {CONCURRENCY}: {ROUNDS} round(s), best calls/s kept")
        for r in range(ROUNDS if "conc" in PHASES else 0):
            for lang, c in clients:
                res = b.run_worker(
                    lang,
                    c,
                    "conc",
                    concurrency=CONCURRENCY,
                    warmup_calls=500,
                    max_calls=CALLS,
                    max_seconds=SECONDS,
                )
                res["summary"] = spans_summary(res["spans"])
                res["round"] = r + 1
                key = f"{lang}:{c}"
                conc.setdefault(key, []).append(res)

        log(
            f"key refresh under load (key_ttl {REFRESH_TTL_S:g}s, KV reads +"
            f"{REFRESH_VAULT_DELAY_S * 1000:.0f} ms)"
        )
        b.proxy.kv_delay = REFRESH_VAULT_DELAY_S
        for lang, c in clients:
            key = f"{lang}:{c}"
            if key not in OURS or "refresh" not in PHASES:
                continue
            refresh[key] = b.run_worker(
                lang,
                c,
                "refresh",
                concurrency=CONCURRENCY,
                warmup_calls=200,
                max_calls=10**9,
                max_seconds=REFRESH_SECONDS,
                key_ttl=f"{REFRESH_TTL_S:g}s",
            )
        b.proxy.kv_delay = 0.0
        wasm = b.wasm_size()
    finally:
        b.close()

    report = build_report(
        machine, vers, imports, seq, conc, refresh, wasm, time.monotonic() - started
    )
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write(report)
    print(report)


# ---------------------------------------------------------------------------------------------
# Report


def ms(x):
    return "-" if x is None or x != x else f"{x * 1000:.2f}"


def num(x, fmt="{:,.0f}"):
    return "-" if x is None or x != x else fmt.format(x)


def ratio(ours, base, higher_better):
    """`ours / baseline`, marked with whether that is better (+) or worse (-) for us."""
    if ours is None or base is None or base == 0 or ours != ours or base != base:
        return "-"
    r = ours / base
    better = r > 1 if higher_better else r < 1
    same = abs(r - 1) < 0.03
    mark = "" if same else (" ✓" if better else " ✗")
    return f"{r:.2f}×{mark}"


def best_conc(runs):
    return max(runs, key=lambda r: r["summary"]["rate"])


def overlapping(spans, windows):
    """Latencies of the spans that overlap any window, and of the others."""
    inside, outside = [], []
    for s, e in spans:
        (inside if any(s <= z and e >= a for a, z in windows) else outside).append(e - s)
    return inside, outside


def refresh_analysis(res):
    """Calls in flight while the key is re-read (and around the old key's expiry), against the
    calls outside those windows in the same run, and against control windows of the same
    widths placed half-way between refreshes (what p99 does in any such slice of the run)."""
    spans = res["spans"]
    if not spans:
        return None
    first = min(s for s, _ in spans)
    last = max(e for _, e in spans)
    reads = [e for e in res["vault_events"] if e["kind"] == "kv_read"]
    # The first read happens at start-up, before the measured calls.
    refreshes = [e for e in reads if e["t0"] >= first]
    windows = []
    for e in refreshes:
        windows.append((e["t0"] - REFRESH_PAD_S, e["t1"] + REFRESH_PAD_S))
    for e in reads:  # the instant the key read by `e` expires, had it not been refreshed
        exp = e["t1"] + REFRESH_TTL_S
        windows.append((exp - REFRESH_PAD_S, exp + REFRESH_PAD_S))
    windows = [(a, z) for a, z in windows if z >= first and a <= last]
    # Control: the same windows shifted by half the refresh period.
    period = REFRESH_TTL_S * 0.8
    control = [(a + period / 2, z + period / 2) for a, z in windows]
    control = [
        (a, z)
        for a, z in control
        if z <= last and not any(a <= wz and z >= wa for wa, wz in windows)
    ]
    inside, outside = overlapping(spans, windows)
    ctrl_in, _ = overlapping(spans, control)
    return {
        "reads_during": len(refreshes),
        "reads_total": len(reads),
        "calls": len(spans),
        "inside_n": len(inside),
        "inside_p99": pct(inside, 99),
        "inside_max": max(inside) if inside else float("nan"),
        "outside_p99": pct(outside, 99),
        "control_n": len(ctrl_in),
        "control_p99": pct(ctrl_in, 99),
        "read_ms": [round((e["t1"] - e["t0"]) * 1000, 1) for e in refreshes],
        "stats_reads": ((res.get("stats") or {}).get("vault") or {}).get("vault_reads"),
    }


def metrics(key, seq, conc, imports):
    """The figures of one client, or None where not measured."""

    s = seq.get(key)
    runs = conc.get(key)
    out = {}
    if s:
        sm = spans_summary(s["spans"])
        out.update(rate1=sm["rate"], p50_1=sm["p50"], p99_1=sm["p99"])
        out.update(
            ttfc=pct(s["ttfc_s"], 50),
            ttfc90=pct(s["ttfc_s"], 90),
            stream_reply=pct(s["stream_reply_s"], 50),
            stream_total=pct(s["stream_total_s"], 50),
            chunks=s.get("stream_chunks"),
            streams=len(s["ttfc_s"]),
        )
    if runs:
        bc = best_conc(runs)
        out.update(
            rate64=bc["summary"]["rate"],
            p50_64=bc["summary"]["p50"],
            p99_64=bc["summary"]["p99"],
            rates=[r["summary"]["rate"] for r in runs],
        )
        # Vault traffic and RSS of the first round's process (same call count in every round).
        r0 = runs[0]
        calls_made = len(r0["spans"]) + 500 + len(r0.get("errors", []))
        out.update(
            calls_made=calls_made,
            kv_reads=r0["vault"]["kv_read"],
            vault_total=r0["vault"]["total"],
            vault_detail=r0["vault"],
            reads=(r0["vault"]["kv_read"], calls_made),
            rss_mb=max(r["maxrss_kb"] for r in runs) / 1024,
            rss_at_mb=max((r.get("maxrss_at_kb") or 0) for r in runs) / 1024 or None,
            stats_reads=((r0.get("stats") or {}).get("vault") or {}).get("vault_reads"),
        )
    imp_key = {
        "py:ours-sync": "py:ours",
        "py:ours-async": "py:ours",
        "py:requests-hvac": "py:requests-hvac",
        "py:openai-hvac": "py:openai-hvac",
        "py:openai-hvac-async": "py:openai-hvac",
    }.get(key, key)
    out["import"] = imports.get(imp_key)
    return out


ROWS = [
    # label, metric key, formatter, higher is better
    ("calls/s, concurrency 1", "rate1", num, True),
    ("p50 latency, c=1 (ms)", "p50_1", ms, False),
    ("p99 latency, c=1 (ms)", "p99_1", ms, False),
    (f"calls/s, concurrency {CONCURRENCY}", "rate64", num, True),
    (f"p50 latency, c={CONCURRENCY} (ms)", "p50_64", ms, False),
    (f"p99 latency, c={CONCURRENCY} (ms)", "p99_64", ms, False),
    ("streaming: time to first chunk, p50 (ms)", "ttfc", ms, False),
    ("streaming: time to first chunk, p90 (ms)", "ttfc90", ms, False),
    ("streaming: time to the finish_reason chunk, p50 (ms)", "stream_reply", ms, False),
    ("streaming: time to the end of the stream, p50 (ms) ¹", "stream_total", ms, False),
    ("Vault KV reads (in N calls, one process, one TTL)", "reads", None, False),
    ("Vault requests of that process (login included)", "vault_total", num, False),
    ("import / require (ms)", "import", ms, False),
    ("peak RSS after 2,000 calls at c=64 (MiB)", "rss_at_mb", lambda x: num(x, "{:.1f}"), False),
    ("peak RSS at the end of the c=64 run (MiB)", "rss_mb", lambda x: num(x, "{:.1f}"), False),
]


def table(title, ours_key, ours_label, bases, m):
    """One comparison table: ours against each baseline, raw figures and ratios."""
    head = f"| {title} | {ours_label} |"
    sep = "|---|---:|"
    for _, label in bases:
        head += f" {label} | ours / it |"
        sep += "---:|---:|"
    lines = [head, sep]
    mo = m[ours_key]
    for label, k, fmt, hb in ROWS:
        if k not in mo and all(k not in m[b] for b, _ in bases):
            continue
        if k == "reads":  # (reads, calls): shown raw, the ratio is of the read counts

            def fmt(x):
                return "-" if not x else f"{x[0]} in {x[1]:,}"

            def val(x):
                return x[0] if x else None
        else:

            def val(x):
                return x

        row = f"| {label} | {fmt(mo.get(k))} |"
        for b, _ in bases:
            row += f" {fmt(m[b].get(k))} | {ratio(val(mo.get(k)), val(m[b].get(k)), hb)} |"
        lines.append(row)
    return "\n".join(lines)


def build_report(machine, vers, imports, seq, conc, refresh, wasm, total_s):
    keys = set(seq) | set(conc)
    m = {k: metrics(k, seq, conc, imports) for k in keys}
    for k in [f"py:{c}" for c in PY_CLIENTS] + [f"node:{c}" for c in NODE_CLIENTS]:
        m.setdefault(k, {})
    out = []
    w = out.append
    w("# Benchmarks: holysheep-vault against the integrations it replaces\n")
    w(
        "Generated by `bench/run.sh` (release builds, a fresh rig: OpenBao + agent + the Rust test "
        "server, loopback only). **Ratios are ours / baseline**, measured side by side in one run; "
        "✓ marks a ratio in our favour (higher calls/s, lower latency, memory, time), ✗ one against "
        "us, no mark within 3 %. The machine is shared with other builds, so absolute figures are "
        "noisy; the ratios are the result.\n"
    )
    w(f"- **Date**: {machine['date']}; whole run {total_s:.0f} s")
    w(
        f"- **Machine**: {machine['nproc']} CPUs ({machine['cpu']}), {machine['mem_gb']} GiB, "
        f"Linux {machine['kernel']}; **load average at start**: {machine['load']}"
    )
    w("- **Versions**: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    w(
        f"- **Workload**: `POST /v1/chat/completions`, model `{MODEL}`, one short user message, "
        f"`temperature: 0.7`; concurrency 1: up to 3,000 calls / 2.5 s after 100 warm-up calls; "
        f"concurrency {CONCURRENCY}: {CALLS:,} calls (capped at {SECONDS:g} s) after 500 warm-up "
        f"calls, best of {ROUNDS} round(s) interleaved across clients; streaming: up to "
        f"{STREAM_CALLS} sequential streams (capped at 3 s; the reply is a role chunk, 4 content "
        f"chunks and a finish_reason chunk, 2 ms apart on the server's timer). Each client in its "
        f"own process, AppRole login and one KV read at start-up. Vault traffic counted by a proxy "
        f"in front of Vault.\n"
    )

    # ---- targets
    def r(a, b, k="rate64"):
        x, y = m.get(a, {}).get(k), m.get(b, {}).get(k)
        return x / y if x and y else None

    targets = []

    def target(name, value, goal, detail, higher=True):
        if value is None:
            targets.append((name, "-", "not measured", detail))
            return
        ok = value >= goal if higher else value <= goal
        targets.append((name, f"{value:.2f}×", "**met**" if ok else "**MISSED**", detail))

    target(
        "Python ≥ 2× requests+hvac, calls/s at c=64 (sync Client vs requests, both threads)",
        r("py:ours-sync", "py:requests-hvac"),
        2.0,
        f"{num(m['py:ours-sync'].get('rate64'))} vs {num(m['py:requests-hvac'].get('rate64'))} calls/s",
    )
    target(
        "Python ≥ 3× openai SDK, calls/s at c=64 (sync Client vs openai.OpenAI, threads)",
        r("py:ours-sync", "py:openai-hvac"),
        3.0,
        f"{num(m['py:ours-sync'].get('rate64'))} vs {num(m['py:openai-hvac'].get('rate64'))} calls/s",
    )
    target(
        "Python ≥ 3× openai SDK, calls/s at c=64 (AsyncClient vs openai.AsyncOpenAI, asyncio)",
        r("py:ours-async", "py:openai-hvac-async"),
        3.0,
        f"{num(m['py:ours-async'].get('rate64'))} vs {num(m['py:openai-hvac-async'].get('rate64'))} calls/s",
    )
    target(
        "Node ≥ 1.5× axios + node-vault, calls/s at c=64",
        r("node:ours", "node:axios-node-vault"),
        1.5,
        f"{num(m['node:ours'].get('rate64'))} vs {num(m['node:axios-node-vault'].get('rate64'))} calls/s",
    )
    target(
        "Node ≥ 1.5× openai + node-vault, calls/s at c=64",
        r("node:ours", "node:openai-node-vault"),
        1.5,
        f"{num(m['node:ours'].get('rate64'))} vs {num(m['node:openai-node-vault'].get('rate64'))} calls/s",
    )
    for k in sorted(OURS):
        mk = m.get(k, {})
        if "kv_reads" not in mk:
            continue
        ok = mk["kv_reads"] <= 1 and mk["calls_made"] >= 10000
        targets.append(
            (
                f"1 Vault read per 10,000 calls in one TTL window ({k})",
                f"{mk['kv_reads']} read(s) / {mk['calls_made']:,} calls",
                "**met**" if ok else ("**MISSED**" if mk["kv_reads"] > 1 else "too few calls"),
                f"proxy count; the client's own stats() says vault_reads={mk.get('stats_reads')}",
            )
        )
    ref = {k: refresh_analysis(v) for k, v in refresh.items()}
    for k, a in ref.items():
        if not a:
            continue
        steady = a["outside_p99"]
        rr = a["inside_p99"] / steady if steady else None
        detail = (
            f"p99 {ms(a['inside_p99'])} ms in flight during {a['reads_during']} refresh(es) "
            f"({a['inside_n']:,} calls) vs {ms(steady)} ms outside them in the same run "
            f"(control windows: {ms(a['control_p99'])} ms; c=64 run: "
            f"{ms(m.get(k, {}).get('p99_64'))} ms)"
        )
        if a["reads_during"] == 0:
            targets.append(
                (
                    f"p99 during a key refresh ≤ 1.2× steady p99 ({k})",
                    "-",
                    "**MISSED** (no refresh seen)",
                    detail,
                )
            )
        else:
            target(
                f"p99 during a key refresh ≤ 1.2× steady p99 ({k})", rr, 1.2, detail, higher=False
            )

    w("## Targets\n")
    w("| target | ratio | result | figures |")
    w("|---|---:|---|---|")
    for t in targets:
        w(f"| {t[0]} | {t[1]} | {t[2]} | {t[3]} |")
    w("")

    # ---- comparison tables
    w("## Python\n")
    w("Sync clients, called from threads (one thread at concurrency 1, 64 threads at 64):\n")
    w(
        table(
            "Python, threads",
            "py:ours-sync",
            PY_CLIENTS["ours-sync"],
            [
                ("py:requests-hvac", PY_CLIENTS["requests-hvac"]),
                ("py:openai-hvac", PY_CLIENTS["openai-hvac"]),
            ],
            m,
        )
    )
    w("\nAsync clients, on one asyncio loop (64 tasks at concurrency 64):\n")
    w(
        table(
            "Python, asyncio",
            "py:ours-async",
            PY_CLIENTS["ours-async"],
            [("py:openai-hvac-async", PY_CLIENTS["openai-hvac-async"])],
            m,
        )
    )
    w(
        "\nFor reference, ours async against the sync baselines at c=64 (different models of "
        "concurrency, not like with like): "
        f"AsyncClient / requests = {ratio(m['py:ours-async'].get('rate64'), m['py:requests-hvac'].get('rate64'), True)}, "
        f"AsyncClient / openai.OpenAI = {ratio(m['py:ours-async'].get('rate64'), m['py:openai-hvac'].get('rate64'), True)}.\n"
    )
    w("## Node\n")
    w("All clients on one event loop (64 calls in flight at concurrency 64):\n")
    w(
        table(
            "Node",
            "node:ours",
            NODE_CLIENTS["ours"],
            [
                ("node:axios-node-vault", NODE_CLIENTS["axios-node-vault"]),
                ("node:openai-node-vault", NODE_CLIENTS["openai-node-vault"]),
            ],
            m,
        )
    )
    w("")
    w(
        "¹ Our client asks for `stream_options.include_usage` (so that a streamed call is costed; "
        "a caller's own `stream_options` wins), so the server sends one more event, the usage "
        "chunk, one server tick after the finish_reason chunk (it reaches callers who asked for "
        "it). The finish_reason row compares the same events for everyone.\n"
    )

    # ---- refresh
    w(
        f"## Key refresh under load (key_ttl {REFRESH_TTL_S:g} s, c={CONCURRENCY}, "
        f"{REFRESH_SECONDS:g} s)\n"
    )
    w(
        "Every KV read is held back "
        f"{REFRESH_VAULT_DELAY_S * 1000:.0f} ms by the proxy in these runs (a Vault across a "
        "network, not on loopback), so a refresh that made callers wait would stand out. Calls "
        "whose span overlaps a re-read of the key (as the Vault proxy saw it) or the instant the "
        f"previous key would have expired, each widened by ±{REFRESH_PAD_S * 1000:.0f} ms, are "
        "compared with the other calls of the same run (the steady state). Control windows: the "
        "same windows moved half a refresh period later, to show how much p99 moves in any such "
        "slice of a run on this shared machine. The baselines have no TTL (they read the key once "
        "per process and again only after a 401), so they have no refresh to compare.\n"
    )
    w(
        "| client | KV reads (during run / total) | stats() vault_reads | calls | calls in refresh windows | p99 there (ms) | max there (ms) | p99 elsewhere (ms) | ratio | control windows: calls, p99 (ms), ratio | read time (ms) |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for k, a in ref.items():
        if not a:
            continue
        out_p99 = a["outside_p99"]
        rr = a["inside_p99"] / out_p99 if out_p99 else float("nan")
        rc = a["control_p99"] / out_p99 if out_p99 else float("nan")
        w(
            f"| {k} | {a['reads_during']} / {a['reads_total']} | {a['stats_reads']} | "
            f"{a['calls']:,} | {a['inside_n']:,} | {ms(a['inside_p99'])} | {ms(a['inside_max'])} | "
            f"{ms(out_p99)} | {rr:.2f}× | {a['control_n']:,}, {ms(a['control_p99'])}, {rc:.2f}× | "
            f"{', '.join(map(str, a['read_ms']))} |"
        )
    w("")

    # ---- wasm
    w("## wasm package\n")
    if wasm:
        w(
            f"`bindings-wasm/pkg/holysheep_vault_wasm_bg.wasm` (built {wasm['built']}): "
            f"{wasm['raw']:,} bytes raw ({wasm['raw'] / 1024:.0f} KiB), {wasm['gzip']:,} bytes "
            f"gzip -9 ({wasm['gzip'] / 1024:.0f} KiB). No baseline: the integrations it replaces "
            "do not run in Workers as they are.\n"
        )
    else:
        w("Not built (bindings-wasm/pkg missing and the build failed or was skipped).\n")

    # ---- Vault detail and test server share
    w("## Vault traffic and test-server load (concurrency-64 runs)\n")
    w(
        "Vault requests seen by the proxy for each client's process (start-up included). "
        "Server CPU is the test server's own CPU time over the measured window (it has 2 worker "
        "threads); client CPU is the client process's; machine busy is all CPUs, everything "
        "included.\n"
    )
    w(
        "| client | round | calls/s | KV reads | logins | renewals | other | server CPU (cores) | server µs/call | client CPU (cores) | machine busy |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    max_server = 0.0
    for k in sorted(conc):
        for res in conc[k]:
            c = res.get("cpu") or {}
            wall = c.get("wall_s") or float("nan")
            server = c.get("server_cpu_s")
            n = res["summary"]["n"]
            cores = server / wall if server is not None else float("nan")
            if cores == cores:
                max_server = max(max_server, cores)
            v = res["vault"]
            w(
                f"| {k} | {res['round']} | {num(res['summary']['rate'])} | {v['kv_read']} | "
                f"{v['login']} | {v['renew']} | {v['lookup'] + v['other']} | "
                f"{num(cores, '{:.2f}')} | {num(server / n * 1e6 if server is not None and n else None, '{:.0f}')} | "
                f"{num(c.get('client_cpu_s', float('nan')) / wall, '{:.2f}')} | "
                f"{num((c.get('machine_busy') or float('nan')) * 100, '{:.0f}')} % |"
            )
    w("")
    w(
        f"The test server used at most {max_server:.2f} cores (of the 2 its threads could use) in "
        "any run; see the client CPU and machine columns for where the time went.\n"
    )
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        w(open(notes).read())
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
