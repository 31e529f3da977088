//! Shared helpers for the integration tests that run against the project rig.
//!
//! The rig (`tests/rig/with-rig.sh CMD`) exports `HOLYSHEEP_RIG_ENV`, the path of a `KEY=value`
//! file (see tests/README.md, "Rig"). [`Rig::load`] reads it and fails the test with a clear
//! message when it is not set: these tests need the real OpenBao and must not pass silently.
//!
//! The Vault helpers are blocking and std-only (plain HTTP/1.1 over a `TcpStream`, which is what
//! the rig serves), so they work from sync tests, async tests and custom harnesses alike.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The rig's env file, loaded.
#[derive(Clone)]
pub struct Rig {
    vars: BTreeMap<String, String>,
    path: String,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The values are test secrets: keep them out of assertion messages.
        f.debug_struct("Rig").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Rig {
    /// Loads the env file named by `HOLYSHEEP_RIG_ENV`; panics (fails the test) without it.
    pub fn load() -> Rig {
        let path = std::env::var("HOLYSHEEP_RIG_ENV").unwrap_or_default();
        if path.trim().is_empty() {
            panic!(
                "HOLYSHEEP_RIG_ENV is not set: these tests run against the real OpenBao of the \
                 project rig. Run them as `tests/rig/with-rig.sh cargo test -p holysheep-vault \
                 --test <name>` (see tests/README.md, section \"Rig\")."
            );
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("HOLYSHEEP_RIG_ENV={path}: cannot read the rig env file: {e}")
        });
        let vars = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
            .collect();
        Rig { vars, path }
    }

    /// A variable of the env file; panics naming it when the rig did not export it.
    pub fn get(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("the rig env file {} has no {name}", self.path))
    }

    /// A variable that may be absent (e.g. `RIG_API_URL` with `--no-testserver`).
    pub fn get_opt(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn vault_addr(&self) -> &str {
        self.get("VAULT_ADDR")
    }

    pub fn root_token(&self) -> &str {
        self.get("RIG_ROOT_TOKEN")
    }

    pub fn kv_mount(&self) -> &str {
        self.get("RIG_KV_MOUNT")
    }

    /// Writes a new version of `<kv mount>/<path>` with `data` as its fields, using the root
    /// token, and returns the new version number. Scenario tests write under
    /// `scenarios/<unique>/...`, which the rig's login policies may read, never production.
    pub fn write_secret(&self, path: &str, data: serde_json::Value) -> u64 {
        let url = format!("{}/data/{}", self.kv_mount(), path.trim_matches('/'));
        let answer = self.root("POST", &url, Some(serde_json::json!({ "data": data })));
        answer["data"]["version"]
            .as_u64()
            .unwrap_or_else(|| panic!("writing {url}: no version in the answer"))
    }

    /// Calls the Vault API as root: `path` is relative to `/v1/`. Panics on a non-2xx status.
    pub fn root(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, answer) = self.vault(method, path, Some(self.root_token()), body);
        assert!(
            (200..300).contains(&status),
            "{method} /v1/{path} as root: HTTP {status}: {answer}"
        );
        answer
    }

    /// Calls the Vault API with `token` (or none) and returns the status and the JSON answer
    /// (`null` for an empty body).
    pub fn vault(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        http_json(
            self.vault_addr(),
            method,
            &format!("/v1/{}", path.trim_start_matches('/')),
            token,
            body,
        )
    }
}

/// A name no other test (or earlier run against the same rig) uses: `<prefix>-<pid>-<n>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// One blocking HTTP/1.1 request to an `http://host:port` address, JSON in and out.
pub fn http_json(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let host = addr
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{addr}: the test helper speaks plain http only"))
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         X-Vault-Request: true\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("X-Vault-Token: {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("send to {host}: {e}"));
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("read from {host}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP header in the answer"));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut payload = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: bad status line"));
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload = dechunk(&payload);
    }
    let json = if payload.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&payload)
            .unwrap_or_else(|e| panic!("{method} {path}: HTTP {status}, body is not JSON ({e})"))
    };
    (status, json)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// A port nobody listens on right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
