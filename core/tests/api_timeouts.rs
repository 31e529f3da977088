//! Connect, read and total timeouts, and connection errors.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{Scope, err, opts, request};
use futures::StreamExt;
use holysheep_vault::{Error, TimeoutPhase};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_response_is_abandoned_at_the_read_timeout_and_retried() {
    let scope = Scope::new("read-timeout-retry", json!([{"delay_ms": 2000}])).await;
    let client = scope.client(json!({"read_timeout": "300ms"}));
    let started = Instant::now();
    let reply = client.chat(&request("gpt-4.1", "hi"), Default::default()).await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1800),
        "{elapsed:?}"
    );
    assert_eq!(reply.meta.attempts, 2);
    assert_eq!(scope.attempts().await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_attempt_timing_out_is_a_read_timeout() {
    let scope =
        Scope::new("read-timeout-all", json!([{"delay_ms": 1500}, {"delay_ms": 1500}])).await;
    let client = scope.client(json!({"read_timeout": "200ms", "max_retries": 1}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    match e {
        Error::Timeout { phase: TimeoutPhase::Read, after, attempts } => {
            assert_eq!(after, Duration::from_millis(200));
            assert_eq!(attempts, 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(scope.attempts().await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_read_timeout_applies_to_each_gap_in_the_body() {
    // The JSON body arrives in four pieces 400 ms apart: each gap exceeds the read timeout.
    let scope = Scope::new("body-gap", json!([{"chunk_delay_ms": 400}])).await;
    let client = scope.client(json!({"read_timeout": "150ms", "max_retries": 0}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Read, .. }), "{e:?}");

    // Gaps shorter than the read timeout are fine, however long the whole body takes.
    let scope = Scope::new("body-gap-ok", json!([{"chunk_delay_ms": 100}])).await;
    let client = scope.client(json!({"read_timeout": "300ms", "max_retries": 0}));
    client.chat(&request("gpt-4.1", "hi"), Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_stream_times_out_without_a_retry() {
    let scope = Scope::new("stream-gap", json!([{"chunk_delay_ms": 500}])).await;
    let client = scope.client(json!({"read_timeout": "150ms"}));
    let mut stream =
        client.stream(&request("gpt-4.1", "one two three four"), Default::default()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.choices[0].delta.role.as_deref(), Some("assistant"));
    let e = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Read, .. }), "{e:?}");
    assert!(stream.next().await.is_none());
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_total_timeout_bounds_the_whole_call() {
    let scope = Scope::new("total", json!([{"delay_ms": 3000}])).await;
    let client = scope.client(json!({"timeout": "300ms"}));
    let started = Instant::now();
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(started.elapsed() < Duration::from_millis(2000), "{:?}", started.elapsed());
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Total, .. }), "{e:?}");
    assert_eq!(scope.attempts().await, 1);

    // Per call, too, and with retries the total still holds.
    let scope = Scope::new("total-per-call", json!([{"status": 500}, {"delay_ms": 3000}])).await;
    let client = scope.client(json!({}));
    let started = Instant::now();
    let e = err(client.chat(&request("gpt-4.1", "hi"), opts(json!({"timeout_ms": 400}))).await);
    assert!(started.elapsed() < Duration::from_millis(2000), "{:?}", started.elapsed());
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Total, attempts: 2, .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_is_a_connection_error_after_the_retries() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let scope = Scope::new("closed-port", json!([])).await;
    let mut client_options = json!({"max_retries": 2});
    client_options["base_url"] = json!(format!("http://127.0.0.1:{port}/v1"));
    let client = scope.client(client_options);
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    match &e {
        Error::Connection { message, attempts } => {
            assert_eq!(*attempts, 3);
            assert!(message.to_lowercase().contains("connect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable());
    assert!(!e.to_string().contains(&scope.key));
}

#[tokio::test(flavor = "multi_thread")]
async fn connecting_to_a_full_backlog_hits_the_connect_timeout() {
    // A listener that never accepts, with its backlog filled: the kernel drops further SYNs, so a
    // connect hangs until the client gives up.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(100), tokio::net::TcpStream::connect(addr))
                .await
        {
            fillers.push(s);
        }
    }
    let scope = Scope::new("connect-timeout", json!([])).await;
    let mut client_options =
        json!({"max_retries": 0, "connect_timeout": "300ms", "read_timeout": "5s"});
    client_options["base_url"] = json!(format!("http://{addr}/v1"));
    let client = scope.client(client_options);
    let started = Instant::now();
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    match e {
        Error::Timeout { phase: TimeoutPhase::Connect, after, .. } => {
            assert_eq!(after, Duration::from_millis(300));
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }

    // A per-call connect timeout overrides the client's.
    let started = Instant::now();
    let e =
        err(client.chat(&request("gpt-4.1", "hi"), opts(json!({"connect_timeout_ms": 100}))).await);
    assert!(matches!(e, Error::Timeout { phase: TimeoutPhase::Connect, .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(290), "{:?}", started.elapsed());
    drop((fillers, listener));
}
