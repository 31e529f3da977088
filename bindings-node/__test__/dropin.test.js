'use strict'

// HolySheepVaultClient: the drop-in for the class teams hand-write (node-vault + axios), with the
// same names and call shapes: initialize(), chat(model, messages, { temperature, maxTokens }),
// close().

const { test } = require('node:test')
const assert = require('node:assert/strict')
const {
  HolySheepVaultClient,
  Client,
  ClientClosedError,
  VaultPermissionDeniedError,
} = require('holysheep-vault')
const rig = require('./helpers/rig.js')

test('initialize, chat and close, as the hand-written class is used', async () => {
  const { options, scope } = await rig.freshScope('dropin')
  const client = new HolySheepVaultClient(options)
  assert.equal(await client.initialize(), client)
  await client.initialize() // a second call does nothing
  assert.ok(client.client instanceof Client)
  assert.equal(client.client.stats().vault.vault_reads, 1, 'initialize() read the key')

  const result = await client.chat('deepseek-v3.2', [{ role: 'user', content: 'こんにちは!' }])
  assert.equal(result.choices[0].message.content, 'Echo from deepseek-v3.2: こんにちは!')
  assert.equal(result.choices[0].finish_reason, 'stop')

  // maxTokens is sent as max_tokens: the test server cuts the reply at 4 chars per token.
  const short = await client.chat('gpt-4.1', [{ role: 'user', content: 'a long question' }], {
    temperature: 0.2,
    maxTokens: 2,
  })
  assert.equal(short.choices[0].finish_reason, 'length')

  const inner = client.client
  await client.close()
  await client.close()
  assert.equal(client.client, null)
  assert.equal(inner.closed, true)
  // The key is gone from the core: nothing serves it any more.
  await assert.rejects(inner.apiKey(), ClientClosedError)
  await assert.rejects(client.chat('gpt-4.1', [{ role: 'user', content: 'hi' }]), ClientClosedError)
  await assert.rejects(client.initialize(), ClientClosedError)
  assert.equal((await rig.scopeReport(scope)).attempts, 2)
})

test('chat() before initialize() initializes first', async () => {
  const { options } = await rig.freshScope('dropin-lazy')
  const client = new HolySheepVaultClient(options)
  const result = await client.chat('gpt-4.1', [{ role: 'user', content: 'lazy' }])
  assert.match(result.choices[0].message.content, /lazy$/)
  await client.close()
})

test('settings come from the environment like the hand-written class', async () => {
  const { options } = await rig.freshScope('dropin-env')
  const saved = { ...process.env }
  try {
    Object.assign(process.env, {
      VAULT_ADDR: options.vaultAddr,
      VAULT_ROLE_ID: rig.get('RIG_ROLE_ID'),
      VAULT_SECRET_ID: rig.get('RIG_SECRET_ID'),
      HOLYSHEEP_SECRET_PATH: options.secretPath,
      HOLYSHEEP_BASE_URL: options.baseUrl,
    })
    const client = new HolySheepVaultClient()
    await client.initialize()
    assert.equal(client.client.stats().vault.auth_method, 'approle')
    const result = await client.chat('gpt-4.1', [{ role: 'user', content: 'via approle' }])
    assert.match(result.choices[0].message.content, /via approle/)
    await client.close()
  } finally {
    process.env = saved
  }
})

test('initialize() reports a Vault policy problem at once', async () => {
  const { options } = await rig.freshScope('dropin-denied')
  const client = new HolySheepVaultClient({ ...options, vaultToken: rig.get('RIG_TOKEN_DENIED') })
  await assert.rejects(client.initialize(), VaultPermissionDeniedError)
  assert.equal(client.client, null)
})

test('wrong argument types are TypeErrors naming the argument', async () => {
  const client = new HolySheepVaultClient({ vaultAddr: 'http://127.0.0.1:1', vaultToken: 't' })
  await assert.rejects(
    client.chat(5, []),
    (e) => e instanceof TypeError && /^model/.test(e.message),
  )
  await assert.rejects(
    client.chat('m', 'hi'),
    (e) => e instanceof TypeError && /^messages/.test(e.message),
  )
  await assert.rejects(
    client.chat('m', [], 7),
    (e) => e instanceof TypeError && /^options/.test(e.message),
  )
  assert.throws(() => new HolySheepVaultClient(3), TypeError)
})

/** Counts the clients HolySheepVaultClient builds, for the duration of `body`. */
async function countingBuilds(body) {
  const built = []
  const fromEnv = Client.fromEnv
  Client.fromEnv = (...args) => {
    const client = fromEnv.apply(Client, args)
    built.push(client)
    return client
  }
  try {
    await body(built)
  } finally {
    Client.fromEnv = fromEnv
  }
}

test('concurrent first calls share one initialisation', async () => {
  const { options } = await rig.freshScope('dropin-concurrent')
  await countingBuilds(async (built) => {
    const client = new HolySheepVaultClient(options)
    const hello = (i) => client.chat('gpt-4.1', [{ role: 'user', content: `call ${i}` }])
    const replies = await Promise.all([0, 1, 2, 3, 4].map(hello))
    assert.match(replies[4].choices[0].message.content, /call 4$/)
    assert.equal(built.length, 1, 'one client for all first calls')
    await client.close()
    assert.deepEqual(
      built.map((c) => c.closed),
      [true],
    )
  })
})

test('close() during initialize() leaves no client open', async () => {
  const { options } = await rig.freshScope('dropin-close-early')
  await countingBuilds(async (built) => {
    const client = new HolySheepVaultClient(options)
    const init = client.initialize()
    await client.close()
    await assert.rejects(init, ClientClosedError)
    assert.equal(client.client, null)
    assert.equal(built.length, 1)
    assert.equal(built[0].closed, true, 'the client built for initialize() was closed')
  })
})
