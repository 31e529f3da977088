"""A tiny counting HTTP proxy in front of Vault, so that every client (ours and the baselines)
is counted the same way, from the outside: each request is forwarded to the real Vault and
recorded with its kind (``kv_read``, ``login``, ``renew``, ``lookup``, ``other``) and its start
and end on the monotonic clock (CLOCK_MONOTONIC, the clock the workers stamp their calls with).

Used in-process by bench.py: ``proxy = VaultProxy(upstream); proxy.url; proxy.since(mark)``.
``proxy.kv_delay`` (seconds) holds every KV read back that long before forwarding it, to stand
for a Vault that is not on the same host.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import time
import urllib.parse

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}


def classify(method: str, path: str, kv_mount: str) -> str:
    path = path.split("?", 1)[0]
    if re.match(r"^/v1/auth/[^/]+/login(/|$)", path):
        return "login"
    if method == "GET" and path.startswith(f"/v1/{kv_mount}/data/"):
        return "kv_read"
    if path.startswith("/v1/auth/token/renew") or path == "/v1/sys/leases/renew":
        return "renew"
    if path.startswith("/v1/auth/token/lookup"):
        return "lookup"
    return "other"


class VaultProxy:
    def __init__(self, upstream: str, kv_mount: str = "holysheep"):
        parsed = urllib.parse.urlsplit(upstream)
        self.up_host = parsed.hostname or "127.0.0.1"
        self.up_port = parsed.port or 8200
        self.kv_mount = kv_mount
        self.lock = threading.Lock()
        self.events: list[dict] = []
        self.kv_delay = 0.0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real Vault

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                t0 = time.monotonic()
                kind = classify(self.command, self.path, proxy.kv_mount)
                if kind == "kv_read" and proxy.kv_delay > 0:
                    time.sleep(proxy.kv_delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = self._upstream = http.client.HTTPConnection(
                        proxy.up_host, proxy.up_port, timeout=30
                    )
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    self._upstream = None
                    self.send_error(502)
                    return
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in HOP_BY_HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                t1 = time.monotonic()
                event = {
                    "kind": kind,
                    "method": self.command,
                    "path": self.path.split("?", 1)[0],
                    "status": resp.status,
                    "t0": t0,
                    "t1": t1,
                }
                with proxy.lock:
                    proxy.events.append(event)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_LIST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def mark(self) -> int:
        with self.lock:
            return len(self.events)

    def since(self, mark: int) -> list[dict]:
        with self.lock:
            return list(self.events[mark:])

    @staticmethod
    def count(events: list[dict]) -> dict:
        out = {"kv_read": 0, "login": 0, "renew": 0, "lookup": 0, "other": 0}
        for e in events:
            out[e["kind"]] += 1
        out["total"] = len(events)
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
