//! When to retry and how long to wait.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::config::{RequestOptions, RetryConfig};
use crate::rt::{self, Instant};

/// The retry and timeout policy of one call: the client's, with the call's overrides.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub retry_after_cap: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub total_timeout: Option<Duration>,
    /// When the total timeout runs out.
    pub deadline: Option<Instant>,
}

impl Policy {
    pub fn new(config: &RetryConfig, options: &RequestOptions, started: Instant) -> Policy {
        let total_timeout = options.total_timeout.or(config.total_timeout);
        Policy {
            max_retries: options.max_retries.unwrap_or(config.max_retries),
            backoff_initial: config.backoff_initial,
            backoff_max: config.backoff_max,
            retry_after_cap: config.retry_after_cap,
            connect_timeout: options.connect_timeout.unwrap_or(config.connect_timeout),
            read_timeout: options.read_timeout.unwrap_or(config.read_timeout),
            total_timeout,
            deadline: total_timeout.map(|t| started + t),
        }
    }

    /// The wait before retry number `retry` (1 for the first): exponential with jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let base = self.backoff_initial.saturating_mul(1u32 << (retry.saturating_sub(1)).min(20));
        rt::jitter(base.min(self.backoff_max), 0.2).min(self.backoff_max)
    }

    /// Time left before the deadline; `None` without a total timeout.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The read timeout, shortened to what is left of the total.
    pub fn read_limit(&self) -> (Duration, bool) {
        match self.remaining() {
            Some(left) if left < self.read_timeout => (left, true),
            _ => (self.read_timeout, false),
        }
    }
}

/// Statuses worth retrying: the request may succeed unchanged later.
pub(crate) fn status_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

/// Statuses never retried, whatever `x-should-retry` says: the request itself is wrong (or the
/// key, which the facade handles), so sending it again cannot help.
pub(crate) fn status_final(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404 | 422)
}

/// Whether to retry a failed response, `x-should-retry` taking precedence over the status.
pub(crate) fn should_retry(status: u16, headers: &HeaderMap) -> bool {
    if status_final(status) {
        return false;
    }
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()).map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        _ => status_retryable(status),
    }
}

/// The wait the server asked for: `retry-after-ms` (milliseconds), else `Retry-After` (seconds or
/// an HTTP date). Unparseable values are ignored; a date in the past means no wait.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(1.0e9)));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1.0e9)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let when = when.duration_since(std::time::UNIX_EPOCH).ok()?;
    // `web_time` rather than `std::time::SystemTime::now()`, which panics on wasm32.
    let now = rt::SystemTime::now().duration_since(rt::UNIX_EPOCH).ok()?;
    Some(when.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(&headers(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "2"), ("retry-after-ms", "150")])),
            Some(Duration::from_millis(150))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(later);
        let wait = retry_after(&headers(&[("retry-after", &date)])).unwrap();
        assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30), "{wait:?}");
        let past = httpdate::fmt_http_date(std::time::UNIX_EPOCH);
        assert_eq!(retry_after(&headers(&[("retry-after", &past)])), Some(Duration::ZERO));
    }

    #[test]
    fn should_retry_rules() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(should_retry(s, &HeaderMap::new()), "{s}");
        }
        for s in [400, 401, 403, 404, 422, 410] {
            assert!(!should_retry(s, &HeaderMap::new()), "{s}");
        }
        assert!(!should_retry(503, &headers(&[("x-should-retry", "false")])));
        assert!(should_retry(410, &headers(&[("x-should-retry", "true")])));
        assert!(!should_retry(400, &headers(&[("x-should-retry", "true")])));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = Policy::new(&RetryConfig::default(), &RequestOptions::default(), Instant::now());
        let b1 = p.backoff(1);
        assert!(b1 >= Duration::from_millis(400) && b1 <= Duration::from_millis(600), "{b1:?}");
        let b3 = p.backoff(3);
        assert!(b3 >= Duration::from_millis(1600) && b3 <= Duration::from_millis(2400), "{b3:?}");
        assert!(p.backoff(30) <= Duration::from_secs(8));
    }
}
