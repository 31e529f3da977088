//! Helpers shared by the `vault_*` tests: configs, scenario secrets, short-lived AppRoles, a
//! private OpenBao server to stop or seal, and a TCP proxy that counts KV reads on the wire.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use holysheep_vault::config::{ClientOptions, Config};
use holysheep_vault::keys::{KeyProvider, ProviderOptions};
use holysheep_vault::vault::VaultBackend;

use crate::common::{Rig, free_port, http_json, unique};

pub const BACKENDS: [VaultBackend; 2] = [VaultBackend::Vaultrs, VaultBackend::Http];

/// Runs one async test body once per Vault backend, as two named tests.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use holysheep_vault::vault::VaultBackend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn vaultrs() {
                super::$name(VaultBackend::Vaultrs).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn http() {
                super::$name(VaultBackend::Http).await
            }
        }
    )*};
}

/// A validated config from an options object, with `vault_addr` defaulting to the rig's Vault.
pub fn config(rig: &Rig, options: serde_json::Value) -> Config {
    let mut options = options;
    let object = options.as_object_mut().expect("options object");
    object.entry("vault_addr").or_insert_with(|| rig.vault_addr().into());
    let options = ClientOptions::from_json(options).expect("valid test options");
    options.resolve().expect("valid test config")
}

pub fn provider(config: &Config, backend: VaultBackend) -> Arc<KeyProvider> {
    let options = ProviderOptions { backend, ..ProviderOptions::default() };
    KeyProvider::with_options(config, options).expect("provider")
}

pub fn lazy_provider(config: &Config, backend: VaultBackend) -> Arc<KeyProvider> {
    let options = ProviderOptions { backend, background_tasks: false };
    KeyProvider::with_options(config, options).expect("provider")
}

/// Writes `value` to a fresh `scenarios/<unique>/api_key`; returns the path under the mount.
pub fn scenario_secret(rig: &Rig, value: &str) -> String {
    let path = format!("{}/{}/api_key", rig.get("RIG_SCENARIOS_PREFIX"), unique("vault"));
    rig.write_secret(&path, serde_json::json!({ "api_key": value }));
    path
}

/// A fresh AppRole mount with one role whose tokens may read production and scenarios.
pub struct AppRole {
    pub mount: String,
    pub role_id: String,
    pub secret_id: String,
}

pub fn approle(rig: &Rig, ttl: &str, max_ttl: &str) -> AppRole {
    let mount = unique("ar");
    rig.root("POST", &format!("sys/auth/{mount}"), Some(serde_json::json!({"type": "approle"})));
    let role = format!("auth/{mount}/role/app");
    rig.root(
        "POST",
        &role,
        Some(serde_json::json!({
            "token_policies": ["holysheep-production", "holysheep-scenarios"],
            "token_ttl": ttl, "token_max_ttl": max_ttl,
        })),
    );
    let role_id = rig.root("GET", &format!("{role}/role-id"), None)["data"]["role_id"]
        .as_str()
        .expect("role_id")
        .to_owned();
    let secret_id = rig.root("POST", &format!("{role}/secret-id"), None)["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_owned();
    AppRole { mount, role_id, secret_id }
}

/// Revokes every token issued by logins at `auth/<mount>` (root, `sys/leases/revoke-prefix`).
pub fn revoke_logins(rig: &Rig, mount: &str) {
    rig.root("PUT", &format!("sys/leases/revoke-prefix/auth/{mount}/login"), None);
}

/// Creates a token with the given policies and TTL; `id` sets its value (root may choose it).
pub fn create_token(rig: &Rig, policies: &[&str], ttl: &str, id: Option<&str>) -> String {
    let mut body = serde_json::json!({"policies": policies, "ttl": ttl, "renewable": true});
    if let Some(id) = id {
        body["id"] = id.into();
    }
    rig.root("POST", "auth/token/create", Some(body))["auth"]["client_token"]
        .as_str()
        .expect("client_token")
        .to_owned()
}

/// A private `bao server -dev` this test may stop or seal without disturbing the shared rig.
pub struct PrivateBao {
    child: Option<Child>,
    pub addr: String,
    pub root: String,
    _home: tempdir::TempDir,
}

pub mod tempdir {
    /// A directory removed on drop (std-only).
    pub struct TempDir(pub std::path::PathBuf);
    impl TempDir {
        pub fn new(prefix: &str) -> TempDir {
            let path = std::env::temp_dir().join(crate::common::unique(prefix));
            std::fs::create_dir_all(&path).expect("temp dir");
            TempDir(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl PrivateBao {
    pub fn start(rig: &Rig) -> PrivateBao {
        let home = tempdir::TempDir::new("bao-home");
        let root = unique("root");
        let port = free_port();
        let addr = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(home.path().join("bao.log")).expect("log file");
        let mut command = Command::new(rig.get("RIG_BAO_BIN"));
        command
            .args(["server", "-dev", "-dev-no-store-token", "-log-level=warn"])
            .arg(format!("-dev-root-token-id={root}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (name, _) in std::env::vars() {
            if name.starts_with("VAULT_") || name.starts_with("BAO_") {
                command.env_remove(name);
            }
        }
        let child = command.spawn().expect("start bao server -dev");
        let bao = PrivateBao { child: Some(child), addr, root, _home: home };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok()
                && http_json(&bao.addr, "GET", "/v1/sys/health", None, None).0 == 200;
            if up {
                break;
            }
            assert!(Instant::now() < deadline, "private bao server did not come up on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        bao
    }

    /// Calls the private server as root; panics on a non-2xx status.
    pub fn root(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, answer) =
            http_json(&self.addr, method, &format!("/v1/{path}"), Some(&self.root), body);
        assert!((200..300).contains(&status), "{method} {path}: HTTP {status}: {answer}");
        answer
    }

    /// Writes `secret/<path>` (the dev server's KV v2 mount), retrying while KV v2 warms up.
    pub fn write_secret(&self, path: &str, value: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let body = serde_json::json!({"data": {"api_key": value}});
            let (status, _) = http_json(
                &self.addr,
                "POST",
                &format!("/v1/secret/data/{path}"),
                Some(&self.root),
                Some(body),
            );
            if status == 200 {
                return;
            }
            assert!(Instant::now() < deadline, "writing secret/{path}: HTTP {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server for good (SIGKILL): connections are refused from now on.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateBao {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of Vault that counts requests whose request line starts with `needle`
/// (e.g. `GET /v1/holysheep/data/`), to check on the wire what the statistics claim.
pub struct CountingProxy {
    pub addr: String,
    pub count: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: &str, needle: &str) -> CountingProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = format!("http://{}", listener.local_addr().expect("proxy addr"));
        let count = Arc::new(AtomicU64::new(0));
        let needle = needle.as_bytes().to_vec();
        let counter = count.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let (upstream, needle, counter) =
                    (upstream.clone(), needle.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0u8; 16 * 1024];
                        let mut tail: Vec<u8> = Vec::new();
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let mut window = std::mem::take(&mut tail);
                            window.extend_from_slice(&buf[..n]);
                            let hits =
                                window.windows(needle.len()).filter(|w| *w == &needle[..]).count();
                            counter.fetch_add(hits as u64, Ordering::Relaxed);
                            let keep = needle.len().saturating_sub(1).min(window.len());
                            tail = window[window.len() - keep..].to_vec();
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = server_write.shutdown().await;
                    };
                    let down = tokio::io::copy(&mut server_read, &mut client_write);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        CountingProxy { addr, count, task }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The error of a call that must fail, with a readable panic when it did not.
pub fn expect_err<T: std::fmt::Debug>(
    result: holysheep_vault::Result<T>,
    what: &str,
) -> holysheep_vault::Error {
    match result {
        Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}
