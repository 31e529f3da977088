// The wasm package in Deno, against the live rig: the shared scenarios, the canary-secret check
// and the panic safety net. Run by scripts/test-deno.sh (deno test, with network access limited
// to loopback and read access limited to the package, the scenarios and the rig's env file).
// The rig-side actions run in this process too (plain fetch); the client calls are the package's.
// Not-applicable scenarios (needs: fs, background) are registered as ignored.

import * as hs from '../../pkg/deno.js'
import { Rig, parseEnvFile } from '../rig.mjs'
import { notApplicable, runScenario } from '../scenario-runner.mjs'
import { runCanary } from '../canary.mjs'

const envFile = Deno.env.get('HOLYSHEEP_RIG_ENV')
if (!envFile) throw new Error('HOLYSHEEP_RIG_ENV is not set: run through tests/rig/with-rig.sh')
const rigEnv = parseEnvFile(await Deno.readTextFile(envFile))
const rig = new Rig(rigEnv)

const scenariosDir = new URL('../../../tests/scenarios/', import.meta.url)
const files = []
for await (const entry of Deno.readDir(scenariosDir)) {
  if (entry.isFile && entry.name.endsWith('.json')) files.push(entry.name)
}
files.sort()

// The client's timers (retry waits, read timeouts) and aborted fetches settle after a call
// returns; the op/resource sanitizers would flag them although nothing leaks past the test.
const relaxed = { sanitizeOps: false, sanitizeResources: false }

for (const file of files) {
  const doc = JSON.parse(await Deno.readTextFile(new URL(file, scenariosDir)))
  for (const scenario of doc.scenarios) {
    const skip = notApplicable(scenario)
    Deno.test({
      name: `${file.replace(/\.json$/, '')}/${scenario.name}`,
      ignore: skip !== null,
      ...relaxed,
      async fn() {
        const result = await runScenario(scenario, { hs, rig })
        if (result.outcome !== 'passed') throw new Error(result.detail)
      },
    })
  }
}

Deno.test({
  name: 'deno/canary key, token and secret_id never appear in errors, stats or console output',
  ...relaxed,
  async fn() {
    const result = await runCanary({ hs, rig })
    if (result.leaks.length) throw new Error(result.leaks.join('\n'))
    if (result.observed < 20) throw new Error(`only ${result.observed} texts inspected`)
    if (result.consoleLines === 0) throw new Error('debug logging produced no console line')
  },
})

Deno.test({
  name: 'deno/errors are HolySheepErrors with the core codes',
  ...relaxed,
  async fn() {
    let err
    try {
      await hs.Client.create({ vault_addr: 'not a url', vault_token: 't' })
    } catch (e) {
      err = e
    }
    if (!(err instanceof hs.HolySheepError) || !(err instanceof Error))
      throw new Error(`not a HolySheepError: ${err}`)
    if (err.code !== 'configuration' || !err.message.includes('vault_addr'))
      throw new Error(`${err.code}: ${err.message}`)
    const client = await hs.Client.create({ vault_addr: rigEnv.VAULT_ADDR, vault_token: 't' })
    try {
      await client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'user' }] })
      throw new Error('expected invalid_input')
    } catch (e) {
      if (e.code !== 'invalid_input' || e.field !== 'messages[0].content')
        throw new Error(`${e.code} ${e.field}: ${e.message}`)
    }
    const aborted = AbortSignal.abort()
    try {
      await client.chatCompletions(
        { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] },
        { signal: aborted },
      )
      throw new Error('expected cancelled')
    } catch (e) {
      if (e.code !== 'cancelled') throw new Error(`${e.code}: ${e.message}`)
    }
    client.close()
  },
})

Deno.test({
  name: 'deno/the default (browser) entry loads the .wasm with fetch and works',
  ...relaxed,
  async fn() {
    const ctx = await rig.setup({ name: 'browser-entry', setup: { auth: 'token' } })
    const worker = new Worker(new URL('./browser_worker.mjs', import.meta.url), { type: 'module' })
    try {
      const out = await new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('no answer from the browser-entry worker')),
          10000,
        )
        worker.onerror = (event) => {
          event.preventDefault()
          clearTimeout(timer)
          reject(new Error(`browser-entry worker: ${event.message}`))
        }
        worker.onmessage = ({ data }) => {
          clearTimeout(timer)
          resolve(data)
        }
        worker.postMessage({ options: ctx.options })
      })
      if (out.error) throw new Error(out.error)
      if (out.codes !== 21) throw new Error(`errorCodes(): ${out.codes}`)
      if (!String(out.content).includes('from browser.js')) throw new Error(`reply: ${out.content}`)
      if (out.warnings.length) throw new Error(`warnings while loading: ${out.warnings.join('; ')}`)
    } finally {
      worker.terminate()
      await rig.cleanup(ctx)
    }
  },
})

// Panics, each in a Worker of its own, since a panic poisons its wasm instance on purpose.
// After an async panic the trap escapes to the host as an uncaught RuntimeError (wasm32 cannot
// unwind on stable Rust); in a Deno or Node main thread that ends the process, like any uncaught
// error, so the test watches for it on the Worker and stops it there.
for (const mode of ['sync', 'async']) {
  Deno.test({
    name: `deno/a panic (${mode}) rejects with InternalError, is logged and poisons the instance`,
    ...relaxed,
    async fn() {
      const worker = new Worker(new URL('./panic_worker.mjs', import.meta.url), { type: 'module' })
      const uncaught = []
      try {
        const result = await new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error('no answer from the panic worker in 10s')),
            10000,
          )
          worker.onerror = (event) => {
            event.preventDefault()
            uncaught.push(String(event.message))
          }
          worker.onmessage = ({ data }) => {
            clearTimeout(timer)
            resolve(data)
          }
          worker.postMessage({ mode })
        })
        if (result.panic?.code !== 'internal' || !result.panic.isHolySheep) {
          throw new Error(`the panicking call: ${JSON.stringify(result.panic)}`)
        }
        if (result.after?.code !== 'internal')
          throw new Error(`the call after: ${JSON.stringify(result.after)}`)
        if (!result.logged) throw new Error('the panic message was not logged')
        const trapped = [...uncaught, ...result.uncaught]
        if (mode === 'async' && !trapped.some((m) => m.includes('unreachable'))) {
          throw new Error(`expected the trap to surface as an uncaught error: ${trapped}`)
        }
      } finally {
        worker.terminate()
      }
    },
  })
}
