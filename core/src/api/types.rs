//! Request and response types of the chat-completions and models endpoints.
//!
//! Requests are kept as the caller's JSON object, so every field the API accepts (today's and
//! tomorrow's) reaches it untouched; only what the library itself relies on is validated.
//! Responses are kept whole as well (`raw`), with the parts most callers need parsed into typed
//! fields next to them. Unknown fields that relays add (`usage.cost_usd`, `system_fingerprint`,
//! provider extensions) therefore survive in `raw` for every binding to hand on.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The message roles the API accepts. `function` is the deprecated predecessor of `tool`.
pub const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// A validated chat-completions request: the JSON body, kept as a map.
///
/// `stream` is owned by the library: [`crate::Client::chat_completions`] rejects `stream: true`
/// (use [`crate::Client::chat_completions_stream`]) and passes `stream: false` through;
/// the streamed call sets `stream: true` itself and, unless the request says otherwise with
/// `stream_options.include_usage`, asks for the usage chunk so that the call can be costed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    body: Map<String, Value>,
}

impl ChatRequest {
    /// A request for `model` with `messages` (each a JSON message object such as
    /// `json!({"role": "user", "content": "Hi"})`). Add any other field with [`ChatRequest::set`].
    /// Validation happens when the request is sent (or call [`ChatRequest::validate`]).
    pub fn new(model: impl Into<String>, messages: impl IntoIterator<Item = Value>) -> Self {
        let mut body = Map::new();
        body.insert("model".into(), Value::String(model.into()));
        body.insert("messages".into(), Value::Array(messages.into_iter().collect()));
        ChatRequest { body }
    }

    /// Takes a request body as the OpenAI API documents it, and validates it. Every field is
    /// kept as given; an invalid one is an [`Error::InvalidInput`] whose `field` names it, e.g.
    /// `messages[1].role`.
    pub fn from_json(value: Value) -> Result<Self> {
        let Value::Object(body) = value else {
            return Err(Error::input("request", "must be a JSON object"));
        };
        let request = ChatRequest { body };
        request.validate()?;
        Ok(request)
    }

    /// Sets a field of the body (builder style): `temperature`, `tools`, `response_format`...
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.body.insert(name.into(), value.into());
        self
    }

    /// Sets a field in place; returns the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.body.insert(name.into(), value.into())
    }

    /// Removes a field; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.body.remove(name)
    }

    /// A field of the body.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.body.get(name)
    }

    /// The `model` field, or `""` when it is missing (which [`ChatRequest::validate`] rejects).
    pub fn model(&self) -> &str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
    }

    /// The `messages` array, or an empty slice when it is missing.
    pub fn messages(&self) -> &[Value] {
        self.body.get("messages").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// Whether the body asks for a streamed reply.
    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool).unwrap_or(false)
    }

    /// The body as a map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.body
    }

    /// The body as JSON.
    pub fn to_json(&self) -> Value {
        Value::Object(self.body.clone())
    }

    /// The body as JSON, without a copy.
    pub fn into_json(self) -> Value {
        Value::Object(self.body)
    }

    /// Checks what the library and the API rely on: a model, a non-empty list of well-formed
    /// messages of known roles, and the types of the common parameters. Fields it does not know
    /// are not checked, so new API features need no library update.
    pub fn validate(&self) -> Result<()> {
        match self.body.get("model") {
            None | Some(Value::Null) => return Err(Error::input("model", "is required")),
            Some(Value::String(m)) if !m.trim().is_empty() => {}
            Some(_) => return Err(Error::input("model", "must be a non-empty string")),
        }
        let messages = match self.body.get("messages") {
            None | Some(Value::Null) => return Err(Error::input("messages", "is required")),
            Some(Value::Array(m)) => m,
            Some(_) => return Err(Error::input("messages", "must be an array of messages")),
        };
        if messages.is_empty() {
            return Err(Error::input("messages", "must contain at least one message"));
        }
        for (i, message) in messages.iter().enumerate() {
            validate_message(i, message)?;
        }
        self.validate_parameters()
    }

    fn validate_parameters(&self) -> Result<()> {
        let b = &self.body;
        for name in ["temperature", "top_p", "frequency_penalty", "presence_penalty"] {
            check_type(b, name, "a number", Value::is_number)?;
        }
        for name in ["max_tokens", "max_completion_tokens", "n", "top_logprobs"] {
            check_type(b, name, "a non-negative whole number", Value::is_u64)?;
        }
        if b.get("n").and_then(Value::as_u64) == Some(0) {
            return Err(Error::input("n", "must be at least 1"));
        }
        check_type(b, "seed", "a whole number", |v| v.is_i64() || v.is_u64())?;
        check_type(b, "stream", "true or false", Value::is_boolean)?;
        check_type(b, "logprobs", "true or false", Value::is_boolean)?;
        check_type(b, "parallel_tool_calls", "true or false", Value::is_boolean)?;
        check_type(b, "user", "a string", Value::is_string)?;
        check_type(b, "response_format", "an object", Value::is_object)?;
        check_type(b, "stream_options", "an object", Value::is_object)?;
        check_type(b, "tool_choice", "a string or an object", |v| v.is_string() || v.is_object())?;
        match b.get("stop") {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(Value::Array(items)) => {
                if let Some(j) = items.iter().position(|s| !s.is_string()) {
                    return Err(Error::input(format!("stop[{j}]"), "must be a string"));
                }
            }
            Some(_) => return Err(Error::input("stop", "must be a string or an array of strings")),
        }
        match b.get("tools") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tools)) => {
                for (j, tool) in tools.iter().enumerate() {
                    let Some(tool) = tool.as_object() else {
                        return Err(Error::input(format!("tools[{j}]"), "must be an object"));
                    };
                    if !tool.get("type").is_some_and(Value::is_string) {
                        return Err(Error::input(format!("tools[{j}].type"), "must be a string"));
                    }
                }
            }
            Some(_) => return Err(Error::input("tools", "must be an array of tools")),
        }
        Ok(())
    }
}

impl Serialize for ChatRequest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body.serialize(serializer)
    }
}

impl TryFrom<Value> for ChatRequest {
    type Error = Error;
    fn try_from(value: Value) -> Result<Self> {
        ChatRequest::from_json(value)
    }
}

fn check_type(
    body: &Map<String, Value>,
    name: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<()> {
    match body.get(name) {
        // `null` means "the default" to the API, so it is passed through.
        None | Some(Value::Null) => Ok(()),
        Some(v) if ok(v) => Ok(()),
        Some(_) => Err(Error::input(name, format!("must be {what}"))),
    }
}

fn validate_message(i: usize, message: &Value) -> Result<()> {
    let field = |rest: &str| format!("messages[{i}]{rest}");
    let Some(m) = message.as_object() else {
        return Err(Error::input(field(""), "must be an object with a role"));
    };
    let role = match m.get("role") {
        None | Some(Value::Null) => return Err(Error::input(field(".role"), "is required")),
        Some(Value::String(r)) => r.as_str(),
        Some(_) => return Err(Error::input(field(".role"), "must be a string")),
    };
    if !ROLES.contains(&role) {
        return Err(Error::input(
            field(".role"),
            match crate::error::shown_word(role) {
                Some(r) => format!("{r} is not one of system, developer, user, assistant, tool"),
                None => "is not one of system, developer, user, assistant, tool (the value given \
                         is not shown)"
                    .to_owned(),
            },
        ));
    }
    if let Some(name) = m.get("name")
        && !(name.is_string() || name.is_null())
    {
        return Err(Error::input(field(".name"), "must be a string"));
    }
    let content = m.get("content").filter(|c| !c.is_null());
    match role {
        "assistant" => {
            // An assistant turn may be only tool calls; its content is then null or absent.
            if let Some(c) = content {
                validate_content(i, c)?;
            }
            match m.get("tool_calls") {
                None | Some(Value::Null) => {}
                Some(Value::Array(calls)) => {
                    for (j, call) in calls.iter().enumerate() {
                        validate_tool_call(i, j, call)?;
                    }
                }
                Some(_) => {
                    return Err(Error::input(field(".tool_calls"), "must be an array"));
                }
            }
        }
        "tool" => {
            match m.get("tool_call_id") {
                Some(Value::String(id)) if !id.is_empty() => {}
                None | Some(Value::Null) => {
                    return Err(Error::input(
                        field(".tool_call_id"),
                        "is required: the id of the assistant's tool call this answers",
                    ));
                }
                Some(_) => {
                    return Err(Error::input(field(".tool_call_id"), "must be a non-empty string"));
                }
            }
            match content {
                Some(c) => validate_content(i, c)?,
                None => return Err(Error::input(field(".content"), "is required")),
            }
        }
        _ => match content {
            Some(c) => validate_content(i, c)?,
            None => return Err(Error::input(field(".content"), "is required")),
        },
    }
    Ok(())
}

fn validate_content(i: usize, content: &Value) -> Result<()> {
    match content {
        Value::String(_) => Ok(()),
        Value::Array(parts) => {
            for (j, part) in parts.iter().enumerate() {
                let Some(part) = part.as_object() else {
                    return Err(Error::input(
                        format!("messages[{i}].content[{j}]"),
                        "must be a content part object such as {\"type\": \"text\", \"text\": ...}",
                    ));
                };
                if !part.get("type").is_some_and(Value::is_string) {
                    return Err(Error::input(
                        format!("messages[{i}].content[{j}].type"),
                        "must be a string such as \"text\" or \"image_url\"",
                    ));
                }
            }
            Ok(())
        }
        _ => Err(Error::input(
            format!("messages[{i}].content"),
            "must be a string or an array of content parts",
        )),
    }
}

fn validate_tool_call(i: usize, j: usize, call: &Value) -> Result<()> {
    let field = |rest: &str| format!("messages[{i}].tool_calls[{j}]{rest}");
    let Some(call) = call.as_object() else {
        return Err(Error::input(field(""), "must be an object"));
    };
    if !call.get("id").is_some_and(Value::is_string) {
        return Err(Error::input(field(".id"), "must be a string"));
    }
    if let Some(t) = call.get("type")
        && !t.is_string()
    {
        return Err(Error::input(field(".type"), "must be a string"));
    }
    if let Some(function) = call.get("function") {
        let Some(function) = function.as_object() else {
            return Err(Error::input(field(".function"), "must be an object"));
        };
        if !function.get("name").is_some_and(Value::is_string) {
            return Err(Error::input(field(".function.name"), "must be a string"));
        }
        if !function.get("arguments").is_some_and(Value::is_string) {
            return Err(Error::input(
                field(".function.arguments"),
                "must be a string holding the JSON-encoded arguments",
            ));
        }
    }
    Ok(())
}

/// What the library knows about one call, next to what the API returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallMeta {
    /// The `x-request-id` response header.
    pub request_id: Option<String>,
    /// HTTP attempts the call took (retries and a retry after a key rotation included).
    pub attempts: u32,
    /// Cost from the price table and the reported usage; `None` when the model has no price or
    /// no usage was reported. For streams, known once the usage chunk has arrived.
    pub cost_usd: Option<f64>,
    /// KV version of the key the successful attempt used.
    pub key_version: Option<u64>,
    /// Time from the start of the call to the complete response (to the first event, streamed).
    pub latency_ms: f64,
}

/// Token counts of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// Reads a `usage` object leniently: missing counts are 0, `total_tokens` is derived when
    /// absent. `None` when the value is not an object.
    pub fn from_json(value: &Value) -> Option<Usage> {
        let o = value.as_object()?;
        let count = |name: &str| {
            o.get(name)
                .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
                .unwrap_or(0)
        };
        let prompt_tokens = count("prompt_tokens");
        let completion_tokens = count("completion_tokens");
        let total = count("total_tokens");
        Some(Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: if total > 0 { total } else { prompt_tokens + completion_tokens },
        })
    }
}

/// A function call requested by the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolCall {
    pub id: String,
    /// `function` for function tools.
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

/// The function of a [`ToolCall`]. `arguments` is JSON text as the model wrote it (it may be
/// invalid JSON: models make mistakes).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A message of a reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Message {
    pub role: String,
    /// The text; content-part arrays are joined. `None` for a pure tool-call turn.
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub refusal: Option<String>,
    /// The reasoning text some models (DeepSeek) return beside the answer.
    pub reasoning_content: Option<String>,
}

/// One choice of a reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Choice {
    pub index: u32,
    pub message: Message,
    pub finish_reason: Option<String>,
}

/// A chat-completions reply: the essentials typed, the whole JSON in `raw`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatCompletion {
    pub id: String,
    pub model: String,
    pub created: Option<i64>,
    pub choices: Vec<Choice>,
    pub usage: Option<Usage>,
    /// The response body exactly as received, unknown fields included.
    pub raw: Value,
    /// What the library knows about the call.
    pub meta: CallMeta,
}

impl ChatCompletion {
    /// Reads a response body. Fails with [`Error::InvalidResponse`] when it is not an object
    /// with a `choices` array, or when it is an error object.
    pub fn from_json(raw: Value) -> Result<ChatCompletion> {
        let o = object(&raw, "chat completion")?;
        let Some(choices) = o.get("choices").and_then(Value::as_array) else {
            return Err(invalid("the chat completion has no \"choices\" array"));
        };
        let choices = choices
            .iter()
            .enumerate()
            .map(|(i, c)| Choice {
                index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64) as u32,
                message: c.get("message").map(parse_message).unwrap_or_default(),
                finish_reason: string(c.get("finish_reason")),
            })
            .collect();
        Ok(ChatCompletion {
            id: string(o.get("id")).unwrap_or_default(),
            model: string(o.get("model")).unwrap_or_default(),
            created: o.get("created").and_then(Value::as_i64),
            choices,
            usage: o.get("usage").and_then(Usage::from_json),
            raw,
            meta: CallMeta::default(),
        })
    }

    /// The text of the first choice.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }

    /// The tool calls of the first choice.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.choices.first().map_or(&[], |c| c.message.tool_calls.as_slice())
    }

    /// The finish reason of the first choice.
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices.first()?.finish_reason.as_deref()
    }
}

/// A piece of a tool call in a streamed delta. The first piece of a call carries its `id` and
/// name; later pieces with the same `index` append to `arguments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolCallDelta {
    pub index: u32,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
}

/// What a streamed chunk adds to a choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    pub role: Option<String>,
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCallDelta>,
    pub refusal: Option<String>,
    pub reasoning_content: Option<String>,
}

/// One choice of a streamed chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<String>,
}

/// One event of a streamed reply: the essentials typed, the whole event JSON in `raw`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatChunk {
    pub id: String,
    pub model: String,
    pub created: Option<i64>,
    /// Empty in the usage chunk that ends a stream with `include_usage`.
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<Usage>,
    /// The event's JSON exactly as received.
    pub raw: Value,
    /// On a chunk that carries usage: the cost of the call so far (the whole call on the final
    /// usage chunk), from the price table.
    pub cost_usd: Option<f64>,
}

impl ChatChunk {
    /// Reads the JSON of one stream event.
    pub fn from_json(raw: Value) -> Result<ChatChunk> {
        let o = object(&raw, "stream chunk")?;
        let choices = match o.get("choices") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(choices)) => choices
                .iter()
                .enumerate()
                .map(|(i, c)| ChunkChoice {
                    index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64) as u32,
                    delta: c.get("delta").map(parse_delta).unwrap_or_default(),
                    finish_reason: string(c.get("finish_reason")),
                })
                .collect(),
            Some(_) => return Err(invalid("a stream chunk's \"choices\" is not an array")),
        };
        Ok(ChatChunk {
            id: string(o.get("id")).unwrap_or_default(),
            model: string(o.get("model")).unwrap_or_default(),
            created: o.get("created").and_then(Value::as_i64),
            choices,
            usage: o.get("usage").and_then(Usage::from_json),
            raw,
            cost_usd: None,
        })
    }

    /// The text the first choice adds.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.delta.content.as_deref()
    }

    /// The finish reason of the first choice, on the chunk that ends it.
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices.first()?.finish_reason.as_deref()
    }
}

/// Assembles streamed chunks into the [`ChatCompletion`] the same call would have returned
/// unstreamed: text joined, tool-call fragments joined by index, the last finish reason and the
/// usage kept. Every binding uses it for its "final completion" helper.
#[derive(Debug, Clone, Default)]
pub struct ChatAccumulator {
    id: String,
    model: String,
    created: Option<i64>,
    choices: Vec<AccChoice>,
    usage: Option<Usage>,
    usage_raw: Option<Value>,
    cost_usd: Option<f64>,
    chunks: usize,
}

#[derive(Debug, Clone, Default)]
struct AccChoice {
    index: u32,
    role: Option<String>,
    content: Option<String>,
    refusal: Option<String>,
    reasoning: Option<String>,
    tool_calls: Vec<(u32, ToolCall)>,
    finish_reason: Option<String>,
}

impl ChatAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one chunk.
    pub fn push(&mut self, chunk: &ChatChunk) {
        self.chunks += 1;
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if self.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        self.created = self.created.or(chunk.created);
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
            self.usage_raw = chunk.raw.get("usage").cloned();
        }
        if chunk.cost_usd.is_some() {
            self.cost_usd = chunk.cost_usd;
        }
        for c in &chunk.choices {
            let slot = match self.choices.iter().position(|a| a.index == c.index) {
                Some(p) => &mut self.choices[p],
                None => {
                    self.choices.push(AccChoice { index: c.index, ..Default::default() });
                    self.choices.last_mut().expect("just pushed")
                }
            };
            let d = &c.delta;
            if d.role.is_some() {
                slot.role.clone_from(&d.role);
            }
            append(&mut slot.content, d.content.as_deref());
            append(&mut slot.refusal, d.refusal.as_deref());
            append(&mut slot.reasoning, d.reasoning_content.as_deref());
            for t in &d.tool_calls {
                let call = match slot.tool_calls.iter().position(|(i, _)| *i == t.index) {
                    Some(p) => &mut slot.tool_calls[p].1,
                    None => {
                        slot.tool_calls.push((t.index, ToolCall::default()));
                        &mut slot.tool_calls.last_mut().expect("just pushed").1
                    }
                };
                if let Some(id) = &t.id {
                    call.id.clone_from(id);
                }
                if let Some(kind) = &t.kind {
                    call.kind.clone_from(kind);
                }
                if let Some(name) = &t.name {
                    call.function.name.push_str(name);
                }
                if let Some(arguments) = &t.arguments {
                    call.function.arguments.push_str(arguments);
                }
            }
            if c.finish_reason.is_some() {
                slot.finish_reason.clone_from(&c.finish_reason);
            }
        }
    }

    /// Chunks pushed so far.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// The text of the first choice so far.
    pub fn content(&self) -> Option<&str> {
        self.choices.iter().min_by_key(|c| c.index)?.content.as_deref()
    }

    /// The assembled completion; `raw` is built in the shape of an unstreamed reply.
    pub fn finish(mut self) -> ChatCompletion {
        self.choices.sort_by_key(|c| c.index);
        let choices: Vec<Choice> = self
            .choices
            .into_iter()
            .map(|mut c| {
                c.tool_calls.sort_by_key(|(i, _)| *i);
                Choice {
                    index: c.index,
                    message: Message {
                        role: c.role.unwrap_or_else(|| "assistant".to_owned()),
                        content: c.content,
                        tool_calls: c.tool_calls.into_iter().map(|(_, t)| t).collect(),
                        refusal: c.refusal,
                        reasoning_content: c.reasoning,
                    },
                    finish_reason: c.finish_reason,
                }
            })
            .collect();
        let raw_choices: Vec<Value> = choices
            .iter()
            .map(|c| {
                let mut message = Map::new();
                message.insert("role".into(), c.message.role.clone().into());
                message.insert("content".into(), c.message.content.clone().into());
                if !c.message.tool_calls.is_empty() {
                    let calls = serde_json::to_value(&c.message.tool_calls).unwrap_or_default();
                    message.insert("tool_calls".into(), calls);
                }
                if let Some(r) = &c.message.refusal {
                    message.insert("refusal".into(), r.clone().into());
                }
                if let Some(r) = &c.message.reasoning_content {
                    message.insert("reasoning_content".into(), r.clone().into());
                }
                serde_json::json!({
                    "index": c.index,
                    "message": message,
                    "finish_reason": c.finish_reason,
                })
            })
            .collect();
        let mut raw = Map::new();
        raw.insert("id".into(), self.id.clone().into());
        raw.insert("object".into(), "chat.completion".into());
        if let Some(created) = self.created {
            raw.insert("created".into(), created.into());
        }
        raw.insert("model".into(), self.model.clone().into());
        raw.insert("choices".into(), raw_choices.into());
        if let Some(usage) = self.usage_raw {
            raw.insert("usage".into(), usage);
        }
        ChatCompletion {
            id: self.id,
            model: self.model,
            created: self.created,
            choices,
            usage: self.usage,
            raw: Value::Object(raw),
            meta: CallMeta { cost_usd: self.cost_usd, ..CallMeta::default() },
        }
    }
}

fn append(to: &mut Option<String>, piece: Option<&str>) {
    if let Some(piece) = piece {
        to.get_or_insert_with(String::new).push_str(piece);
    }
}

/// One model of [`ModelList`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Model {
    pub id: String,
    pub owned_by: Option<String>,
    pub created: Option<i64>,
}

/// The reply of `GET /models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelList {
    pub data: Vec<Model>,
    /// The response body exactly as received.
    pub raw: Value,
    pub meta: CallMeta,
}

impl ModelList {
    /// Reads a response body: an object with a `data` array of models (a bare array is accepted
    /// too, as some relays send one).
    pub fn from_json(raw: Value) -> Result<ModelList> {
        let items = match &raw {
            Value::Object(o) if o.contains_key("error") => return Err(error_object(&raw)),
            Value::Object(o) => o.get("data").and_then(Value::as_array),
            Value::Array(a) => Some(a),
            _ => None,
        };
        let Some(items) = items else {
            return Err(invalid("the model list has no \"data\" array"));
        };
        let data = items
            .iter()
            .filter_map(|m| {
                Some(Model {
                    id: m.get("id")?.as_str()?.to_owned(),
                    owned_by: string(m.get("owned_by")),
                    created: m.get("created").and_then(Value::as_i64),
                })
            })
            .collect();
        Ok(ModelList { data, raw, meta: CallMeta::default() })
    }

    /// The ids of the models.
    pub fn ids(&self) -> Vec<&str> {
        self.data.iter().map(|m| m.id.as_str()).collect()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidResponse { message: message.into(), request_id: None }
}

/// A 2xx body that is an `{"error": ...}` object (some relays answer errors with 200).
fn error_object(raw: &Value) -> Error {
    let e = &raw["error"];
    let message =
        e.get("message").and_then(Value::as_str).or_else(|| e.as_str()).unwrap_or("no message");
    invalid(format!("the API answered with an error object: {message}"))
}

fn object<'a>(raw: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    match raw {
        Value::Object(o) if o.contains_key("error") && !o.contains_key("choices") => {
            Err(error_object(raw))
        }
        Value::Object(o) => Ok(o),
        _ => Err(invalid(format!("the {what} is not a JSON object"))),
    }
}

fn string(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

/// Content as text: a string as is, an array of parts joined from their `text` fields.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<String>(),
        ),
        _ => None,
    }
}

fn parse_message(m: &Value) -> Message {
    let tool_calls = m
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolCall {
                    id: string(c.get("id")).unwrap_or_default(),
                    kind: string(c.get("type")).unwrap_or_else(|| "function".to_owned()),
                    function: FunctionCall {
                        name: string(c.pointer("/function/name")).unwrap_or_default(),
                        arguments: arguments(c.pointer("/function/arguments")).unwrap_or_default(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        role: string(m.get("role")).unwrap_or_else(|| "assistant".to_owned()),
        content: text(m.get("content")),
        tool_calls,
        refusal: string(m.get("refusal")),
        reasoning_content: string(m.get("reasoning_content")),
    }
}

/// Tool arguments are JSON text; a relay that sends an object instead gets it re-encoded.
fn arguments(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn parse_delta(d: &Value) -> Delta {
    let tool_calls = d
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, c)| ToolCallDelta {
                    index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64) as u32,
                    id: string(c.get("id")),
                    kind: string(c.get("type")),
                    name: string(c.pointer("/function/name")),
                    arguments: arguments(c.pointer("/function/arguments")),
                })
                .collect()
        })
        .unwrap_or_default();
    Delta {
        role: string(d.get("role")),
        content: text(d.get("content")),
        tool_calls,
        refusal: string(d.get("refusal")),
        reasoning_content: string(d.get("reasoning_content")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(value: Value) -> String {
        match ChatRequest::from_json(value).unwrap_err() {
            Error::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_role_and_field_passes_through() {
        let body = json!({
            "model": "gpt-4.1",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "rules"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ], "name": "ann"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 3}"}
            ],
            "temperature": 0.2, "max_tokens": 100, "max_completion_tokens": 90, "top_p": 1,
            "stop": ["\n\n"], "n": 1, "seed": -4, "user": "u-1",
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
            "tool_choice": "auto", "response_format": {"type": "json_object"},
            "stream_options": {"include_usage": true}, "x_vendor_knob": {"deep": [1, 2]}
        });
        let request = ChatRequest::from_json(body.clone()).unwrap();
        assert_eq!(request.to_json(), body);
        assert_eq!(serde_json::to_value(&request).unwrap(), body);
        assert_eq!(request.model(), "gpt-4.1");
        assert_eq!(request.messages().len(), 5);
    }

    #[test]
    fn a_role_value_is_shown_only_when_it_is_a_plain_word() {
        let role = |r: &str| {
            let body = json!({"model": "m", "messages": [{"role": r, "content": "x"}]});
            ChatRequest::from_json(body).unwrap_err().to_string()
        };
        assert!(role("usr").contains("\"usr\" is not one of system,"), "{}", role("usr"));
        let text = role("sk-live-SECRET123");
        assert!(text.contains("messages[0].role") && !text.contains("SECRET"), "{text}");
    }

    #[test]
    fn invalid_fields_are_named() {
        let msg =
            |m: Value| json!({"model": "m", "messages": [{"role": "user", "content": "x"}, m]});
        assert_eq!(field_of(json!([1])), "request");
        assert_eq!(field_of(json!({"messages": []})), "model");
        assert_eq!(field_of(json!({"model": "m"})), "messages");
        assert_eq!(field_of(json!({"model": "m", "messages": []})), "messages");
        assert_eq!(field_of(msg(json!({"role": "robot", "content": "x"}))), "messages[1].role");
        assert_eq!(field_of(msg(json!({"content": "x"}))), "messages[1].role");
        assert_eq!(field_of(msg(json!("hi"))), "messages[1]");
        assert_eq!(field_of(msg(json!({"role": "user"}))), "messages[1].content");
        assert_eq!(field_of(msg(json!({"role": "user", "content": 3}))), "messages[1].content");
        assert_eq!(
            field_of(msg(json!({"role": "user", "content": [{"text": "x"}]}))),
            "messages[1].content[0].type"
        );
        assert_eq!(
            field_of(msg(json!({"role": "tool", "content": "x"}))),
            "messages[1].tool_call_id"
        );
        assert_eq!(
            field_of(msg(json!({"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
            ]}))),
            "messages[1].tool_calls[0].function.arguments"
        );
        let base = || json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            field_of(b)
        };
        assert_eq!(with("temperature", json!("hot")), "temperature");
        assert_eq!(with("max_tokens", json!(-1)), "max_tokens");
        assert_eq!(with("n", json!(0)), "n");
        assert_eq!(with("stop", json!([1])), "stop[0]");
        assert_eq!(with("tools", json!([{}])), "tools[0].type");
        assert_eq!(with("stream", json!("yes")), "stream");
    }

    #[test]
    fn builder_sets_fields() {
        let r = ChatRequest::new("m", [json!({"role": "user", "content": "hi"})])
            .set("temperature", 0.5)
            .set("tools", json!([]));
        r.validate().unwrap();
        assert_eq!(r.get("temperature"), Some(&json!(0.5)));
    }

    #[test]
    fn completion_keeps_unknown_fields_and_types_the_rest() {
        let raw = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "gpt-4.1",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
                      "cost_usd": 0.001},
            "system_fingerprint": "fp"
        });
        let c = ChatCompletion::from_json(raw.clone()).unwrap();
        assert_eq!(c.raw, raw);
        assert_eq!(c.content(), None);
        assert_eq!(c.finish_reason(), Some("tool_calls"));
        assert_eq!(c.tool_calls()[0].function.name, "get_weather");
        assert_eq!(c.usage.unwrap().total_tokens, 12);
        assert!(ChatCompletion::from_json(json!({"error": {"message": "no"}})).is_err());
        assert!(ChatCompletion::from_json(json!([1])).is_err());
        assert!(ChatCompletion::from_json(json!({"id": "x"})).is_err());
    }

    #[test]
    fn accumulator_assembles_tool_calls_and_text() {
        let chunks = [
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "He"}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "llo"}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}]}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
            json!({"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
        ];
        let mut acc = ChatAccumulator::new();
        for c in chunks {
            acc.push(&ChatChunk::from_json(c).unwrap());
        }
        let done = acc.finish();
        assert_eq!(done.content(), Some("Hello"));
        assert_eq!(done.tool_calls()[0].function.arguments, "{\"a\":1}");
        assert_eq!(done.tool_calls()[0].id, "call_1");
        assert_eq!(done.finish_reason(), Some("tool_calls"));
        assert_eq!(done.usage.unwrap().total_tokens, 3);
        let again = ChatCompletion::from_json(done.raw.clone()).unwrap();
        assert_eq!(again.choices, done.choices);
    }

    #[test]
    fn model_list_reads_ids() {
        let l = ModelList::from_json(json!({"object": "list", "data": [{"id": "a"}, {"id": "b"}]}))
            .unwrap();
        assert_eq!(l.ids(), ["a", "b"]);
        assert!(ModelList::from_json(json!("x")).is_err());
    }
}
