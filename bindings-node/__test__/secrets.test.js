'use strict'

// Logging, and the guarantee that no secret (API key, Vault token, AppRole secret_id) reaches a
// log, an error message or util.inspect output. A canary key is planted in Vault and looked for
// everywhere a user could see text.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { Client, HolySheepVaultClient } = require('holysheep-vault')
const rig = require('./helpers/rig.js')

const CANARY = `sk-canary-${rig.randomToken(18)}`
const SECRETS = () => [CANARY, rig.get('RIG_TOKEN_PROD'), rig.get('RIG_SECRET_ID')]

function assertNoSecret(text, where) {
  for (const secret of SECRETS()) {
    assert.ok(!text.includes(secret), `a secret leaked into ${where}: ${text}`)
  }
}

async function canaryScope(name, faults = []) {
  const scope = rig.unique(name)
  const secretPath = `scenarios/${scope}/api_key`
  await rig.writeSecret(secretPath, { api_key: CANARY })
  const baseUrl = await rig.putScope(scope, { faults, keys: [CANARY] })
  return { scope, secretPath, baseUrl }
}

test('a logger gets the events; no secret is in logs, errors or inspect output', async () => {
  const { scope, secretPath, baseUrl } = await canaryScope('canary', [
    { status: 429, headers: { 'retry-after': '300' } },
  ])
  const records = []
  const client = new Client({
    baseUrl,
    vaultAddr: rig.get('VAULT_ADDR'),
    roleId: rig.get('RIG_ROLE_ID'),
    secretId: rig.get('RIG_SECRET_ID'),
    mount: rig.get('RIG_KV_MOUNT'),
    secretPath,
    logger: (level, message, fields) => records.push({ level, message, fields }),
    logLevel: 'debug',
  })
  const seen = []
  const errors = []
  const capture = async (promise) => {
    try {
      seen.push(await promise)
    } catch (err) {
      errors.push(err)
    }
  }

  await capture(
    client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a' }] }),
  )
  await capture(
    client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'b' }] }),
  )
  const stream = client.chatCompletionsStream({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'c' }],
  })
  for await (const chunk of stream) seen.push(chunk)
  // A 401: the test server's error message quotes (a masked form of) the key it was sent.
  await rig.control('PATCH', `/_control/scopes/${scope}`, { keys: ['sk-nobody-has-this-one'] })
  await capture(
    client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'd' }] }),
  )
  assert.deepEqual(
    errors.map((e) => e.code),
    ['rate_limited', 'authentication'],
  )

  // Logs arrive asynchronously (a threadsafe function); give the queue a moment to drain.
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.ok(records.length > 0, 'the logger received no event at debug level')
  for (const r of records) {
    assert.ok(['error', 'warn', 'info', 'debug'].includes(r.level), r.level)
    assert.equal(typeof r.message, 'string')
    assert.equal(typeof r.fields, 'object')
    assert.match(r.fields.target, /^holysheep_vault/)
  }
  assertNoSecret(JSON.stringify(records), 'the log records')
  for (const err of errors) {
    assertNoSecret(err.message, 'an error message')
    assertNoSecret(String(err.stack), 'an error stack')
    assertNoSecret(inspect(err, { depth: 10, showHidden: true }), 'util.inspect of an error')
    assertNoSecret(JSON.stringify(err), 'JSON of an error')
  }
  assertNoSecret(inspect(client, { depth: 10, showHidden: true }), 'util.inspect of the client')
  assertNoSecret(inspect(stream, { depth: 10, showHidden: true }), 'util.inspect of a stream')
  assertNoSecret(JSON.stringify(client.stats()), 'stats()')
  assertNoSecret(JSON.stringify(seen), 'the responses')
  client.close()

  const dropIn = new HolySheepVaultClient({
    baseUrl,
    vaultAddr: rig.get('VAULT_ADDR'),
    vaultToken: rig.get('RIG_TOKEN_PROD'),
    mount: 'holysheep',
    secretPath,
  })
  await dropIn.initialize()
  assertNoSecret(
    inspect(dropIn, { depth: 10, showHidden: true }),
    'util.inspect of HolySheepVaultClient',
  )
  await dropIn.close()
})

test('logLevel filters what the logger gets; a console-like object works too', async () => {
  const { options } = await rig.freshScope('log-level')
  const quiet = []
  const client = new Client({ ...options, logger: (level) => quiet.push(level), logLevel: 'error' })
  await client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] })
  const calls = []
  const consoleLike = {
    debug: (message, fields) => calls.push(['debug', message, fields]),
    info: (message, fields) => calls.push(['info', message, fields]),
    warn: (message, fields) => calls.push(['warn', message, fields]),
    error: (message, fields) => calls.push(['error', message, fields]),
  }
  const fresh = await rig.freshScope('log-object')
  const loud = new Client({ ...fresh.options, logger: consoleLike, logLevel: 'debug' })
  await loud.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'y' }] })
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.ok(
    quiet.every((level) => level === 'error'),
    `got ${quiet}`,
  )
  assert.ok(calls.length > 0, 'the console-like logger got nothing')
  client.close()
  loud.close()
})

test('a logger that throws does not take the process down', async () => {
  const { options } = await rig.freshScope('log-throws')
  const client = new Client({
    ...options,
    logger: () => {
      throw new Error('broken logger')
    },
    logLevel: 'debug',
  })
  const reply = await client.chatCompletions({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'z' }],
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.match(reply.choices[0].message.content, /z$/)
  client.close()
})

test('a logger that returns a rejected promise does not take the process down', async () => {
  const { options } = await rig.freshScope('log-rejects')
  let calls = 0
  const client = new Client({
    ...options,
    logger: async () => {
      calls += 1
      throw new Error('log sink down')
    },
    logLevel: 'debug',
  })
  const reply = await client.chatCompletions({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'async logger' }],
  })
  // An unhandled rejection would end this test process (node --test reports it as a failure).
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.match(reply.choices[0].message.content, /async logger$/)
  assert.ok(calls > 0, 'the logger was called')
  client.close()
})

test('HOLYSHEEP_LOG=debug logs to stderr, without secrets', async () => {
  const { secretPath, baseUrl } = await canaryScope('stderr-log')
  const script = `
    const { Client } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const client = new Client(JSON.parse(process.env.OPTIONS))
    client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] })
      .then(() => client.close(), (e) => { console.error(e); process.exit(3) })
  `
  const options = {
    baseUrl,
    vaultAddr: rig.get('VAULT_ADDR'),
    vaultToken: rig.get('RIG_TOKEN_PROD'),
    mount: rig.get('RIG_KV_MOUNT'),
    secretPath,
  }
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, HOLYSHEEP_LOG: 'debug', OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const code = await new Promise((resolve) => child.on('close', resolve))
  assert.equal(code, 0, stderr)
  assert.match(stderr, /holysheep_vault/, 'nothing was logged to stderr')
  assertNoSecret(stderr, 'stderr')
})

test('a secret passed in the wrong place is not echoed by the TypeError', () => {
  const { Client: C } = require('holysheep-vault')
  assert.throws(
    () => new C(CANARY),
    (err) => err instanceof TypeError && !err.message.includes(CANARY),
  )
  assert.throws(
    () => new C({ logger: CANARY }),
    (err) => err instanceof TypeError && !err.message.includes(CANARY),
  )
})
