// The public JavaScript API of holysheep-vault-wasm, over the classes the Rust binding exports.
// Runtime-neutral: the per-runtime entry modules (workerd.js, node.js, deno.js, browser.js)
// instantiate the wasm module and re-export this file.
//
// It mirrors the Node package (bindings-node/lib) where the platform allows: the same Client
// methods, the same error classes and properties, replies with non-enumerable `_request_id` and
// `_meta`. Nothing here decides anything: options, retries, waits, the key cache and the error
// kinds are the Rust core's. This file only adds JavaScript idioms (async iteration, AbortSignal,
// ReadableStream, error classes).

import {
  RawClient,
  errorCodes as rawErrorCodes,
  setLogLevel as rawSetLogLevel,
  __panicForTests as rawPanicForTests,
} from './holysheep_vault_wasm.js'

// ---------------------------------------------------------------------------------------------
// Errors: one class per core error code, named as in the Node package (after the openai SDK).

// Properties the binding may set on an error; copied onto the class instance.
const FIELDS = [
  'status',
  'requestId',
  'retryAfter',
  'retryable',
  'error',
  'type',
  'param',
  'setting',
  'field',
  'phase',
  'keyLocation',
  'keyVersion',
]

export class HolySheepError extends Error {
  constructor(message, props = {}, options = undefined) {
    super(message, options)
    this.name = new.target.name
    this.code = props.code ?? new.target.code ?? 'internal'
    for (const key of FIELDS) {
      if (props[key] !== undefined) this[key] = props[key]
    }
  }
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

const CLASS_BY_CODE = {
  authentication: AuthenticationError,
  permission_denied: PermissionDeniedError,
  not_found: NotFoundError,
  bad_request: BadRequestError,
  rate_limited: RateLimitError,
  timeout: APITimeoutError,
  connection: APIConnectionError,
  server: ServerError,
  invalid_response: InvalidResponseError,
  budget_exceeded: BudgetExceededError,
  vault_unreachable: VaultUnreachableError,
  vault_sealed: VaultSealedError,
  vault_permission_denied: VaultPermissionDeniedError,
  vault_secret_not_found: VaultSecretNotFoundError,
  vault_login_failed: VaultLoginError,
  vault_misconfigured: VaultMisconfiguredError,
  configuration: ConfigurationError,
  invalid_input: InvalidInputError,
  cancelled: APIUserAbortError,
  closed: ClientClosedError,
  internal: InternalError,
}
for (const [code, cls] of Object.entries(CLASS_BY_CODE)) cls.code = code

// Set once a Rust panic trapped: the instance may hold broken state, so nothing runs on it again.
let broken = false

function brokenError(detail) {
  return new InternalError(
    `internal error: ${detail}. This wasm instance is unusable from now on: load the module ` +
      'again (in a Worker, let the isolate restart)',
    { code: 'internal', retryable: false },
  )
}

/** The public error for whatever the binding threw: the class of its code. */
function fromBinding(err, signal) {
  if (err instanceof HolySheepError) return err
  if (err instanceof WebAssembly.RuntimeError) {
    broken = true
    return brokenError(
      `the wasm module trapped (${err.message}); the panic message is on the console`,
    )
  }
  const cls = err instanceof Error ? CLASS_BY_CODE[err.code] : undefined
  if (!cls) return err
  const cause = err.code === 'cancelled' && signal?.aborted ? signal.reason : err
  return new cls(err.message, err, { cause })
}

function aborted(signal) {
  return new APIUserAbortError(
    'the request was cancelled',
    { code: 'cancelled', retryable: false },
    { cause: signal.reason },
  )
}

function callSync(fn) {
  if (broken) throw brokenError('an earlier panic left this wasm instance unusable')
  try {
    return fn()
  } catch (err) {
    throw fromBinding(err)
  }
}

/** A binding call that returns a promise, with an optional AbortSignal racing it in the core. */
async function callAsync(signal, fn) {
  if (signal?.aborted) throw aborted(signal)
  let onAbort
  const abortPromise =
    signal === undefined
      ? undefined
      : new Promise((resolve) => {
          onAbort = resolve
          signal.addEventListener('abort', onAbort, { once: true })
        })
  try {
    return await callSync(() => fn(abortPromise))
  } catch (err) {
    throw fromBinding(err, signal)
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

// ---------------------------------------------------------------------------------------------
// Arguments

// Names the type only, never the value: a key passed in the wrong place must not end up in an
// error message.
function describe(value) {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (Array.isArray(value)) return 'an array'
  const type = typeof value
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}

function typeError(message) {
  const err = new TypeError(message)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function expectObject(value, name, optional = false) {
  if (optional && value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw typeError(`${name} must be an object, got ${describe(value)}`)
  }
}

function expectSignal(value, name) {
  if (value === undefined) return
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof value.aborted !== 'boolean' ||
    typeof value.addEventListener !== 'function' ||
    typeof value.removeEventListener !== 'function'
  ) {
    throw typeError(`${name} must be an AbortSignal, got ${describe(value)}`)
  }
}

/** Splits a call's options into the signal (JS only) and the rest (validated by the core). */
function callOptions(options, name) {
  expectObject(options, name, true)
  const { signal, ...rest } = options ?? {}
  expectSignal(signal, `${name}.signal`)
  return { signal, rest: Object.keys(rest).length ? rest : undefined }
}

/** The response body as the API sent it, with the call's facts as non-enumerable extras. */
function withMeta({ body, meta }) {
  if (body !== null && typeof body === 'object') {
    // Non-enumerable, like the openai SDK's `_request_id`: JSON.stringify and deep equality see
    // exactly what the API returned.
    Object.defineProperty(body, '_request_id', { value: meta?.request_id ?? null })
    Object.defineProperty(body, '_meta', { value: meta })
  }
  return body
}

/** The environment of hosts that have one (Node's process.env, Deno.env), else empty. */
function hostEnv() {
  if (globalThis.process?.env) return globalThis.process.env
  try {
    return globalThis.Deno?.env?.toObject?.() ?? {}
  } catch {
    return {} // no --allow-env
  }
}

// ---------------------------------------------------------------------------------------------
// Client

/**
 * The client. Build it once per isolate (module scope in a Worker) and reuse it: the API key is
 * cached in the isolate and refreshed on the first call after it expires (edge runtimes give no
 * background time, so nothing runs between calls).
 */
export class Client {
  #raw

  /**
   * `options` uses the core's names (snake_case or camelCase, durations as seconds,
   * "500ms"-style strings or `*Ms` numbers). `options.env` may be a Worker's `env`, read like the
   * process environment (VAULT_ADDR, VAULT_TOKEN, HOLYSHEEP_*), with the other options taking
   * precedence. Does no I/O: Vault is first contacted by the first call.
   */
  constructor(options) {
    expectObject(options, 'options')
    this.#raw = callSync(() => new RawClient(options))
  }

  /** `new Client(options)`, as a promise (the usual shape at the edge). */
  static async create(options = {}) {
    return new Client(options)
  }

  /**
   * A client configured from an environment: a Worker's `env` object, or by default the host's
   * (Node's `process.env`, Deno's with `--allow-env`), with `overrides` taking precedence.
   */
  static fromEnv(env = hostEnv(), overrides = {}) {
    expectObject(env, 'env')
    expectObject(overrides, 'overrides')
    return new Client({ ...overrides, env })
  }

  /** `POST /chat/completions`; resolves to the response body the API sent. */
  async chatCompletions(request, options) {
    expectObject(request, 'request')
    const { signal, rest } = callOptions(options, 'options')
    return withMeta(
      await callAsync(signal, (abort) => this.#raw.chatCompletions(request, rest, abort)),
    )
  }

  /**
   * The streamed call: an async iterable of chunk objects. The request is checked now and sent
   * when iteration starts; leaving the loop early (or aborting `signal`) cancels it.
   */
  chatCompletionsStream(request, options) {
    expectObject(request, 'request')
    const { signal, rest } = callOptions(options, 'options')
    if (signal?.aborted) throw aborted(signal)
    const raw = callSync(() => this.#raw.chatCompletionsStream(request, rest))
    return new ChatCompletionStream(raw, signal)
  }

  /** `GET /models`; resolves to the list object the API sent. */
  async models(options) {
    const { signal, rest } = callOptions(options, 'options')
    return withMeta(await callAsync(signal, (abort) => this.#raw.models(rest, abort)))
  }

  /** The current API key, for SDKs that need it (see `openaiApiKey`). */
  async apiKey() {
    return callAsync(undefined, () => this.#raw.apiKey())
  }

  /** Logs in to Vault and reads the key now, so setup problems show at start-up. */
  async connect() {
    await callAsync(undefined, () => this.#raw.connect())
  }

  /** Counters since the client was built: `requests`, `vault.vault_reads`, `cost_usd`, ... */
  stats() {
    return callSync(() => this.#raw.stats())
  }

  /** Drops the cached key in the core; later calls fail with ClientClosedError. Idempotent. */
  close() {
    if (!broken) this.#raw.close()
  }

  /** The API base URL, e.g. to give the openai SDK together with `openaiApiKey`. */
  get baseUrl() {
    return callSync(() => this.#raw.baseUrl)
  }

  get closed() {
    return callSync(() => this.#raw.closed)
  }

  toString() {
    return `Client { baseUrl: ${JSON.stringify(this.baseUrl)}, closed: ${this.closed} }`
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString()
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = function dispose() {
    this.close()
  }
}

/** A streamed reply. Iterate it once with `for await`, or turn it into a ReadableStream. */
export class ChatCompletionStream {
  #raw
  #signal
  #iterator

  constructor(raw, signal) {
    this.#raw = raw
    this.#signal = signal
  }

  async *#chunks() {
    const signal = this.#signal
    const onAbort = () => this.#raw.cancel()
    // Aborted between chatCompletionsStream() and the first iteration: the event has passed.
    if (signal?.aborted) this.#raw.cancel()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        let chunk
        try {
          chunk = await callSync(() => this.#raw.next())
        } catch (err) {
          throw fromBinding(err, signal)
        }
        if (chunk === null) return
        const { body, cost_usd: costUsd } = chunk
        if (costUsd !== null && body !== null && typeof body === 'object') {
          Object.defineProperty(body, '_meta', { value: { cost_usd: costUsd } })
        }
        yield body
      }
    } finally {
      // Reached by `break`/`return`/`throw` in the caller's loop too (the generator's return()):
      // cancelling drops the response and closes its connection.
      if (!broken) this.#raw.cancel()
      signal?.removeEventListener('abort', onAbort)
    }
  }

  [Symbol.asyncIterator]() {
    if (this.#iterator) throw new TypeError('a ChatCompletionStream can be iterated only once')
    this.#iterator = this.#chunks()
    return this.#iterator
  }

  /** Stops the stream: the pending or next read rejects with APIUserAbortError. */
  cancel() {
    if (!broken) this.#raw.cancel()
  }

  /** The same chunks as a WHATWG ReadableStream (e.g. to pipe through a TransformStream). */
  toReadableStream() {
    const iterator = this[Symbol.asyncIterator]()
    const stream = this
    return new ReadableStream({
      async pull(controller) {
        try {
          const { done, value } = await iterator.next()
          if (done) controller.close()
          else controller.enqueue(value)
        } catch (err) {
          controller.error(err)
        }
      },
      async cancel() {
        // A pull may be waiting in iterator.next(); return() would queue behind it, so the
        // read is cancelled first, which ends that pull.
        stream.cancel()
        await iterator.return()
      },
    })
  }

  toString() {
    return 'ChatCompletionStream {}'
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * The key function for the official `openai` package (its `apiKey` option takes an async
 * function, called before every request): the key comes from this client's cache, so rotations
 * in Vault reach the SDK without a redeploy.
 *
 *     new OpenAI({ apiKey: openaiApiKey(client), baseURL: client.baseUrl })
 */
export function openaiApiKey(client) {
  if (!(client instanceof Client))
    throw typeError(`client must be a Client, got ${describe(client)}`)
  return () => client.apiKey()
}

/** `{ apiKey, baseURL }` for `new OpenAI(...)`: the key function and this client's base URL. */
export function openaiOptions(client) {
  return { apiKey: openaiApiKey(client), baseURL: client.baseUrl }
}

/** Every error code the core reports, for exhaustive handling and tests. */
export function errorCodes() {
  return callSync(() => rawErrorCodes())
}

/**
 * Which core log events reach the console: "off", "error", "warn" (default), "info", "debug".
 * One setting for the whole instance (a Worker isolate). Log events never carry a secret.
 */
export function setLogLevel(level) {
  callSync(() => rawSetLogLevel(level))
}

/** @internal Panics inside the wasm module on purpose ("sync" or "async"), for tests only. */
export async function __panicForTests(mode) {
  return callAsync(undefined, () => rawPanicForTests(mode))
}
