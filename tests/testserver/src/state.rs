//! Per-scope configuration, counters and request log.
//!
//! Locks are std mutexes held only for a few field updates and never across an await, so a
//! slow or faulty scope cannot stall another one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use hyper::Method;
use serde::Serialize;

use crate::fault::Fault;

/// Bounds memory when a benchmark pushes millions of requests through one scope; tests only
/// ever look at the first few records.
pub const MAX_RECORDS: usize = 10_000;

pub type Keys = Option<Arc<[Box<str>]>>;

pub struct App {
    scopes: Mutex<HashMap<Box<str>, Arc<Scope>>>,
    /// `None` accepts any non-empty bearer key.
    global_keys: Mutex<Keys>,
    serial: AtomicU64,
    pub base_url: String,
    /// Rendered once: the list never changes and clients poll it as a cheap liveness probe.
    pub models_json: Bytes,
}

pub struct Scope {
    inner: Mutex<ScopeInner>,
}

struct ScopeInner {
    created: Instant,
    /// `None` inherits the global keys.
    keys: Keys,
    /// Indexed by attempt number; `None` entries are normal replies.
    faults: Vec<Option<Arc<Fault>>>,
    default_fault: Option<Arc<Fault>>,
    attempts: u64,
    records: Vec<Record>,
    records_dropped: u64,
}

impl ScopeInner {
    fn new(keys: Keys, faults: Vec<Option<Arc<Fault>>>, default_fault: Option<Arc<Fault>>) -> Self {
        ScopeInner {
            created: Instant::now(),
            keys,
            faults,
            default_fault,
            attempts: 0,
            records: Vec::new(),
            records_dropped: 0,
        }
    }
}

#[derive(Serialize, Clone)]
pub struct Record {
    #[serde(serialize_with = "ser_method")]
    pub method: Method,
    pub path: Box<str>,
    pub authorized: bool,
    pub key_suffix: Option<Box<str>>,
    pub stream: bool,
    pub model: Option<Box<str>>,
    pub at_ms: u64,
    pub at_us: u64,
    pub fault: Option<u64>,
    pub default_fault: bool,
    /// `None` when the connection was dropped before headers.
    pub status: Option<u16>,
}

fn ser_method<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

/// Outcome of counting one API request against its scope.
pub struct Admission {
    pub authorized: bool,
    pub fault: Option<Arc<Fault>>,
}

/// Facts about a request known before the scope is consulted.
pub struct Arrival<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub key: Option<&'a str>,
    pub stream: bool,
    pub model: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ScopeReport {
    pub scope: String,
    pub exists: bool,
    pub attempts: u64,
    pub pending_faults: u64,
    pub requests: Vec<Record>,
    pub requests_dropped: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks cannot leave the data inconsistent in
    // a way that matters for a test server, so keep serving instead of cascading panics.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn key_ok(keys: &Keys, key: Option<&str>) -> bool {
    match (keys, key) {
        (_, None) => false,
        (None, Some(k)) => !k.is_empty(),
        (Some(list), Some(k)) => list.iter().any(|v| &**v == k),
    }
}

impl App {
    pub fn new(global_keys: Keys, base_url: String) -> App {
        App {
            scopes: Mutex::new(HashMap::new()),
            global_keys: Mutex::new(global_keys),
            serial: AtomicU64::new(0),
            base_url,
            models_json: crate::openai::models_list_json(),
        }
    }

    pub fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn set_global_keys(&self, keys: Keys) {
        *lock(&self.global_keys) = keys;
    }

    fn scope(&self, name: &str) -> Arc<Scope> {
        let mut scopes = lock(&self.scopes);
        if let Some(s) = scopes.get(name) {
            return s.clone();
        }
        let scope = Arc::new(Scope { inner: Mutex::new(ScopeInner::new(None, Vec::new(), None)) });
        scopes.insert(name.into(), scope.clone());
        scope
    }

    /// Counts the attempt, checks the key and picks the fault, all under one short lock so
    /// concurrent requests get distinct, gap-free attempt numbers.
    pub fn admit(
        &self,
        scope: &str,
        arrival: &Arrival<'_>,
        status: impl FnOnce(bool, Option<&Fault>) -> Option<u16>,
    ) -> Admission {
        let global = lock(&self.global_keys).clone();
        let scope = self.scope(scope);
        let mut s = lock(&scope.inner);
        let attempt = s.attempts;
        s.attempts += 1;
        let authorized = match &s.keys {
            Some(_) => key_ok(&s.keys, arrival.key),
            None => key_ok(&global, arrival.key),
        };
        let (fault, from_list, is_default) = if !authorized {
            (None, false, false)
        } else if let Some(slot) = s.faults.get(attempt as usize) {
            (slot.clone(), slot.is_some(), false)
        } else {
            let d = s.default_fault.clone();
            let is_default = d.is_some();
            (d, false, is_default)
        };
        if s.records.len() < MAX_RECORDS {
            let at = s.created.elapsed();
            let record = Record {
                method: arrival.method.clone(),
                path: arrival.path.into(),
                authorized,
                key_suffix: arrival.key.and_then(crate::openai::key_suffix),
                stream: arrival.stream,
                model: arrival.model.map(Into::into),
                at_ms: at.as_millis() as u64,
                at_us: at.as_micros() as u64,
                fault: from_list.then_some(attempt),
                default_fault: is_default,
                status: status(authorized, fault.as_deref()),
            };
            s.records.push(record);
        } else {
            s.records_dropped += 1;
        }
        Admission { authorized, fault }
    }

    pub fn put_scope(
        &self,
        name: &str,
        keys: Keys,
        faults: Vec<Option<Arc<Fault>>>,
        default_fault: Option<Arc<Fault>>,
    ) {
        let scope = self.scope(name);
        *lock(&scope.inner) = ScopeInner::new(keys, faults, default_fault);
    }

    /// `None` arguments leave that setting unchanged.
    pub fn patch_scope(
        &self,
        name: &str,
        keys: Option<Keys>,
        append_faults: Option<Vec<Option<Arc<Fault>>>>,
        default_fault: Option<Option<Arc<Fault>>>,
    ) {
        let scope = self.scope(name);
        let mut s = lock(&scope.inner);
        if let Some(keys) = keys {
            s.keys = keys;
        }
        if let Some(faults) = append_faults {
            // Appended faults are for attempts still to come, not for slots already used.
            let next = s.attempts as usize;
            if s.faults.len() < next {
                s.faults.resize(next, None);
            }
            s.faults.extend(faults);
        }
        if let Some(d) = default_fault {
            s.default_fault = d;
        }
    }

    pub fn delete_scope(&self, name: &str) -> bool {
        lock(&self.scopes).remove(name).is_some()
    }

    pub fn scope_names(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.scopes).keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    }

    pub fn report(&self, name: &str) -> ScopeReport {
        let scope = lock(&self.scopes).get(name).cloned();
        let Some(scope) = scope else {
            return ScopeReport {
                scope: name.to_owned(),
                exists: false,
                attempts: 0,
                pending_faults: 0,
                requests: Vec::new(),
                requests_dropped: 0,
            };
        };
        let s = lock(&scope.inner);
        ScopeReport {
            scope: name.to_owned(),
            exists: true,
            attempts: s.attempts,
            pending_faults: (s.faults.len() as u64).saturating_sub(s.attempts),
            requests: s.records.clone(),
            requests_dropped: s.records_dropped,
        }
    }
}
