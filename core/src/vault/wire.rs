//! Vault's JSON shapes, decoded the same way for both implementations. Only decoding lives here:
//! no decision about what an answer means.

use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use super::{KvData, KvMetadata, KvRead, Lease, LoginAuth, MountInfo, OpError, TokenInfo};
use crate::secret::Secret;

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    auth: Option<WireAuth>,
}

#[derive(Deserialize)]
struct WireAuth {
    client_token: String,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize)]
struct WireKv {
    data: Option<serde_json::Map<String, serde_json::Value>>,
    metadata: Option<WireKvMetadata>,
}

#[derive(Deserialize)]
struct WireKvMetadata {
    version: u64,
    #[serde(default)]
    created_time: String,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

#[derive(Deserialize)]
struct WireLookup {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: Option<bool>,
    #[serde(default)]
    explicit_max_ttl: u64,
}

#[derive(Deserialize)]
struct WireMount {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    options: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct WireErrors {
    #[serde(default)]
    errors: Vec<String>,
}

fn shape(what: &str) -> OpError {
    // serde's message can quote a value from the body (a key), so it is never passed on.
    OpError::Shape { message: format!("the answer to {what} is not the expected JSON shape") }
}

fn envelope<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<Envelope<T>, OpError> {
    serde_json::from_slice(body).map_err(|_| shape(what))
}

/// Vault's multi-error text (`1 error occurred:\n\t* permission denied\n\n`) made one line.
pub(crate) fn join_errors(errors: &[String]) -> String {
    errors
        .iter()
        .map(|e| {
            let lines: Vec<&str> = e
                .lines()
                .map(|l| l.trim().trim_start_matches("* ").trim())
                .filter(|l| !l.is_empty() && !l.ends_with("error occurred:"))
                .filter(|l| !(l.ends_with("errors occurred:")))
                .collect();
            if lines.is_empty() { e.trim().to_owned() } else { lines.join("; ") }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A non-2xx answer. Bodies that are not Vault's `{"errors": [...]}` are not quoted.
pub(crate) fn status_error(status: u16, body: &[u8]) -> OpError {
    let errors = serde_json::from_slice::<WireErrors>(body).map(|e| e.errors).unwrap_or_default();
    OpError::Status { status, errors }
}

pub(crate) fn login(body: &[u8]) -> Result<LoginAuth, OpError> {
    let env: Envelope<serde::de::IgnoredAny> = envelope(body, "the login")?;
    let auth = env.auth.ok_or_else(|| shape("the login (no auth object)"))?;
    if auth.client_token.trim().is_empty() {
        return Err(shape("the login (empty client_token)"));
    }
    Ok(LoginAuth {
        token: Secret::new(auth.client_token),
        lease: Lease { ttl: Duration::from_secs(auth.lease_duration), renewable: auth.renewable },
        policies: auth.policies,
    })
}

pub(crate) fn renew(body: &[u8]) -> Result<Lease, OpError> {
    let env: Envelope<serde::de::IgnoredAny> = envelope(body, "renew-self")?;
    let auth = env.auth.ok_or_else(|| shape("renew-self (no auth object)"))?;
    // The answer repeats the token; it is dropped (and zeroed) here.
    let _ = Secret::new(auth.client_token);
    Ok(Lease { ttl: Duration::from_secs(auth.lease_duration), renewable: auth.renewable })
}

pub(crate) fn lookup(body: &[u8]) -> Result<TokenInfo, OpError> {
    let env: Envelope<WireLookup> = envelope(body, "lookup-self")?;
    let data = env.data.ok_or_else(|| shape("lookup-self (no data)"))?;
    Ok(TokenInfo {
        ttl: Duration::from_secs(data.ttl),
        renewable: data.renewable.unwrap_or(false),
        explicit_max_ttl: Duration::from_secs(data.explicit_max_ttl),
    })
}

/// A KV v2 answer: `status` is 200, or 404 for a deleted or destroyed version (which still
/// carries its metadata). A 404 without metadata is an ordinary [`OpError::Status`].
pub(crate) fn kv2(status: u16, body: &[u8]) -> Result<KvRead, OpError> {
    if status == 404 {
        let parsed: Option<Envelope<WireKv>> = serde_json::from_slice(body).ok();
        return match parsed.and_then(|e| e.data).and_then(|d| d.metadata) {
            Some(m) => Ok(KvRead { data: None, metadata: Some(metadata(m)) }),
            None => Err(status_error(status, body)),
        };
    }
    let env: Envelope<WireKv> = envelope(body, "the KV v2 read")?;
    let data = env.data.ok_or_else(|| shape("the KV v2 read (no data)"))?;
    Ok(KvRead { data: data.data.map(KvData::new), metadata: data.metadata.map(metadata) })
}

fn metadata(m: WireKvMetadata) -> KvMetadata {
    KvMetadata {
        version: m.version,
        created_time: m.created_time,
        deletion_time: m.deletion_time,
        destroyed: m.destroyed,
    }
}

pub(crate) fn mount(body: &[u8]) -> Result<MountInfo, OpError> {
    let env: Envelope<WireMount> = envelope(body, "the mount lookup")?;
    let m = env.data.ok_or_else(|| shape("the mount lookup (no data)"))?;
    let version = m.options.as_ref().and_then(|o| o.get("version")).and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    Ok(MountInfo { kind: m.kind, version, path: m.path })
}

/// A response body held so that it is zeroed when dropped: it may carry a token or a key.
pub(crate) type Body = Zeroizing<Vec<u8>>;

/// `a/b c` -> `a/b%20c`: each path segment percent-encoded, slashes kept.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>())
        .map(|s| s.replace('+', "%20"))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_error_text_becomes_one_line() {
        let errors = vec!["1 error occurred:\n\t* permission denied\n\n".to_owned()];
        assert_eq!(join_errors(&errors), "permission denied");
        assert_eq!(
            join_errors(&["invalid role or secret ID".to_owned()]),
            "invalid role or secret ID"
        );
    }

    #[test]
    fn deleted_version_keeps_its_metadata() {
        let body = br#"{"data":{"data":null,"metadata":{"created_time":"t","deletion_time":"d",
            "destroyed":false,"version":3}}}"#;
        let read = kv2(404, body).unwrap();
        assert!(read.data.is_none());
        assert_eq!(read.metadata.unwrap().deletion_time, "d");
        assert_eq!(
            kv2(404, br#"{"errors":[]}"#).unwrap_err(),
            OpError::Status { status: 404, errors: vec![] }
        );
    }

    #[test]
    fn shape_errors_never_quote_the_body() {
        let body = br#"{"data":{"data":"sk-canary-value","metadata":1}}"#;
        let err = kv2(200, body).unwrap_err().to_string();
        assert!(!err.contains("canary"), "{err}");
    }

    #[test]
    fn kv_data_debug_names_fields_only() {
        let mut map = serde_json::Map::new();
        map.insert("api_key".into(), "sk-canary".into());
        let data = KvData::new(map);
        assert_eq!(format!("{data:?}"), "KvData(fields: [\"api_key\"])");
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("a/b c/d"), "a/b%20c/d");
        assert_eq!(encode_path("/prod/api_key/"), "prod/api_key");
    }
}
