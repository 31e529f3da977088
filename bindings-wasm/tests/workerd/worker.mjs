// The test Worker: runs scenarios and checks INSIDE workerd, through the package's workerd entry
// (the .wasm imported as a compiled module). The rig side is the `RIG` service binding, served
// by the Node harness (tests/workerd.test.mjs). Routes:
//   POST /scenario {scenario}    one shared scenario -> {outcome, detail}
//   POST /canary                 the canary-secret check -> {leaks, observed}
//   POST /isolate-cache {options, ...}  one call on a client kept in module scope -> stats
//   POST /env {env, options}     Client.create with a Worker-style env object -> reply + stats
//   POST /panic {mode}           a deliberate panic, then a normal call -> both outcomes
import * as hs from '../../pkg/workerd.js'
import { runScenario } from '../scenario-runner.mjs'
import { runCanary } from '../canary.mjs'

function rigProxy(env) {
  const call = async (body) => {
    const res = await env.RIG.fetch('http://rig/', { method: 'POST', body: JSON.stringify(body) })
    const out = await res.json()
    if (!res.ok) throw new Error(`rig: ${out.error}`)
    return out.result
  }
  return {
    setup: (scenario) => call({ op: 'setup', scenario }),
    action: (ctx, step) => call({ op: 'action', ctx, step }),
    report: (ctx) => call({ op: 'report', ctx }),
    cleanup: (ctx) => call({ op: 'cleanup', ctx }),
  }
}

function errorJson(err) {
  return {
    name: err?.name,
    code: err?.code,
    message: err?.message,
    status: err?.status,
    isHolySheep: err instanceof hs.HolySheepError,
  }
}

// One client per isolate, as a Worker would hold it: the key cache lives as long as the isolate.
let shared

const routes = {
  async scenario(body, env) {
    return runScenario(body.scenario, { hs, rig: rigProxy(env) })
  },
  async canary(_body, env) {
    return runCanary({ hs, rig: rigProxy(env) })
  },
  async 'isolate-cache'(body) {
    if (body.reset) {
      shared?.close()
      shared = undefined
    }
    shared ??= await hs.Client.create(body.options)
    const reply = await shared.chatCompletions({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: body.content ?? 'hi' }],
    })
    return { content: reply.choices[0].message.content, stats: shared.stats() }
  },
  async env(body, env) {
    let client
    try {
      client = await hs.Client.create({ env, ...body.options })
      const reply = await client.chatCompletions({
        model: 'deepseek-v3.2',
        messages: [{ role: 'user', content: 'from env' }],
      })
      return { content: reply.choices[0].message.content, stats: client.stats() }
    } catch (err) {
      return { error: errorJson(err) }
    } finally {
      client?.close()
    }
  },
  async panic(body, env) {
    const out = {}
    try {
      await hs.__panicForTests(body.mode)
      out.panic = { ok: true }
    } catch (err) {
      out.panic = errorJson(err)
    }
    try {
      await hs.Client.create({ vault_addr: 'http://127.0.0.1:1', vault_token: 't' })
      out.after = { ok: true }
    } catch (err) {
      out.after = errorJson(err)
    }
    return out
  },
}

export default {
  async fetch(request, env) {
    const route = routes[new URL(request.url).pathname.slice(1)]
    if (!route) return new Response('not found', { status: 404 })
    try {
      const body = request.method === 'POST' ? await request.json() : {}
      return Response.json(await route(body, env))
    } catch (err) {
      return Response.json({ harnessError: String(err?.stack ?? err) }, { status: 500 })
    }
  },
}
