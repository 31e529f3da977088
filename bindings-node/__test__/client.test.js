'use strict'

// The Client against the rig: calls, AbortSignal and timeouts, error classes, argument checks,
// concurrency, panics, close().

const { test } = require('node:test')
const assert = require('node:assert/strict')
const {
  Client,
  HolySheepError,
  APIError,
  AuthenticationError,
  RateLimitError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  VaultError,
  VaultPermissionDeniedError,
  ConfigurationError,
  InvalidInputError,
  ClientClosedError,
  InternalError,
} = require('holysheep-vault')
const native = require('../native.js')
const { fromNative } = require('../lib/errors.js')
const rig = require('./helpers/rig.js')
const { startProxy } = require('./helpers/proxy.js')

const hello = (text = 'hello') => ({
  model: 'deepseek-v3.2',
  messages: [{ role: 'user', content: text }],
})

test('chatCompletions resolves to the body the API sent', async () => {
  const { options } = await rig.freshScope('chat-body')
  const client = new Client(options)
  const reply = await client.chatCompletions(hello('ping from node'))
  assert.equal(reply.object, 'chat.completion')
  assert.match(reply.choices[0].message.content, /ping from node/)
  assert.equal(reply.provider, 'holysheep-testserver', 'unknown fields are kept')
  // The call's facts ride along without changing what the body serialises to.
  assert.match(reply._request_id, /^req_/)
  assert.equal(reply._meta.attempts, 1)
  assert.ok(!JSON.stringify(reply).includes('_request_id'))
  assert.ok(!Object.keys(reply).includes('_meta'))
  const models = await client.models()
  assert.ok(models.data.some((m) => m.id === 'gpt-4.1'))
  const stats = client.stats()
  assert.equal(stats.requests, 2)
  assert.equal(stats.vault.vault_reads, 1)
  client.close()
})

test('an AbortSignal cancels an unstreamed call and closes its connection', async (t) => {
  const { scope, options } = await rig.freshScope('abort', { faults: [{ delay_ms: 10000 }] })
  const proxy = await startProxy(rig.get('RIG_API_BASE'))
  t.after(() => proxy.close())
  const client = new Client({
    ...options,
    baseUrl: `http://127.0.0.1:${proxy.port}/s/${scope}/v1`,
  })
  await client.connect() // Vault read first, so the abort lands on the API call
  const controller = new AbortController()
  const started = performance.now()
  setTimeout(() => controller.abort(new Error('user went away')), 200)
  const err = await client.chatCompletions(hello(), { signal: controller.signal }).then(
    () => assert.fail('the call should have been cancelled'),
    (e) => e,
  )
  const elapsed = performance.now() - started
  assert.ok(err instanceof APIUserAbortError, `got ${err}`)
  assert.equal(err.code, 'cancelled')
  assert.equal(err.cause, controller.signal.reason, 'the signal reason is the cause')
  assert.ok(elapsed < 3000, `the rejection came after ${elapsed}ms, not promptly`)
  await proxy.allClosed(2000)
  assert.equal((await rig.scopeReport(scope)).attempts, 1, 'nothing was retried')
  client.close()
})

test('an already aborted signal rejects without sending anything', async () => {
  const { scope, options } = await rig.freshScope('pre-aborted')
  const client = new Client(options)
  const err = await client.chatCompletions(hello(), { signal: AbortSignal.abort() }).catch((e) => e)
  assert.ok(err instanceof APIUserAbortError)
  assert.throws(
    () => client.chatCompletionsStream(hello(), { signal: AbortSignal.abort() }),
    APIUserAbortError,
  )
  assert.equal((await rig.scopeReport(scope)).attempts, 0)
  client.close()
})

test('timeoutMs gives APITimeoutError, which is also an APIConnectionError', async () => {
  const { options } = await rig.freshScope('timeout', { faults: [{ delay_ms: 5000 }] })
  const client = new Client(options)
  await client.connect()
  const err = await client
    .chatCompletions(hello(), { timeoutMs: 200, maxRetries: 0 })
    .catch((e) => e)
  assert.ok(err instanceof APITimeoutError, `got ${err}`)
  assert.ok(err instanceof APIConnectionError)
  assert.ok(err instanceof HolySheepError)
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'timeout')
  assert.equal(err.retryable, true)
  client.close()
})

test('API errors carry code, status, requestId and retryAfter', async () => {
  const limited = await rig.freshScope('rate-limit', {
    faults: [{ status: 429, headers: { 'retry-after': '120' } }],
  })
  const client = new Client(limited.options)
  const err = await client.chatCompletions(hello()).catch((e) => e)
  assert.ok(err instanceof RateLimitError, `got ${err}`)
  assert.ok(err instanceof APIError)
  assert.equal(err.name, 'RateLimitError')
  assert.equal(err.code, 'rate_limited')
  assert.equal(err.status, 429)
  assert.equal(err.retryAfter, 120000)
  assert.match(err.requestId, /^req_/)
  assert.ok(err.cause instanceof Error, 'the native error is kept as the cause')
  assert.equal(err.cause.message, err.message)
  assert.match(err.stack, /client\.test\.js/, 'the stack shows the caller')
  client.close()

  const revoked = await rig.freshScope('auth')
  await rig.control('PATCH', `/_control/scopes/${revoked.scope}`, { keys: ['sk-nobody-has-this'] })
  const client2 = new Client(revoked.options)
  const auth = await client2.chatCompletions(hello()).catch((e) => e)
  assert.ok(auth instanceof AuthenticationError, `got ${auth}`)
  assert.equal(auth.status, 401)
  assert.equal(auth.keyLocation, `holysheep/${revoked.secretPath}`)
  assert.equal(auth.keyVersion, 1)
  client2.close()
})

test('Vault errors are VaultError subclasses naming the path', async () => {
  const { options } = await rig.freshScope('denied')
  const client = new Client({ ...options, vaultToken: rig.get('RIG_TOKEN_DENIED') })
  const err = await client.connect().catch((e) => e)
  assert.ok(err instanceof VaultPermissionDeniedError, `got ${err}`)
  assert.ok(err instanceof VaultError)
  assert.equal(err.code, 'vault_permission_denied')
  assert.match(err.message, /holysheep\/data\/scenarios\//)
  client.close()
})

test('bad settings and request values are named by the core', async () => {
  assert.throws(
    () => new Client({ vaultAddr: 'http://127.0.0.1:1', vaultToken: 't', maxRetires: 1 }),
    (err) => err instanceof ConfigurationError && /maxRetires/.test(err.message),
  )
  assert.throws(
    () => new Client({ vaultToken: 't' }),
    (err) => err instanceof ConfigurationError && /VAULT_ADDR/.test(err.setting),
  )
  assert.throws(
    () => new Client({ vaultAddr: 'http://127.0.0.1:1', vaultToken: 't', logLevel: 'verbose' }),
    (err) => err instanceof ConfigurationError && err.setting === 'logLevel',
  )
  const { options } = await rig.freshScope('invalid-input')
  const client = new Client(options)
  const err = await client.chatCompletions({ model: 'gpt-4.1' }).catch((e) => e)
  assert.ok(err instanceof InvalidInputError, `got ${err}`)
  assert.match(err.message, /messages/)
  const opt = await client.chatCompletions(hello(), { timeoutMillis: 5 }).catch((e) => e)
  assert.ok(opt instanceof InvalidInputError, `got ${opt}`)
  assert.match(opt.message, /timeoutMillis/)
  client.close()
})

test('a wrong argument type is a TypeError naming the argument', async () => {
  const { options } = await rig.freshScope('type-errors')
  const isTypeError = (name) => (err) => {
    assert.ok(err instanceof TypeError, `expected a TypeError, got ${err}`)
    assert.ok(err.message.startsWith(name), `${JSON.stringify(err.message)} should name ${name}`)
    assert.equal(err.code, 'ERR_INVALID_ARG_TYPE')
    return true
  }
  assert.throws(() => new Client(), isTypeError('options'))
  assert.throws(() => new Client('vault'), isTypeError('options'))
  assert.throws(() => new Client({ ...options, logger: 42 }), isTypeError('options.logger'))
  assert.throws(() => new Client({ ...options, logLevel: 3 }), isTypeError('options.logLevel'))
  assert.throws(() => Client.fromEnv([]), isTypeError('overrides'))
  const client = new Client(options)
  await assert.rejects(client.chatCompletions(), isTypeError('request'))
  await assert.rejects(client.chatCompletions('hi'), isTypeError('request'))
  await assert.rejects(client.chatCompletions(hello(), 5), isTypeError('options'))
  await assert.rejects(
    client.chatCompletions(hello(), { signal: 'stop' }),
    isTypeError('options.signal'),
  )
  // Something that looks like a signal but cannot be unsubscribed from is refused up front,
  // not found out after the call has been sent.
  const halfSignal = { aborted: false, addEventListener() {} }
  await assert.rejects(
    client.chatCompletions(hello(), { signal: halfSignal }),
    isTypeError('options.signal'),
  )
  // The caller's own exception, thrown while its request is read, comes back unchanged.
  const mine = new Error('from a getter')
  const request = { model: 'gpt-4.1', messages: [] }
  Object.defineProperty(request, 'messages', {
    enumerable: true,
    get() {
      throw mine
    },
  })
  await assert.rejects(client.chatCompletions(request), (err) => err === mine)
  await assert.rejects(client.models(null), isTypeError('options'))
  assert.throws(() => client.chatCompletionsStream([]), isTypeError('request'))
  client.close()
})

test('1,000 concurrent calls on one client read Vault exactly once', async () => {
  const { scope, options } = await rig.freshScope('thousand')
  const client = new Client(options)
  const replies = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => client.chatCompletions(hello(`call ${i}`))),
  )
  replies.forEach((reply, i) =>
    assert.match(reply.choices[0].message.content, new RegExp(`call ${i}$`)),
  )
  const stats = client.stats()
  assert.equal(stats.vault.vault_reads, 1, JSON.stringify(stats.vault))
  assert.equal(stats.requests, 1000)
  assert.equal((await rig.scopeReport(scope)).attempts, 1000)
  client.close()
})

test('the event loop keeps running while calls wait on the network', async () => {
  const { options } = await rig.freshScope('event-loop', { faults: [{ delay_ms: 600 }] })
  const client = new Client(options)
  let ticks = 0
  let maxGap = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks += 1
  }, 10)
  try {
    await client.chatCompletions(hello())
  } finally {
    clearInterval(timer)
  }
  assert.ok(ticks >= 20, `only ${ticks} timer ticks during a 600ms call`)
  assert.ok(maxGap < 250, `the event loop stalled for ${maxGap.toFixed(0)}ms`)
  client.close()
})

test('a panic in native code rejects the promise and the process lives on', async () => {
  const err = await native.__panicForTests('boom in async').catch((e) => e)
  assert.equal(err.code, 'internal')
  assert.match(err.message, /boom in async/)
  assert.throws(
    () => native.__panicSyncForTests('boom in sync'),
    (e) => e.code === 'internal' && /boom in sync/.test(e.message),
  )
  // The JS layer maps it like any native error: an InternalError keeping the native one as cause.
  const mapped = fromNative(err)
  assert.ok(mapped instanceof InternalError, `got ${mapped}`)
  assert.equal(mapped.cause, err)
  // And the process goes on serving calls.
  const { options } = await rig.freshScope('after-panic')
  const client = new Client(options)
  const reply = await client.chatCompletions(hello('still alive'))
  assert.match(reply.choices[0].message.content, /still alive/)
  client.close()
})

test('a type error raised by the native layer itself becomes a TypeError', () => {
  // The JS layer checks arguments before they reach native code; this is the safety net behind
  // it, fed with a real napi-rs conversion error (a number where a string is declared).
  const raw = (() => {
    try {
      native.__panicSyncForTests(42)
    } catch (e) {
      return e
    }
  })()
  assert.ok(raw instanceof Error, `expected a native error, got ${raw}`)
  assert.notEqual(raw.code, 'internal', 'the panic ran: the argument was not rejected')
  const mapped = fromNative(raw)
  assert.ok(mapped instanceof TypeError, `got ${mapped}`)
  assert.equal(mapped.code, 'ERR_INVALID_ARG_TYPE')
  assert.equal(mapped.cause, raw)
  assert.equal(mapped.message, 'an argument has the wrong type: expected String, got Number')
})

test('close() drops the key: later calls fail with ClientClosedError', async () => {
  const { options } = await rig.freshScope('close')
  const client = new Client(options)
  assert.equal((await client.apiKey()).startsWith('sk-node-'), true)
  client.close()
  client.close() // idempotent
  assert.equal(client.closed, true)
  await assert.rejects(client.apiKey(), ClientClosedError)
  const err = await client.chatCompletions(hello()).catch((e) => e)
  assert.ok(err instanceof ClientClosedError)
  assert.equal(err.code, 'closed')
})

test('Client.fromEnv reads the Vault CLI variables, overrides win', async () => {
  const { options, key } = await rig.freshScope('from-env')
  const saved = { ...process.env }
  try {
    process.env.VAULT_ADDR = options.vaultAddr
    process.env.VAULT_TOKEN = options.vaultToken
    process.env.HOLYSHEEP_MOUNT = options.mount
    process.env.HOLYSHEEP_SECRET_PATH = options.secretPath
    process.env.HOLYSHEEP_BASE_URL = 'http://127.0.0.1:9/v1'
    const client = Client.fromEnv({ baseUrl: options.baseUrl })
    assert.ok(client instanceof Client)
    assert.equal(client.baseUrl, options.baseUrl)
    assert.equal(await client.apiKey(), key)
    client.close()
  } finally {
    process.env = saved
  }
})
