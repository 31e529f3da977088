//! OpenAI wire format: request validation, replies, stream events, error bodies.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::StatusCode;
use serde::Serialize;
use serde::ser::Serializer;
use serde_json::{Map, Value};

/// Fixed so that replies are byte-for-byte reproducible across runs.
pub const CREATED: u64 = 1_735_689_600;
pub const FINGERPRINT: &str = "fp_testserver";
pub const PROVIDER: &str = "holysheep-testserver";

/// (id, owned_by, created, USD per million tokens)
pub const MODELS: &[(&str, &str, u64, f64)] = &[
    ("gpt-4.1", "openai", 1_744_316_542, 8.0),
    ("gpt-4.1-mini", "openai", 1_744_318_173, 1.0),
    ("gpt-4o-mini", "openai", 1_721_172_741, 1.0),
    ("claude-sonnet-4.5", "anthropic", 1_759_104_000, 15.0),
    ("gemini-2.5-flash", "google", 1_750_118_400, 2.5),
    ("deepseek-v3.2", "deepseek", 1_764_547_200, 0.42),
];

const DEFAULT_PRICE_PER_MTOK: f64 = 1.0;

pub fn price_per_mtok(model: &str) -> f64 {
    MODELS.iter().find(|m| m.0 == model).map_or(DEFAULT_PRICE_PER_MTOK, |m| m.3)
}

pub fn tokens_for_chars(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    pub kind: &'static str,
    pub param: Option<Cow<'static, str>>,
    pub code: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn to_json(&self) -> Bytes {
        let env = ErrorEnvelope {
            error: ErrorObject {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        Bytes::from(serde_json::to_vec(&env).expect("error body serializes"))
    }

    pub fn not_found_url(method: &str, path: &str) -> Self {
        ApiError::invalid(format!("Invalid URL ({method} {path})"))
            .with_status(StatusCode::NOT_FOUND)
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        ApiError::invalid(format!("Invalid method for URL ({method} {path})"))
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
    }

    pub fn missing_key() -> Self {
        ApiError::invalid(
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or \
             as the password field (with blank username) if you're accessing the API from your \
             browser and are prompted for a username and password. You can obtain an API key \
             from https://platform.openai.com/account/api-keys.",
        )
        .with_status(StatusCode::UNAUTHORIZED)
    }

    pub fn incorrect_key(key: &str) -> Self {
        ApiError::invalid(format!(
            "Incorrect API key provided: {}. You can find your API key at \
             https://platform.openai.com/account/api-keys.",
            mask_key(key)
        ))
        .with_status(StatusCode::UNAUTHORIZED)
        .with_code("invalid_api_key")
    }

    pub fn model_not_found(model: &str) -> Self {
        ApiError::invalid(format!(
            "The model `{model}` does not exist or you do not have access to it."
        ))
        .with_status(StatusCode::NOT_FOUND)
        .with_code("model_not_found")
    }

    /// Plausible body for an injected error status, modelled on what OpenAI sends for it.
    pub fn for_fault_status(status: StatusCode, model: &str, key: Option<&str>) -> Self {
        let server = |message: &'static str| ApiError {
            status,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        };
        let mut err = match status.as_u16() {
            401 => match key {
                Some(key) => ApiError::incorrect_key(key),
                None => ApiError::missing_key(),
            },
            403 => ApiError {
                status,
                message: "Country, region, or territory not supported".into(),
                kind: "request_forbidden",
                param: None,
                code: Some("unsupported_country_region_territory"),
            },
            404 => ApiError::model_not_found(model),
            408 => ApiError::invalid("Request timed out.").with_code("timeout"),
            409 => ApiError::invalid(
                "The request conflicted with another request in progress. Please retry.",
            )
            .with_code("conflict"),
            422 => ApiError::invalid("The request could not be processed.")
                .with_code("unprocessable_entity"),
            429 => ApiError {
                status,
                message: format!(
                    "Rate limit reached for {model} in organization org-testserver on requests \
                     per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit \
                     https://platform.openai.com/account/rate-limits to learn more."
                )
                .into(),
                kind: "requests",
                param: None,
                code: Some("rate_limit_exceeded"),
            },
            500 => {
                server("The server had an error while processing your request. Sorry about that!")
            }
            502 => server("Bad gateway."),
            503 => server("The server is overloaded or not ready yet."),
            504 => server("Gateway timeout."),
            code if code >= 500 => ApiError {
                status,
                message: format!("Injected HTTP {code} from {PROVIDER}.").into(),
                kind: "server_error",
                param: None,
                code: None,
            },
            code => ApiError::invalid(format!("Injected HTTP {code} from {PROVIDER}.")),
        };
        err.status = status;
        err
    }
}

/// Same shape as OpenAI's masking (prefix, one star per hidden char, suffix). At least half
/// of the key stays hidden so even very short test keys are never echoed back.
pub fn mask_key(key: &str) -> String {
    let n = key.chars().count();
    let prefix = (n / 4).min(5);
    let suffix = (n / 4).min(4);
    let mut out = String::with_capacity(key.len());
    out.extend(key.chars().take(prefix));
    out.extend(std::iter::repeat_n('*', n - prefix - suffix));
    out.extend(key.chars().skip(n - suffix));
    out
}

/// What the control API may report about a key: enough to tell keys apart, never the key.
pub fn key_suffix(key: &str) -> Option<Box<str>> {
    let n = key.chars().count();
    let keep = (n / 2).min(4);
    if keep == 0 {
        return None;
    }
    Some(key.chars().skip(n - keep).collect::<String>().into_boxed_str())
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug)]
pub struct ToolPlan {
    pub name: String,
    pub arguments: String,
}

/// Everything needed to answer a chat completion, extracted once from the request body.
#[derive(Debug)]
pub struct ChatPlan {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub n: u32,
    pub max_tokens: Option<u64>,
    pub prompt_tokens: u64,
    pub user_text: String,
    pub tool: Option<ToolPlan>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_type(param: String, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(format!(
        "Invalid type for '{param}': expected {expected}, but got {} instead.",
        type_name(got)
    ))
    .with_param(param)
    .with_code("invalid_type")
}

fn missing(param: String) -> ApiError {
    ApiError::invalid(format!("Missing required parameter: '{param}'."))
        .with_param(param)
        .with_code("missing_required_parameter")
}

fn bounded_int(
    obj: &Map<String, Value>,
    name: &'static str,
    max: u64,
) -> Result<Option<u64>, ApiError> {
    let v = match obj.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let Some(n) = v.as_i64() else {
        return Err(invalid_type(name.to_owned(), "an integer", v));
    };
    if n < 1 {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {n} \
             instead."
        ))
        .with_param(name)
        .with_code("integer_below_min_value"));
    }
    if n as u64 > max {
        return Err(ApiError::invalid(format!(
            "Invalid '{name}': integer above maximum value. Expected a value <= {max}, but got \
             {n} instead."
        ))
        .with_param(name)
        .with_code("integer_above_max_value"));
    }
    Ok(Some(n as u64))
}

/// Text of a message's `content`: a string, or an array of parts whose text parts are joined
/// with newlines (non-text parts such as images contribute nothing).
pub fn content_text(content: Option<&Value>) -> Cow<'_, str> {
    match content {
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(Value::Array(parts)) => {
            let mut texts = parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str));
            match (texts.next(), texts.next()) {
                (None, _) => Cow::Borrowed(""),
                (Some(one), None) => Cow::Borrowed(one),
                (Some(a), Some(b)) => {
                    let mut s = String::with_capacity(a.len() + b.len() + 1);
                    s.push_str(a);
                    s.push('\n');
                    s.push_str(b);
                    for t in texts {
                        s.push('\n');
                        s.push_str(t);
                    }
                    Cow::Owned(s)
                }
            }
        }
        _ => Cow::Borrowed(""),
    }
}

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

pub fn parse_chat(body: &[u8]) -> Result<ChatPlan, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, \
             but what was sent was not valid JSON. If you have trouble figuring out how to fix \
             this, please visit https://platform.openai.com/docs/guides/error-codes/api-errors.)",
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::invalid(format!(
            "Invalid type for request body: expected an object, but got {} instead.",
            type_name(&value)
        )));
    };

    let model = match obj.get("model") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("you must provide a model parameter"));
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(invalid_type("model".into(), "a string", other)),
    };

    let messages = match obj.get("messages") {
        None | Some(Value::Null) => return Err(missing("messages".into())),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(invalid_type("messages".into(), "an array of objects", other));
        }
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got \
             an empty array instead.",
        )
        .with_param("messages")
        .with_code("empty_array"));
    }

    let mut prompt_tokens = 0u64;
    let mut user_text: Option<Cow<'_, str>> = None;
    let mut last_role = "";
    for (i, msg) in messages.iter().enumerate() {
        let Value::Object(m) = msg else {
            return Err(invalid_type(format!("messages[{i}]"), "an object", msg));
        };
        let role = match m.get("role") {
            None | Some(Value::Null) => return Err(missing(format!("messages[{i}].role"))),
            Some(Value::String(r)) => r.as_str(),
            Some(other) => {
                return Err(invalid_type(format!("messages[{i}].role"), "a string", other));
            }
        };
        let Some(role) = ROLES.iter().copied().find(|r| *r == role) else {
            return Err(ApiError::invalid(format!(
                "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', \
                 'function', 'tool', and 'developer'."
            ))
            .with_param(format!("messages[{i}].role"))
            .with_code("invalid_value"));
        };
        let text = content_text(m.get("content"));
        let mut chars = text.chars().count();
        if let Some(Value::Array(calls)) = m.get("tool_calls") {
            for call in calls {
                let args = call.pointer("/function/arguments").and_then(Value::as_str);
                chars += args.map_or(0, |a| a.chars().count());
            }
        }
        prompt_tokens += tokens_for_chars(chars) + 4;
        if role == "user" {
            user_text = Some(text);
        }
        last_role = role;
    }

    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid_type("stream".into(), "a boolean", other)),
    };
    let include_usage = match obj.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(so)) => {
            if !stream {
                return Err(ApiError::invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                )
                .with_param("stream_options"));
            }
            so.get("include_usage").and_then(Value::as_bool).unwrap_or(false)
        }
        Some(other) => return Err(invalid_type("stream_options".into(), "an object", other)),
    };
    let n = bounded_int(&obj, "n", 128)?.unwrap_or(1) as u32;
    let max_tokens = match bounded_int(&obj, "max_completion_tokens", u32::MAX as u64)? {
        Some(m) => Some(m),
        None => bounded_int(&obj, "max_tokens", u32::MAX as u64)?,
    };
    let tool = plan_tool(&obj, last_role)?;

    Ok(ChatPlan {
        model,
        stream,
        include_usage,
        n,
        max_tokens,
        prompt_tokens: prompt_tokens.max(1),
        user_text: user_text.map(Cow::into_owned).unwrap_or_default(),
        tool,
    })
}

/// Decides whether the reply is a tool call. After a `tool` message the "model" answers in
/// text unless a call is forced, so client-side agent loops terminate.
fn tool_name(tool: &Value) -> Option<&str> {
    tool.pointer("/function/name").and_then(Value::as_str)
}

fn plan_tool(obj: &Map<String, Value>, last_role: &str) -> Result<Option<ToolPlan>, ApiError> {
    let tools = match obj.get("tools") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(t)) => t.as_slice(),
        Some(other) => return Err(invalid_type("tools".into(), "an array", other)),
    };
    for (i, tool) in tools.iter().enumerate() {
        if tool_name(tool).is_none() {
            return Err(missing(format!("tools[{i}].function.name")));
        }
    }

    let (forced, wanted): (bool, Option<&str>) = match obj.get("tool_choice") {
        None | Some(Value::Null) => (false, None),
        Some(Value::String(s)) => match s.as_str() {
            "none" => return Ok(None),
            "auto" => (false, None),
            "required" => (true, None),
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid value: '{other}'. Supported values are: 'none', 'auto', and \
                     'required'."
                ))
                .with_param("tool_choice")
                .with_code("invalid_value"));
            }
        },
        Some(choice @ Value::Object(_)) => match choice.pointer("/function/name") {
            Some(Value::String(name)) => (true, Some(name.as_str())),
            _ => return Err(missing("tool_choice.function.name".into())),
        },
        Some(other) => {
            return Err(invalid_type("tool_choice".into(), "a string or an object", other));
        }
    };
    if tools.is_empty() {
        if forced {
            return Err(ApiError::invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are \
                 specified.",
            )
            .with_param("tool_choice"));
        }
        return Ok(None);
    }
    if !forced && last_role == "tool" {
        return Ok(None);
    }
    let tool = match wanted {
        None => &tools[0],
        Some(name) => tools.iter().find(|t| tool_name(t) == Some(name)).ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid value for 'tool_choice': function '{name}' not found in 'tools'."
            ))
            .with_param("tool_choice")
        })?,
    };
    let name = tool_name(tool).unwrap_or_default().to_owned();
    let arguments = tool_arguments(tool.pointer("/function/parameters"));
    Ok(Some(ToolPlan { name, arguments }))
}

/// Deterministic arguments that satisfy a simple JSON schema: required properties (or all
/// when none are marked required) get a fixed value of the declared type.
fn tool_arguments(schema: Option<&Value>) -> String {
    let mut args = Map::new();
    if let Some(Value::Object(props)) = schema.and_then(|s| s.get("properties")) {
        let required: Option<Vec<&str>> = schema
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect());
        for (name, prop) in props {
            if required.as_ref().is_some_and(|r| !r.contains(&name.as_str())) {
                continue;
            }
            args.insert(name.clone(), sample_value(name, prop));
        }
    }
    serde_json::to_string(&args).expect("arguments serialize")
}

fn sample_value(name: &str, prop: &Value) -> Value {
    if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let lower = name.to_ascii_lowercase();
    match prop.get("type").and_then(Value::as_str) {
        Some("string") if lower.contains("location") || lower.contains("city") => "Tokyo".into(),
        Some("string") if lower.contains("unit") => "celsius".into(),
        Some("string") => "test".into(),
        Some("integer") => 1.into(),
        Some("number") => 1.5.into(),
        Some("boolean") => true.into(),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

#[derive(Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: PromptDetails,
    pub completion_tokens_details: CompletionDetails,
    /// Relay-style extension: clients must preserve fields they do not know.
    pub cost_usd: f64,
}

#[derive(Serialize)]
pub struct PromptDetails {
    pub cached_tokens: u64,
    pub audio_tokens: u64,
}

#[derive(Serialize)]
pub struct CompletionDetails {
    pub reasoning_tokens: u64,
    pub audio_tokens: u64,
    pub accepted_prediction_tokens: u64,
    pub rejected_prediction_tokens: u64,
}

impl Usage {
    pub fn new(model: &str, prompt: u64, completion: u64) -> Usage {
        let total = prompt + completion;
        // Rounding keeps the decimal short and stable (no 4.2000000000000004e-6).
        let cost = (total as f64 * price_per_mtok(model) / 1e6 * 1e12).round() / 1e12;
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            prompt_tokens_details: PromptDetails { cached_tokens: 0, audio_tokens: 0 },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
            cost_usd: cost,
        }
    }
}

/// The reply decided for one request; rendered either as one JSON body or as SSE events.
pub struct Reply<'a> {
    pub plan: &'a ChatPlan,
    pub id: String,
    pub call_id_base: String,
    pub content: String,
    pub finish_reason: &'static str,
    pub usage: Usage,
}

impl<'a> Reply<'a> {
    pub fn new(plan: &'a ChatPlan, serial: u64, reply_override: Option<&str>) -> Reply<'a> {
        let id = format!("chatcmpl-ts{serial:016}");
        let call_id_base = format!("call_ts{serial:016}");
        if let Some(tool) = &plan.tool {
            let chars = tool.name.chars().count() + tool.arguments.chars().count();
            let completion = tokens_for_chars(chars).max(1);
            return Reply {
                plan,
                id,
                call_id_base,
                content: String::new(),
                finish_reason: "tool_calls",
                usage: Usage::new(&plan.model, plan.prompt_tokens, completion * plan.n as u64),
            };
        }
        let mut content = match reply_override {
            Some(r) => r.to_owned(),
            None => {
                let mut s = String::with_capacity(plan.model.len() + plan.user_text.len() + 12);
                s.push_str("Echo from ");
                s.push_str(&plan.model);
                s.push_str(": ");
                s.push_str(&plan.user_text);
                s
            }
        };
        let mut finish_reason = "stop";
        let mut completion = tokens_for_chars(content.chars().count()).max(1);
        if let Some(max) = plan.max_tokens {
            if completion > max {
                let keep_chars = (max as usize).saturating_mul(4);
                if let Some((cut, _)) = content.char_indices().nth(keep_chars) {
                    content.truncate(cut);
                }
                completion = max;
                finish_reason = "length";
            }
        }
        Reply {
            plan,
            id,
            call_id_base,
            content,
            finish_reason,
            usage: Usage::new(&plan.model, plan.prompt_tokens, completion * plan.n as u64),
        }
    }

    fn call_id(&self, choice: u32) -> String {
        format!("{}_{choice}", self.call_id_base)
    }

    pub fn to_json(&self) -> Bytes {
        let calls: Vec<[ToolCall<'_>; 1]> = match &self.plan.tool {
            Some(tool) => (0..self.plan.n)
                .map(|i| {
                    [ToolCall {
                        id: self.call_id(i),
                        kind: "function",
                        function: FunctionCall { name: &tool.name, arguments: &tool.arguments },
                    }]
                })
                .collect(),
            None => Vec::new(),
        };
        let choices: Vec<Choice<'_>> = (0..self.plan.n)
            .map(|i| Choice {
                index: i,
                message: Message {
                    role: "assistant",
                    content: if self.plan.tool.is_some() { None } else { Some(&self.content) },
                    tool_calls: calls.get(i as usize).map(|c| &c[..]),
                    refusal: None,
                    annotations: [],
                },
                logprobs: None,
                finish_reason: self.finish_reason,
            })
            .collect();
        let completion = Completion {
            id: &self.id,
            object: "chat.completion",
            created: CREATED,
            model: &self.plan.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage: &self.usage,
            service_tier: "default",
            provider: PROVIDER,
        };
        let mut out = Vec::with_capacity(512 + self.content.len() * self.plan.n as usize);
        serde_json::to_writer(&mut out, &completion).expect("completion serializes");
        Bytes::from(out)
    }

    fn chunk(&self, sse: &mut Sse, choices: &[ChunkChoice<'_>], usage: Tri<&Usage>) {
        sse.event(&Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: CREATED,
            model: &self.plan.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
            provider: PROVIDER,
        });
    }

    /// All SSE events of the stream, plus the index just past the first content-bearing
    /// event (where stream faults cut in).
    pub fn to_events(&self) -> (Vec<Bytes>, usize) {
        let mut sse = Sse::default();
        let n = self.plan.n;
        let usage_field = if self.plan.include_usage { Tri::Null } else { Tri::Absent };
        let pieces: Vec<&str> = match &self.plan.tool {
            Some(tool) => split_fragments(&tool.arguments, 8),
            None => split_words(&self.content, 2),
        };
        for i in 0..n {
            let delta = match &self.plan.tool {
                Some(tool) => Delta {
                    role: Some("assistant"),
                    content: Tri::Null,
                    tool_calls: Some([ToolCallDelta {
                        index: 0,
                        id: Some(self.call_id(i)),
                        kind: Some("function"),
                        function: FunctionDelta { name: Some(&tool.name), arguments: "" },
                    }]),
                    refusal: Tri::Null,
                },
                None => Delta {
                    role: Some("assistant"),
                    content: Tri::Val(""),
                    tool_calls: None,
                    refusal: Tri::Null,
                },
            };
            self.chunk(&mut sse, &one(i, delta, None), usage_field);
        }
        let mut after_first_content = sse.len();
        for (p, piece) in pieces.iter().enumerate() {
            for i in 0..n {
                let delta = match self.plan.tool {
                    Some(_) => Delta {
                        role: None,
                        content: Tri::Absent,
                        tool_calls: Some([ToolCallDelta {
                            index: 0,
                            id: None,
                            kind: None,
                            function: FunctionDelta { name: None, arguments: piece },
                        }]),
                        refusal: Tri::Absent,
                    },
                    None => Delta {
                        role: None,
                        content: Tri::Val(piece),
                        tool_calls: None,
                        refusal: Tri::Absent,
                    },
                };
                self.chunk(&mut sse, &one(i, delta, None), usage_field);
            }
            if p == 0 {
                after_first_content = sse.len();
            }
        }
        for i in 0..n {
            self.chunk(&mut sse, &one(i, Delta::empty(), Some(self.finish_reason)), usage_field);
        }
        if self.plan.include_usage {
            self.chunk(&mut sse, &[], Tri::Val(&self.usage));
        }
        sse.raw(b"data: [DONE]\n\n");
        (sse.finish(), after_first_content)
    }
}

fn one<'a>(index: u32, delta: Delta<'a>, finish: Option<&'static str>) -> [ChunkChoice<'a>; 1] {
    [ChunkChoice { index, delta, logprobs: None, finish_reason: finish }]
}

/// Splits after every `words` words, keeping whitespace, so the pieces concatenate back to
/// the exact text.
fn split_words(text: &str, words: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                seen += 1;
                in_word = false;
            }
        } else {
            if !in_word && seen == words {
                out.push(&text[start..i]);
                start = i;
                seen = 0;
            }
            in_word = true;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn split_fragments(text: &str, chars: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (count, (i, _)) in text.char_indices().enumerate() {
        if count > 0 && count % chars == 0 {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

pub fn stream_error_event() -> Bytes {
    Bytes::from_static(
        b"data: {\"error\":{\"message\":\"The server had an error while processing your \
          request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,\
          \"code\":null}}\n\n",
    )
}

pub fn malformed_event(id: &str) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\
         \"delta\":{{\"content\":\"unterminated\n\n"
    ))
}

pub const MALFORMED_JSON_BODY: &str =
    "<html><body><h1>holysheep-testserver: malformed response</h1></body></html>\n";

/// One buffer for all events of a stream; events are cheap refcounted slices of it.
#[derive(Default)]
struct Sse {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Sse {
    fn event<T: Serialize>(&mut self, value: &T) {
        self.buf.extend_from_slice(b"data: ");
        serde_json::to_writer(&mut self.buf, value).expect("chunk serializes");
        self.buf.extend_from_slice(b"\n\n");
        self.ends.push(self.buf.len());
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn finish(self) -> Vec<Bytes> {
        let all = Bytes::from(self.buf);
        let mut start = 0;
        self.ends
            .into_iter()
            .map(|end| {
                let piece = all.slice(start..end);
                start = end;
                piece
            })
            .collect()
    }
}

/// A field that can be absent, `null`, or a value (OpenAI distinguishes all three).
#[derive(Clone, Copy)]
enum Tri<T> {
    Absent,
    Null,
    Val(T),
}

impl<T> Tri<T> {
    fn is_absent(&self) -> bool {
        matches!(self, Tri::Absent)
    }
}

impl<T: Serialize> Serialize for Tri<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tri::Val(v) => v.serialize(s),
            Tri::Absent | Tri::Null => s.serialize_none(),
        }
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<Choice<'a>>,
    usage: &'a Usage,
    service_tier: &'static str,
    provider: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<&'a [ToolCall<'a>]>,
    refusal: Option<()>,
    annotations: [(); 0],
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Tri::is_absent")]
    usage: Tri<&'a Usage>,
    provider: &'static str,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Tri::is_absent")]
    content: Tri<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
    #[serde(skip_serializing_if = "Tri::is_absent")]
    refusal: Tri<&'a str>,
}

impl Delta<'_> {
    fn empty() -> Self {
        Delta { role: None, content: Tri::Absent, tool_calls: None, refusal: Tri::Absent }
    }
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Models

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'a str,
}

fn model_object(m: &(&'static str, &'static str, u64, f64)) -> ModelObject<'static> {
    ModelObject { id: m.0, object: "model", created: m.2, owned_by: m.1 }
}

pub fn models_list_json() -> Bytes {
    #[derive(Serialize)]
    struct List<'a> {
        object: &'static str,
        data: Vec<ModelObject<'a>>,
    }
    let list = List { object: "list", data: MODELS.iter().map(model_object).collect() };
    Bytes::from(serde_json::to_vec(&list).expect("models serialize"))
}

pub fn model_json(id: &str) -> Option<Bytes> {
    let m = MODELS.iter().find(|m| m.0 == id)?;
    Some(Bytes::from(serde_json::to_vec(&model_object(m)).expect("model serializes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_roundtrips() {
        let text = "Echo from gpt-4.1:  hello   wide world ";
        let pieces = split_words(text, 2);
        assert_eq!(pieces.concat(), text);
        assert_eq!(pieces[0], "Echo from ");
        assert!(pieces.len() >= 3);
        assert!(split_words("", 2).is_empty());
    }

    #[test]
    fn fragments_roundtrip_on_char_boundaries() {
        let text = "{\"location\":\"Tōkyō\"}";
        let pieces = split_fragments(text, 8);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.len() > 1);
    }

    #[test]
    fn mask_never_reveals_key() {
        for key in ["a", "sk-a", "sk-wrong", "sk-abcdefghijklmnopqrstuvwxyz0123"] {
            let masked = mask_key(key);
            assert_ne!(masked, key);
            assert_eq!(masked.chars().count(), key.chars().count());
            assert!(masked.chars().filter(|c| *c == '*').count() * 2 >= key.len());
        }
        assert_eq!(
            mask_key("sk-abcdefghijklmnopqrstuvwxyz0123"),
            format!("sk-ab{}0123", "*".repeat(24))
        );
        assert_eq!(key_suffix("sk-a").as_deref(), Some("-a"));
        assert_eq!(key_suffix("sk-abcdefgh").as_deref(), Some("efgh"));
        assert_eq!(key_suffix("x"), None);
    }

    #[test]
    fn cost_is_short_decimal() {
        let u = Usage::new("deepseek-v3.2", 6, 4);
        assert_eq!(u.cost_usd, 4.2e-6);
        assert_eq!(Usage::new("unknown", 500_000, 500_000).cost_usd, 1.0);
    }
}
