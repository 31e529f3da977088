'use strict'

// Streaming: async iteration, early exit and AbortSignal cancel the request and close the
// connection (seen through a TCP proxy in front of the test server).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Client, APIUserAbortError, ChatCompletionStream } = require('holysheep-vault')
const rig = require('./helpers/rig.js')
const { startProxy } = require('./helpers/proxy.js')

// Long enough that a stream left to run would take many seconds with chunk_delay_ms.
const LONG_REPLY = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ')

async function slowStreamClient(t, name) {
  const { scope, options } = await rig.freshScope(name, {
    faults: [{ chunk_delay_ms: 250, reply: LONG_REPLY }],
  })
  const proxy = await startProxy(rig.get('RIG_API_BASE'))
  t.after(() => proxy.close())
  const client = new Client({ ...options, baseUrl: `http://127.0.0.1:${proxy.port}/s/${scope}/v1` })
  t.after(() => client.close())
  await client.connect()
  return { scope, proxy, client }
}

const request = (text) => ({
  model: 'gpt-4.1',
  messages: [{ role: 'user', content: text }],
  stream_options: { include_usage: true },
})

test('a stream yields OpenAI chunks that add up to the unstreamed reply', async () => {
  const { options } = await rig.freshScope('stream-basic')
  const client = new Client(options)
  const stream = client.chatCompletionsStream(request('stream me please'))
  assert.ok(stream instanceof ChatCompletionStream)
  let content = ''
  let chunks = 0
  let usage = null
  for await (const chunk of stream) {
    chunks += 1
    assert.equal(chunk.object, 'chat.completion.chunk')
    content += chunk.choices[0]?.delta?.content ?? ''
    if (chunk.usage) usage = chunk.usage
  }
  const whole = await client.chatCompletions({
    model: 'gpt-4.1',
    messages: request('stream me please').messages,
  })
  assert.equal(content, whole.choices[0].message.content)
  assert.ok(chunks >= 3)
  assert.ok(usage.total_tokens > 0)
  assert.throws(() => stream[Symbol.asyncIterator](), TypeError, 'a stream is iterated once')
  client.close()
})

test('breaking out of for-await cancels the stream and closes the connection', async (t) => {
  const { scope, proxy, client } = await slowStreamClient(t, 'stream-break')
  const started = performance.now()
  let seen = 0
  // Held until the end, so that a close can only come from the cancel, not from the garbage
  // collector finalizing an unreachable stream.
  const stream = client.chatCompletionsStream(request('go'))
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) {
      seen += 1
      break
    }
  }
  const elapsed = performance.now() - started
  assert.equal(seen, 1)
  // 60 words at two per 250 ms event would take ~7.5 s to the end.
  assert.ok(elapsed < 3000, `the loop ended after ${elapsed.toFixed(0)}ms`)
  await proxy.allClosed(2000)
  assert.ok(stream instanceof ChatCompletionStream)
  assert.equal((await rig.scopeReport(scope)).attempts, 1)
  assert.equal(client.stats().requests, 1)
})

test('an AbortSignal stops a stream mid-body with APIUserAbortError', async (t) => {
  const { proxy, client } = await slowStreamClient(t, 'stream-abort')
  const controller = new AbortController()
  const chunks = []
  const started = performance.now()
  const stream = client.chatCompletionsStream(request('go'), { signal: controller.signal })
  const err = await (async () => {
    for await (const chunk of stream) {
      chunks.push(chunk)
      if (chunks.length === 2) setTimeout(() => controller.abort(), 50)
    }
  })().then(
    () => assert.fail('the stream should have been cancelled'),
    (e) => e,
  )
  assert.ok(err instanceof APIUserAbortError, `got ${err}`)
  assert.equal(err.cause, controller.signal.reason)
  assert.ok(performance.now() - started < 4000)
  await proxy.allClosed(2000)
  assert.ok(stream instanceof ChatCompletionStream)
})

test('cancel() on the stream object ends a pending read', async (t) => {
  const { proxy, client } = await slowStreamClient(t, 'stream-cancel')
  const stream = client.chatCompletionsStream(request('go'))
  const iterator = stream[Symbol.asyncIterator]()
  await iterator.next() // the role chunk: the response is open
  const pending = iterator.next()
  stream.cancel()
  await assert.rejects(pending, APIUserAbortError)
  await proxy.allClosed(2000)
})

test('a signal aborted before the first iteration sends nothing', async () => {
  const { scope, options } = await rig.freshScope('stream-pre-abort')
  const client = new Client(options)
  const controller = new AbortController()
  const stream = client.chatCompletionsStream(request('never sent'), { signal: controller.signal })
  controller.abort()
  await assert.rejects(async () => {
    for await (const chunk of stream) assert.fail(`got a chunk ${JSON.stringify(chunk)}`)
  }, APIUserAbortError)
  assert.equal((await rig.scopeReport(scope)).attempts, 0)
  client.close()
})
