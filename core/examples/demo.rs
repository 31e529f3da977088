//! The Rust leg of the demo: reads its settings from the environment (`VAULT_ADDR`,
//! `VAULT_ROLE_ID`, `VAULT_SECRET_ID`, `HOLYSHEEP_BASE_URL`, ...), sends one chat completion and
//! one streamed completion, and prints the reply, tokens, cost and the cache and Vault figures.

use futures::StreamExt;
use holysheep_vault::{ChatRequest, Client, RequestOptions};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = std::env::var("HOLYSHEEP_DEMO_MODEL").unwrap_or_else(|_| "deepseek-v3.2".into());
    let client = Client::from_env()?;

    let request = ChatRequest::from_json(json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Why keep AI API keys in Vault? (Rust)"}
        ],
        "max_tokens": 200
    }))?;
    let reply = client.chat_completions(request, RequestOptions::default()).await?;
    println!("reply:   {}", reply.content().unwrap_or_default());
    println!("tokens:  {}", reply.raw["usage"]["total_tokens"]);
    println!("cost:    ${:.8}", reply.meta.cost_usd.unwrap_or_default());

    let request = ChatRequest::from_json(json!({
        "model": model,
        "messages": [{"role": "user", "content": "Stream a short answer, please. (Rust)"}],
        "stream_options": {"include_usage": true}
    }))?;
    let mut stream = client.chat_completions_stream(request, RequestOptions::default()).await?;
    print!("stream:  ");
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        chunks += 1;
        if let Some(text) = chunk.raw["choices"][0]["delta"]["content"].as_str() {
            print!("{text}");
        }
    }
    println!("\n         ({chunks} chunks)");

    println!("stats:   {}", serde_json::to_string_pretty(&client.stats())?);
    client.close();
    Ok(())
}
