//! End-to-end checks of the wire format and the control API over real HTTP.

use std::time::{Duration, Instant};

use holysheep_testserver::{Config, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "sk-test-key-0001";

struct Ctx {
    server: TestServer,
    http: reqwest::Client,
}

impl Ctx {
    async fn new() -> Ctx {
        let server = TestServer::start(Config::new().key(KEY).key("sk-b")).await.unwrap();
        Ctx { server, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn put_scope(&self, scope: &str, body: Value) -> Value {
        self.control(reqwest::Method::PUT, scope, body).await
    }

    async fn control(&self, method: reqwest::Method, scope: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, self.url(&format!("/_control/scopes/{scope}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "control call failed");
        resp.json().await.unwrap()
    }

    async fn scope_report(&self, scope: &str) -> Value {
        let url = self.url(&format!("/_control/scopes/{scope}"));
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    async fn chat(&self, scope: &str, key: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/chat/completions", self.server.scope_url(scope)))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn simple(text: &str) -> Value {
    json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": text}]})
}

fn weather_tools() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
                },
                "required": ["location"]
            }
        }
    }, {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
    }])
}

/// Splits an SSE body into its `data:` payloads, insisting on the exact framing.
fn sse_events(body: &str) -> Vec<String> {
    assert!(body.ends_with("\n\n"), "stream must end on an event boundary: {body:?}");
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|e| e.strip_prefix("data: ").unwrap_or_else(|| panic!("bad event {e:?}")).to_owned())
        .collect()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_reply_has_openai_shape() {
    let ctx = Ctx::new().await;
    let resp = ctx.chat("shape", KEY, simple("Hello, world!")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), Some("application/json"));
    assert!(header(&resp, "content-length").is_some());
    assert!(header(&resp, "x-request-id").unwrap().starts_with("req_shape_"));
    let v: Value = resp.json().await.unwrap();

    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4.1");
    assert_eq!(v["system_fingerprint"], "fp_testserver");
    assert_eq!(v["provider"], "holysheep-testserver");
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 1);
    assert_eq!(choices[0]["index"], 0);
    assert_eq!(choices[0]["finish_reason"], "stop");
    assert_eq!(choices[0]["logprobs"], Value::Null);
    let msg = &choices[0]["message"];
    assert_eq!(msg["role"], "assistant");
    assert_eq!(msg["content"], "Echo from gpt-4.1: Hello, world!");
    assert_eq!(msg["refusal"], Value::Null);
    assert!(msg.get("tool_calls").is_none());

    let u = &v["usage"];
    // 13 chars -> 4 tokens + 4 per message; reply of 32 chars -> 8 tokens.
    assert_eq!(u["prompt_tokens"], 8);
    assert_eq!(u["completion_tokens"], 8);
    assert_eq!(u["total_tokens"], 16);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 0);
    assert!((u["cost_usd"].as_f64().unwrap() - 16.0 * 8.0 / 1e6).abs() < 1e-12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_parts_n_and_max_tokens() {
    let ctx = Ctx::new().await;
    let body = json!({
        "model": "deepseek-v3.2",
        "n": 2,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "first part"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "second part"}
            ]}
        ]
    });
    let v: Value = ctx.chat("parts", KEY, body).await.json().await.unwrap();
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(choices[1]["index"], 1);
    let expected = "Echo from deepseek-v3.2: first part\nsecond part";
    assert_eq!(choices[0]["message"]["content"], expected);
    assert_eq!(choices[1]["message"]["content"], expected);
    let completion = (expected.len() as u64).div_ceil(4);
    assert_eq!(v["usage"]["completion_tokens"], completion * 2);

    let mut body = simple("a fairly long prompt that will not fit");
    body["max_tokens"] = json!(3);
    let v: Value = ctx.chat("parts", KEY, body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["choices"][0]["message"]["content"], "Echo from gp");
    assert_eq!(v["usage"]["completion_tokens"], 3);

    let mut body = simple("hi");
    body["max_completion_tokens"] = json!(1000);
    let v: Value = ctx.chat("parts", KEY, body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_mask_the_key() {
    let ctx = Ctx::new().await;
    let wrong = "sk-wrong-secret-value-9876";
    let resp = ctx.chat("auth", wrong, simple("hi")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&resp, "x-request-id").unwrap().starts_with("req_auth_"));
    let text = resp.text().await.unwrap();
    assert!(!text.contains(wrong), "full key echoed: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let err = &v["error"];
    assert_eq!(err["type"], "invalid_request_error");
    assert_eq!(err["code"], "invalid_api_key");
    assert_eq!(err["param"], Value::Null);
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("Incorrect API key provided: sk-wr*"), "{msg}");
    assert!(msg.contains("*9876. You can find your API key"), "{msg}");

    // No Authorization header at all.
    let resp = ctx
        .http
        .post(format!("{}/chat/completions", ctx.server.scope_url("auth")))
        .json(&simple("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().starts_with("You didn't provide an API key"));

    // The second global key works, and the report never contains a full key.
    assert_eq!(ctx.chat("auth", "sk-b", simple("hi")).await.status(), StatusCode::OK);
    let report = ctx.scope_report("auth").await;
    assert_eq!(report["attempts"], 3);
    let reqs = report["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["authorized"], false);
    assert_eq!(reqs[0]["key_suffix"], "9876");
    assert_eq!(reqs[0]["status"], 401);
    assert_eq!(reqs[1]["key_suffix"], Value::Null);
    assert_eq!(reqs[2]["authorized"], true);
    assert!(!report.to_string().contains(wrong));
    assert!(!report.to_string().contains("sk-b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sequence_then_success_and_counters() {
    let ctx = Ctx::new().await;
    let put = ctx
        .put_scope(
            "retry-429",
            json!({"faults": [
                {"status": 429, "headers": {"retry-after": "1"}},
                {"status": 503, "headers": {"retry-after-ms": 150, "x-should-retry": "true"}}
            ]}),
        )
        .await;
    assert_eq!(put["base_url"], ctx.server.scope_url("retry-429"));

    let resp = ctx.chat("retry-429", KEY, simple("hi")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    assert_eq!(header(&resp, "content-type"), Some("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(v["error"]["type"], "requests");

    let resp = ctx.chat("retry-429", KEY, simple("hi")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&resp, "retry-after-ms"), Some("150"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");

    let resp = ctx.chat("retry-429", KEY, simple("hi")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "retry-after").is_none());

    let report = ctx.scope_report("retry-429").await;
    assert_eq!(report["attempts"], 3);
    assert_eq!(report["pending_faults"], 0);
    let reqs = report["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3);
    let faults: Vec<&Value> = reqs.iter().map(|r| &r["fault"]).collect();
    assert_eq!(faults, [&json!(0), &json!(1), &Value::Null]);
    let statuses: Vec<u64> = reqs.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [429, 503, 200]);
    assert_eq!(reqs[0]["method"], "POST");
    assert_eq!(reqs[0]["path"], "/s/retry-429/v1/chat/completions");
    assert_eq!(reqs[0]["model"], "gpt-4.1");
    assert_eq!(reqs[0]["stream"], false);
    assert!(reqs[2]["at_us"].as_u64().unwrap() >= reqs[0]["at_us"].as_u64().unwrap());

    // PUT again resets counters.
    ctx.put_scope("retry-429", json!({})).await;
    assert_eq!(ctx.scope_report("retry-429").await["attempts"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_fault_patch_append_and_models_route() {
    let ctx = Ctx::new().await;
    ctx.put_scope("dflt", json!({"faults": [null], "default_fault": {"status": 500}})).await;
    assert_eq!(ctx.chat("dflt", KEY, simple("a")).await.status(), StatusCode::OK);
    for _ in 0..2 {
        let resp = ctx.chat("dflt", KEY, simple("a")).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    // Appended faults apply to the next attempts, not to slots already used.
    ctx.control(
        reqwest::Method::PATCH,
        "dflt",
        json!({"faults": [{"status": 502}], "default_fault": null}),
    )
    .await;
    assert_eq!(ctx.chat("dflt", KEY, simple("a")).await.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(ctx.chat("dflt", KEY, simple("a")).await.status(), StatusCode::OK);
    let report = ctx.scope_report("dflt").await;
    assert_eq!(report["attempts"], 5);
    let reqs = report["requests"].as_array().unwrap();
    assert_eq!(reqs[1]["default_fault"], true);
    assert_eq!(reqs[1]["fault"], Value::Null);
    assert_eq!(reqs[3]["fault"], 3);

    // Model routes count as attempts and honour faults too.
    ctx.put_scope("models", json!({"faults": [{"status": 404}]})).await;
    let url = format!("{}/models", ctx.server.scope_url("models"));
    let resp = ctx.http.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = ctx.http.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> =
        v["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(v["data"][0]["object"], "model");
    assert!(v["data"][0]["owned_by"].is_string());
    let one: Value = ctx
        .http
        .get(format!("{url}/claude-sonnet-4.5"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "claude-sonnet-4.5");
    assert_eq!(ctx.scope_report("models").await["attempts"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_isolated() {
    let ctx = Ctx::new().await;
    ctx.put_scope("iso-bad", json!({"default_fault": {"status": 500}})).await;
    ctx.put_scope("iso-slow", json!({"default_fault": {"delay_ms": 1500}})).await;

    let slow = {
        let http = ctx.http.clone();
        let url = format!("{}/chat/completions", ctx.server.scope_url("iso-slow"));
        tokio::spawn(async move {
            let start = Instant::now();
            let resp = http.post(url).bearer_auth(KEY).json(&simple("x")).send().await.unwrap();
            (resp.status(), start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    for _ in 0..3 {
        assert_eq!(ctx.chat("iso-good", KEY, simple("x")).await.status(), StatusCode::OK);
        assert_eq!(
            ctx.chat("iso-bad", KEY, simple("x")).await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(ctx.chat("default", KEY, simple("x")).await.status(), StatusCode::OK);
    }
    assert!(start.elapsed() < Duration::from_millis(1000), "slow scope delayed others");
    let (status, took) = slow.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(took >= Duration::from_millis(1400), "delay_ms not honoured: {took:?}");

    assert_eq!(ctx.scope_report("iso-good").await["attempts"], 3);
    assert_eq!(ctx.scope_report("iso-bad").await["attempts"], 3);
    assert_eq!(ctx.scope_report("iso-slow").await["attempts"], 1);
    // The unscoped route is the "default" scope.
    let resp = ctx.http.post(ctx.url("/v1/chat/completions")).bearer_auth(KEY).json(&simple("x"));
    assert_eq!(resp.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(ctx.scope_report("default").await["attempts"], 4);
    let never = ctx.scope_report("never-used").await;
    assert_eq!(never["exists"], false);
    assert_eq!(never["attempts"], 0);

    let deleted: Value = ctx
        .http
        .delete(ctx.url("/_control/scopes/iso-bad"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], true);
    assert_eq!(ctx.chat("iso-bad", KEY, simple("x")).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_via_patch_keeps_counters() {
    let ctx = Ctx::new().await;
    ctx.put_scope(
        "rotate",
        json!({"keys": ["sk-old-aaaa"], "faults": [null, null, {"status": 500}]}),
    )
    .await;
    assert_eq!(ctx.chat("rotate", "sk-old-aaaa", simple("x")).await.status(), StatusCode::OK);
    // The scope's own list replaces the global one.
    assert_eq!(ctx.chat("rotate", KEY, simple("x")).await.status(), StatusCode::UNAUTHORIZED);

    ctx.control(reqwest::Method::PATCH, "rotate", json!({"keys": ["sk-new-bbbb"]})).await;
    assert_eq!(
        ctx.chat("rotate", "sk-old-aaaa", simple("x")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ctx.chat("rotate", "sk-new-bbbb", simple("x")).await.status(), StatusCode::OK);

    let report = ctx.scope_report("rotate").await;
    assert_eq!(report["attempts"], 4);
    let reqs = report["requests"].as_array().unwrap();
    let authorized: Vec<bool> = reqs.iter().map(|r| r["authorized"].as_bool().unwrap()).collect();
    assert_eq!(authorized, [true, false, false, true]);
    // Unauthorized attempt 2 consumed the 500 slot without applying it.
    assert_eq!(reqs[2]["fault"], Value::Null);
    assert_eq!(reqs[3]["key_suffix"], "bbbb");

    // null reverts to the global keys.
    ctx.control(reqwest::Method::PATCH, "rotate", json!({"keys": null})).await;
    assert_eq!(ctx.chat("rotate", KEY, simple("x")).await.status(), StatusCode::OK);

    // Global key replacement.
    let resp = ctx.http.put(ctx.url("/_control/keys")).json(&json!({"keys": ["sk-global-2"]}));
    assert_eq!(resp.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(ctx.chat("other", KEY, simple("x")).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.chat("other", "sk-global-2", simple("x")).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_format_with_usage() {
    let ctx = Ctx::new().await;
    let mut body = simple("one two three four five six");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = ctx.chat("stream", KEY, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), Some("text/event-stream"));
    assert!(header(&resp, "content-length").is_none());
    assert_eq!(header(&resp, "transfer-encoding"), Some("chunked"));
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();

    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-4.1");
        assert_eq!(c["system_fingerprint"], "fp_testserver");
    }
    let first = &chunks[0]["choices"][0];
    assert_eq!(first["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    assert_eq!(first["finish_reason"], Value::Null);
    assert_eq!(first["logprobs"], Value::Null);

    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["total_tokens"], 11 + 12);
    assert!(usage_chunk["usage"]["cost_usd"].is_number());
    for c in rest {
        assert!(c.get("usage").is_some_and(Value::is_null), "usage must be null: {c}");
    }
    let (finish, content_chunks) = rest.split_last().unwrap();
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let pieces: Vec<&str> = content_chunks[1..]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert!(pieces.len() >= 3, "expected several small pieces: {pieces:?}");
    assert_eq!(pieces.concat(), "Echo from gpt-4.1: one two three four five six");

    // Without include_usage there is no usage field at all.
    let mut body = simple("x");
    body["stream"] = json!(true);
    let events = sse_events(&ctx.chat("stream", KEY, body).await.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    for e in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(e).unwrap();
        assert!(c.get("usage").is_none());
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    assert_eq!(ctx.scope_report("stream").await["requests"][0]["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_plain_and_streamed() {
    let ctx = Ctx::new().await;
    let body = json!({
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "weather in Tokyo?"}],
        "tools": weather_tools()
    });
    let v: Value = ctx.chat("tools", KEY, body.clone()).await.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Tokyo"}));

    // tool_choice naming a function wins; "none" disables tools; a tool result gets text.
    let mut named = body.clone();
    named["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let v: Value = ctx.chat("tools", KEY, named).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_time");
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");
    let mut none = body.clone();
    none["tool_choice"] = json!("none");
    let v: Value = ctx.chat("tools", KEY, none).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let mut answered = body.clone();
    answered["messages"] = json!([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"location\":\"Tokyo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]);
    let v: Value = ctx.chat("tools", KEY, answered).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"][0]["message"]["content"], "Echo from gpt-4.1: weather?");

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let events = sse_events(&ctx.chat("tools", KEY, streamed).await.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> =
        events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["content"], Value::Null);
    let tc = &first["tool_calls"][0];
    assert_eq!(tc["index"], 0);
    assert!(tc["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(tc["type"], "function");
    assert_eq!(tc["function"]["name"], "get_weather");
    assert_eq!(tc["function"]["arguments"], "");
    let (finish, middle) = chunks[1..].split_last().unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert!(middle.len() >= 2, "arguments should arrive in several fragments");
    let mut args = String::new();
    for c in middle {
        let d = &c["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(d["index"], 0);
        assert!(d.get("id").is_none() && d["function"].get("name").is_none());
        args.push_str(d["function"]["arguments"].as_str().unwrap());
    }
    assert_eq!(args, "{\"location\":\"Tokyo\"}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_before_headers_is_a_connection_error() {
    let ctx = Ctx::new().await;
    ctx.put_scope(
        "drop",
        json!({"faults": [{"drop": "before_headers"}, {"drop": "before_headers"}]}),
    )
    .await;
    let err = ctx
        .http
        .post(format!("{}/chat/completions", ctx.server.scope_url("drop")))
        .bearer_auth(KEY)
        .json(&simple("x"))
        .send()
        .await
        .expect_err("a dropped connection must not produce a response");
    assert!(!err.is_status() && err.status().is_none(), "{err:?}");

    // At the socket level: the request is read, then EOF/reset without a single byte.
    let mut sock = tokio::net::TcpStream::connect(ctx.server.addr()).await.unwrap();
    let payload = simple("x").to_string();
    let req = format!(
        "POST /s/drop/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{payload}",
        payload.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut buf)).await;
    match read.expect("server must close the connection") {
        Ok(_) => assert!(buf.is_empty(), "got bytes: {:?}", String::from_utf8_lossy(&buf)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    let report = ctx.scope_report("drop").await;
    assert_eq!(report["attempts"], 2);
    assert_eq!(report["requests"][0]["status"], Value::Null);
    // Next attempt is healthy again.
    assert_eq!(ctx.chat("drop", KEY, simple("x")).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_body_drop_breaks_json_and_stream() {
    let ctx = Ctx::new().await;
    ctx.put_scope("mid", json!({"faults": [{"drop": "mid_body"}, {"drop": "mid_body"}]})).await;
    let resp = ctx.chat("mid", KEY, simple("x")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err(), "short body must be a read error");

    let mut body = simple("one two three four five six seven");
    body["stream"] = json!(true);
    let resp = ctx.chat("mid", KEY, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(item) = futures::StreamExt::next(&mut stream).await {
        match item {
            Ok(b) => got.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "stream must end with an error");
    let text = String::from_utf8(got).unwrap();
    assert!(text.contains("\"role\":\"assistant\""), "first events should arrive: {text}");
    assert!(!text.contains("[DONE]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_and_malformed() {
    let ctx = Ctx::new().await;
    ctx.put_scope(
        "broken",
        json!({"faults": [
            {"truncate": true},
            {"malformed": true},
            {"truncate": true},
            {"malformed": true},
            {"stream_error": true},
            {"body": "{\"unexpected\":true}", "status": 200, "reply": "ignored"},
            {"reply": "custom words here", "chunk_delay_ms": 30}
        ]}),
    )
    .await;

    let resp = ctx.chat("broken", KEY, simple("x")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let len: usize = header(&resp, "content-length").unwrap().parse().unwrap();
    let bytes = resp.bytes().await.expect("truncated body still ends cleanly");
    assert_eq!(bytes.len(), len);
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert!(bytes.starts_with(b"{\"id\":\"chatcmpl-"));

    let resp = ctx.chat("broken", KEY, simple("x")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).is_err());

    let mut sbody = simple("one two three four five six seven eight");
    sbody["stream"] = json!(true);
    let text = ctx.chat("broken", KEY, sbody.clone()).await.text().await.unwrap();
    let events = sse_events(&text);
    assert!(!events.iter().any(|e| e == "[DONE]"));
    assert!(events.len() >= 2);
    for e in &events {
        serde_json::from_str::<Value>(e).expect("truncated stream events are still valid JSON");
    }

    let text = ctx.chat("broken", KEY, sbody.clone()).await.text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let bad = events.iter().filter(|e| serde_json::from_str::<Value>(e).is_err()).count();
    assert_eq!(bad, 2, "one malformed event plus [DONE]: {events:?}");

    let text = ctx.chat("broken", KEY, sbody.clone()).await.text().await.unwrap();
    let events = sse_events(&text);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error");
    assert_eq!(events.len(), 3, "role chunk, first content chunk, error: {events:?}");

    let v: Value = ctx.chat("broken", KEY, simple("x")).await.json().await.unwrap();
    assert_eq!(v, json!({"unexpected": true}));

    let start = Instant::now();
    let text = ctx.chat("broken", KEY, sbody).await.text().await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(100), "chunk_delay_ms not honoured");
    let events = sse_events(&text);
    let content: String = events[1..]
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(content, "custom words here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_status_on_stream_is_plain_json() {
    let ctx = Ctx::new().await;
    ctx.put_scope("s-err", json!({"faults": [{"status": 401}, {"status": 400, "body": "oops"}]}))
        .await;
    let mut body = simple("x");
    body["stream"] = json!(true);
    let resp = ctx.chat("s-err", KEY, body.clone()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "content-type"), Some("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert!(!v.to_string().contains(KEY));
    let resp = ctx.chat("s-err", KEY, body).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.text().await.unwrap(), "oops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors() {
    let ctx = Ctx::new().await;
    let cases = [
        (json!({"messages": [{"role": "user", "content": "x"}]}), None, None),
        (json!({"model": "gpt-4.1"}), Some("messages"), Some("missing_required_parameter")),
        (json!({"model": "gpt-4.1", "messages": "hi"}), Some("messages"), Some("invalid_type")),
        (json!({"model": "gpt-4.1", "messages": []}), Some("messages"), Some("empty_array")),
        (
            json!({"model": "gpt-4.1", "messages": [{"content": "x"}]}),
            Some("messages[0].role"),
            None,
        ),
        (
            json!({"model": "gpt-4.1", "n": 0, "messages": [{"role": "user", "content": "x"}]}),
            Some("n"),
            Some("integer_below_min_value"),
        ),
    ];
    for (body, param, code) in cases {
        let resp = ctx.chat("valid", KEY, body.clone()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        if let Some(param) = param {
            assert_eq!(v["error"]["param"], param, "{body}");
        }
        if let Some(code) = code {
            assert_eq!(v["error"]["code"], code, "{body}");
        }
    }
    let resp = ctx
        .http
        .post(format!("{}/chat/completions", ctx.server.scope_url("valid")))
        .bearer_auth(KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("could not parse the JSON body"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_request_ids_and_methods() {
    let ctx = Ctx::new().await;
    let resp = ctx.http.get(ctx.url("/v1/embeddings")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let id1 = header(&resp, "x-request-id").unwrap().to_owned();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Invalid URL (GET /v1/embeddings)");

    let resp = ctx.http.get(ctx.url("/s/abc/v1/chat/completions")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&resp, "allow"), Some("POST, OPTIONS"));
    let id2 = header(&resp, "x-request-id").unwrap().to_owned();
    assert!(id2.starts_with("req_abc_"));
    assert_ne!(id1, id2);

    let resp = ctx.http.get(ctx.url("/_control/health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(header(&resp, "x-request-id").unwrap().starts_with("req_control_"));

    let resp = ctx.http.head(ctx.url("/v1/models")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.unwrap().is_empty());

    let resp = ctx
        .http
        .request(reqwest::Method::OPTIONS, ctx.url("/v1/chat/completions"))
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "access-control-allow-headers"), Some("authorization, content-type"));

    // Control API input errors are reported, not ignored.
    let resp = ctx
        .http
        .put(ctx.url("/_control/scopes/typo"))
        .json(&json!({"faults": [{"stauts": 500}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = ctx.http.put(ctx.url("/_control/scopes/bad%20name")).json(&json!({})).send().await;
    assert_eq!(resp.unwrap().status(), StatusCode::BAD_REQUEST);

    // Many requests on one keep-alive connection all get distinct ids.
    let mut ids = std::collections::HashSet::new();
    for _ in 0..50 {
        let resp = ctx.chat("ids", KEY, simple("x")).await;
        assert!(ids.insert(header(&resp, "x-request-id").unwrap().to_owned()));
    }
    let scopes: Value =
        ctx.http.get(ctx.url("/_control/scopes")).send().await.unwrap().json().await.unwrap();
    assert!(scopes["scopes"].as_array().unwrap().contains(&json!("ids")));
}

#[test]
fn spawn_on_own_runtime_for_sync_callers() {
    let server = TestServer::spawn(Config::new(), 1).unwrap();
    let addr = server.addr();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read, Write};
    sock.write_all(b"GET /_control/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("{\"status\":\"ok\"}"), "{out}");
    drop(server);
    // Give the runtime a moment to release the port, then verify it is gone.
    std::thread::sleep(Duration::from_millis(50));
    assert!(std::net::TcpStream::connect(addr).is_err());
}
