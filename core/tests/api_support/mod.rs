//! Shared by the `api_*` tests: one in-process test server per test binary, one scope per test,
//! and a client on that scope whose key comes from a file (`key_source: "file"`), so no Vault is
//! needed.
//!
//! While the key provider is not implemented yet (its methods still `todo!()`), the client falls
//! back to [`ApiClient`] with the key handed over directly; the tests that need the provider (key
//! rotation) are skipped then, saying so. `HOLYSHEEP_API_TESTS_DIRECT=1` forces the fallback.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use holysheep_testserver::{Config, TestServer};
use holysheep_vault::api::ApiClient;
use holysheep_vault::keys::ApiKey;
use holysheep_vault::{
    ChatCompletion, ChatRequest, ChatStream, Client, ClientOptions, Error, KeyOrigin, ModelList,
    RequestOptions, Result, Secret, Stats,
};
use serde_json::{Value, json};

pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    // Its own runtime outlives every test's; it is built on a plain thread because tokio refuses
    // to build a runtime inside the test's.
    SERVER.get_or_init(|| {
        std::thread::spawn(|| TestServer::spawn(Config::new(), 2).expect("test server starts"))
            .join()
            .unwrap()
    })
}

fn control() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    // No pooling: each test has its own runtime, and a connection pooled by one that has ended
    // is unusable in the next.
    HTTP.get_or_init(|| reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap())
}

/// One shared directory; files carry the process id and are removed with their scope.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("holysheep-api-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the key provider works, checked once per test binary.
pub fn provider_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        if std::env::var("HOLYSHEEP_API_TESTS_DIRECT").is_ok_and(|v| v == "1") {
            return false;
        }
        let path = temp_dir().join(format!("probe-{}.key", std::process::id()));
        std::fs::write(&path, "sk-probe-0123456789").unwrap();
        let cleanup = path.clone();
        let probe = std::thread::spawn(move || {
            let options = ClientOptions {
                key_source: Some("file".into()),
                key_file: Some(path),
                ..Default::default()
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async { Client::from_options(options).ok()?.api_key().await.ok() })
        });
        let ready = matches!(probe.join(), Ok(Some(key)) if key.expose() == "sk-probe-0123456789");
        let _ = std::fs::remove_file(cleanup);
        if !ready {
            eprintln!("note: the key provider is not ready; api tests use ApiClient directly");
        }
        ready
    })
}

/// A scope of the test server with its own faults, key and counters.
pub struct Scope {
    pub name: String,
    pub url: String,
    pub key: String,
    pub key_file: PathBuf,
}

impl Scope {
    /// A fresh scope accepting one fresh key, with `faults` for its first attempts.
    pub async fn new(test: &str, faults: Value) -> Scope {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let name = format!("{test}-{}-{n}", std::process::id());
        let key = format!("sk-test-{name}-{:016x}", rand_u64());
        let key_file = temp_dir().join(format!("{name}.key"));
        std::fs::write(&key_file, &key).unwrap();
        let scope = Scope { url: server().scope_url(&name), name, key, key_file };
        scope.put(json!({"keys": [scope.key], "faults": faults})).await;
        scope
    }

    fn control_url(&self) -> String {
        format!("{}/_control/scopes/{}", server().base_url(), self.name)
    }

    async fn put(&self, body: Value) {
        let r = control().put(self.control_url()).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "PUT scope: {}", r.text().await.unwrap());
    }

    /// `PATCH`: `keys` replaces the accepted keys, `faults` are appended.
    pub async fn patch(&self, body: Value) {
        let r = control().patch(self.control_url()).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "PATCH scope: {}", r.text().await.unwrap());
    }

    pub async fn state(&self) -> Value {
        control().get(self.control_url()).send().await.unwrap().json().await.unwrap()
    }

    /// Requests the scope received.
    pub async fn attempts(&self) -> u64 {
        self.state().await["attempts"].as_u64().unwrap()
    }

    /// The client options for this scope, with `extra` (an options object) merged over them.
    pub fn options(&self, extra: Value) -> ClientOptions {
        let mut base = json!({
            "base_url": self.url,
            "key_source": "file",
            "key_file": self.key_file,
            "backoff_initial": "10ms",
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            base[k] = v;
        }
        ClientOptions::from_json(base).expect("valid test options")
    }

    /// A client on this scope.
    pub fn client(&self, extra: Value) -> TestClient {
        let options = self.options(extra);
        if provider_ready() {
            TestClient::Facade(Client::from_options(options).expect("client"))
        } else {
            let config = options.resolve().expect("config");
            let key = ApiKey {
                secret: Arc::new(Secret::from(self.key.as_str())),
                origin: KeyOrigin { location: self.key_file.display().to_string(), version: None },
            };
            TestClient::Direct(ApiClient::new(config.api).expect("api client"), key)
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.key_file);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The client under test: the facade when the key provider works, else [`ApiClient`].
pub enum TestClient {
    Facade(Client),
    Direct(ApiClient, ApiKey),
}

impl TestClient {
    pub async fn chat(
        &self,
        request: &ChatRequest,
        options: RequestOptions,
    ) -> Result<ChatCompletion> {
        match self {
            TestClient::Facade(c) => c.chat_completions(request.clone(), options).await,
            TestClient::Direct(c, key) => c.chat(key, request, &options).await,
        }
    }

    pub async fn stream(
        &self,
        request: &ChatRequest,
        options: RequestOptions,
    ) -> Result<ChatStream> {
        match self {
            TestClient::Facade(c) => c.chat_completions_stream(request.clone(), options).await,
            TestClient::Direct(c, key) => c.chat_stream(key, request, &options).await,
        }
    }

    pub async fn models(&self, options: RequestOptions) -> Result<ModelList> {
        match self {
            TestClient::Facade(c) => c.models(options).await,
            TestClient::Direct(c, key) => c.models(key, &options).await,
        }
    }

    pub fn stats(&self) -> Stats {
        match self {
            TestClient::Facade(c) => c.stats(),
            TestClient::Direct(c, _) => c.stats(),
        }
    }

    /// The facade, for the tests that need the key provider.
    pub fn facade(&self) -> Option<&Client> {
        match self {
            TestClient::Facade(c) => Some(c),
            TestClient::Direct(..) => None,
        }
    }
}

/// A one-message request.
pub fn request(model: &str, text: &str) -> ChatRequest {
    ChatRequest::from_json(json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
    }))
    .unwrap()
}

/// Per-call options from JSON.
pub fn opts(value: Value) -> RequestOptions {
    RequestOptions::from_json(value).unwrap()
}

/// The error's code, for compact assertions.
pub fn code<T: std::fmt::Debug>(result: &Result<T>) -> &'static str {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// Unwraps an error.
pub fn err<T: std::fmt::Debug>(result: Result<T>) -> Error {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}
