//! Per-call overhead of the client over a bare `reqwest` round trip to the same in-process test
//! server, unstreamed and streamed. The two are run interleaved, call by call, so drift on a busy
//! machine hits both alike; the figures are per call, and the difference is what the client
//! adds (validation, serialisation, key lookup, retry bookkeeping, decoding, SSE parsing, cost).
//!
//! `cargo bench -p holysheep-vault --bench overhead` (`BENCH_ITERS=N` to change the count).
//! The key comes from the environment (`key_source: "env"`), so no Vault is involved.

use std::time::{Duration, Instant};

use futures::StreamExt;
use holysheep_testserver::{Config, TestServer};
use holysheep_vault::api::ApiClient;
use holysheep_vault::api::sse::SseParser;
use holysheep_vault::keys::ApiKey;
use holysheep_vault::{
    ChatChunk, ChatCompletion, ChatRequest, Client, ClientOptions, KeyOrigin, RequestOptions,
    Secret,
};
use serde_json::json;

const KEY: &str = "sk-bench-0123456789abcdefghijklmnop";
const KEY_ENV: &str = "HOLYSHEEP_BENCH_API_KEY";

/// The client under test: the facade, or `ApiClient` while the key provider is not ready.
enum Under {
    Facade(Client),
    Direct(ApiClient, ApiKey),
}

impl Under {
    async fn chat(&self, request: &ChatRequest) -> usize {
        let reply = match self {
            Under::Facade(c) => {
                c.chat_completions(request.clone(), RequestOptions::default()).await
            }
            Under::Direct(c, k) => c.chat(k, request, &RequestOptions::default()).await,
        };
        reply.expect("chat").content().map_or(0, str::len)
    }

    async fn stream(&self, request: &ChatRequest) -> usize {
        let stream = match self {
            Under::Facade(c) => {
                c.chat_completions_stream(request.clone(), RequestOptions::default()).await
            }
            Under::Direct(c, k) => c.chat_stream(k, request, &RequestOptions::default()).await,
        };
        let mut stream = stream.expect("stream");
        let mut n = 0;
        while let Some(chunk) = stream.next().await {
            n += chunk.expect("chunk").content().map_or(0, str::len);
        }
        n
    }
}

fn main() {
    // Before any thread exists: the only moment setting the environment is sound.
    unsafe { std::env::set_var(KEY_ENV, KEY) };
    let iters: usize =
        std::env::var("BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let server = TestServer::spawn(Config::new().key(KEY), 1).expect("test server");
    let base_url = server.scope_url("bench");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let options = ClientOptions::from_json(json!({
        "base_url": base_url, "key_source": "env", "key_env": KEY_ENV,
    }))
    .unwrap();
    let under = rt.block_on(async {
        let facade = std::panic::AssertUnwindSafe(async {
            let client = Client::from_options(options.clone())?;
            client.api_key().await?;
            Ok::<_, holysheep_vault::Error>(client)
        });
        match futures::FutureExt::catch_unwind(facade).await {
            Ok(Ok(client)) => Under::Facade(client),
            _ => {
                eprintln!("note: key provider not ready; measuring ApiClient with a fixed key");
                let api = ApiClient::new(options.resolve().unwrap().api).unwrap();
                let key = ApiKey {
                    secret: std::sync::Arc::new(Secret::from(KEY)),
                    origin: KeyOrigin { location: format!("env:{KEY_ENV}"), version: None },
                };
                Under::Direct(api, key)
            }
        }
    });
    let kind = match under {
        Under::Facade(_) => "Client (key_source env)",
        Under::Direct(..) => "ApiClient",
    };

    let bare = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
    let chat_url = format!("{base_url}/chat/completions");
    let body =
        json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hello there"}]});
    let request = ChatRequest::from_json(body.clone()).unwrap();
    let mut stream_body = body.clone();
    stream_body["stream"] = json!(true);
    stream_body["stream_options"] = json!({"include_usage": true});

    let bare_chat = || async {
        // What a caller does by hand: serialise, send, read, parse.
        let bytes = serde_json::to_vec(&body).unwrap();
        let r = bare.post(&chat_url).bearer_auth(KEY).header("content-type", "application/json");
        let response = r.body(bytes).send().await.unwrap();
        assert!(response.status().is_success());
        let value: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        value["choices"][0]["message"]["content"].as_str().map_or(0, str::len)
    };
    // `parse`: also decode each event's JSON, as a hand-written consumer that wants the chunks
    // must (a naive split on blank lines, not a full event-stream parser).
    let (bare_ref, url_ref, stream_body_ref) = (&bare, &chat_url, &stream_body);
    let bare_stream = move |parse: bool| async move {
        let (bare, chat_url, stream_body) = (bare_ref, url_ref, stream_body_ref);
        let bytes = serde_json::to_vec(stream_body).unwrap();
        let r = bare.post(chat_url).bearer_auth(KEY).header("content-type", "application/json");
        let response = r.body(bytes).send().await.unwrap();
        assert!(response.status().is_success());
        let mut body = response.bytes_stream();
        let mut n = 0;
        let mut pending: Vec<u8> = Vec::new();
        while let Some(piece) = body.next().await {
            let piece = piece.unwrap();
            n += piece.len();
            if !parse {
                continue;
            }
            pending.extend_from_slice(&piece);
            while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = pending.drain(..end + 2).collect();
                let data = event.strip_prefix(b"data: ").unwrap_or(&event);
                let data = &data[..data.len() - 2];
                if data != b"[DONE]" {
                    let v: serde_json::Value = serde_json::from_slice(data).unwrap();
                    n += v["choices"][0]["delta"]["content"].as_str().map_or(0, str::len);
                }
            }
        }
        n
    };

    println!("overhead of {kind} over bare reqwest, {iters} calls each, interleaved");
    println!("(streamed+: the bare side also decodes each event's JSON)");
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>12}",
        "", "bare µs", "client µs", "diff µs", "paired p50"
    );
    for (name, streamed, parse) in
        [("plain", false, false), ("streamed", true, false), ("streamed+", true, true)]
    {
        let (mut a, mut b) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
        rt.block_on(async {
            for i in 0..iters + iters / 10 {
                let t = Instant::now();
                std::hint::black_box(if streamed {
                    bare_stream(parse).await
                } else {
                    bare_chat().await
                });
                let bare_t = t.elapsed();
                let t = Instant::now();
                std::hint::black_box(if streamed {
                    under.stream(&request).await
                } else {
                    under.chat(&request).await
                });
                let ours_t = t.elapsed();
                // The first tenth warms both pools and caches and is not counted.
                if i >= iters / 10 {
                    a.push(bare_t);
                    b.push(ours_t);
                }
            }
        });
        let (mean_a, mean_b) = (mean(&a), mean(&b));
        // The median of the per-iteration differences: each pair ran back to back, so this is
        // the figure least disturbed by other load on the machine.
        let mut paired: Vec<f64> =
            a.iter().zip(&b).map(|(x, y)| (y.as_secs_f64() - x.as_secs_f64()) * 1e6).collect();
        paired.sort_by(f64::total_cmp);
        let paired_p50 = paired[paired.len() / 2];
        println!(
            "{:<10} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            name,
            mean_a,
            mean_b,
            mean_b - mean_a,
            paired_p50,
        );
    }

    // The CPU part of the difference: decoding the same bodies without any I/O.
    let (plain_body, stream_body_bytes) = rt.block_on(async {
        let get = |body: serde_json::Value| {
            let r =
                bare.post(&chat_url).bearer_auth(KEY).header("content-type", "application/json");
            async move {
                r.body(serde_json::to_vec(&body).unwrap())
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            }
        };
        (get(body.clone()).await, get(stream_body.clone()).await)
    });
    let rounds = iters * 4;
    let t = Instant::now();
    for _ in 0..rounds {
        let value: serde_json::Value = serde_json::from_slice(&plain_body).unwrap();
        std::hint::black_box(ChatCompletion::from_json(value).unwrap());
    }
    let plain_decode = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let t = Instant::now();
    let mut events = Vec::new();
    for _ in 0..rounds {
        let mut parser = SseParser::new();
        events.clear();
        parser.feed(&stream_body_bytes, &mut events).unwrap();
        for e in &events {
            if e.data != "[DONE]" {
                let value: serde_json::Value = serde_json::from_str(&e.data).unwrap();
                std::hint::black_box(ChatChunk::from_json(value).unwrap());
            }
        }
    }
    let stream_decode = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "decoding alone: plain {plain_decode:.1} µs, streamed {stream_decode:.1} µs ({} events)",
        events.len()
    );
    drop(under);
    drop(server);
}

fn mean(v: &[Duration]) -> f64 {
    v.iter().map(|d| d.as_secs_f64()).sum::<f64>() / v.len() as f64 * 1e6
}
