// The wasm package in Node 20 (its `node` entry), against the live rig: the shared scenarios and
// the canary check, in this process. The rig-side actions run here too (tests/rig.mjs).
//
//   HOLYSHEEP_RIG_ENV=... node --test tests/node.test.mjs     (after scripts/build.sh)

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

import { createRequire } from 'node:module'

import * as hs from '../pkg/node.js'
import { Rig, parseEnvFile } from './rig.mjs'
import { notApplicable, runScenario } from './scenario-runner.mjs'
import { runCanary } from './canary.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const SCENARIOS = path.resolve(HERE, '../../tests/scenarios')

const envFile = process.env.HOLYSHEEP_RIG_ENV
if (!envFile) throw new Error('HOLYSHEEP_RIG_ENV is not set: run through tests/rig/with-rig.sh')
const rigEnv = parseEnvFile(readFileSync(envFile, 'utf8'))
const rig = new Rig(rigEnv)

describe('scenarios in node (wasm package)', { concurrency: 4 }, () => {
  for (const file of readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const doc = JSON.parse(readFileSync(path.join(SCENARIOS, file), 'utf8'))
    for (const scenario of doc.scenarios) {
      const skip = notApplicable(scenario)
      test(`${file.replace(/\.json$/, '')}/${scenario.name}`, { skip: skip ?? false }, async () => {
        const result = await runScenario(scenario, { hs, rig })
        assert.equal(result.outcome, 'passed', result.detail)
      })
    }
  }
})

describe('node specifics (wasm package)', () => {
  test('canary key, token and secret_id never appear in errors, stats or console output', async () => {
    const result = await runCanary({ hs, rig })
    assert.deepEqual(result.leaks, [])
    assert.ok(result.observed > 20)
  })

  test('error classes and codes match the core', async () => {
    assert.deepEqual(hs.errorCodes().length, 21)
    await assert.rejects(hs.Client.create({ vault_addr: 'not a url', vault_token: 't' }), (err) => {
      assert.ok(err instanceof hs.ConfigurationError && err instanceof hs.HolySheepError)
      assert.equal(err.code, 'configuration')
      assert.match(err.setting, /vault_addr/)
      return true
    })
    const client = hs.Client.fromEnv(
      { VAULT_ADDR: rigEnv.VAULT_ADDR, VAULT_TOKEN: 't' },
      { max_retries: 0 },
    )
    assert.throws(
      () => client.chatCompletionsStream({ model: 'gpt-4.1', messages: [] }),
      (err) => {
        assert.ok(err instanceof hs.InvalidInputError)
        assert.equal(err.field, 'messages')
        return true
      },
    )
    await assert.rejects(client.chatCompletions('nope'), TypeError)
    client.close()
    await assert.rejects(client.models(), hs.ClientClosedError)
  })

  test('the Node package and this one answer bad arguments alike', async () => {
    // The two JavaScript layers are written twice (CommonJS over napi, ESM over wasm-bindgen);
    // this keeps them from drifting apart: same classes, same hierarchy, same errors.
    const node = createRequire(import.meta.url)('../../bindings-node/lib/index.js')
    const classNames = (pkg) =>
      Object.keys(pkg)
        .filter((name) => /Error$/.test(name) && typeof pkg[name] === 'function')
        .sort()
    assert.deepEqual(classNames(hs), classNames(node))
    for (const name of classNames(node)) {
      const chain = (cls) => {
        const names = []
        for (let c = cls; c && c !== Error; c = Object.getPrototypeOf(c)) names.push(c.name)
        return names
      }
      assert.deepEqual(chain(hs[name]), chain(node[name]), name)
    }
    assert.deepEqual([...hs.errorCodes()].sort(), [...node.errorCodes()].sort())

    const options = { api_key: 'sk-parity-0123456789abcdef', base_url: 'http://127.0.0.1:9/v1' }
    const key = 'sk-parity-wrong-place-0123456789'
    const chat = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }
    const calls = [
      (pkg) => new pkg.Client(key),
      (pkg) => new pkg.Client(null),
      (pkg) => new pkg.Client({ ...options, [key]: 1 }),
      (pkg) => new pkg.Client({ ...options, key_source: key }),
      (pkg) => new pkg.Client({ ...options, max_retries: 'many' }),
      (pkg) => new pkg.Client(options).chatCompletions(key),
      (pkg) => new pkg.Client(options).chatCompletions(chat, key),
      (pkg) => new pkg.Client(options).chatCompletions(chat, { signal: key }),
      (pkg) => new pkg.Client(options).chatCompletions(chat, { signal: { aborted: false } }),
      (pkg) => new pkg.Client(options).chatCompletions(chat, { timeoutMs: 'soon' }),
      (pkg) => new pkg.Client(options).chatCompletions({ ...chat, messages: [{ role: key }] }),
      (pkg) => new pkg.Client(options).chatCompletions({ model: 'm', messages: [] }),
      (pkg) => new pkg.Client(options).chatCompletionsStream(chat, { [key]: 1 }),
      (pkg) => new pkg.Client(options).models(7),
    ]
    const outcome = async (pkg, call) => {
      try {
        await call(pkg)
        return 'no error'
      } catch (err) {
        return `${err.constructor.name} ${err.code} ${err.message}`
      }
    }
    for (const [i, call] of calls.entries()) {
      const [fromWasm, fromNode] = [await outcome(hs, call), await outcome(node, call)]
      assert.equal(fromWasm, fromNode, `call ${i}`)
      assert.notEqual(fromWasm, 'no error', `call ${i}`)
      assert.ok(!fromWasm.includes(key), `call ${i} quotes the key: ${fromWasm}`)
    }
  })

  test('hostile inputs are typed errors, never a panic', async () => {
    const circular = {}
    circular.self = circular
    let deep = {}
    for (let i = 0; i < 5000; i++) deep = { a: deep }
    const throwing = {
      vault_token: 't',
      get vault_addr() {
        throw new Error('getter')
      },
    }
    const proxy = new Proxy(
      {},
      {
        get() {
          throw new Error('get')
        },
        ownKeys() {
          throw new Error('keys')
        },
      },
    )
    const badOptions = [
      { max_retries: 1e30 },
      { max_retries: -1 },
      { max_retries: 1.5 },
      { timeoutMs: -5 },
      { timeoutMs: 1e300 },
      { timeoutMs: 'soon' },
      { timeout: '1e400s' },
      { key_ttl: '5ms' },
      { budget_usd: -1 },
      { prices: { x: -1 } },
      { prices: { x: { input: 1 } } },
      { vault_addr: '' },
      { vault_addr: 'ftp://x' },
      { base_url: 'http://' },
      { secret_path: 'holysheep/data/x' },
      { auth_method: 'magic' },
      { key_source: 'file' },
      { env: 'VAULT_ADDR' },
      { env: { VAULT_ADDR: Symbol('x'), HOLYSHEEP_MAX_RETRIES: {} } },
      { env: proxy },
      { big: 10n },
      { nested: circular },
      { nested: deep },
      { vault_addr: 'http://127.0.0.1:1', vault_token: '\u0000\ud800' },
    ]
    const direct = [throwing, proxy, circular, deep]
    const base = { vault_addr: 'http://127.0.0.1:1', vault_token: 't' }
    for (const options of [...badOptions.map((o) => ({ ...base, ...o })), ...direct]) {
      try {
        new hs.Client(options).close()
      } catch (err) {
        assert.ok(err instanceof hs.HolySheepError, `${err}`)
        assert.notEqual(err.code, 'internal', err.message)
      }
    }
    const client = new hs.Client({
      vault_addr: 'http://127.0.0.1:1',
      vault_token: 't',
      max_retries: 0,
    })
    const messages = [{ role: 'user', content: 'x' }]
    const badRequests = [
      {},
      { model: 1, messages },
      { model: 'm' },
      { model: 'm', messages: [] },
      { model: 'm', messages: [1] },
      { model: 'm', messages: [{ role: 'user' }] },
      { model: 'm', messages, n: 0 },
      { model: 'm', messages, n: -1 },
      { model: 'm', messages, temperature: 'hot' },
      { model: 'm', messages, stream: true },
      { model: 'm', messages, tools: {} },
      { model: 'm', messages, stop: [1] },
      { model: 'm', messages, big: 1n },
      circular,
      deep,
      proxy,
      { model: 'm'.repeat(100000), messages },
      { model: 'm', messages, max_tokens: 1e300 },
    ]
    const badCallOptions = [
      { max_retries: 99 },
      { timeoutMs: 0 },
      { nope: 1 },
      { signal: 'x' },
      { timeout: [] },
    ]
    const settle = async (what, fn) => {
      try {
        const out = fn()
        if (out && typeof out[Symbol.asyncIterator] === 'function') {
          for await (const _ of out) break
        } else {
          await out
        }
      } catch (err) {
        if (err instanceof TypeError) return
        assert.ok(err instanceof hs.HolySheepError, `${what}: ${err}`)
        assert.notEqual(err.code, 'internal', `${what}: ${err.message}`)
      }
    }
    for (const request of badRequests) {
      await settle('chat', () => client.chatCompletions(request))
      await settle('stream', () => client.chatCompletionsStream(request))
    }
    for (const options of badCallOptions) {
      await settle('chat options', () => client.chatCompletions({ model: 'm', messages }, options))
      await settle('models options', () => client.models(options))
    }
    client.close()
  })

  test('an AbortSignal cancels a call in flight (slow upstream) with APIUserAbortError', async () => {
    const ctx = await rig.setup({
      name: 'abort',
      setup: { auth: 'token', faults: [{ delay_ms: 3000 }] },
    })
    const client = await hs.Client.create(ctx.options)
    try {
      const controller = new AbortController()
      const started = Date.now()
      setTimeout(() => controller.abort(), 200)
      await assert.rejects(
        client.chatCompletions(
          { model: 'gpt-4.1', messages: [{ role: 'user', content: 'slow' }] },
          { signal: controller.signal },
        ),
        (err) => err instanceof hs.APIUserAbortError && err.code === 'cancelled',
      )
      assert.ok(Date.now() - started < 2500, 'the call was not cancelled promptly')
    } finally {
      client.close()
      await rig.cleanup(ctx)
    }
  })

  test('a signal aborted before a stream is iterated stops it before anything is sent', async () => {
    const ctx = await rig.setup({ name: 'abort-early', setup: { auth: 'token' } })
    const client = await hs.Client.create(ctx.options)
    try {
      const controller = new AbortController()
      const stream = client.chatCompletionsStream(
        { model: 'gpt-4.1', messages: [{ role: 'user', content: 'never sent' }] },
        { signal: controller.signal },
      )
      controller.abort()
      await assert.rejects(
        (async () => {
          for await (const _chunk of stream);
        })(),
        (err) => err instanceof hs.APIUserAbortError,
      )
      assert.equal((await rig.report(ctx)).attempts, 0)
    } finally {
      client.close()
      await rig.cleanup(ctx)
    }
  })

  test('cancelling a ReadableStream while a read waits ends it at once', async () => {
    // The server stalls before its first chunk: a pull is waiting when the reader cancels.
    const ctx = await rig.setup({
      name: 'readable-cancel',
      setup: { auth: 'token', faults: [{ delay_ms: 10000 }] },
    })
    const client = await hs.Client.create(ctx.options)
    try {
      const request = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'stalled' }] }
      const reader = client.chatCompletionsStream(request).toReadableStream().getReader()
      const pending = reader.read()
      await new Promise((resolve) => setTimeout(resolve, 200))
      const timeout = new Promise((resolve) => setTimeout(() => resolve('still pending'), 3000))
      const outcome = await Promise.race([reader.cancel().then(() => 'cancelled'), timeout])
      assert.equal(outcome, 'cancelled')
      assert.deepEqual(await pending, { done: true, value: undefined })
    } finally {
      client.close()
      await rig.cleanup(ctx)
    }
  })

  test('a stream can be read as a ReadableStream and stopped early', async () => {
    const ctx = await rig.setup({ name: 'readable', setup: { auth: 'token' } })
    const client = await hs.Client.create(ctx.options)
    try {
      const request = {
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'one two three four five six' }],
      }
      const chunks = []
      for await (const chunk of client.chatCompletionsStream(request).toReadableStream())
        chunks.push(chunk)
      assert.ok(chunks.length >= 3)
      let seen = 0
      for await (const _chunk of client.chatCompletionsStream(request)) {
        if (++seen === 2) break // cancels the rest
      }
      assert.equal(seen, 2)
      assert.equal(client.stats().requests, 2)
    } finally {
      client.close()
      await rig.cleanup(ctx)
    }
  })
})
