// The JavaScript runner of the shared scenario suite (tests/scenarios/README.md), for the wasm
// package. It runs INSIDE the runtime under test (a workerd isolate, the Deno process): the
// client is built and called here, through the package's public API. The rig side (Vault writes
// with the root token, the test server's control API) is behind the `rig` object it is given.

/** What the wasm package can do at the edge: no file system, no background tasks. */
export const CAPABILITIES = []

/** Names the scenarios a runtime cannot run, with the reason; `null` when applicable. */
export function notApplicable(scenario, capabilities = CAPABILITIES) {
  const missing = (scenario.needs ?? []).filter((n) => !capabilities.includes(n))
  return missing.length ? `not applicable to the wasm package: needs ${missing.join(', ')}` : null
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function withTimeout(promise, ms, what) {
  let timer
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms}ms`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/**
 * Runs one scenario. Returns `{outcome: "passed" | "failed" | "skipped", detail}`; never throws.
 * `hs` is the package's module namespace; `rig` has `setup`, `action`, `report`, `cleanup`.
 */
export async function runScenario(
  scenario,
  { hs, rig, capabilities = CAPABILITIES, timeoutMs = 60000 },
) {
  const skip = notApplicable(scenario, capabilities)
  if (skip) return { outcome: 'skipped', detail: skip }
  try {
    await withTimeout(run(scenario, hs, rig), timeoutMs, `scenario ${scenario.name}`)
    return { outcome: 'passed', detail: '' }
  } catch (err) {
    return { outcome: 'failed', detail: String(err?.stack ?? err) }
  }
}

async function run(scenario, hs, rig) {
  const ctx = await rig.setup(scenario)
  let client
  try {
    client = await hs.Client.create(ctx.options)
    const steps = scenario.steps ?? []
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]
      const repeat = step.repeat ?? 1
      for (let round = 0; round < repeat; round++) {
        try {
          await runStep(client, rig, ctx, step, hs)
        } catch (err) {
          err.message = `step ${i} (round ${round}): ${err.message}`
          throw err
        }
      }
    }
    const expect = scenario.expect ?? {}
    const report = await rig.report(ctx)
    const stats = client.stats()
    const checks = [
      ['upstream_attempts', report.attempts],
      ['vault_reads', stats.vault.vault_reads],
      ['invalidations', stats.vault.invalidations],
      ['stats_requests', stats.requests],
      ['key_version', stats.vault.key_version],
    ]
    for (const [name, actual] of checks) {
      if (name in expect && JSON.stringify(expect[name]) !== JSON.stringify(actual)) {
        throw new Error(
          `${name}: expected ${expect[name]}, got ${actual}; stats ${JSON.stringify(stats)}`,
        )
      }
    }
  } finally {
    client?.close()
    await rig.cleanup(ctx)
  }
}

async function runStep(client, rig, ctx, step, hs) {
  if (step.action === 'sleep') {
    await sleep(step.ms ?? 0)
    return
  }
  if (step.action) {
    await rig.action(ctx, step)
    return
  }
  const started = Date.now()
  let outcome
  let error
  try {
    switch (step.call) {
      case 'chat':
        outcome = await callChat(client, step)
        break
      case 'chat_stream':
        outcome = await callStream(client, step)
        break
      case 'models': {
        const list = await client.models(step.options)
        outcome = { json: list, content: '', chunks: 0 }
        break
      }
      default:
        throw new Error(`unknown call ${step.call}`)
    }
  } catch (err) {
    if (!(err instanceof hs.HolySheepError)) throw err // a harness bug, not an outcome
    error = err
  }
  check(step.expect ?? {}, outcome, error, Date.now() - started)
}

async function callChat(client, step) {
  const reply = await client.chatCompletions(step.request, step.options)
  const content = reply.choices?.[0]?.message?.content ?? ''
  return { json: reply, content, chunks: 1 }
}

async function callStream(client, step) {
  const stream = client.chatCompletionsStream(step.request, step.options)
  let content = ''
  let chunks = 0
  let finish = null
  let usage = null
  let toolName = null
  let toolArgs = ''
  for await (const chunk of stream) {
    chunks += 1
    if (chunk.usage) usage = chunk.usage
    const choice = chunk.choices?.[0]
    if (!choice) continue
    if (typeof choice.delta?.content === 'string') content += choice.delta.content
    if (choice.finish_reason != null) finish = choice.finish_reason
    const call = choice.delta?.tool_calls?.[0]
    if (call) {
      if (typeof call.function?.name === 'string') toolName = call.function.name
      toolArgs += call.function?.arguments ?? ''
    }
  }
  const message = { role: 'assistant', content }
  if (toolName !== null) {
    message.tool_calls = [{ type: 'function', function: { name: toolName, arguments: toolArgs } }]
  }
  return { json: { choices: [{ message, finish_reason: finish }], usage }, content, chunks }
}

function check(expect, outcome, error, elapsedMs) {
  if (expect.min_elapsed_ms !== undefined && elapsedMs < expect.min_elapsed_ms) {
    throw new Error(`took ${elapsedMs}ms, expected at least ${expect.min_elapsed_ms}ms`)
  }
  if (expect.error !== undefined) {
    if (!error) throw new Error(`expected error ${expect.error}, the call succeeded`)
    checkError(expect, error)
    return
  }
  if (error) throw new Error(`expected success, got ${error.code}: ${error.message}`)
  const choice = outcome.json.choices?.[0] ?? {}
  if (expect.content_contains !== undefined && !outcome.content.includes(expect.content_contains)) {
    throw new Error(
      `reply ${JSON.stringify(outcome.content)} lacks ${JSON.stringify(expect.content_contains)}`,
    )
  }
  if (expect.finish_reason !== undefined && choice.finish_reason !== expect.finish_reason) {
    throw new Error(`finish_reason ${choice.finish_reason} != ${expect.finish_reason}`)
  }
  if (expect.tool_call !== undefined) {
    const fn = choice.message?.tool_calls?.[0]?.function ?? {}
    if (fn.name !== expect.tool_call) throw new Error(`tool call ${fn.name} != ${expect.tool_call}`)
    if (expect.tool_arguments_json === true) {
      try {
        JSON.parse(fn.arguments ?? '')
      } catch (err) {
        throw new Error(`arguments ${JSON.stringify(fn.arguments)}: ${err.message}`)
      }
    }
  }
  if (expect.total_tokens_min !== undefined) {
    const total = outcome.json.usage?.total_tokens ?? 0
    if (total < expect.total_tokens_min)
      throw new Error(`total_tokens ${total} < ${expect.total_tokens_min}`)
  }
  if (
    expect.usage === true &&
    (outcome.json.usage == null || typeof outcome.json.usage !== 'object')
  ) {
    throw new Error('no usage arrived')
  }
  if (Array.isArray(expect.field)) {
    let node = outcome.json
    for (const part of expect.field) node = node?.[part]
    if (node == null)
      throw new Error(
        `field ${expect.field.join('.')} missing from ${JSON.stringify(outcome.json)}`,
      )
  }
  if (expect.min_chunks !== undefined && outcome.chunks < expect.min_chunks) {
    throw new Error(`${outcome.chunks} chunks < ${expect.min_chunks}`)
  }
  if (Array.isArray(expect.model_ids)) {
    const listed = (outcome.json.data ?? []).map((m) => m.id)
    for (const id of expect.model_ids) {
      if (!listed.includes(id)) throw new Error(`models() lacks ${id}`)
    }
  }
}

function checkError(expect, err) {
  if (err.code !== expect.error) {
    throw new Error(`expected error ${expect.error}, got ${err.code}: ${err.message}`)
  }
  const cls = err.constructor?.code
  if (cls !== undefined && cls !== err.code) {
    throw new Error(`a ${err.name} carries code ${err.code}`)
  }
  if (expect.status !== undefined && err.status !== expect.status) {
    throw new Error(`status ${err.status} != ${expect.status} (${err.message})`)
  }
  if (expect.retry_after_ms !== undefined && err.retryAfter !== expect.retry_after_ms) {
    throw new Error(`retryAfter ${err.retryAfter} != ${expect.retry_after_ms}`)
  }
  if (expect.message_contains !== undefined && !err.message.includes(expect.message_contains)) {
    throw new Error(
      `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(expect.message_contains)}`,
    )
  }
}
