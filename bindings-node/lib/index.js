'use strict'

// The JavaScript face of the native module: argument checks (TypeError naming the argument),
// AbortSignal, async iteration of streams, error classes, and the drop-in HolySheepVaultClient.
// Everything that decides behaviour (retries, caching, Vault, validation of values) is in the
// Rust core; this file only converts.

const { inspect } = require('node:util')
const native = require('../native.js')
const errors = require('./errors.js')

const { fromNative, aborted, ClientClosedError } = errors

/** Runs a native call, re-throwing its error as the public class. */
function callSync(fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/**
 * Runs a native async call with an optional AbortSignal. The signal cancels through a native
 * CancelToken, which drops the core's future: the connection is closed and nothing is retried.
 */
async function callAsync(signal, fn) {
  if (signal === undefined) {
    try {
      return await fn(undefined)
    } catch (err) {
      throw fromNative(err)
    }
  }
  if (signal.aborted) throw aborted(signal)
  const token = new native.CancelToken()
  const onAbort = () => token.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await fn(token)
  } catch (err) {
    throw fromNative(err, signal)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

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

/** Swallows a rejection of whatever a logger returned (an async logger returns a promise). */
function ignoreRejection(result) {
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    Promise.resolve(result).catch(() => {})
  }
}

/**
 * The native module calls `logger(level, message, fields)`; accept a function of that shape or a
 * console-like object. A logger that throws, or returns a promise that rejects, must not take
 * the process down (its error would surface on the event loop, outside any caller's try), so
 * both are swallowed here.
 */
function toLogFunction(logger, name) {
  if (logger === undefined || logger === null) return undefined
  if (typeof logger === 'function') {
    return (level, message, fields) => {
      try {
        ignoreRejection(logger(level, message, fields))
      } catch {}
    }
  }
  if (typeof logger === 'object') {
    return (level, message, fields) => {
      try {
        const method = typeof logger[level] === 'function' ? logger[level] : logger.log
        if (typeof method === 'function') ignoreRejection(method.call(logger, message, fields))
      } catch {}
    }
  }
  throw typeError(
    `${name} must be a function or an object with debug/info/warn/error methods, got ${describe(logger)}`,
  )
}

/** Splits client options into the JS-only logging settings and the options the core reads. */
function clientOptions(options, name) {
  const { logger, logLevel, ...rest } = options ?? {}
  if (logLevel !== undefined && typeof logLevel !== 'string') {
    throw typeError(`${name}.logLevel must be a string, got ${describe(logLevel)}`)
  }
  return { rest, logger: toLogFunction(logger, `${name}.logger`), logLevel }
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

// Set while `Client.fromEnv` constructs an instance around an already built native client.
let adopting

class Client {
  #native

  /**
   * @param {Record<string, unknown>} options `vaultAddr`, `vaultToken`, `baseUrl`, `timeoutMs`,
   *   ..., plus `logger` and `logLevel`.
   */
  constructor(options) {
    if (adopting !== undefined) {
      this.#native = adopting
      adopting = undefined
      return
    }
    expectObject(options, 'options')
    const { rest, logger, logLevel } = clientOptions(options, 'options')
    this.#native = callSync(() => new native.Client(rest, logger, logLevel))
  }

  /**
   * A client configured from the environment (`VAULT_ADDR`, `VAULT_TOKEN`, `HOLYSHEEP_*`), with
   * `overrides` taking precedence.
   * @param {Record<string, unknown>} [overrides]
   */
  static fromEnv(overrides) {
    expectObject(overrides, 'overrides', true)
    const { rest, logger, logLevel } = clientOptions(overrides, 'overrides')
    const nativeClient = callSync(() => native.Client.fromEnv(rest, logger, logLevel))
    adopting = nativeClient
    try {
      return new Client()
    } finally {
      adopting = undefined
    }
  }

  /** `POST /chat/completions`; resolves to the response body the API sent. */
  async chatCompletions(request, options) {
    expectObject(request, 'request')
    const { signal, rest } = callOptions(options, 'options')
    const reply = await callAsync(signal, (token) =>
      this.#native.chatCompletions(request, rest, token),
    )
    return withMeta(reply)
  }

  /**
   * The streamed call: an async iterable of chunk objects. The request is checked now and sent
   * when iteration starts; leaving the loop early (or aborting `signal`) cancels it.
   */
  chatCompletionsStream(request, options) {
    expectObject(request, 'request')
    const { signal, rest } = callOptions(options, 'options')
    if (signal?.aborted) throw aborted(signal)
    const stream = callSync(() => this.#native.chatCompletionsStream(request, rest))
    return new ChatCompletionStream(stream, signal)
  }

  /** `GET /models`; resolves to the list object the API sent. */
  async models(options) {
    const { signal, rest } = callOptions(options, 'options')
    return withMeta(await callAsync(signal, (token) => this.#native.models(rest, token)))
  }

  /** The current API key, for SDKs that need it (see `openaiApiKey`). */
  async apiKey() {
    return callAsync(undefined, () => this.#native.apiKey())
  }

  /** Logs in to Vault and reads the key now, so setup problems show at start-up. */
  async connect() {
    await callAsync(undefined, () => this.#native.connect())
  }

  /** Counters since the client was built: `requests`, `vault.vault_reads`, `cost_usd`, ... */
  stats() {
    return callSync(() => this.#native.stats())
  }

  /** Stops background work and drops (and zeroes) the key in the core. Idempotent. */
  close() {
    this.#native.close()
  }

  /** The API base URL, e.g. to give the openai SDK together with `openaiApiKey`. */
  get baseUrl() {
    return this.#native.baseUrl
  }

  get closed() {
    return this.#native.closed
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Client { baseUrl: ${inspect(this.baseUrl)}, closed: ${this.closed} }`
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Client.prototype[Symbol.dispose] = function dispose() {
    this.close()
  }
}

/** A streamed reply. Iterate it once with `for await`. */
class ChatCompletionStream {
  #native
  #signal
  #iterator

  constructor(nativeStream, signal) {
    this.#native = nativeStream
    this.#signal = signal
  }

  async *#chunks() {
    const signal = this.#signal
    const onAbort = () => this.#native.cancel()
    // Aborted between chatCompletionsStream() and the first iteration: the event has passed.
    if (signal?.aborted) this.#native.cancel()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (;;) {
        let chunk
        try {
          chunk = await this.#native.next()
        } catch (err) {
          throw fromNative(err, signal)
        }
        if (chunk === null) return
        yield chunk
      }
    } finally {
      // Reached by `break`/`return`/`throw` in the caller's loop too (the generator's return()):
      // cancelling drops the response and closes its connection.
      this.#native.cancel()
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
    this.#native.cancel()
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return 'ChatCompletionStream {}'
  }
}

/**
 * The class teams hand-write today around node-vault and axios, kept call-for-call:
 * `await c.initialize()`, `await c.chat(model, messages, { temperature, maxTokens })`,
 * `await c.close()`. Settings come from the environment, with `options` taking precedence.
 */
class HolySheepVaultClient {
  #options
  #client = null
  #closed = false
  // The one initialisation in flight: concurrent first calls share it instead of each building
  // a client (all but one of which would never be closed).
  #init = null

  constructor(options = {}) {
    expectObject(options, 'options')
    this.#options = options
  }

  /** Builds the client, logs in to Vault and reads the key. Calling it again does nothing. */
  async initialize() {
    if (this.#closed) throw closedError()
    if (this.#client) return this
    this.#init ??= this.#connect().finally(() => {
      this.#init = null
    })
    await this.#init
    return this
  }

  async #connect() {
    const client = Client.fromEnv(this.#options)
    try {
      await client.connect()
    } catch (err) {
      client.close()
      throw err
    }
    // close() came while Vault was answering: this client must not outlive it.
    if (this.#closed) {
      client.close()
      throw closedError()
    }
    this.#client = client
  }

  /**
   * One chat completion; resolves to the OpenAI-shaped response body. The defaults
   * (temperature 0.7, 1000 max tokens) are those of the hand-written class this replaces.
   */
  async chat(model, messages, options) {
    if (typeof model !== 'string') throw typeError(`model must be a string, got ${describe(model)}`)
    if (!Array.isArray(messages)) {
      throw typeError(`messages must be an array, got ${describe(messages)}`)
    }
    expectObject(options, 'options', true)
    const { temperature = 0.7, maxTokens = 1000, ...call } = options ?? {}
    await this.initialize()
    const request = { model, messages, temperature, max_tokens: maxTokens }
    return this.#client.chatCompletions(request, call)
  }

  /** Closes the client: the key is dropped and zeroed in the core. Idempotent. */
  async close() {
    this.#closed = true
    this.#client?.close()
    this.#client = null
  }

  /** The underlying Client (after `initialize()`), for streaming, models() and stats(). */
  get client() {
    return this.#client
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    const state = this.#closed ? 'closed' : this.#client ? 'ready' : 'new'
    return `HolySheepVaultClient { state: '${state}' }`
  }
}

function closedError() {
  return new ClientClosedError('the client is closed', { code: 'closed', retryable: false })
}

function clientOf(client, name) {
  if (client instanceof Client) return client
  if (client instanceof HolySheepVaultClient) {
    if (!client.client)
      throw typeError(`${name}: call initialize() on the HolySheepVaultClient first`)
    return client.client
  }
  throw typeError(`${name} must be a Client or HolySheepVaultClient, got ${describe(client)}`)
}

/**
 * The key function for the official `openai` package (its `apiKey` option takes an async
 * function, called before every request): the key comes from this client's cache, so rotations
 * in Vault reach the SDK without a restart.
 *
 *     new OpenAI({ apiKey: openaiApiKey(client), baseURL: client.baseUrl })
 */
function openaiApiKey(client) {
  const source = clientOf(client, 'client')
  return () => source.apiKey()
}

/** `{ apiKey, baseURL }` for `new OpenAI(...)`: the key function and this client's base URL. */
function openaiOptions(client) {
  const source = clientOf(client, 'client')
  return { apiKey: openaiApiKey(source), baseURL: source.baseUrl }
}

/** Every error code the core reports, for exhaustive handling and tests. */
function errorCodes() {
  return native.errorCodes()
}

module.exports = {
  Client,
  ChatCompletionStream,
  HolySheepVaultClient,
  openaiApiKey,
  openaiOptions,
  errorCodes,
  HolySheepError: errors.HolySheepError,
  APIError: errors.APIError,
  AuthenticationError: errors.AuthenticationError,
  PermissionDeniedError: errors.PermissionDeniedError,
  NotFoundError: errors.NotFoundError,
  BadRequestError: errors.BadRequestError,
  RateLimitError: errors.RateLimitError,
  ServerError: errors.ServerError,
  InvalidResponseError: errors.InvalidResponseError,
  APIConnectionError: errors.APIConnectionError,
  APITimeoutError: errors.APITimeoutError,
  BudgetExceededError: errors.BudgetExceededError,
  VaultError: errors.VaultError,
  VaultUnreachableError: errors.VaultUnreachableError,
  VaultSealedError: errors.VaultSealedError,
  VaultPermissionDeniedError: errors.VaultPermissionDeniedError,
  VaultSecretNotFoundError: errors.VaultSecretNotFoundError,
  VaultLoginError: errors.VaultLoginError,
  VaultMisconfiguredError: errors.VaultMisconfiguredError,
  ConfigurationError: errors.ConfigurationError,
  InvalidInputError: errors.InvalidInputError,
  APIUserAbortError: errors.APIUserAbortError,
  ClientClosedError: errors.ClientClosedError,
  InternalError: errors.InternalError,
}
