//! Streamed replies: chunks, tool-call fragments, the usage chunk, and every way a stream breaks.

mod api_support;

use std::time::{Duration, Instant};

use api_support::{Scope, err, request};
use futures::StreamExt;
use holysheep_vault::api::types::ChatAccumulator;
use holysheep_vault::{ChatChunk, ChatStream, Error, Result};
use serde_json::json;

async fn collect(mut stream: ChatStream) -> (Vec<ChatChunk>, Option<Error>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(c) => chunks.push(c),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing follows an error");
                return (chunks, Some(e));
            }
        }
    }
    (chunks, None)
}

fn text(chunks: &[ChatChunk]) -> String {
    chunks.iter().filter_map(ChatChunk::content).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_yields_deltas_then_usage_and_is_costed() {
    let scope = Scope::new("stream", json!([])).await;
    let client = scope.client(json!({}));
    let words = "stream me a few words please";
    let req = request("deepseek-v3.2", words).set("stream_options", json!({"include_usage": true}));
    let stream = client.stream(&req, Default::default()).await.unwrap();
    assert!(stream.request_id().unwrap().starts_with("req_"));
    assert_eq!(stream.meta().attempts, 1);
    let (chunks, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert!(chunks.len() >= 4, "{}", chunks.len());
    assert_eq!(text(&chunks), format!("Echo from deepseek-v3.2: {words}"));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let usage = last.usage.unwrap();
    let expected = (usage.prompt_tokens + usage.completion_tokens) as f64 * 0.42 / 1e6;
    assert!((last.cost_usd.unwrap() - expected).abs() < 1e-15);
    assert!(chunks.iter().any(|c| c.finish_reason() == Some("stop")));
    assert_eq!(last.raw["provider"], "holysheep-testserver");

    let stats = client.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.tokens_in, usage.prompt_tokens);
    assert_eq!(stats.tokens_out, usage.completion_tokens);
    assert!((stats.cost_usd - expected).abs() < 1e-15);
    assert_eq!(stats.models["deepseek-v3.2"].requests, 1);
    assert_eq!(scope.state().await["requests"][0]["stream"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_who_did_not_ask_for_usage_gets_no_usage_chunk_but_the_call_is_costed() {
    let scope = Scope::new("stream-no-usage", json!([])).await;
    let client = scope.client(json!({}));
    let stream =
        client.stream(&request("deepseek-v3.2", "a b c"), Default::default()).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    // OpenAI-style loops read `choices[0]` of every chunk: none may come without choices.
    assert!(chunks.iter().all(|c| !c.choices.is_empty()), "a chunk without choices was yielded");
    let stats = client.stats();
    assert!(stats.tokens_in > 0 && stats.cost_usd > 0.0, "{stats:?}");
    // The library asked the server for usage all the same, to cost the call.
    let sent = &scope.state().await["requests"][0];
    assert_eq!(sent["stream"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_assembles_into_the_unstreamed_reply() {
    let scope = Scope::new("stream-assemble", json!([])).await;
    let client = scope.client(json!({}));
    let req = request("gpt-4.1", "same either way");
    let plain = client.chat(&req, Default::default()).await.unwrap();
    let asked = req.clone().set("stream_options", json!({"include_usage": true}));
    let streamed =
        client.stream(&asked, Default::default()).await.unwrap().into_completion().await.unwrap();
    assert_eq!(streamed.content(), plain.content());
    assert_eq!(streamed.finish_reason(), plain.finish_reason());
    assert_eq!(streamed.usage, plain.usage);
    assert_eq!(streamed.meta.cost_usd, plain.meta.cost_usd);
    assert!(streamed.meta.request_id.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_call_fragments_assemble() {
    let scope = Scope::new("stream-tools", json!([])).await;
    let client = scope.client(json!({}));
    let req = request("gpt-4.1", "weather in Tokyo?").set(
        "tools",
        json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}}}}}]),
    );
    let stream = client.stream(&req, Default::default()).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    let fragments = chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter(|c| !c.delta.tool_calls.is_empty())
        .count();
    assert!(fragments >= 2, "{fragments}");
    let mut acc = ChatAccumulator::new();
    chunks.iter().for_each(|c| acc.push(c));
    let done = acc.finish();
    assert_eq!(done.finish_reason(), Some("tool_calls"));
    let call = &done.tool_calls()[0];
    assert_eq!(call.function.name, "get_weather");
    assert!(call.id.starts_with("call_"));
    let args: serde_json::Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(args, json!({"location": "Tokyo", "unit": "celsius"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_is_not_requested_when_the_caller_declines_it() {
    let scope = Scope::new("stream-no-usage", json!([])).await;
    let client = scope.client(json!({}));
    let req = request("gpt-4.1", "hi").set("stream_options", json!({"include_usage": false}));
    let (chunks, error) = collect(client.stream(&req, Default::default()).await.unwrap()).await;
    assert!(error.is_none());
    assert!(chunks.iter().all(|c| c.usage.is_none() && c.cost_usd.is_none()));
    let stats = client.stats();
    assert_eq!((stats.requests, stats.tokens_in, stats.cost_usd), (1, 0, 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_object_in_the_stream_ends_it_with_an_invalid_response() {
    let scope = Scope::new("stream-error", json!([{"stream_error": true}])).await;
    let client = scope.client(json!({}));
    let stream = client
        .stream(&request("gpt-4.1", "several words in this reply"), Default::default())
        .await
        .unwrap();
    let (chunks, error) = collect(stream).await;
    assert!(!chunks.is_empty());
    let e = error.expect("an error");
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e:?}");
    assert!(e.to_string().contains("The server had an error"), "{e}");
    assert!(e.to_string().contains("server_error"), "{e}");
    assert!(e.request_id().is_some());
    assert_eq!(scope.attempts().await, 1);
    assert_eq!(client.stats().errors["invalid_response"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_stream_is_an_invalid_response() {
    let scope = Scope::new("stream-truncated", json!([{"truncate": true}])).await;
    let client = scope.client(json!({}));
    let stream = client
        .stream(&request("gpt-4.1", "several words in this reply"), Default::default())
        .await
        .unwrap();
    let (chunks, error) = collect(stream).await;
    assert!(!chunks.is_empty());
    let e = error.expect("an error");
    assert!(e.to_string().contains("stream ended before [DONE]"), "{e}");
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_event_is_an_invalid_response() {
    let scope = Scope::new("stream-malformed", json!([{"malformed": true}])).await;
    let client = scope.client(json!({}));
    let stream = client
        .stream(&request("gpt-4.1", "several words in this reply"), Default::default())
        .await
        .unwrap();
    let (_, error) = collect(stream).await;
    let e = error.expect("an error");
    assert!(e.to_string().contains("malformed event"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_dropped_mid_body_is_a_connection_error_never_retried() {
    let scope = Scope::new("stream-drop-mid", json!([{"drop": "mid_body"}])).await;
    let client = scope.client(json!({}));
    let stream = client
        .stream(&request("gpt-4.1", "several words in this reply"), Default::default())
        .await
        .unwrap();
    let (chunks, error) = collect(stream).await;
    assert!(!chunks.is_empty());
    let e = error.expect("an error");
    assert!(matches!(e, Error::Connection { .. }), "{e:?}");
    assert_eq!(scope.attempts().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_before_any_data_are_retried() {
    let faults = json!([
        {"status": 429, "headers": {"retry-after-ms": "50"}},
        {"drop": "before_headers"},
        {"status": 503},
    ]);
    let scope = Scope::new("stream-retry", faults).await;
    let client = scope.client(json!({"max_retries": 3}));
    let started = Instant::now();
    let stream =
        client.stream(&request("gpt-4.1", "retry then stream"), Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(stream.meta().attempts, 4);
    let done = stream.into_completion().await.unwrap();
    assert!(done.content().unwrap().contains("retry then stream"));
    assert_eq!(scope.attempts().await, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_stream_cancels_it_and_the_client_carries_on() {
    let scope = Scope::new("stream-cancel", json!([{"chunk_delay_ms": 300}])).await;
    let client = scope.client(json!({}));
    let mut stream = client
        .stream(&request("gpt-4.1", "a long reply with many many words in it"), Default::default())
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    let started = Instant::now();
    drop(stream);
    assert!(started.elapsed() < Duration::from_millis(100));
    client.chat(&request("gpt-4.1", "still here"), Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_are_send_and_run_on_other_tasks() {
    let scope = Scope::new("stream-send", json!([])).await;
    let client = scope.client(json!({}));
    let stream =
        client.stream(&request("gpt-4.1", "from a task"), Default::default()).await.unwrap();
    let handle = tokio::spawn(async move { stream.into_completion().await });
    let done: Result<_> = handle.await.unwrap();
    assert!(done.unwrap().content().unwrap().contains("from a task"));
    let e = err(client.stream(&request("gpt-4.1", "x").set("n", 0), Default::default()).await);
    assert_eq!(e.code(), "invalid_input");
}
