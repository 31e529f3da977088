//! OpenAI-compatible test server for holysheep-vault.
//!
//! The wire protocol and the control API are documented in `tests/README.md` (section
//! "Test server"); that document is the contract for tests in every language. This crate
//! also lets Rust tests run the server in-process:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use holysheep_testserver::{Config, TestServer};
//! let server = TestServer::start(Config::new().key("sk-test")).await?;
//! let base = server.scope_url("my-test"); // http://127.0.0.1:PORT/s/my-test/v1
//! # drop(base);
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod body;
mod fault;
mod openai;
mod server;
mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::App;

pub use crate::openai::mask_key;

/// Server settings; `Config::new()` listens on an ephemeral loopback port and accepts any
/// non-empty bearer key until keys are added.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None` accepts any non-empty bearer key.
    pub keys: Option<Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config { listen: SocketAddr::from(([127, 0, 0, 1], 0)), keys: None }
    }
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Adds a globally valid key (repeatable).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.keys.get_or_insert_with(Vec::new).push(key.into());
        self
    }
}

/// A running server. Dropping it stops accepting and closes open connections.
pub struct TestServer {
    addr: SocketAddr,
    base_url: String,
    shutdown: watch::Sender<bool>,
    accept_task: Option<JoinHandle<()>>,
    /// Present only for servers made with [`TestServer::spawn`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    /// Starts the server on the current tokio runtime (which must be multi-threaded if the
    /// tests rely on a slow scope not delaying others while the test itself blocks).
    pub async fn start(config: Config) -> io::Result<TestServer> {
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = base_url_for(addr);
        let keys = config.keys.map(|k| k.into_iter().map(String::into_boxed_str).collect());
        let app = Arc::new(App::new(keys, base_url.clone()));
        let (shutdown, rx) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, app, rx));
        Ok(TestServer { addr, base_url, shutdown, accept_task: Some(accept_task), runtime: None })
    }

    /// Starts the server on its own multi-threaded runtime, for synchronous tests and
    /// benchmarks that have no runtime of their own.
    pub fn spawn(config: Config, worker_threads: usize) -> io::Result<TestServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .thread_name("holysheep-testserver")
            .enable_all()
            .build()?;
        let mut server = runtime.block_on(Self::start(config))?;
        server.runtime = Some(runtime);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// OpenAI base URL of a scope: `http://127.0.0.1:PORT/s/{scope}/v1`.
    pub fn scope_url(&self, scope: &str) -> String {
        format!("{}/s/{scope}/v1", self.base_url)
    }

    /// Stops accepting connections, closes open ones and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.accept_task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.take() {
            // Safe even when dropped inside another runtime, unlike a plain drop.
            rt.shutdown_background();
        }
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && addr.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("http://{host}:{}", addr.port())
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut http = http1::Builder::new();
    // No idle/header timeout: a test may legitimately keep a pooled connection idle for a
    // long time, and a server-side close would turn into a spurious client retry.
    http.keep_alive(true).header_read_timeout(None);
    loop {
        let stream = tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Typically EMFILE under a benchmark burst; back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // Small SSE frames and JSON replies must leave immediately, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let http = http.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| server::handle(app.clone(), req));
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}
