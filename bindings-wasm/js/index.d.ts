// Types of holysheep-vault-wasm. The same API in workerd, Deno, Node and browsers.

/** A duration: seconds (`30`, `0.5`) or a Vault-style string (`"500ms"`, `"30s"`, `"5m"`). */
export type Duration = number | string

/** A model's price in USD per million tokens: one number, or input and output apart. */
export type Price = number | { input: number; output: number }

/**
 * Client options: the core's names, snake_case or camelCase. Every duration option may also be
 * given in milliseconds with an `Ms` / `_ms` suffix (`timeoutMs: 500`). Unknown names are an
 * error (code `configuration`) naming them.
 *
 * At the edge there is no file system: `key_source: "file"`, `token_file`, `secret_id_file`,
 * `jwt_path` (JWT and Kubernetes login) and the TLS file options do not apply. Use a token,
 * AppRole with `secret_id`, or `auth_method: "none"` behind a Vault Agent api_proxy.
 */
export interface ClientOptions {
  /**
   * A Worker's `env` (or any object of strings), read like the process environment:
   * VAULT_ADDR, VAULT_TOKEN, VAULT_ROLE_ID, VAULT_SECRET_ID, HOLYSHEEP_* ... Options given
   * explicitly next to it take precedence.
   */
  env?: Record<string, unknown>

  vault_addr?: string
  vaultAddr?: string
  vault_token?: string
  vaultToken?: string
  vault_namespace?: string
  vaultNamespace?: string
  vault_timeout?: Duration
  vaultTimeout?: Duration
  vaultTimeoutMs?: number

  /** `token`, `approle` or `none` at the edge; detected when unset. */
  auth_method?: string
  authMethod?: string
  auth_mount?: string
  authMount?: string
  role?: string
  role_id?: string
  roleId?: string
  secret_id?: string
  secretId?: string

  /** `kv` (default), `env`, or `static` (implied by `api_key`). */
  key_source?: string
  keySource?: string
  mount?: string
  secret_path?: string
  secretPath?: string
  field?: string
  secret_version?: number
  secretVersion?: number
  key_env?: string
  keyEnv?: string
  /** A key given directly: never refreshed, a 401 is final. */
  api_key?: string
  apiKey?: string
  key_ttl?: Duration
  keyTtl?: Duration
  keyTtlMs?: number
  stale_window?: Duration
  staleWindow?: Duration
  staleWindowMs?: number

  base_url?: string
  baseUrl?: string
  max_retries?: number
  maxRetries?: number
  connect_timeout?: Duration
  connectTimeout?: Duration
  connectTimeoutMs?: number
  read_timeout?: Duration
  readTimeout?: Duration
  readTimeoutMs?: number
  /** Total time of a call, retries included. */
  timeout?: Duration
  timeoutMs?: number
  retry_after_cap?: Duration
  retryAfterCap?: Duration
  retryAfterCapMs?: number
  backoff_initial?: Duration
  backoffInitial?: Duration
  backoffInitialMs?: number
  backoff_max?: Duration
  backoffMax?: Duration
  backoffMaxMs?: number
  prices?: Record<string, Price>
  budget_usd?: number
  budgetUsd?: number

  [name: string]: unknown
}

/** Per-call overrides, plus an AbortSignal that cancels the call (code `cancelled`). */
export interface RequestOptions {
  max_retries?: number
  maxRetries?: number
  timeout?: Duration
  timeoutMs?: number
  read_timeout?: Duration
  readTimeout?: Duration
  readTimeoutMs?: number
  connect_timeout?: Duration
  connectTimeout?: Duration
  connectTimeoutMs?: number
  signal?: AbortSignal
}

/** A chat-completions request body, as the OpenAI API documents it. */
export interface ChatRequest {
  model: string
  messages: Array<{ role: string; content?: unknown; [field: string]: unknown }>
  [field: string]: unknown
}

/** What the library knows about a call (non-enumerable `_meta` of a reply). */
export interface CallMeta {
  request_id: string | null
  /** HTTP attempts the call took (retries and a retry after a key rotation included). */
  attempts: number
  /** From the price table and the reported usage; null without a price or usage. */
  cost_usd: number | null
  key_version: number | null
  latency_ms: number
}

/** The facts every reply carries, non-enumerable (JSON.stringify shows only the API's body). */
export interface ReplyExtras {
  readonly _request_id: string | null
  readonly _meta: CallMeta
}

export interface ToolCall {
  id: string
  type: string
  function: { name: string; arguments: string }
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  [field: string]: unknown
}

/** The API's reply exactly as sent (unknown fields kept). */
export interface ChatCompletion extends ReplyExtras {
  id: string
  object?: string
  model: string
  created?: number
  choices: Array<{
    index: number
    message: {
      role: string
      content: string | null
      tool_calls?: ToolCall[]
      [field: string]: unknown
    }
    finish_reason: string | null
    [field: string]: unknown
  }>
  usage?: Usage
  [field: string]: unknown
}

/** One event of a streamed reply, exactly as sent; the usage chunk has `_meta.cost_usd`. */
export interface ChatChunk {
  id: string
  model: string
  created?: number
  choices: Array<{
    index: number
    delta: {
      role?: string
      content?: string | null
      tool_calls?: Array<{
        index: number
        id?: string
        type?: string
        function?: { name?: string; arguments?: string }
      }>
      [field: string]: unknown
    }
    finish_reason: string | null
    [field: string]: unknown
  }>
  usage?: Usage | null
  readonly _meta?: { cost_usd: number }
  [field: string]: unknown
}

export interface ModelList extends ReplyExtras {
  object?: string
  data: Array<{ id: string; owned_by?: string; created?: number; [field: string]: unknown }>
  [field: string]: unknown
}

/** Counters of one client (snake_case, as in every binding). Never holds a secret. */
export interface Stats {
  vault: {
    auth_method: string
    key_location: string
    key_version: number | null
    vault_reads: number
    logins: number
    renewals: number
    cache_hits: number
    cache_misses: number
    stale_serves: number
    invalidations: number
  }
  requests: number
  attempts: number
  retries: number
  errors: Record<string, number>
  tokens_in: number
  tokens_out: number
  cost_usd: number
  models: Record<string, unknown>
  budget_usd: number | null
  budget_left_usd: number | null
}

export type ErrorCode =
  | 'authentication'
  | 'permission_denied'
  | 'not_found'
  | 'bad_request'
  | 'rate_limited'
  | 'timeout'
  | 'connection'
  | 'server'
  | 'invalid_response'
  | 'budget_exceeded'
  | 'vault_unreachable'
  | 'vault_sealed'
  | 'vault_permission_denied'
  | 'vault_secret_not_found'
  | 'vault_login_failed'
  | 'vault_misconfigured'
  | 'configuration'
  | 'invalid_input'
  | 'cancelled'
  | 'closed'
  | 'internal'

/**
 * Every error this package throws (as the Node package: one subclass per code). Messages never
 * contain a key, token or secret_id.
 */
export class HolySheepError extends Error {
  /**
   * `props` are the fields below (`code` included), copied onto the error; `options.cause` is
   * the standard `Error` cause.
   */
  constructor(
    message: string,
    props?: { code?: ErrorCode } & Record<string, unknown>,
    options?: { cause?: unknown },
  )
  /** The core's error code, the same in every binding. */
  readonly code: ErrorCode
  /** Whether trying again later may succeed. */
  readonly retryable?: boolean
  /** HTTP status of the API response behind the error. */
  readonly status?: number
  /** The response's `x-request-id`. */
  readonly requestId?: string
  /** How long the API asked to wait, in milliseconds (RateLimitError). */
  readonly retryAfter?: number
  /** The provider's `error` object, and its `type` and `param`. */
  readonly error?: unknown
  readonly type?: string
  readonly param?: string
  /** The option at fault (ConfigurationError). */
  readonly setting?: string
  /** The argument at fault, e.g. `messages[2].role` (InvalidInputError). */
  readonly field?: string
  /** `connect`, `read` or `total` (APITimeoutError). */
  readonly phase?: string
  /** The rejected key's location and KV version (AuthenticationError). */
  readonly keyLocation?: string
  readonly keyVersion?: number
  /** The code this class stands for. */
  static readonly code: ErrorCode | undefined
}
export class APIError extends HolySheepError {}
export class AuthenticationError extends APIError {}
export class PermissionDeniedError extends APIError {}
export class NotFoundError extends APIError {}
export class BadRequestError extends APIError {}
export class RateLimitError extends APIError {}
export class ServerError extends APIError {}
export class InvalidResponseError extends HolySheepError {}
export class APIConnectionError extends HolySheepError {}
export class APITimeoutError extends APIConnectionError {}
export class BudgetExceededError extends HolySheepError {}
export class VaultError extends HolySheepError {}
export class VaultUnreachableError extends VaultError {}
export class VaultSealedError extends VaultError {}
export class VaultPermissionDeniedError extends VaultError {}
export class VaultSecretNotFoundError extends VaultError {}
export class VaultLoginError extends VaultError {}
export class VaultMisconfiguredError extends VaultError {}
export class ConfigurationError extends HolySheepError {}
export class InvalidInputError extends HolySheepError {}
export class APIUserAbortError extends HolySheepError {}
export class ClientClosedError extends HolySheepError {}
export class InternalError extends HolySheepError {}

/** A streamed reply: iterate it once with `for await (const chunk of stream)`. */
export class ChatCompletionStream implements AsyncIterable<ChatChunk> {
  private constructor()
  [Symbol.asyncIterator](): AsyncGenerator<ChatChunk, void, undefined>
  /** Stops the stream: the pending or next read rejects with APIUserAbortError. */
  cancel(): void
  /** The same chunks as a WHATWG ReadableStream (consumes the stream). */
  toReadableStream(): ReadableStream<ChatChunk>
}

/**
 * The client. Build it once per isolate and reuse it: the key is cached in the isolate and
 * refreshed on the first call after it expires (no background work at the edge).
 */
export class Client {
  /** Builds a client; does no I/O. Throws ConfigurationError naming a bad option. */
  constructor(options: ClientOptions)
  /** `new Client(options)` as a promise. */
  static create(options?: ClientOptions): Promise<Client>
  /**
   * From an environment object (a Worker's `env`; by default Node's `process.env` or Deno's
   * environment), with `overrides` taking precedence.
   */
  static fromEnv(env?: Record<string, unknown>, overrides?: ClientOptions): Client
  chatCompletions(request: ChatRequest, options?: RequestOptions): Promise<ChatCompletion>
  /** Checks the request now; sends it when iteration starts (errors before data are retried). */
  chatCompletionsStream(request: ChatRequest, options?: RequestOptions): ChatCompletionStream
  models(options?: RequestOptions): Promise<ModelList>
  /** The current API key from the isolate's cache, for another SDK (see `openaiApiKey`). */
  apiKey(): Promise<string>
  /** Logs in to Vault and reads the key now, so setup problems show at start-up. */
  connect(): Promise<void>
  stats(): Stats
  /** Drops the cached key; later calls fail with ClientClosedError. Idempotent. */
  close(): void
  readonly baseUrl: string
  readonly closed: boolean
}

/** `apiKey` for the openai SDK: a function returning the cached key (rotations included). */
export function openaiApiKey(client: Client): () => Promise<string>
/** `{ apiKey, baseURL }` for `new OpenAI(...)`. */
export function openaiOptions(client: Client): { apiKey: () => Promise<string>; baseURL: string }
/** Every error code the core reports. */
export function errorCodes(): ErrorCode[]
/**
 * Which core log events reach the console (default "warn"), for the whole instance. They never
 * carry a secret.
 */
export function setLogLevel(level: 'off' | 'error' | 'warn' | 'info' | 'debug'): void
