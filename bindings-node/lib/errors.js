'use strict'

// Error classes, one per core error code (`err.code` is the core's `ErrorKind::code()`, the same
// string in every binding and in tests/scenarios). Names follow the openai SDK where it has the
// same case, so code that already catches `RateLimitError` or `APIConnectionError` keeps working.

// Properties the native module may set on an error; copied onto the subclass instance.
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

class HolySheepError extends Error {
  /**
   * @param {string} message
   * @param {{ code?: string } & Record<string, unknown>} [props]
   * @param {{ cause?: unknown }} [options]
   */
  constructor(message, props = {}, options = undefined) {
    super(message, options)
    this.name = new.target.name
    this.code = props.code ?? new.target.code ?? 'internal'
    for (const key of FIELDS) {
      if (props[key] !== undefined) this[key] = props[key]
    }
  }
}

// Errors that carry an HTTP response from the API (status, requestId, the provider's error body).
class APIError extends HolySheepError {}
class AuthenticationError extends APIError {}
class PermissionDeniedError extends APIError {}
class NotFoundError extends APIError {}
class BadRequestError extends APIError {}
class RateLimitError extends APIError {}
class ServerError extends APIError {}
class InvalidResponseError extends HolySheepError {}
class APIConnectionError extends HolySheepError {}
// A timeout is a kind of connection error: users of hand-written clients catch connection errors
// to handle timeouts, and the openai SDK's APIConnectionTimeoutError does the same.
class APITimeoutError extends APIConnectionError {}
class BudgetExceededError extends HolySheepError {}
class VaultError extends HolySheepError {}
class VaultUnreachableError extends VaultError {}
class VaultSealedError extends VaultError {}
class VaultPermissionDeniedError extends VaultError {}
class VaultSecretNotFoundError extends VaultError {}
class VaultLoginError extends VaultError {}
class VaultMisconfiguredError extends VaultError {}
class ConfigurationError extends HolySheepError {}
class InvalidInputError extends HolySheepError {}
class APIUserAbortError extends HolySheepError {}
class ClientClosedError extends HolySheepError {}
class InternalError extends HolySheepError {}

/** @type {Record<string, typeof HolySheepError>} */
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

// Statuses napi-rs itself uses when a native argument has the wrong JavaScript type.
const NAPI_TYPE_CODES = new Set([
  'InvalidArg',
  'ObjectExpected',
  'StringExpected',
  'NameExpected',
  'FunctionExpected',
  'NumberExpected',
  'BooleanExpected',
  'ArrayExpected',
  'BigintExpected',
])

/**
 * napi-rs writes the offending value into its conversion errors ("Failed to convert JavaScript
 * value `String sk-...` into rust type `u32`"); a key passed in the wrong place must not reach a
 * message or a log, so only the two type names are kept.
 * @param {string} message
 */
function napiTypeMessage(message) {
  const m = /JavaScript value `(\w+)[^`]*` into rust type `([^`]+)`/.exec(message)
  return m
    ? `an argument has the wrong type: expected ${m[2]}, got ${m[1]}`
    : 'an argument has the wrong type'
}

/**
 * The public error for whatever a native call threw: the class of its code, with the native
 * error as `cause` (or the AbortSignal's reason, for a cancellation that came from a signal).
 * @param {unknown} err
 * @param {AbortSignal} [signal]
 */
function fromNative(err, signal) {
  if (err instanceof HolySheepError || !(err instanceof Error)) return err
  const code = /** @type {any} */ (err).code
  // Every error the native module makes has a string code (the core's, or a napi-rs status); one
  // without is the caller's own, thrown while its argument was read (a getter, a Proxy, toJSON),
  // and goes back to the caller unchanged.
  if (typeof code !== 'string') return err
  const cls = CLASS_BY_CODE[code]
  if (cls) {
    const cause = code === 'cancelled' && signal?.aborted ? signal.reason : err
    return new cls(err.message, /** @type {any} */ (err), { cause })
  }
  if (NAPI_TYPE_CODES.has(code)) {
    /** @type {TypeError & { code?: string }} */
    const typeError = new TypeError(napiTypeMessage(err.message), { cause: err })
    typeError.code = 'ERR_INVALID_ARG_TYPE'
    return typeError
  }
  return new InternalError(err.message, { code: 'internal' }, { cause: err })
}

/** A cancellation before anything was sent: the signal was already aborted. */
function aborted(signal) {
  return new APIUserAbortError(
    'the request was cancelled',
    { code: 'cancelled', retryable: false },
    { cause: signal.reason },
  )
}

module.exports = {
  HolySheepError,
  APIError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  BadRequestError,
  RateLimitError,
  ServerError,
  InvalidResponseError,
  APIConnectionError,
  APITimeoutError,
  BudgetExceededError,
  VaultError,
  VaultUnreachableError,
  VaultSealedError,
  VaultPermissionDeniedError,
  VaultSecretNotFoundError,
  VaultLoginError,
  VaultMisconfiguredError,
  ConfigurationError,
  InvalidInputError,
  APIUserAbortError,
  ClientClosedError,
  InternalError,
  CLASS_BY_CODE,
  fromNative,
  aborted,
}
