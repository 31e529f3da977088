// Types of the public API (lib/index.js). The native module's own declarations are generated into
// native.d.ts by `napi build`; this file describes the layer users import.

/** Options of a client. Keys are the core's option names, camelCase or snake_case; durations are
 * numbers of seconds, strings such as "500ms" or "30s", or `...Ms` keys in milliseconds. */
export interface ClientOptions {
  vaultAddr?: string
  vaultToken?: string
  vaultNamespace?: string
  vaultCacert?: string
  vaultClientCert?: string
  vaultClientKey?: string
  vaultSkipVerify?: boolean
  vaultTimeout?: Duration
  vaultTimeoutMs?: number
  /** `vaultrs` (default) or `http`: which Vault client the core uses. */
  vaultBackend?: 'vaultrs' | 'http'
  /** `token`, `token_file`, `approle`, `kubernetes`, `jwt` or `none`; detected when unset. */
  authMethod?: string
  authMount?: string
  role?: string
  roleId?: string
  secretId?: string
  secretIdFile?: string
  jwtPath?: string
  tokenFile?: string
  /** `kv` (default), `file`, `env`, or `static` (implied by `apiKey`). */
  keySource?: string
  mount?: string
  secretPath?: string
  field?: string
  secretVersion?: number
  keyFile?: string
  keyEnv?: string
  /** A key given directly (`keySource: 'static'`): never refreshed, a 401 is final. */
  apiKey?: string
  keyTtl?: Duration
  keyTtlMs?: number
  staleWindow?: Duration
  staleWindowMs?: number
  baseUrl?: string
  maxRetries?: number
  connectTimeout?: Duration
  connectTimeoutMs?: number
  readTimeout?: Duration
  readTimeoutMs?: number
  /** Total time of a call, retries included. */
  timeout?: Duration
  timeoutMs?: number
  retryAfterCap?: Duration
  retryAfterCapMs?: number
  backoffInitial?: Duration
  backoffInitialMs?: number
  backoffMax?: Duration
  backoffMaxMs?: number
  /** USD per million tokens: one number, or `{ input, output }`. */
  prices?: Record<string, number | { input: number; output: number }>
  budgetUsd?: number
  /** Receives the library's events (never a secret). Errors it throws are ignored. */
  logger?: LogFunction | ConsoleLikeLogger
  /** The least severe level delivered to `logger`; default `info`. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'off'
  [option: string]: unknown
}

/** Seconds, or a string with a unit: `"500ms"`, `"30s"`, `"5m"`, `"1h"`. */
export type Duration = number | string

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export type LogFunction = (
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
) => void
export interface ConsoleLikeLogger {
  error?(message: string, fields: Record<string, unknown>): void
  warn?(message: string, fields: Record<string, unknown>): void
  info?(message: string, fields: Record<string, unknown>): void
  debug?(message: string, fields: Record<string, unknown>): void
  log?(message: string, fields: Record<string, unknown>): void
}

/** Per-call options. */
export interface RequestOptions {
  /** Cancels the call: it rejects with APIUserAbortError and its connection is closed. */
  signal?: AbortSignal
  /** Total time of the call, retries included. */
  timeoutMs?: number
  readTimeoutMs?: number
  connectTimeoutMs?: number
  maxRetries?: number
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'developer' | (string & {})
  content?: string | null | Array<Record<string, unknown>>
  [key: string]: unknown
}

/** An OpenAI chat-completions request; any other field the API accepts is passed through. */
export interface ChatCompletionRequest {
  model: string
  messages: ChatMessage[]
  temperature?: number
  max_tokens?: number
  max_completion_tokens?: number
  tools?: Array<Record<string, unknown>>
  tool_choice?: unknown
  stream_options?: { include_usage?: boolean }
  [key: string]: unknown
}

export interface CallMeta {
  request_id: string | null
  attempts: number
  cost_usd: number | null
  key_version: number | null
  latency_ms: number
}

/** The facts the library adds to a response body, as non-enumerable properties. */
interface WithMeta {
  readonly _request_id: string | null
  readonly _meta: CallMeta
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  [key: string]: unknown
}

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

/** The response body exactly as the API sent it (unknown fields kept). */
export interface ChatCompletion extends WithMeta {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: {
      role: 'assistant'
      content: string | null
      tool_calls?: ToolCall[]
      refusal?: string | null
      [key: string]: unknown
    }
    finish_reason: string | null
    [key: string]: unknown
  }>
  usage?: Usage
  [key: string]: unknown
}

export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: Array<{
    index: number
    delta: {
      role?: string
      content?: string | null
      tool_calls?: Array<{
        index: number
        id?: string
        type?: 'function'
        function?: { name?: string; arguments?: string }
      }>
      [key: string]: unknown
    }
    finish_reason: string | null
    [key: string]: unknown
  }>
  usage?: Usage | null
  [key: string]: unknown
}

export interface ModelList extends WithMeta {
  object: 'list'
  data: Array<{ id: string; object: 'model'; created?: number; owned_by?: string }>
  [key: string]: unknown
}

/** Counters since the client was built. */
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
    [key: string]: unknown
  }
  requests: number
  attempts: number
  retries: number
  errors: Record<string, number>
  tokens_in: number
  tokens_out: number
  cost_usd: number
  models: Record<string, Record<string, number>>
  budget_usd: number | null
  budget_left_usd: number | null
  [key: string]: unknown
}

export declare class Client {
  constructor(options: ClientOptions)
  /** Settings from the environment (`VAULT_ADDR`, `VAULT_TOKEN`, `HOLYSHEEP_*`), with
   * `overrides` taking precedence. */
  static fromEnv(overrides?: ClientOptions): Client
  chatCompletions(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletion>
  /** An async iterable of chunks; leaving the loop early (or aborting the signal) cancels. */
  chatCompletionsStream(
    request: ChatCompletionRequest,
    options?: RequestOptions,
  ): ChatCompletionStream
  models(options?: RequestOptions): Promise<ModelList>
  /** The current API key (from the cache), for SDKs that need it. */
  apiKey(): Promise<string>
  /** Logs in to Vault and reads the key now, so setup problems show at start-up. */
  connect(): Promise<void>
  stats(): Stats
  /** Stops background work and drops (and zeroes) the key in the core. Idempotent. */
  close(): void
  readonly baseUrl: string
  readonly closed: boolean
}

export declare class ChatCompletionStream implements AsyncIterable<ChatCompletionChunk> {
  private constructor()
  [Symbol.asyncIterator](): AsyncGenerator<ChatCompletionChunk, void, undefined>
  cancel(): void
}

export interface ChatOptions extends RequestOptions {
  /** Default 0.7, as in the hand-written class this replaces. */
  temperature?: number
  /** Sent as `max_tokens`; default 1000, as in the hand-written class this replaces. */
  maxTokens?: number
}

/** Drop-in replacement for the hand-written node-vault + axios class. */
export declare class HolySheepVaultClient {
  constructor(options?: ClientOptions)
  initialize(): Promise<this>
  chat(model: string, messages: ChatMessage[], options?: ChatOptions): Promise<ChatCompletion>
  close(): Promise<void>
  /** The underlying Client, once initialized. */
  readonly client: Client | null
}

/** The `apiKey` function for `new OpenAI({ apiKey, baseURL })`. */
export declare function openaiApiKey(client: Client | HolySheepVaultClient): () => Promise<string>
export declare function openaiOptions(client: Client | HolySheepVaultClient): {
  apiKey: () => Promise<string>
  baseURL: string
}
/** Every `code` the library's errors can have. */
export declare function errorCodes(): ErrorCode[]

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

export declare class HolySheepError extends Error {
  /**
   * `props` are the fields below (`code` included), copied onto the error; `options.cause` is
   * the standard `Error` cause.
   */
  constructor(
    message: string,
    props?: { code?: ErrorCode } & Record<string, unknown>,
    options?: { cause?: unknown },
  )
  readonly code: ErrorCode
  /** Whether the same call may succeed later. */
  readonly retryable?: boolean
  /** HTTP status of the API response, for API errors. */
  readonly status?: number
  /** The `x-request-id` of the API response. */
  readonly requestId?: string
  /** How long the API asked to wait, in milliseconds (rate limits). */
  readonly retryAfter?: number
  /** The provider's `error` object, when it sent one. */
  readonly error?: unknown
  readonly type?: string
  readonly param?: string
  /** The option at fault, for ConfigurationError. */
  readonly setting?: string
  /** The request field at fault, for InvalidInputError. */
  readonly field?: string
  /** `connect`, `read` or `total`, for APITimeoutError. */
  readonly phase?: string
  /** Where the rejected key lives, for AuthenticationError. */
  readonly keyLocation?: string
  readonly keyVersion?: number
}
export declare class APIError extends HolySheepError {}
export declare class AuthenticationError extends APIError {}
export declare class PermissionDeniedError extends APIError {}
export declare class NotFoundError extends APIError {}
export declare class BadRequestError extends APIError {}
export declare class RateLimitError extends APIError {}
export declare class ServerError extends APIError {}
export declare class InvalidResponseError extends HolySheepError {}
export declare class APIConnectionError extends HolySheepError {}
export declare class APITimeoutError extends APIConnectionError {}
export declare class BudgetExceededError extends HolySheepError {}
export declare class VaultError extends HolySheepError {}
export declare class VaultUnreachableError extends VaultError {}
export declare class VaultSealedError extends VaultError {}
export declare class VaultPermissionDeniedError extends VaultError {}
export declare class VaultSecretNotFoundError extends VaultError {}
export declare class VaultLoginError extends VaultError {}
export declare class VaultMisconfiguredError extends VaultError {}
export declare class ConfigurationError extends HolySheepError {}
export declare class InvalidInputError extends HolySheepError {}
export declare class APIUserAbortError extends HolySheepError {}
export declare class ClientClosedError extends HolySheepError {}
export declare class InternalError extends HolySheepError {}
