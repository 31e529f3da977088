//! Runs the shared scenario suite (`tests/scenarios/*.json`) through the Rust API, against the rig.
//! The Python, Node and wasm packages run the same files; `tests/scenarios/README.md` is the
//! contract every runner follows.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use holysheep_vault::{ChatRequest, Client, ClientOptions, RequestOptions};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};

mod common;
use common::{Rig, http_json, unique};

/// What this runner can do; scenarios needing more are reported as ignored, never as passed.
const CAPABILITIES: &[&str] = &["fs", "background"];

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap(),
    );
    let rig = Arc::new(Rig::load());

    // Each scenario runs on both Vault clients: vaultrs (the native default) and the crate's own
    // reqwest client, which the wasm build uses; so the wasm path's Vault code is checked here.
    let mut trials = Vec::new();
    for (file, scenario) in load_scenarios(&dir) {
        let needs: Vec<String> = scenario["needs"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let applicable = needs.iter().all(|n| CAPABILITIES.contains(&n.as_str()));
        for backend in ["vaultrs", "http"] {
            let name = format!("{file}/{}[{backend}]", scenario["name"].as_str().expect("name"));
            let (runtime, rig, scenario) = (runtime.clone(), rig.clone(), scenario.clone());
            let trial = Trial::test(name, move || {
                runtime.block_on(run_scenario(&rig, &scenario, backend)).map_err(Failed::from)
            });
            trials.push(trial.with_ignored_flag(!applicable));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn load_scenarios(dir: &Path) -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/scenarios")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for scenario in doc["scenarios"].as_array().expect("a scenarios array") {
            out.push((stem.clone(), scenario.clone()));
        }
    }
    out
}

/// The setup a scenario asked for, carried out on the rig.
struct Prepared {
    scope: String,
    secret_path: String,
    client: Client,
}

async fn prepare(rig: &Rig, scenario: &Value, backend: &str) -> Result<Prepared, String> {
    let setup = &scenario["setup"];
    let scope = unique(scenario["name"].as_str().unwrap_or("scenario"));
    let secret_kind = setup["secret"].as_str().unwrap_or("scenario");

    let (secret_path, key) = match secret_kind {
        "scenario" => {
            let path = format!("scenarios/{scope}/api_key");
            let key = format!("sk-scn-{}", random_token());
            rig.write_secret(&path, json!({ "api_key": key }));
            (path, key)
        }
        "production" | "agent_file" => {
            (rig.get("RIG_PROD_PATH").to_owned(), rig.get("RIG_PROD_KEY").to_owned())
        }
        "namespace" => (rig.get("RIG_PROD_PATH").to_owned(), rig.get("RIG_NS_KEY").to_owned()),
        "missing" => (format!("scenarios/{scope}/absent"), format!("sk-scn-{}", random_token())),
        other => return Err(format!("unknown setup.secret {other}")),
    };
    let faults = setup.get("faults").cloned().unwrap_or(json!([]));
    control(
        rig,
        "PUT",
        &format!("/_control/scopes/{scope}"),
        json!({"faults": faults, "keys": [key]}),
    )?;

    let mut options = json!({
        "base_url": format!("{}/s/{scope}/v1", rig.get("RIG_API_BASE")),
        "vault_addr": rig.get("VAULT_ADDR"),
        "mount": rig.get("RIG_KV_MOUNT"),
        "secret_path": secret_path,
        "vault_backend": backend,
    });
    let auth = setup["auth"].as_str().unwrap_or("token");
    let auth_options = match auth {
        "token" => json!({"vault_token": rig.get("RIG_TOKEN_PROD")}),
        "denied" => json!({"vault_token": rig.get("RIG_TOKEN_DENIED")}),
        "approle" => {
            json!({"role_id": rig.get("RIG_ROLE_ID"), "secret_id": rig.get("RIG_SECRET_ID")})
        }
        "jwt" => json!({
            "auth_method": "jwt", "auth_mount": rig.get("RIG_JWT_MOUNT"),
            "role": rig.get("RIG_JWT_ROLE"), "jwt_path": rig.get("RIG_JWT_FILE"),
        }),
        "kubernetes" => json!({
            "auth_method": "kubernetes", "auth_mount": rig.get("RIG_K8S_MOUNT"),
            "role": rig.get("RIG_K8S_ROLE"), "jwt_path": rig.get("RIG_K8S_JWT_FILE"),
        }),
        "token_file" => json!({"token_file": rig.get("RIG_AGENT_TOKEN_FILE")}),
        "none" => json!({"auth_method": "none", "vault_addr": rig.get("RIG_AGENT_PROXY_ADDR")}),
        "namespace_approle" => json!({
            "vault_namespace": rig.get("RIG_NAMESPACE"),
            "role_id": rig.get("RIG_NS_ROLE_ID"), "secret_id": rig.get("RIG_NS_SECRET_ID"),
        }),
        "namespace_token" => json!({
            "vault_namespace": rig.get("RIG_NAMESPACE"), "vault_token": rig.get("RIG_NS_TOKEN"),
        }),
        other => return Err(format!("unknown setup.auth {other}")),
    };
    merge(&mut options, &auth_options);
    if secret_kind == "agent_file" {
        merge(
            &mut options,
            &json!({"key_source": "file", "key_file": rig.get("RIG_AGENT_KEY_FILE")}),
        );
    }
    if let Some(extra) = setup.get("client") {
        merge(&mut options, extra);
    }

    let options = ClientOptions::from_json(options).map_err(|e| format!("options: {e}"))?;
    let client = Client::from_options(options).map_err(|e| format!("client: {e}"))?;
    Ok(Prepared { scope, secret_path, client })
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

async fn run_scenario(rig: &Rig, scenario: &Value, backend: &str) -> Result<(), String> {
    let prepared = prepare(rig, scenario, backend).await?;
    let result = run_steps(rig, &prepared, scenario).await;
    prepared.client.close();
    result?;

    let expect = &scenario["expect"];
    let scope_state =
        control(rig, "GET", &format!("/_control/scopes/{}", prepared.scope), Value::Null)?;
    let stats = serde_json::to_value(prepared.client.stats()).map_err(|e| e.to_string())?;
    control(rig, "DELETE", &format!("/_control/scopes/{}", prepared.scope), Value::Null).ok();
    let checks: [(&str, &Value); 5] = [
        ("upstream_attempts", &scope_state["attempts"]),
        ("vault_reads", &stats["vault"]["vault_reads"]),
        ("invalidations", &stats["vault"]["invalidations"]),
        ("stats_requests", &stats["requests"]),
        ("key_version", &stats["vault"]["key_version"]),
    ];
    for (name, actual) in checks {
        if let Some(want) = expect.get(name)
            && want != actual
        {
            return Err(format!("{name}: expected {want}, got {actual}; stats {stats}"));
        }
    }
    Ok(())
}

async fn run_steps(rig: &Rig, p: &Prepared, scenario: &Value) -> Result<(), String> {
    for (i, step) in scenario["steps"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let repeat = step["repeat"].as_u64().unwrap_or(1);
        for round in 0..repeat {
            run_step(rig, p, step).await.map_err(|e| format!("step {i} (round {round}): {e}"))?;
        }
    }
    Ok(())
}

async fn run_step(rig: &Rig, p: &Prepared, step: &Value) -> Result<(), String> {
    if let Some(action) = step["action"].as_str() {
        return run_action(rig, p, action, step).await;
    }
    let call = step["call"].as_str().ok_or("a step needs `call` or `action`")?;
    let options = RequestOptions::from_json(step.get("options").cloned().unwrap_or(Value::Null))
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let outcome = match call {
        "chat" => call_chat(p, step, options).await,
        "chat_stream" => call_stream(p, step, options).await,
        "models" => p.client.models(options).await.map(|m| Outcome {
            json: m.raw.clone(),
            content: String::new(),
            chunks: 0,
        }),
        other => return Err(format!("unknown call {other}")),
    };
    check(&step["expect"], outcome, started.elapsed())
}

/// A successful call, reduced to what expectations look at.
struct Outcome {
    /// The response JSON; for a stream, a synthetic message assembled from the deltas.
    json: Value,
    content: String,
    chunks: usize,
}

async fn call_chat(
    p: &Prepared,
    step: &Value,
    options: RequestOptions,
) -> holysheep_vault::Result<Outcome> {
    let request = ChatRequest::from_json(step["request"].clone())?;
    let reply = p.client.chat_completions(request, options).await?;
    let content = reply.content().unwrap_or_default().to_owned();
    Ok(Outcome { json: reply.raw, content, chunks: 1 })
}

async fn call_stream(
    p: &Prepared,
    step: &Value,
    options: RequestOptions,
) -> holysheep_vault::Result<Outcome> {
    let request = ChatRequest::from_json(step["request"].clone())?;
    let mut stream = p.client.chat_completions_stream(request, options).await?;
    let (mut content, mut chunks, mut finish, mut usage) =
        (String::new(), 0, Value::Null, Value::Null);
    let (mut tool_name, mut tool_args) = (Value::Null, String::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        chunks += 1;
        let raw = &chunk.raw;
        if !raw["usage"].is_null() {
            usage = raw["usage"].clone();
        }
        let Some(choice) = raw["choices"].get(0) else { continue };
        if let Some(text) = choice["delta"]["content"].as_str() {
            content.push_str(text);
        }
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
        if let Some(call) = choice["delta"]["tool_calls"].get(0) {
            if let Some(name) = call["function"]["name"].as_str() {
                tool_name = json!(name);
            }
            tool_args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    let mut message = json!({"role": "assistant", "content": content});
    if !tool_name.is_null() {
        message["tool_calls"] =
            json!([{"type": "function", "function": {"name": tool_name, "arguments": tool_args}}]);
    }
    let json = json!({"choices": [{"message": message, "finish_reason": finish}], "usage": usage});
    Ok(Outcome { json, content, chunks })
}

fn check(
    expect: &Value,
    outcome: holysheep_vault::Result<Outcome>,
    elapsed: Duration,
) -> Result<(), String> {
    if let Some(min) = expect["min_elapsed_ms"].as_u64()
        && elapsed < Duration::from_millis(min)
    {
        return Err(format!("took {elapsed:?}, expected at least {min}ms"));
    }
    let outcome = match (outcome, expect["error"].as_str()) {
        (Ok(_), Some(code)) => return Err(format!("expected error {code}, the call succeeded")),
        (Err(e), None) => return Err(format!("expected success, got {}: {e}", e.code())),
        (Err(e), Some(code)) => return check_error(expect, &e, code),
        (Ok(o), None) => o,
    };
    let choice = &outcome.json["choices"][0];
    if let Some(text) = expect["content_contains"].as_str()
        && !outcome.content.contains(text)
    {
        return Err(format!("reply {:?} lacks {text:?}", outcome.content));
    }
    if let Some(reason) = expect.get("finish_reason")
        && &choice["finish_reason"] != reason
    {
        return Err(format!("finish_reason {} != {reason}", choice["finish_reason"]));
    }
    if let Some(name) = expect.get("tool_call") {
        let call = &choice["message"]["tool_calls"][0]["function"];
        if &call["name"] != name {
            return Err(format!("tool call {} != {name}", call["name"]));
        }
        if expect["tool_arguments_json"] == json!(true) {
            let args = call["arguments"].as_str().unwrap_or("");
            serde_json::from_str::<Value>(args).map_err(|e| format!("arguments {args:?}: {e}"))?;
        }
    }
    if let Some(min) = expect["total_tokens_min"].as_u64() {
        let total = outcome.json["usage"]["total_tokens"].as_u64().unwrap_or(0);
        if total < min {
            return Err(format!("total_tokens {total} < {min}"));
        }
    }
    if expect["usage"] == json!(true) && !outcome.json["usage"].is_object() {
        return Err("no usage arrived".into());
    }
    if let Some(path) = expect["field"].as_array() {
        let mut node = &outcome.json;
        for part in path {
            node = &node[part.as_str().unwrap_or_default()];
        }
        if node.is_null() {
            return Err(format!("field {path:?} missing from {}", outcome.json));
        }
    }
    if let Some(min) = expect["min_chunks"].as_u64()
        && (outcome.chunks as u64) < min
    {
        return Err(format!("{} chunks < {min}", outcome.chunks));
    }
    if let Some(ids) = expect["model_ids"].as_array() {
        let listed: Vec<&Value> = outcome.json["data"]
            .as_array()
            .map(|d| d.iter().map(|m| &m["id"]).collect())
            .unwrap_or_default();
        for id in ids {
            if !listed.contains(&id) {
                return Err(format!("models() lacks {id}"));
            }
        }
    }
    Ok(())
}

fn check_error(expect: &Value, err: &holysheep_vault::Error, code: &str) -> Result<(), String> {
    if err.code() != code {
        return Err(format!("expected error {code}, got {}: {err}", err.code()));
    }
    if let Some(status) = expect["status"].as_u64()
        && err.status() != Some(status as u16)
    {
        return Err(format!("status {:?} != {status} ({err})", err.status()));
    }
    if let Some(ms) = expect["retry_after_ms"].as_u64()
        && err.retry_after() != Some(Duration::from_millis(ms))
    {
        return Err(format!("retry_after {:?} != {ms}ms", err.retry_after()));
    }
    if let Some(text) = expect["message_contains"].as_str()
        && !err.to_string().contains(text)
    {
        return Err(format!("message {:?} lacks {text:?}", err.to_string()));
    }
    Ok(())
}

async fn run_action(rig: &Rig, p: &Prepared, action: &str, step: &Value) -> Result<(), String> {
    let scope_url = format!("/_control/scopes/{}", p.scope);
    match action {
        "rotate_key" => {
            let key = format!("sk-scn-{}", random_token());
            rig.write_secret(&p.secret_path, json!({ "api_key": key }));
            control(rig, "PATCH", &scope_url, json!({"keys": [key]}))?;
        }
        "revoke_server_key" => {
            let nobody = format!("sk-none-{}", random_token());
            control(rig, "PATCH", &scope_url, json!({"keys": [nobody]}))?;
        }
        "add_faults" => {
            control(rig, "PATCH", &scope_url, json!({"faults": step["faults"]}))?;
        }
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(step["ms"].as_u64().unwrap_or(0))).await
        }
        other => return Err(format!("unknown action {other}")),
    }
    Ok(())
}

/// A call to the test server's control API; the scenario fails on a non-2xx answer.
fn control(rig: &Rig, method: &str, path: &str, body: Value) -> Result<Value, String> {
    let body = if body.is_null() { None } else { Some(body) };
    let (status, answer) = http_json(rig.get("RIG_API_BASE"), method, path, None, body);
    if (200..300).contains(&status) {
        Ok(answer)
    } else {
        Err(format!("{method} {path}: HTTP {status}: {answer}"))
    }
}

/// A fresh key-shaped value, unique to this run.
fn random_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}{}", nanos ^ 0x5eed_cafe_f00d, unique("k").replace('-', ""))
}
