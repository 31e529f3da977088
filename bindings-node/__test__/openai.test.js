'use strict'

// The official `openai` package as a real client of the test server, with its key from Vault
// through `openaiApiKey` (the SDK calls it before every request).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const OpenAI = require('openai')
const { Client, openaiApiKey, openaiOptions } = require('holysheep-vault')
const rig = require('./helpers/rig.js')

test('openai SDK calls the test server with the key from Vault', async () => {
  const { options, scope } = await rig.freshScope('openai-sdk')
  const client = new Client(options)
  const openai = new OpenAI({
    apiKey: openaiApiKey(client),
    baseURL: client.baseUrl,
    maxRetries: 0,
  })
  const reply = await openai.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'hello from the openai package' }],
  })
  assert.match(reply.choices[0].message.content, /hello from the openai package/)

  let streamed = ''
  const stream = await openai.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'and streamed' }],
    stream: true,
  })
  for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? ''
  assert.match(streamed, /and streamed/)

  const report = await rig.scopeReport(scope)
  assert.equal(report.attempts, 2)
  assert.ok(
    report.requests.every((r) => r.authorized),
    'every SDK request carried the Vault key',
  )
  assert.equal(client.stats().vault.vault_reads, 1, 'the SDK is served from the cache')
  client.close()
})

test('a key rotated in Vault reaches the SDK without a restart', async () => {
  const { options, scope, secretPath } = await rig.freshScope('openai-rotation', {
    client: { keyTtlMs: 200 },
  })
  const client = new Client(options)
  const openai = new OpenAI({ ...openaiOptions(client), maxRetries: 0 })
  const ask = () =>
    openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hi' }],
    })
  await ask()

  const rotated = `sk-node-rotated-${rig.randomToken()}`
  await rig.writeSecret(secretPath, { api_key: rotated })
  await rig.control('PATCH', `/_control/scopes/${scope}`, { keys: [rotated] })
  await new Promise((resolve) => setTimeout(resolve, 400)) // past the key TTL
  await ask()
  assert.equal(client.stats().vault.key_version, 2)
  client.close()
})

test('a Vault failure surfaces through the SDK with our error as the cause', async () => {
  const { options } = await rig.freshScope('openai-denied')
  const client = new Client({ ...options, vaultToken: rig.get('RIG_TOKEN_DENIED') })
  const openai = new OpenAI({ ...openaiOptions(client), maxRetries: 0 })
  const err = await openai.chat.completions
    .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] })
    .catch((e) => e)
  assert.ok(err instanceof OpenAI.OpenAIError, `got ${err}`)
  assert.equal(err.cause?.code, 'vault_permission_denied')
  client.close()
})
