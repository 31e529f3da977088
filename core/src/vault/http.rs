//! [`VaultOps`] over `reqwest`: compiles for wasm32 (where `reqwest` is the host's `fetch`) and
//! natively (rustls), so the native tests cover the code the wasm package runs.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::wire::{self, Body};
use super::{
    KvRead, Lease, LoginAuth, LoginRequest, MountInfo, OpError, TokenInfo, VaultBackend, VaultOps,
};
use crate::config::VaultConfig;
use crate::error::{Error, Result};
use crate::secret::Secret;

const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-vault-token");

/// The `reqwest` implementation of [`VaultOps`].
pub struct HttpOps {
    addr: String,
    base: String,
    client: reqwest::Client,
    headers: HeaderMap,
}

impl HttpOps {
    pub fn new(addr: &str, config: &VaultConfig) -> Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert("x-vault-request", HeaderValue::from_static("true"));
        if let Some(ns) = &config.namespace {
            let value = HeaderValue::from_str(ns.trim())
                .map_err(|_| Error::config("vault_namespace", "not a valid header value"))?;
            headers.insert("x-vault-namespace", value);
        }
        let client = build_client(addr, config)?;
        let addr = addr.trim_end_matches('/').to_owned();
        Ok(HttpOps { base: format!("{addr}/v1"), addr, client, headers })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<(&str, String)>,
        token: Option<&Secret>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Body), OpError> {
        let mut url = format!("{}/{}", self.base, wire::encode_path(path));
        if let Some((name, value)) = query {
            url = format!("{url}?{name}={value}");
        }
        let mut request = self.client.request(method, url).headers(self.headers.clone());
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose()).map_err(|_| OpError::Shape {
                message: "the Vault token is not a valid header value".into(),
            })?;
            value.set_sensitive(true);
            request = request.header(TOKEN_HEADER, value);
        }
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(transport)?;
        Ok((status, Body::new(Vec::from(bytes))))
    }
}

fn transport(e: reqwest::Error) -> OpError {
    // The chain names the cause ("Connection refused"); reqwest's own text only the URL, which
    // holds no secret (tokens travel in headers).
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    OpError::Transport { message, timeout: e.is_timeout() }
}

fn ok_or_status(status: u16, body: &[u8]) -> Result<(), OpError> {
    if (200..300).contains(&status) { Ok(()) } else { Err(wire::status_error(status, body)) }
}

#[cfg(not(target_arch = "wasm32"))]
fn build_client(addr: &str, config: &VaultConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
        .tls_danger_accept_invalid_certs(config.skip_verify);
    if addr.starts_with("http://") {
        // Plain HTTP needs no roots; loading the platform verifier can fail in bare containers
        // (reqwest#2988), the same workaround vaultrs applies.
        builder = builder.tls_certs_only(Vec::new());
    } else if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            Error::config("vault_cacert (VAULT_CACERT)", format!("{}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::config("vault_cacert (VAULT_CACERT)", format!("{}: {e}", path.display()))
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    if let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) {
        builder = builder.identity(identity(cert, key)?);
    }
    builder.build().map_err(|e| Error::config("vault_addr (VAULT_ADDR)", e.to_string()))
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn identity(cert: &std::path::Path, key: &std::path::Path) -> Result<reqwest::Identity> {
    let read = |p: &std::path::Path, setting: &str| {
        std::fs::read(p).map_err(|e| Error::config(setting, format!("{}: {e}", p.display())))
    };
    let mut pem = wire::Body::new(read(cert, "vault_client_cert (VAULT_CLIENT_CERT)")?);
    pem.push(b'\n');
    pem.extend_from_slice(&read(key, "vault_client_key (VAULT_CLIENT_KEY)")?);
    reqwest::Identity::from_pem(&pem)
        .map_err(|e| Error::config("vault_client_cert (VAULT_CLIENT_CERT)", e.to_string()))
}

#[cfg(target_arch = "wasm32")]
fn build_client(_addr: &str, config: &VaultConfig) -> Result<reqwest::Client> {
    // fetch() uses the host's TLS settings; say so rather than ignore a setting.
    if config.ca_cert.is_some() || config.client_cert.is_some() || config.skip_verify {
        return Err(Error::config(
            "vault_cacert (VAULT_CACERT)",
            "TLS settings are not supported in the wasm build; the host's TLS settings apply",
        ));
    }
    Ok(reqwest::Client::new())
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl VaultOps for HttpOps {
    fn address(&self) -> &str {
        &self.addr
    }

    fn backend(&self) -> VaultBackend {
        VaultBackend::Http
    }

    async fn login(&self, mount: &str, request: &LoginRequest<'_>) -> Result<LoginAuth, OpError> {
        let path = format!("auth/{mount}/login");
        let (status, body) =
            self.send(reqwest::Method::POST, &path, None, None, Some(request.to_json())).await?;
        ok_or_status(status, &body)?;
        wire::login(&body)
    }

    async fn renew_self(&self, token: &Secret, increment: Duration) -> Result<Lease, OpError> {
        let body = serde_json::json!({"increment": super::increment_string(increment)});
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let (status, body) = self
            .send(reqwest::Method::POST, "auth/token/renew-self", None, Some(token), Some(body))
            .await?;
        ok_or_status(status, &body)?;
        wire::renew(&body)
    }

    async fn lookup_self(&self, token: Option<&Secret>) -> Result<TokenInfo, OpError> {
        let (status, body) =
            self.send(reqwest::Method::GET, "auth/token/lookup-self", None, token, None).await?;
        ok_or_status(status, &body)?;
        wire::lookup(&body)
    }

    async fn read_kv2(
        &self,
        token: Option<&Secret>,
        mount: &str,
        path: &str,
        version: Option<u64>,
    ) -> Result<KvRead, OpError> {
        let full = format!("{mount}/data/{path}");
        let query = version.map(|v| ("version", v.to_string()));
        let (status, body) = self.send(reqwest::Method::GET, &full, query, token, None).await?;
        if status != 404 {
            ok_or_status(status, &body)?;
        }
        wire::kv2(status, &body)
    }

    async fn mount_info(&self, token: Option<&Secret>, mount: &str) -> Result<MountInfo, OpError> {
        let path = format!("sys/internal/ui/mounts/{mount}");
        let (status, body) = self.send(reqwest::Method::GET, &path, None, token, None).await?;
        ok_or_status(status, &body)?;
        wire::mount(&body)
    }
}
