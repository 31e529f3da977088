'use strict'

// Runs the shared scenario suite (tests/scenarios/*.json) through the public Node API, against
// the rig. tests/scenarios/README.md is the contract; the Rust, Python and wasm runners follow it
// too, so a behaviour pinned there is checked in every runtime.

const { test } = require('node:test')
const fs = require('node:fs')
const path = require('node:path')
const { Client, HolySheepError } = require('holysheep-vault')
const rig = require('./helpers/rig.js')

// What this runner can do; scenarios needing more are skipped (reported, never passed).
const CAPABILITIES = new Set(['fs', 'background'])

const dir = path.join(rig.REPO, 'tests', 'scenarios')
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()

if (files.length === 0) throw new Error(`no scenario files in ${dir}`)

for (const file of files) {
  const stem = path.basename(file, '.json')
  const doc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))
  for (const scenario of doc.scenarios) {
    const missing = (scenario.needs ?? []).filter((n) => !CAPABILITIES.has(n))
    const skip = missing.length ? `not applicable: needs ${missing.join(', ')}` : false
    test(`${stem}/${scenario.name}`, { skip }, () => runScenario(scenario))
  }
}

async function prepare(scenario) {
  const setup = scenario.setup ?? {}
  const scope = rig.unique(scenario.name)
  const secretKind = setup.secret ?? 'scenario'
  let secretPath
  let key
  switch (secretKind) {
    case 'scenario':
      secretPath = `scenarios/${scope}/api_key`
      key = `sk-scn-${rig.randomToken()}`
      await rig.writeSecret(secretPath, { api_key: key })
      break
    case 'production':
    case 'agent_file':
      secretPath = rig.get('RIG_PROD_PATH')
      key = rig.get('RIG_PROD_KEY')
      break
    case 'namespace':
      secretPath = rig.get('RIG_PROD_PATH')
      key = rig.get('RIG_NS_KEY')
      break
    case 'missing':
      secretPath = `scenarios/${scope}/absent`
      key = `sk-scn-${rig.randomToken()}`
      break
    default:
      throw new Error(`unknown setup.secret ${secretKind}`)
  }
  await rig.putScope(scope, { faults: setup.faults ?? [], keys: [key] })

  const options = {
    base_url: `${rig.get('RIG_API_BASE')}/s/${scope}/v1`,
    vault_addr: rig.get('VAULT_ADDR'),
    mount: rig.get('RIG_KV_MOUNT'),
    secret_path: secretPath,
  }
  Object.assign(options, authOptions(setup.auth ?? 'token'))
  if (secretKind === 'agent_file') {
    Object.assign(options, { key_source: 'file', key_file: rig.get('RIG_AGENT_KEY_FILE') })
  }
  Object.assign(options, setup.client ?? {})
  return { scope, secretPath, client: new Client(options) }
}

function authOptions(auth) {
  switch (auth) {
    case 'token':
      return { vault_token: rig.get('RIG_TOKEN_PROD') }
    case 'denied':
      return { vault_token: rig.get('RIG_TOKEN_DENIED') }
    case 'approle':
      return { role_id: rig.get('RIG_ROLE_ID'), secret_id: rig.get('RIG_SECRET_ID') }
    case 'jwt':
      return {
        auth_method: 'jwt',
        auth_mount: rig.get('RIG_JWT_MOUNT'),
        role: rig.get('RIG_JWT_ROLE'),
        jwt_path: rig.get('RIG_JWT_FILE'),
      }
    case 'kubernetes':
      return {
        auth_method: 'kubernetes',
        auth_mount: rig.get('RIG_K8S_MOUNT'),
        role: rig.get('RIG_K8S_ROLE'),
        jwt_path: rig.get('RIG_K8S_JWT_FILE'),
      }
    case 'token_file':
      return { token_file: rig.get('RIG_AGENT_TOKEN_FILE') }
    case 'none':
      return { auth_method: 'none', vault_addr: rig.get('RIG_AGENT_PROXY_ADDR') }
    case 'namespace_approle':
      return {
        vault_namespace: rig.get('RIG_NAMESPACE'),
        role_id: rig.get('RIG_NS_ROLE_ID'),
        secret_id: rig.get('RIG_NS_SECRET_ID'),
      }
    case 'namespace_token':
      return { vault_namespace: rig.get('RIG_NAMESPACE'), vault_token: rig.get('RIG_NS_TOKEN') }
    default:
      throw new Error(`unknown setup.auth ${auth}`)
  }
}

async function runScenario(scenario) {
  const prepared = await prepare(scenario)
  try {
    const steps = scenario.steps ?? []
    for (const [i, step] of steps.entries()) {
      for (let round = 0; round < (step.repeat ?? 1); round++) {
        try {
          await runStep(prepared, step)
        } catch (err) {
          err.message = `step ${i} (round ${round}): ${err.message}`
          throw err
        }
      }
    }
  } finally {
    prepared.client.close()
  }

  const expect = scenario.expect ?? {}
  const scopeState = await rig.scopeReport(prepared.scope)
  const stats = prepared.client.stats()
  await rig.deleteScope(prepared.scope)
  const checks = {
    upstream_attempts: scopeState.attempts,
    vault_reads: stats.vault.vault_reads,
    invalidations: stats.vault.invalidations,
    stats_requests: stats.requests,
    key_version: stats.vault.key_version,
  }
  for (const [name, actual] of Object.entries(checks)) {
    if (name in expect && expect[name] !== actual) {
      throw new Error(
        `${name}: expected ${JSON.stringify(expect[name])}, got ${JSON.stringify(actual)}; ` +
          `stats ${JSON.stringify(stats)}`,
      )
    }
  }
}

async function runStep(p, step) {
  if (step.action) return runAction(p, step)
  const started = performance.now()
  let outcome
  let error
  try {
    switch (step.call) {
      case 'chat':
        outcome = await callChat(p, step)
        break
      case 'chat_stream':
        outcome = await callStream(p, step)
        break
      case 'models':
        outcome = { json: await p.client.models(step.options), content: '', chunks: 0 }
        break
      default:
        throw new Error(`unknown call ${step.call}`)
    }
  } catch (err) {
    if (!(err instanceof HolySheepError)) throw err
    error = err
  }
  check(step.expect ?? {}, outcome, error, performance.now() - started)
}

async function callChat(p, step) {
  const reply = await p.client.chatCompletions(step.request, step.options)
  return { json: reply, content: reply.choices?.[0]?.message?.content ?? '', chunks: 1 }
}

async function callStream(p, step) {
  let content = ''
  let chunks = 0
  let finish = null
  let usage = null
  let toolName = null
  let toolArgs = ''
  for await (const chunk of p.client.chatCompletionsStream(step.request, step.options)) {
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
    throw new Error(`took ${elapsedMs.toFixed(1)}ms, expected at least ${expect.min_elapsed_ms}ms`)
  }
  if (expect.error !== undefined) {
    if (!error) throw new Error(`expected error ${expect.error}, the call succeeded`)
    return checkError(expect, error)
  }
  if (error) throw new Error(`expected success, got ${error.code}: ${error.message}`)

  const choice = outcome.json?.choices?.[0]
  if (expect.content_contains !== undefined && !outcome.content.includes(expect.content_contains)) {
    throw new Error(`reply ${JSON.stringify(outcome.content)} lacks ${expect.content_contains}`)
  }
  if (expect.finish_reason !== undefined && choice?.finish_reason !== expect.finish_reason) {
    throw new Error(`finish_reason ${choice?.finish_reason} != ${expect.finish_reason}`)
  }
  if (expect.tool_call !== undefined) {
    const fn = choice?.message?.tool_calls?.[0]?.function
    if (fn?.name !== expect.tool_call)
      throw new Error(`tool call ${fn?.name} != ${expect.tool_call}`)
    if (expect.tool_arguments_json) JSON.parse(fn.arguments)
  }
  if (expect.total_tokens_min !== undefined) {
    const total = outcome.json?.usage?.total_tokens ?? 0
    if (total < expect.total_tokens_min) {
      throw new Error(`total_tokens ${total} < ${expect.total_tokens_min}`)
    }
  }
  if (expect.usage === true && !(outcome.json?.usage && typeof outcome.json.usage === 'object')) {
    throw new Error('no usage arrived')
  }
  if (expect.field !== undefined) {
    let node = outcome.json
    for (const part of expect.field) node = node?.[part]
    if (node === undefined || node === null) {
      throw new Error(
        `field ${expect.field.join('.')} missing from ${JSON.stringify(outcome.json)}`,
      )
    }
  }
  if (expect.min_chunks !== undefined && outcome.chunks < expect.min_chunks) {
    throw new Error(`${outcome.chunks} chunks < ${expect.min_chunks}`)
  }
  if (expect.model_ids !== undefined) {
    const listed = (outcome.json?.data ?? []).map((m) => m.id)
    for (const id of expect.model_ids) {
      if (!listed.includes(id)) throw new Error(`models() lacks ${id}`)
    }
  }
}

function checkError(expect, err) {
  if (err.code !== expect.error) {
    throw new Error(`expected error ${expect.error}, got ${err.code}: ${err.message}`)
  }
  if (expect.status !== undefined && err.status !== expect.status) {
    throw new Error(`status ${err.status} != ${expect.status} (${err.message})`)
  }
  if (expect.retry_after_ms !== undefined && err.retryAfter !== expect.retry_after_ms) {
    throw new Error(`retryAfter ${err.retryAfter} != ${expect.retry_after_ms}`)
  }
  if (expect.message_contains !== undefined && !err.message.includes(expect.message_contains)) {
    throw new Error(`message ${JSON.stringify(err.message)} lacks ${expect.message_contains}`)
  }
}

async function runAction(p, step) {
  const scopePath = `/_control/scopes/${p.scope}`
  switch (step.action) {
    case 'rotate_key': {
      const key = `sk-scn-${rig.randomToken()}`
      await rig.writeSecret(p.secretPath, { api_key: key })
      await rig.control('PATCH', scopePath, { keys: [key] })
      break
    }
    case 'revoke_server_key':
      await rig.control('PATCH', scopePath, { keys: [`sk-none-${rig.randomToken()}`] })
      break
    case 'add_faults':
      await rig.control('PATCH', scopePath, { faults: step.faults })
      break
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, step.ms ?? 0))
      break
    default:
      throw new Error(`unknown action ${step.action}`)
  }
}
