// ESM entry: the same objects as the CommonJS entry (one copy of the native module and of the
// error classes, so `instanceof` agrees between `import` and `require` in one process).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./index.js')

export const {
  Client,
  ChatCompletionStream,
  HolySheepVaultClient,
  openaiApiKey,
  openaiOptions,
  errorCodes,
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
} = cjs

export default cjs
