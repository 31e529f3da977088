//! Dropped, truncated and malformed responses; request validation; errors scrubbed of the key.

mod api_support;

use api_support::{Scope, code, err, request};
use holysheep_vault::{ChatRequest, Error};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_dropped_before_the_response_is_retried() {
    let scope = Scope::new("drop-before", json!([{"drop": "before_headers"}])).await;
    let client = scope.client(json!({}));
    let reply = client.chat(&request("gpt-4.1", "hi again"), Default::default()).await.unwrap();
    assert!(reply.content().unwrap().contains("hi again"));
    assert_eq!(scope.attempts().await, 2);

    let drops =
        json!([{"drop": "before_headers"}, {"drop": "before_headers"}, {"drop": "before_headers"}]);
    let scope = Scope::new("drop-before-all", drops).await;
    let client = scope.client(json!({"max_retries": 2}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(matches!(e, Error::Connection { attempts: 3, .. }), "{e:?}");
    assert_eq!(scope.attempts().await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_cut_off_mid_way_is_retried_when_unstreamed() {
    let scope = Scope::new("drop-mid", json!([{"drop": "mid_body"}])).await;
    let client = scope.client(json!({}));
    let reply = client.chat(&request("gpt-4.1", "whole"), Default::default()).await.unwrap();
    assert!(reply.content().unwrap().contains("whole"));
    assert_eq!(scope.attempts().await, 2);

    let scope = Scope::new("drop-mid-final", json!([{"drop": "mid_body"}])).await;
    let client = scope.client(json!({"max_retries": 0}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    match e {
        Error::Connection { message, .. } => {
            assert!(message.contains("reading the response"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_and_malformed_bodies_are_invalid_responses_not_retried() {
    for fault in
        [json!({"truncate": true}), json!({"malformed": true}), json!({"body": "{\"foo\": 1}"})]
    {
        let scope = Scope::new("bad-body", json!([fault])).await;
        let client = scope.client(json!({}));
        let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
        assert!(matches!(e, Error::InvalidResponse { .. }), "{fault}: {e:?}");
        assert!(e.request_id().is_some(), "{fault}: {e:?}");
        assert_eq!(scope.attempts().await, 1, "{fault}");
        assert_eq!(client.stats().errors["invalid_response"], 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_object_with_a_200_is_an_invalid_response() {
    let body =
        json!({"error": {"message": "quota exhausted", "type": "insufficient_quota"}}).to_string();
    let scope = Scope::new("error-200", json!([{"body": body}])).await;
    let client = scope.client(json!({}));
    let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(e.to_string().contains("quota exhausted"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_echoed_by_a_relay_is_scrubbed_from_errors() {
    let scope = Scope::new("scrub", json!([])).await;
    let key = scope.key.clone();
    let half = &key[4..key.len() - 3];
    let body = json!({
        "error": {"message": format!("upstream refused key {key} (prefix {half})"), "type": "relay_error",
                  "code": "bad_key"},
        "echo": {"authorization": format!("Bearer {key}")},
    })
    .to_string();
    scope.patch(json!({"faults": [{"status": 500, "body": body}, {"status": 502, "body": format!("<html>{key}</html>")}]})).await;
    let client = scope.client(json!({"max_retries": 0}));
    for _ in 0..2 {
        let e = err(client.chat(&request("gpt-4.1", "hi"), Default::default()).await);
        let everything =
            format!("{e} {e:?} {}", serde_json::to_string(&e.api_info().unwrap().body).unwrap());
        assert!(!everything.contains(half), "{everything}");
        assert!(everything.contains("***"), "{everything}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_requests_are_refused_before_sending() {
    let scope = Scope::new("invalid", json!([])).await;
    let client = scope.client(json!({}));
    let bad = ChatRequest::new(
        "gpt-4.1",
        [json!({"role": "user", "content": "x"}), json!({"role": "robot"})],
    );
    let e = err(client.chat(&bad, Default::default()).await);
    match &e {
        Error::InvalidInput { field, .. } => assert_eq!(field, "messages[1].role"),
        other => panic!("{other:?}"),
    }
    let streamed = request("gpt-4.1", "x").set("stream", true);
    let e = err(client.chat(&streamed, Default::default()).await);
    assert!(matches!(&e, Error::InvalidInput { field, .. } if field == "stream"), "{e:?}");
    // `stream: false` is passed through.
    client.chat(&request("gpt-4.1", "x").set("stream", false), Default::default()).await.unwrap();
    assert_eq!(
        code(
            &client.chat(&request("gpt-4.1", "x").set("max_tokens", "9"), Default::default()).await
        ),
        "invalid_input"
    );
    assert_eq!(scope.attempts().await, 1);
    assert_eq!(client.stats().requests, 1);
    assert_eq!(client.stats().errors["invalid_input"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_field_reaches_the_api_and_every_field_comes_back() {
    let scope = Scope::new("passthrough", json!([])).await;
    let client = scope.client(json!({}));
    let request = ChatRequest::from_json(json!({
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "really"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "3 degrees"},
            {"role": "user", "content": "and tomorrow?"}
        ],
        "temperature": 0.1, "max_completion_tokens": 500, "top_p": 0.9, "stop": ["\n\n"], "n": 2,
        "seed": 1, "user": "u-1", "response_format": {"type": "text"},
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "tool_choice": "none"
    }))
    .unwrap();
    let reply = client.chat(&request, Default::default()).await.unwrap();
    assert_eq!(reply.choices.len(), 2);
    assert!(reply.content().unwrap().contains("and tomorrow?"));
    assert!(reply.raw["usage"]["cost_usd"].as_f64().is_some());
    assert_eq!(reply.raw["provider"], "holysheep-testserver");
    assert_eq!(reply.raw["system_fingerprint"], "fp_testserver");
    assert!(reply.meta.request_id.as_deref().unwrap().starts_with("req_"));
    assert_eq!(reply.meta.attempts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_are_typed() {
    let scope = Scope::new("tools", json!([])).await;
    let client = scope.client(json!({}));
    let request = request("gpt-4.1", "weather in Tokyo?").set(
        "tools",
        json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]),
    );
    let reply = client.chat(&request, Default::default()).await.unwrap();
    assert_eq!(reply.finish_reason(), Some("tool_calls"));
    let call = &reply.tool_calls()[0];
    assert_eq!(call.function.name, "get_weather");
    let args: serde_json::Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(args["location"], "Tokyo");
}
