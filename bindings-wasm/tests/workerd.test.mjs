// The wasm package in Cloudflare's workerd, through Miniflare, against the live rig.
//
//   HOLYSHEEP_RIG_ENV=... node --test tests/workerd.test.mjs     (after scripts/build.sh)
//
// Node is only the harness: it reads the rig's env file, serves the rig-side actions (scenario
// secrets written with the root token, the test server's control API) to the Worker through a
// service binding, and reports one test per scenario. Every client call runs inside workerd.
// Scenarios that need a file system or background tasks are reported as skipped.
//
// Outbound network: the Worker reaches Vault and the test server on 127.0.0.1. Miniflare's
// default outbound service allows public and private addresses; `outboundService` below states
// the policy explicitly, adding "local" (loopback), so a change of default cannot break the
// tests. Production Workers cannot reach loopback at all, which is why it is a test-only setting.

import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { Miniflare } from 'miniflare'

import { Rig, parseEnvFile } from './rig.mjs'
import { notApplicable } from './scenario-runner.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const PKG_ROOT = path.resolve(HERE, '..')
const SCENARIOS = path.resolve(PKG_ROOT, '../tests/scenarios')

const envFile = process.env.HOLYSHEEP_RIG_ENV
if (!envFile) throw new Error('HOLYSHEEP_RIG_ENV is not set: run through tests/rig/with-rig.sh')
const rigEnv = parseEnvFile(readFileSync(envFile, 'utf8'))
const rig = new Rig(rigEnv)

function loadScenarios() {
  const out = []
  for (const file of readdirSync(SCENARIOS)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const doc = JSON.parse(readFileSync(path.join(SCENARIOS, file), 'utf8'))
    for (const scenario of doc.scenarios)
      out.push({ name: `${file.replace(/\.json$/, '')}/${scenario.name}`, scenario })
  }
  return out
}

/** workerd's own stdout/stderr, kept for the canary check. */
const runtimeOutput = []

async function rigService(request) {
  try {
    return Response.json({ result: await rig.dispatch(await request.json()) })
  } catch (err) {
    return Response.json({ error: String(err?.message ?? err) }, { status: 500 })
  }
}

function newMiniflare(extra = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: path.join(HERE, 'workerd/worker.mjs'),
    modulesRoot: PKG_ROOT,
    // The package is ES modules throughout (its package.json says "type": "module"), and its
    // .wasm is imported as a compiled module, as wrangler does.
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-01',
    serviceBindings: { RIG: rigService },
    outboundService: { network: { allow: ['public', 'private', 'local'], deny: [] } },
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8')
        stream.on('data', (text) => {
          runtimeOutput.push(text)
          if (process.env.HOLYSHEEP_WASM_VERBOSE) process.stderr.write(text)
        })
      }
    },
    ...extra,
  })
}

async function post(mf, route, body = {}) {
  const res = await mf.dispatchFetch(`http://worker/${route}`, {
    method: 'POST',
    body: JSON.stringify(body),
  })
  const out = await res.json()
  assert.equal(res.status, 200, `worker /${route}: ${out.harnessError ?? JSON.stringify(out)}`)
  return out
}

let mf
before(async () => {
  mf = newMiniflare()
  await mf.ready
})
after(async () => {
  await mf?.dispose()
})

describe('scenarios in workerd', { concurrency: 4 }, () => {
  for (const { name, scenario } of loadScenarios()) {
    const skip = notApplicable(scenario)
    test(name, { skip: skip ?? false }, async () => {
      const result = await post(mf, 'scenario', { scenario })
      assert.equal(result.outcome, 'passed', result.detail)
    })
  }
})

describe('workerd specifics', () => {
  test('canary key, token and secret_id never appear in errors, stats or console output', async () => {
    const before = runtimeOutput.length
    const result = await post(mf, 'canary')
    assert.deepEqual(result.leaks, [])
    assert.ok(result.observed > 20, `only ${result.observed} texts inspected`)
    assert.ok(result.consoleLines > 0, 'debug logging produced no console line to inspect')
    const text = runtimeOutput.slice(before).join('')
    for (const secret of [rigEnv.RIG_TOKEN_PROD, rigEnv.RIG_SECRET_ID, rigEnv.RIG_TOKEN_DENIED]) {
      assert.ok(!text.includes(secret), 'a Vault credential appeared in workerd output')
    }
    assert.ok(!/sk-scn-[0-9a-f]{24}/.test(text), 'an API key appeared in workerd output')
  })

  test('the key cache lives in the isolate across requests and refreshes lazily', async () => {
    const ctx = await rig.setup({
      name: 'isolate-cache',
      setup: { auth: 'token', client: { key_ttl: '2s' } },
    })
    try {
      const first = await post(mf, 'isolate-cache', {
        options: ctx.options,
        reset: true,
        content: 'one',
      })
      const second = await post(mf, 'isolate-cache', { content: 'two' })
      assert.match(second.content, /two/)
      assert.equal(first.stats.vault.vault_reads, 1)
      assert.equal(second.stats.vault.vault_reads, 1, 'the second request read Vault again')
      await new Promise((r) => setTimeout(r, 2300)) // past key_ttl; nothing runs in between
      const third = await post(mf, 'isolate-cache', { content: 'three' })
      assert.match(third.content, /three/)
      assert.equal(
        third.stats.vault.vault_reads,
        2,
        'the expired key was not re-read on the next call',
      )
      assert.equal(third.stats.requests, 3)
    } finally {
      await rig.cleanup(ctx)
    }
  })

  test('Client.create reads a Worker env (VAULT_ADDR, VAULT_ROLE_ID, ...), explicit options win', async () => {
    const ctx = await rig.setup({ name: 'worker-env', setup: { auth: 'approle' } })
    try {
      const env = {
        VAULT_ADDR: rigEnv.VAULT_ADDR,
        VAULT_ROLE_ID: rigEnv.RIG_ROLE_ID,
        VAULT_SECRET_ID: rigEnv.RIG_SECRET_ID,
        HOLYSHEEP_MOUNT: rigEnv.RIG_KV_MOUNT,
        HOLYSHEEP_SECRET_PATH: 'wrong/path',
        HOLYSHEEP_MAX_RETRIES: '1',
      }
      const envMf = newMiniflare({ bindings: env })
      try {
        // The worker passes its real `env` bindings; base_url and secret_path come explicitly.
        const res = await envMf.dispatchFetch('http://worker/env', {
          method: 'POST',
          body: JSON.stringify({
            options: { base_url: ctx.options.base_url, secret_path: ctx.secretPath },
          }),
        })
        const out = await res.json()
        assert.equal(out.error, undefined, JSON.stringify(out.error))
        assert.match(out.content, /from env/)
        assert.equal(out.stats.vault.auth_method, 'approle')
        assert.equal(out.stats.vault.vault_reads, 1)
      } finally {
        await envMf.dispose()
      }
    } finally {
      await rig.cleanup(ctx)
    }
  })

  test('a bad env value is a configuration error naming the variable', async () => {
    const envMf = newMiniflare({
      bindings: { VAULT_ADDR: rigEnv.VAULT_ADDR, HOLYSHEEP_MAX_RETRIES: 'many' },
    })
    try {
      const res = await envMf.dispatchFetch('http://worker/env', {
        method: 'POST',
        body: '{"options": {}}',
      })
      const out = await res.json()
      assert.equal(out.error?.code, 'configuration')
      assert.equal(out.error?.isHolySheep, true)
      assert.match(out.error?.message, /HOLYSHEEP_MAX_RETRIES/)
    } finally {
      await envMf.dispose()
    }
  })

  for (const mode of ['sync', 'async']) {
    test(`a panic (${mode}) surfaces as an internal error and poisons the instance, never a hang`, async () => {
      const panicMf = newMiniflare()
      try {
        const seen = runtimeOutput.length
        const out = await post(panicMf, 'panic', { mode })
        assert.equal(out.panic.code, 'internal', JSON.stringify(out.panic))
        assert.equal(out.panic.isHolySheep, true)
        assert.equal(out.after.code, 'internal', JSON.stringify(out.after))
        // The panic message reaches the console (workerd's stderr).
        await new Promise((r) => setTimeout(r, 100))
        assert.match(runtimeOutput.slice(seen).join(''), /deliberate panic for tests/)
      } finally {
        await panicMf.dispose()
      }
    })
  }
})
