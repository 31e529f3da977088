//! Retries: which statuses, how many attempts, and the waits the server asks for.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{Scope, code, err, opts, request};
use holysheep_vault::Error;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn each_retryable_status_is_retried_once_then_succeeds() {
    for status in [408, 409, 429, 500, 502, 503, 504] {
        let scope = Scope::new("retryable", json!([{"status": status}])).await;
        let client = scope.client(json!({}));
        let reply = client.chat(&request("gpt-4.1", "again"), Default::default()).await;
        let reply = reply.unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(reply.meta.attempts, 2, "{status}");
        assert!(reply.content().unwrap().contains("again"));
        assert_eq!(scope.attempts().await, 2, "{status}");
        let stats = client.stats();
        assert_eq!((stats.requests, stats.attempts, stats.retries), (1, 2, 1), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_spent_then_the_last_error_is_reported() {
    let faults = json!([{"status": 500}, {"status": 502}, {"status": 503}]);
    let scope = Scope::new("exhausted", faults).await;
    let client = scope.client(json!({"max_retries": 2}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert_eq!(e.code(), "server");
    assert_eq!(e.status(), Some(503));
    assert!(e.request_id().unwrap().starts_with("req_"), "{e:?}");
    let info = e.api_info().unwrap();
    assert_eq!(info.error_type.as_deref(), Some("server_error"));
    assert!(info.body.is_some());
    assert_eq!(scope.attempts().await, 3);
    assert_eq!(client.stats().errors["server"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_after_retries_is_rate_limited_with_the_wait() {
    let fault = json!({"status": 429, "headers": {"retry-after-ms": "20"}});
    let scope = Scope::new("rl-exhausted", json!([fault, fault])).await;
    let client = scope.client(json!({"max_retries": 1}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert_eq!(e.code(), "rate_limited");
    assert_eq!(e.retry_after(), Some(Duration::from_millis(20)));
    assert_eq!(e.api_info().unwrap().code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(scope.attempts().await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_ms_is_waited_for() {
    let fault = json!({"status": 429, "headers": {"retry-after-ms": "250"}});
    let scope = Scope::new("retry-after-ms", json!([fault])).await;
    let client = scope.client(json!({}));
    let started = Instant::now();
    let reply = client.chat(&request("gpt-4.1", "patience"), Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    assert_eq!(reply.meta.attempts, 2);
    let state = scope.state().await;
    let at = |i: usize| state["requests"][i]["at_ms"].as_f64().unwrap();
    assert!(at(1) - at(0) >= 245.0, "server saw the retry after {} ms", at(1) - at(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_seconds_is_waited_for() {
    let fault = json!({"status": 503, "headers": {"retry-after": "1"}});
    let scope = Scope::new("retry-after-s", json!([fault])).await;
    let client = scope.client(json!({}));
    let started = Instant::now();
    client.chat(&request("gpt-4.1", "hi"), Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(scope.attempts().await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_beyond_the_cap_fails_at_once_with_the_wait() {
    let fault = json!({"status": 429, "headers": {"retry-after": "120"}});
    let scope = Scope::new("beyond-cap", json!([fault])).await;
    let client = scope.client(json!({}));
    let started = Instant::now();
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert!(e.to_string().contains("retry after 120000ms"), "{e}");
    assert_eq!(scope.attempts().await, 1);

    // A 503 that asks for too long a wait is reported the same way, with its status.
    let fault = json!({"status": 503, "headers": {"retry-after": "90"}});
    let scope = Scope::new("beyond-cap-503", json!([fault])).await;
    let client = scope.client(json!({}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert_eq!((e.code(), e.status()), ("rate_limited", Some(503)));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(90)));
    assert_eq!(scope.attempts().await, 1);

    // A smaller cap turns a short wait into an immediate failure as well.
    let fault = json!({"status": 429, "headers": {"retry-after-ms": "300"}});
    let scope = Scope::new("beyond-small-cap", json!([fault])).await;
    let client = scope.client(json!({"retry_after_cap": "100ms"}));
    assert_eq!(
        code(&client.chat(&request("gpt-4.1", "hi"), Default::default()).await),
        "rate_limited"
    );
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn x_should_retry_overrides_the_status() {
    let no = json!({"status": 503, "headers": {"x-should-retry": "false"}});
    let scope = Scope::new("should-retry-false", json!([no])).await;
    let client = scope.client(json!({}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert_eq!((e.code(), e.status()), ("server", Some(503)));
    assert_eq!(scope.attempts().await, 1);

    // 418 is not retryable by status; the header makes it so.
    let yes = json!({"status": 418, "headers": {"x-should-retry": "true"}});
    let scope = Scope::new("should-retry-true", json!([yes])).await;
    let client = scope.client(json!({}));
    client.chat(&request("gpt-4.1", "hi"), Default::default()).await.unwrap();
    assert_eq!(scope.attempts().await, 2);

    // ...but never for a request that is wrong in itself.
    let bad = json!({"status": 400, "headers": {"x-should-retry": "true"}});
    let scope = Scope::new("should-retry-400", json!([bad])).await;
    let client = scope.client(json!({}));
    assert_eq!(
        code(&client.chat(&request("gpt-4.1", "hi"), Default::default()).await),
        "bad_request"
    );
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_retryable_statuses_take_one_attempt() {
    for (status, expected) in [
        (400, "bad_request"),
        (403, "permission_denied"),
        (404, "not_found"),
        (422, "bad_request"),
        (418, "server"),
    ] {
        let scope = Scope::new("final", json!([{"status": status}])).await;
        let client = scope.client(json!({"max_retries": 3}));
        let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
        assert_eq!((e.code(), e.status()), (expected, Some(status)), "{e:?}");
        assert!(!e.api_info().unwrap().message.is_empty());
        assert_eq!(scope.attempts().await, 1, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn per_call_max_retries_overrides_the_client() {
    let scope = Scope::new("per-call", json!([{"status": 500}, {"status": 500}])).await;
    let client = scope.client(json!({"max_retries": 5}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), opts(json!({"max_retries": 0}))).await);
    assert_eq!(e.status(), Some(500));
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn backoff_doubles_between_attempts() {
    let scope = Scope::new("backoff", json!([{"status": 500}, {"status": 500}])).await;
    let client = scope.client(json!({"backoff_initial": "100ms"}));
    client.chat(&request("gpt-4.1", "hi"), Default::default()).await.unwrap();
    let state = scope.state().await;
    let at = |i: usize| state["requests"][i]["at_ms"].as_f64().unwrap();
    let (first, second) = (at(1) - at(0), at(2) - at(1));
    // 100 ms then 200 ms, each with ±20% jitter.
    assert!((75.0..400.0).contains(&first), "first wait {first} ms");
    assert!((155.0..600.0).contains(&second), "second wait {second} ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn models_are_listed_and_retried_like_chat() {
    let scope = Scope::new("models", json!([{"status": 502}])).await;
    let client = scope.client(json!({}));
    let list = client.models(Default::default()).await.unwrap();
    for id in ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"] {
        assert!(list.ids().contains(&id), "{:?}", list.ids());
    }
    assert_eq!(list.meta.attempts, 2);
    assert!(list.raw["data"].is_array());
}
