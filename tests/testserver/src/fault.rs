//! Fault descriptions accepted by the control API.

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropMode {
    BeforeHeaders,
    MidBody,
}

/// Header values may be written as numbers (`{"retry-after": 1}`) for convenience.
#[derive(Deserialize)]
#[serde(untagged)]
enum HeaderValueIn {
    Str(String),
    Num(serde_json::Number),
}

/// Wire form; unknown fields are rejected so a typo in a test fails loudly instead of
/// silently producing a normal reply.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultIn {
    status: Option<u16>,
    headers: Option<BTreeMap<String, HeaderValueIn>>,
    body: Option<String>,
    delay_ms: Option<u64>,
    chunk_delay_ms: Option<u64>,
    drop: Option<DropMode>,
    #[serde(default)]
    truncate: bool,
    #[serde(default)]
    malformed: bool,
    #[serde(default)]
    stream_error: bool,
    reply: Option<String>,
}

/// Validated fault, with headers already converted so the request path never re-parses them.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    pub status: Option<StatusCode>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<String>,
    pub delay: Option<Duration>,
    pub chunk_delay: Option<Duration>,
    pub drop: Option<DropMode>,
    pub truncate: bool,
    pub malformed: bool,
    pub stream_error: bool,
    pub reply: Option<String>,
}

impl Fault {
    pub fn from_json(value: serde_json::Value) -> Result<Fault, String> {
        let raw: FaultIn =
            serde_json::from_value(value).map_err(|e| format!("invalid fault: {e}"))?;
        let status = match raw.status {
            None => None,
            Some(code) if (200..=599).contains(&code) => {
                Some(StatusCode::from_u16(code).map_err(|e| format!("invalid fault status: {e}"))?)
            }
            Some(code) => return Err(format!("invalid fault status {code}: expected 200..=599")),
        };
        let mut headers = Vec::new();
        for (name, value) in raw.headers.unwrap_or_default() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid fault header name {name:?}"))?;
            let value = match value {
                HeaderValueIn::Str(s) => s,
                HeaderValueIn::Num(n) => n.to_string(),
            };
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("invalid value for fault header {name}"))?;
            headers.push((name, value));
        }
        Ok(Fault {
            status,
            headers,
            body: raw.body,
            delay: raw.delay_ms.map(Duration::from_millis),
            chunk_delay: raw.chunk_delay_ms.map(Duration::from_millis),
            drop: raw.drop,
            truncate: raw.truncate,
            malformed: raw.malformed,
            stream_error: raw.stream_error,
            reply: raw.reply,
        })
    }

    /// Status faults below 300 only change the status line of an otherwise normal reply.
    pub fn error_status(&self) -> Option<StatusCode> {
        self.status.filter(|s| s.as_u16() >= 300)
    }
}
