//! The core's `tracing` events, delivered to the logger a client was given (through a
//! ThreadsafeFunction, since events fire on tokio's threads) and to stderr when `HOLYSHEEP_LOG`
//! asks for it. The core never puts a secret in an event; nothing here adds one.
//!
//! Each client with a logger gets a span carrying its id, and its calls run inside that span, so
//! an event reaches the logger of the client that caused it. Events outside any client span
//! (background refresh and renewal tasks, which the core spawns without a span) go to every
//! registered logger.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use holysheep_vault::Error as CoreError;
use napi::bindgen_prelude::{FnArgs, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Status, bindgen_prelude::Unknown};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, dynamic_filter_fn};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// `(level, message, fields)`, as the JS layer's adapter expects it.
pub type LogArgs = FnArgs<(String, String, Value)>;
/// The JS logger function as JS passes it.
pub type LogFunction<'a> = Function<'a, LogArgs, Unknown<'static>>;

/// Weak: a logger must not keep the process alive. Bounded: a logger that cannot keep up loses
/// events rather than letting the queue grow without limit.
type LogFn = ThreadsafeFunction<LogArgs, Unknown<'static>, LogArgs, Status, false, true, 4096>;

/// The span name the binding puts around a client's calls; the layer looks for it.
const CLIENT_SPAN: &str = "holysheep_client";

struct Logger {
    function: Arc<LogFn>,
    level: LevelFilter,
}

static LOGGERS: OnceLock<RwLock<HashMap<u64, Logger>>> = OnceLock::new();
/// The most verbose level any registered logger wants, so that with no logger (or only quiet
/// ones) debug events are not even built.
static MAX_LEVEL: AtomicUsize = AtomicUsize::new(level_rank(LevelFilter::OFF));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static INSTALLED: OnceLock<bool> = OnceLock::new();

const fn level_rank(level: LevelFilter) -> usize {
    match level {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        LevelFilter::TRACE => 5,
    }
}

fn loggers() -> &'static RwLock<HashMap<u64, Logger>> {
    LOGGERS.get_or_init(Default::default)
}

/// What a client holds for logging: its id (for the span) and, while alive, its logger.
pub struct ClientLog {
    id: u64,
    span: tracing::Span,
}

impl ClientLog {
    /// Registers `logger` (if any) at `level`, installing the process's subscriber first when
    /// needed.
    pub fn new(logger: Option<LogFunction<'_>>, level: LevelFilter) -> napi::Result<ClientLog> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if logger.is_some() || std::env::var_os("HOLYSHEEP_LOG").is_some() {
            install();
        }
        if let Some(logger) = logger {
            let function = logger
                .build_threadsafe_function::<LogArgs>()
                .weak::<true>()
                .callee_handled::<false>()
                .max_queue_size::<4096>()
                .build()?;
            let mut map = loggers().write().unwrap_or_else(|e| e.into_inner());
            map.insert(id, Logger { function: Arc::new(function), level });
            recompute_max(&map);
        }
        // A span only where a subscriber can route by it; otherwise this is `Span::none()`.
        let span = if *INSTALLED.get().unwrap_or(&false) {
            tracing::info_span!(target: "holysheep_vault_node", CLIENT_SPAN, client = id)
        } else {
            tracing::Span::none()
        };
        Ok(ClientLog { id, span })
    }

    /// The span to run this client's calls in.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Stops delivering to this client's logger (at `close()` and when the client is collected).
    pub fn detach(&self) {
        let mut map = loggers().write().unwrap_or_else(|e| e.into_inner());
        if map.remove(&self.id).is_some() {
            recompute_max(&map);
        }
    }
}

/// The `logLevel` option: `error`, `warn`, `info` (the default), `debug`, `trace` or `off`.
pub fn parse_level(level: Option<&str>) -> Result<LevelFilter, CoreError> {
    Ok(match level.map(str::trim).unwrap_or("info") {
        "" | "info" => LevelFilter::INFO,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        "off" | "silent" => LevelFilter::OFF,
        other => {
            return Err(CoreError::Configuration {
                setting: "logLevel".into(),
                message: format!("\"{other}\" is not one of error, warn, info, debug, trace, off"),
            });
        }
    })
}

impl Drop for ClientLog {
    fn drop(&mut self) {
        self.detach();
    }
}

impl fmt::Debug for ClientLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLog").field("id", &self.id).finish()
    }
}

fn recompute_max(map: &HashMap<u64, Logger>) {
    let max = map.values().map(|l| level_rank(l.level)).max().unwrap_or(0);
    MAX_LEVEL.store(max, Ordering::Relaxed);
}

/// Installs the process-wide subscriber once, with the first client that has a logger or when
/// `HOLYSHEEP_LOG` is set. Another global subscriber already set (by another native module) wins;
/// then loggers stay silent rather than fail.
fn install() {
    INSTALLED.get_or_init(|| {
        let stderr =
            std::env::var("HOLYSHEEP_LOG").ok().filter(|v| !v.trim().is_empty()).map(|v| {
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(stderr_filter(&v))
            });
        let to_js = JsLayer.with_filter(dynamic_filter_fn(|meta, _| {
            meta.target().starts_with("holysheep_vault")
                && level_rank(LevelFilter::from_level(*meta.level()))
                    <= MAX_LEVEL.load(Ordering::Relaxed)
        }));
        let subscriber = tracing_subscriber::registry().with(stderr).with(to_js);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    });
}

/// `HOLYSHEEP_LOG=debug` means the library's own events at debug, not every dependency's; a value
/// with `=` or `,` is a full `tracing` filter directive, for digging into the HTTP stack.
fn stderr_filter(value: &str) -> EnvFilter {
    let value = value.trim();
    let directive = if value.contains('=') || value.contains(',') {
        value.to_owned()
    } else {
        format!("holysheep_vault={value}")
    };
    EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("holysheep_vault=info"))
}

/// The client id a [`CLIENT_SPAN`] was opened with, kept in the span's extensions.
struct ClientId(u64);

struct JsLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for JsLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != CLIENT_SPAN {
            return;
        }
        let mut visitor = Fields::default();
        attrs.record(&mut visitor);
        if let (Some(Value::Number(n)), Some(span)) = (visitor.fields.get("client"), ctx.span(id))
            && let Some(client) = n.as_u64()
        {
            span.extensions_mut().insert(ClientId(client));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let client = ctx.event_scope(event).and_then(|scope| {
            scope.from_root().find_map(|span| span.extensions().get::<ClientId>().map(|c| c.0))
        });
        let rank = level_rank(LevelFilter::from_level(*event.metadata().level()));
        let targets: Vec<Arc<LogFn>> = {
            let map = loggers().read().unwrap_or_else(|e| e.into_inner());
            let wants = |l: &&Logger| level_rank(l.level) >= rank;
            match client {
                Some(id) => {
                    map.get(&id).filter(wants).map(|l| l.function.clone()).into_iter().collect()
                }
                None => map.values().filter(wants).map(|l| l.function.clone()).collect(),
            }
        };
        if targets.is_empty() {
            return;
        }
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        visitor.fields.insert("target".into(), Value::from(event.metadata().target()));
        let level = level_name(*event.metadata().level());
        let fields = Value::Object(visitor.fields);
        for function in targets {
            // Non-blocking: a full queue drops the event instead of stalling a tokio worker.
            let args = (level.to_owned(), visitor.message.clone(), fields.clone());
            function.call(args.into(), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Level names as console-like loggers spell their methods; `trace` goes to `debug` because
/// `console.trace` prints a stack.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Map<String, Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.insert(field.name().into(), Value::from(format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.insert(field.name().into(), Value::from(value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().into(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().into(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.insert(field.name().into(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().into(), Value::from(value));
    }
}
