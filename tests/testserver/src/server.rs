//! Routing and request handling.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::body::RespBody;
use crate::fault::{DropMode, Fault};
use crate::openai::{self, ApiError, Reply};
use crate::state::{App, Arrival, Keys};

/// Returned to hyper to make it close the connection without writing a response.
#[derive(Debug)]
pub struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

type Resp = Response<RespBody>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const SSE: HeaderValue = HeaderValue::from_static("text/event-stream");
const ANY: HeaderValue = HeaderValue::from_static("*");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

fn valid_scope(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

fn request_id(scope: &str, serial: u64) -> HeaderValue {
    // Scope names are validated to header-safe characters before we get here.
    HeaderValue::try_from(format!("req_{scope}_{serial}")).expect("header-safe request id")
}

fn base_headers(h: &mut HeaderMap, req_id: HeaderValue, content_type: Option<HeaderValue>) {
    if let Some(ct) = content_type {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert(X_REQUEST_ID, req_id);
    // Lets browser-hosted wasm tests talk to the server and read its headers.
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, ANY);
}

fn plain_json(status: StatusCode, body: Bytes, req_id: HeaderValue) -> Resp {
    let mut resp = Response::new(RespBody::full(body));
    *resp.status_mut() = status;
    base_headers(resp.headers_mut(), req_id, Some(JSON));
    resp
}

fn error_json(err: &ApiError, req_id: HeaderValue) -> Resp {
    plain_json(err.status, err.to_json(), req_id)
}

fn control_json(status: StatusCode, value: &impl serde::Serialize, req_id: HeaderValue) -> Resp {
    let body = serde_json::to_vec(value).expect("control reply serializes");
    plain_json(status, Bytes::from(body), req_id)
}

/// A JSON API response with the body-level parts of a fault applied.
fn json_with_fault(
    status: StatusCode,
    body: Bytes,
    fault: Option<&Fault>,
    req_id: HeaderValue,
) -> Resp {
    let Some(f) = fault else {
        return plain_json(status, body, req_id);
    };
    let mut body = match (&f.body, f.malformed) {
        (Some(b), _) => Bytes::from(b.clone()),
        (None, true) => Bytes::from_static(openai::MALFORMED_JSON_BODY.as_bytes()),
        (None, false) => body,
    };
    if f.truncate {
        body.truncate(body.len() / 2);
    }
    let full_len = body.len() as u64;
    let rb = if f.drop == Some(DropMode::MidBody) {
        let half = body.slice(..body.len() / 2);
        RespBody::pieces(VecDeque::from([half]), f.chunk_delay, Some(full_len), true)
    } else if f.chunk_delay.is_some() && body.len() >= 4 {
        let q = body.len() / 4;
        let pieces = (0..4)
            .map(|i| body.slice(i * q..if i == 3 { body.len() } else { (i + 1) * q }))
            .collect();
        RespBody::pieces(pieces, f.chunk_delay, Some(full_len), false)
    } else {
        RespBody::full(body)
    };
    let mut resp = Response::new(rb);
    *resp.status_mut() = f.status.filter(|_| status.is_success()).unwrap_or(status);
    base_headers(resp.headers_mut(), req_id, Some(JSON));
    add_fault_headers(resp.headers_mut(), f);
    resp
}

fn add_fault_headers(h: &mut HeaderMap, f: &Fault) {
    for (name, value) in &f.headers {
        h.insert(name.clone(), value.clone());
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let key = key.trim();
    (!key.is_empty()).then_some(key)
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Dropped> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/_control/") {
        let rest = rest.to_owned();
        return Ok(control(&app, req, &rest).await);
    }

    let (scope, api_path) = match path.strip_prefix("/s/") {
        Some(rest) => {
            let scope = rest.split_once('/').map_or(rest, |(scope, _)| scope);
            (scope, &rest[scope.len()..])
        }
        None => ("default", path),
    };
    let serial = app.next_serial();
    if !valid_scope(scope) {
        let err =
            ApiError::invalid("Invalid scope name: use 1-128 characters from [A-Za-z0-9._~-].");
        return Ok(error_json(&err, request_id("invalid", serial)));
    }
    let req_id = request_id(scope, serial);
    let method = req.method();

    if method == Method::OPTIONS {
        return Ok(preflight(&req, req_id));
    }
    let is_get = method == Method::GET || method == Method::HEAD;
    match api_path {
        "/v1/chat/completions" if method == Method::POST => {
            let scope = scope.to_owned();
            chat(&app, req, &scope, serial, req_id).await
        }
        "/v1/models" if is_get => {
            let body = app.models_json.clone();
            let scope = scope.to_owned();
            api_get(&app, &req, &scope, req_id, None, Ok(body)).await
        }
        p if is_get && p.starts_with("/v1/models/") && p.len() > "/v1/models/".len() => {
            let id = &p["/v1/models/".len()..];
            let body = openai::model_json(id).ok_or_else(|| ApiError::model_not_found(id));
            let scope = scope.to_owned();
            let id = id.to_owned();
            api_get(&app, &req, &scope, req_id, Some(&id), body).await
        }
        "/v1/chat/completions" | "/v1/models" => {
            let allow =
                if api_path == "/v1/models" { "GET, HEAD, OPTIONS" } else { "POST, OPTIONS" };
            let err = ApiError::method_not_allowed(method.as_str(), path);
            let mut resp = error_json(&err, req_id);
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            Ok(resp)
        }
        _ => Ok(error_json(&ApiError::not_found_url(method.as_str(), path), req_id)),
    }
}

fn preflight(req: &Request<Incoming>, req_id: HeaderValue) -> Resp {
    let mut resp = Response::new(RespBody::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    base_headers(h, req_id, None);
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
    // A literal "*" would not cover Authorization, so echo what the browser asks for.
    let asked = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
    let allow_headers =
        asked.unwrap_or_else(|| HeaderValue::from_static("authorization, content-type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    resp
}

/// Status recorded in the request log; mirrors the decisions made while responding.
fn planned_status(authorized: bool, fault: Option<&Fault>, normal: StatusCode) -> Option<u16> {
    if !authorized {
        return Some(401);
    }
    match fault {
        Some(f) if f.drop == Some(DropMode::BeforeHeaders) => None,
        Some(f) => match f.status {
            Some(s) if s.as_u16() >= 300 || normal.is_success() => Some(s.as_u16()),
            _ => Some(normal.as_u16()),
        },
        None => Some(normal.as_u16()),
    }
}

async fn apply_delay_and_drop(fault: Option<&Fault>) -> Result<(), Dropped> {
    if let Some(f) = fault {
        if let Some(delay) = f.delay {
            tokio::time::sleep(delay).await;
        }
        if f.drop == Some(DropMode::BeforeHeaders) {
            return Err(Dropped);
        }
    }
    Ok(())
}

fn unauthorized(key: Option<&str>, req_id: HeaderValue) -> Resp {
    let err = match key {
        Some(k) => ApiError::incorrect_key(k),
        None => ApiError::missing_key(),
    };
    error_json(&err, req_id)
}

async fn api_get(
    app: &App,
    req: &Request<Incoming>,
    scope: &str,
    req_id: HeaderValue,
    model: Option<&str>,
    body: Result<Bytes, ApiError>,
) -> Result<Resp, Dropped> {
    let key = bearer(req.headers());
    let arrival =
        Arrival { method: req.method(), path: req.uri().path(), key, stream: false, model };
    let normal = body.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let adm = app.admit(scope, &arrival, |ok, f| planned_status(ok, f, normal));
    if !adm.authorized {
        return Ok(unauthorized(key, req_id));
    }
    let fault = adm.fault.as_deref();
    apply_delay_and_drop(fault).await?;
    if let Some(status) = fault.and_then(Fault::error_status) {
        let err = ApiError::for_fault_status(status, model.unwrap_or("gpt-4.1"), key);
        return Ok(json_with_fault(status, err.to_json(), fault, req_id));
    }
    Ok(match body {
        Ok(body) => json_with_fault(StatusCode::OK, body, fault, req_id),
        Err(err) => json_with_fault(err.status, err.to_json(), fault, req_id),
    })
}

async fn chat(
    app: &App,
    req: Request<Incoming>,
    scope: &str,
    serial: u64,
    req_id: HeaderValue,
) -> Result<Resp, Dropped> {
    let (parts, body) = req.into_parts();
    // A client that hangs up mid-upload gets nothing back; there is nobody to answer.
    let bytes = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let parsed = openai::parse_chat(&bytes);
    let key = bearer(&parts.headers);
    let (stream, model) = match &parsed {
        Ok(plan) => (plan.stream, Some(plan.model.as_str())),
        Err(_) => (false, None),
    };
    let arrival = Arrival { method: &parts.method, path: parts.uri.path(), key, stream, model };
    let normal = parsed.as_ref().map_or_else(|e| e.status, |_| StatusCode::OK);
    let adm = app.admit(scope, &arrival, |ok, f| planned_status(ok, f, normal));
    if !adm.authorized {
        return Ok(unauthorized(key, req_id));
    }
    let fault = adm.fault.as_deref();
    apply_delay_and_drop(fault).await?;
    if let Some(status) = fault.and_then(Fault::error_status) {
        let err = ApiError::for_fault_status(status, model.unwrap_or("gpt-4.1"), key);
        return Ok(json_with_fault(status, err.to_json(), fault, req_id));
    }
    let plan = match parsed {
        Ok(plan) => plan,
        Err(err) => return Ok(json_with_fault(err.status, err.to_json(), fault, req_id)),
    };
    let reply = Reply::new(&plan, serial, fault.and_then(|f| f.reply.as_deref()));
    if !plan.stream {
        return Ok(json_with_fault(StatusCode::OK, reply.to_json(), fault, req_id));
    }
    Ok(stream_response(&reply, fault, req_id))
}

fn stream_response(reply: &Reply<'_>, fault: Option<&Fault>, req_id: HeaderValue) -> Resp {
    let mut abort = false;
    let mut delay = None;
    let events: VecDeque<Bytes> = match fault {
        None => reply.to_events().0.into(),
        Some(f) if f.body.is_some() => {
            VecDeque::from([Bytes::from(f.body.clone().unwrap_or_default())])
        }
        Some(f) => {
            delay = f.chunk_delay;
            let (mut events, mut cut) = reply.to_events();
            if f.malformed {
                events.insert(cut, openai::malformed_event(&reply.id));
                cut += 1;
            }
            if f.stream_error {
                events.truncate(cut);
                events.push(openai::stream_error_event());
            } else if f.drop == Some(DropMode::MidBody) {
                events.truncate(cut);
                abort = true;
            } else if f.truncate {
                // Always lose at least `[DONE]`, and never cut before the first content.
                let keep = (events.len() / 2).max(cut).min(events.len() - 1);
                events.truncate(keep);
            }
            events.into()
        }
    };
    let mut resp = Response::new(RespBody::pieces(events, delay, None, abort));
    if let Some(s) = fault.and_then(|f| f.status).filter(|s| s.is_success()) {
        *resp.status_mut() = s;
    }
    let h = resp.headers_mut();
    base_headers(h, req_id, Some(SSE));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(f) = fault {
        add_fault_headers(h, f);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Control API

fn control_error(status: StatusCode, message: impl Into<String>, req_id: HeaderValue) -> Resp {
    let err = ApiError::invalid(message.into()).with_status(status);
    error_json(&err, req_id)
}

async fn read_json_object(req: Request<Incoming>) -> Result<Map<String, Value>, String> {
    let bytes = req.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err("expected a JSON object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn parse_keys(v: Value) -> Result<Keys, String> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .into_iter()
            .map(|k| match k {
                Value::String(s) if !s.is_empty() => Ok(s.into_boxed_str()),
                _ => Err("keys must be non-empty strings".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(v.into())),
        _ => Err("keys must be an array of strings or null".into()),
    }
}

fn parse_fault_opt(v: Value) -> Result<Option<Arc<Fault>>, String> {
    match v {
        Value::Null => Ok(None),
        v => Fault::from_json(v).map(|f| Some(Arc::new(f))),
    }
}

fn parse_faults(v: Value) -> Result<Vec<Option<Arc<Fault>>>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(parse_fault_opt).collect(),
        _ => Err("faults must be an array".into()),
    }
}

struct ScopeBody {
    keys: Option<Keys>,
    faults: Option<Vec<Option<Arc<Fault>>>>,
    default_fault: Option<Option<Arc<Fault>>>,
}

fn parse_scope_body(mut m: Map<String, Value>) -> Result<ScopeBody, String> {
    let body = ScopeBody {
        keys: m.remove("keys").map(parse_keys).transpose()?,
        faults: m.remove("faults").map(parse_faults).transpose()?,
        default_fault: m.remove("default_fault").map(parse_fault_opt).transpose()?,
    };
    if let Some(unknown) = m.keys().next() {
        return Err(format!("unknown field {unknown:?}; expected keys, faults, default_fault"));
    }
    Ok(body)
}

async fn control(app: &App, req: Request<Incoming>, rest: &str) -> Resp {
    let serial = app.next_serial();
    let method = req.method().clone();
    let (what, scope) = match rest.split_once('/') {
        Some((what, scope)) => (what, Some(scope)),
        None => (rest, None),
    };
    let id_scope = scope.filter(|s| valid_scope(s)).unwrap_or("control");
    let req_id = request_id(id_scope, serial);

    match (what, scope, method.as_str()) {
        ("health", None, "GET" | "HEAD") => {
            control_json(StatusCode::OK, &json!({"status": "ok"}), req_id)
        }
        ("keys", None, "PUT") => {
            let parsed = read_json_object(req).await.and_then(|mut m| {
                let keys = m.remove("keys").ok_or("missing field \"keys\"")?;
                parse_keys(keys)
            });
            match parsed {
                Ok(keys) => {
                    let count = keys.as_ref().map(|k| k.len());
                    app.set_global_keys(keys);
                    control_json(StatusCode::OK, &json!({"keys": count}), req_id)
                }
                Err(e) => control_error(StatusCode::BAD_REQUEST, e, req_id),
            }
        }
        ("scopes", None, "GET") => {
            control_json(StatusCode::OK, &json!({"scopes": app.scope_names()}), req_id)
        }
        ("health" | "keys" | "scopes", _, "OPTIONS") => preflight(&req, req_id),
        ("scopes", Some(scope), _) if !valid_scope(scope) => control_error(
            StatusCode::BAD_REQUEST,
            "Invalid scope name: use 1-128 characters from [A-Za-z0-9._~-].",
            req_id,
        ),
        ("scopes", Some(scope), m @ ("PUT" | "PATCH")) => {
            let is_put = m == "PUT";
            let scope = scope.to_owned();
            let body = match read_json_object(req).await.and_then(parse_scope_body) {
                Ok(b) => b,
                Err(e) => return control_error(StatusCode::BAD_REQUEST, e, req_id),
            };
            if is_put {
                app.put_scope(
                    &scope,
                    body.keys.flatten(),
                    body.faults.unwrap_or_default(),
                    body.default_fault.flatten(),
                );
            } else {
                app.patch_scope(&scope, body.keys, body.faults, body.default_fault);
            }
            let base_url = format!("{}/s/{scope}/v1", app.base_url);
            control_json(StatusCode::OK, &json!({"scope": scope, "base_url": base_url}), req_id)
        }
        ("scopes", Some(scope), "GET" | "HEAD") => {
            control_json(StatusCode::OK, &app.report(scope), req_id)
        }
        ("scopes", Some(scope), "DELETE") => {
            control_json(StatusCode::OK, &json!({"deleted": app.delete_scope(scope)}), req_id)
        }
        ("health" | "keys", None, _) | ("scopes", _, _) => {
            let path = format!("/_control/{rest}");
            error_json(&ApiError::method_not_allowed(method.as_str(), &path), req_id)
        }
        _ => {
            let path = format!("/_control/{rest}");
            error_json(&ApiError::not_found_url(method.as_str(), &path), req_id)
        }
    }
}
