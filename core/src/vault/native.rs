//! [`VaultOps`] over `vaultrs` (native builds): its `VaultClient` carries the connection settings
//! (address, namespace, CA certificates, client identity, verification), its request types build
//! the login and KV calls, and `rustify` (which `vaultrs` is written on) executes them.
//!
//! `vaultrs` keeps one token inside its client; the session here owns the token instead and
//! passes it per call through a small middleware, so a re-login never has to rebuild or lock the
//! client. Answers are decoded by the same functions as the `reqwest` implementation.

use std::time::Duration;

use async_trait::async_trait;
use rustify::endpoint::{Endpoint, MiddleWare};
use rustify::enums::{RequestMethod, RequestType, ResponseType};
use rustify::errors::ClientError as RestError;
use vaultrs::api::auth::approle::requests::LoginWithApproleRequest;
use vaultrs::api::auth::kubernetes::requests::LoginWithKubernetesRequest;
use vaultrs::api::auth::oidc::requests::JWTLoginRequest;
use vaultrs::api::kv2::requests::ReadSecretRequest;
use vaultrs::client::{Client as _, VaultClient, VaultClientSettingsBuilder};

use super::wire::{self, Body};
use super::{
    KvRead, Lease, LoginAuth, LoginRequest, MountInfo, OpError, TokenInfo, VaultBackend, VaultOps,
};
use crate::config::VaultConfig;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The `vaultrs` implementation of [`VaultOps`].
pub struct VaultrsOps {
    addr: String,
    client: VaultClient,
    namespace: Option<String>,
}

impl VaultrsOps {
    pub fn new(addr: &str, config: &VaultConfig) -> Result<Self> {
        url::Url::parse(addr)
            .map_err(|e| Error::config("vault_addr (VAULT_ADDR)", format!("{addr}: {e}")))?;
        let identity = match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => Some(super::http::identity(cert, key)?),
            _ => None,
        };
        // Every setting is given explicitly: vaultrs falls back to VAULT_TOKEN, VAULT_CACERT and
        // friends from the process environment, which must not override the validated config.
        let settings = VaultClientSettingsBuilder::default()
            .address(addr)
            .token("")
            .namespace(config.namespace.clone())
            .ca_certs(config.ca_cert.iter().map(|p| p.display().to_string()).collect())
            .identity(identity)
            .verify(!config.skip_verify)
            .timeout(Some(config.request_timeout))
            .build()
            .map_err(|e| Error::config("vault_addr (VAULT_ADDR)", e.to_string()))?;
        let client = VaultClient::new(settings).map_err(|e| {
            let setting = match &e {
                vaultrs::error::ClientError::FileReadError { .. }
                | vaultrs::error::ClientError::ParseCertificateError { .. } => {
                    "vault_cacert (VAULT_CACERT)"
                }
                _ => "vault_addr (VAULT_ADDR)",
            };
            Error::config(setting, e.to_string())
        })?;
        Ok(VaultrsOps {
            addr: addr.trim_end_matches('/').to_owned(),
            client,
            namespace: config.namespace.clone(),
        })
    }

    async fn exec<E: Endpoint>(
        &self,
        endpoint: E,
        token: Option<&Secret>,
    ) -> Result<(u16, Body), OpError> {
        let middleware = TokenMiddleware { token, namespace: self.namespace.as_deref() };
        match endpoint.with_middleware(&middleware).exec(self.client.http()).await {
            Ok(result) => {
                let status = result.response.status().as_u16();
                Ok((status, Body::new(result.response.into_body())))
            }
            Err(RestError::ServerResponseError { code, content }) => {
                Ok((code, Body::new(content.map(String::into_bytes).unwrap_or_default())))
            }
            Err(e) => Err(transport(e)),
        }
    }
}

fn transport(e: RestError) -> OpError {
    let (source, timeout) = match &e {
        RestError::RequestError { source, .. } | RestError::ResponseError { source } => {
            let timeout = source.downcast_ref::<reqwest::Error>().is_some_and(|r| r.is_timeout());
            (Some(source), timeout)
        }
        _ => (None, false),
    };
    let mut message = e.to_string();
    if let Some(source) = source {
        for cause in source.chain() {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
        }
    }
    OpError::Transport { message, timeout }
}

fn ok_or_status(status: u16, body: &[u8]) -> Result<(), OpError> {
    if (200..300).contains(&status) { Ok(()) } else { Err(wire::status_error(status, body)) }
}

/// Prefixes `/v1` and adds the Vault headers; the token header is marked sensitive so HTTP
/// layers never log or index it.
struct TokenMiddleware<'a> {
    token: Option<&'a Secret>,
    namespace: Option<&'a str>,
}

impl MiddleWare for TokenMiddleware<'_> {
    fn request<E: Endpoint>(
        &self,
        _: &E,
        req: &mut http::Request<Vec<u8>>,
    ) -> Result<(), RestError> {
        let uri = req.uri();
        let path = uri.path().trim_start_matches('/');
        let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        let scheme = uri.scheme_str().unwrap_or("http");
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let rebuilt = format!("{scheme}://{authority}/v1/{path}{query}");
        *req.uri_mut() = rebuilt.parse().map_err(|source| RestError::UrlBuildError { source })?;
        let headers = req.headers_mut();
        headers.insert("x-vault-request", http::HeaderValue::from_static("true"));
        if let Some(token) = self.token {
            let mut value = http::HeaderValue::from_str(token.expose()).map_err(header_error)?;
            value.set_sensitive(true);
            headers.insert("x-vault-token", value);
        }
        if let Some(ns) = self.namespace {
            let value = http::HeaderValue::from_str(ns).map_err(header_error)?;
            headers.insert("x-vault-namespace", value);
        }
        Ok(())
    }

    fn response<E: Endpoint>(
        &self,
        _: &E,
        _: &mut http::Response<Vec<u8>>,
    ) -> Result<(), RestError> {
        Ok(())
    }
}

fn header_error(e: http::header::InvalidHeaderValue) -> RestError {
    // The value is not quoted: it may be a token.
    RestError::RequestBuildError {
        source: e.into(),
        method: RequestMethod::GET,
        url: "(a header value is invalid)".into(),
    }
}

/// An endpoint `vaultrs` lacks or gets wrong: `renew-self` (its path starts with a tab),
/// `lookup-self` (its response type keeps the token as a plain `String`), the mount lookup.
struct Raw {
    method: RequestMethod,
    path: String,
    body: Option<Vec<u8>>,
}

impl Endpoint for Raw {
    type Response = serde::de::IgnoredAny;
    const REQUEST_BODY_TYPE: RequestType = RequestType::JSON;
    const RESPONSE_BODY_TYPE: ResponseType = ResponseType::JSON;

    fn path(&self) -> String {
        self.path.clone()
    }

    fn method(&self) -> RequestMethod {
        self.method.clone()
    }

    fn body(&self) -> std::result::Result<Option<Vec<u8>>, RestError> {
        Ok(self.body.clone())
    }
}

#[async_trait]
impl VaultOps for VaultrsOps {
    fn address(&self) -> &str {
        &self.addr
    }

    fn backend(&self) -> VaultBackend {
        VaultBackend::Vaultrs
    }

    async fn login(&self, mount: &str, request: &LoginRequest<'_>) -> Result<LoginAuth, OpError> {
        let (status, body) = match request {
            LoginRequest::AppRole { role_id, secret_id } => {
                let endpoint = LoginWithApproleRequest {
                    mount: mount.to_owned(),
                    role_id: (*role_id).to_owned(),
                    secret_id: secret_id.expose().to_owned(),
                };
                self.exec(endpoint, None).await?
            }
            LoginRequest::Kubernetes { role, jwt } => {
                let endpoint = LoginWithKubernetesRequest {
                    mount: mount.to_owned(),
                    role: (*role).to_owned(),
                    jwt: jwt.expose().to_owned(),
                };
                self.exec(endpoint, None).await?
            }
            LoginRequest::Jwt { role, jwt } => {
                let endpoint = JWTLoginRequest {
                    mount: mount.to_owned(),
                    role: Some((*role).to_owned()),
                    jwt: jwt.expose().to_owned(),
                };
                self.exec(endpoint, None).await?
            }
        };
        ok_or_status(status, &body)?;
        wire::login(&body)
    }

    async fn renew_self(&self, token: &Secret, increment: Duration) -> Result<Lease, OpError> {
        let body = serde_json::json!({"increment": super::increment_string(increment)});
        let endpoint = Raw {
            method: RequestMethod::POST,
            path: "auth/token/renew-self".into(),
            body: Some(serde_json::to_vec(&body).unwrap_or_default()),
        };
        let (status, body) = self.exec(endpoint, Some(token)).await?;
        ok_or_status(status, &body)?;
        wire::renew(&body)
    }

    async fn lookup_self(&self, token: Option<&Secret>) -> Result<TokenInfo, OpError> {
        let endpoint =
            Raw { method: RequestMethod::GET, path: "auth/token/lookup-self".into(), body: None };
        let (status, body) = self.exec(endpoint, token).await?;
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
        let endpoint = ReadSecretRequest {
            mount: mount.trim_matches('/').to_owned(),
            path: path.trim_matches('/').to_owned(),
            version,
        };
        let (status, body) = self.exec(endpoint, token).await?;
        if status != 404 {
            ok_or_status(status, &body)?;
        }
        wire::kv2(status, &body)
    }

    async fn mount_info(&self, token: Option<&Secret>, mount: &str) -> Result<MountInfo, OpError> {
        let endpoint = Raw {
            method: RequestMethod::GET,
            path: format!("sys/internal/ui/mounts/{}", mount.trim_matches('/')),
            body: None,
        };
        let (status, body) = self.exec(endpoint, token).await?;
        ok_or_status(status, &body)?;
        wire::mount(&body)
    }
}
