'use strict'

// Prints what the Node binding costs: the time `require('holysheep-vault')` takes, and the
// per-call overhead of `client.chatCompletions` over a raw keep-alive HTTP round trip to the same
// test server (same scope, same key, same body). Figures only: nothing here is asserted, because
// a shared 2-core machine is too noisy for thresholds.
//
//   bindings-node/bench/run.sh          # release build, then this file under a rig

const { execFileSync } = require('node:child_process')
const http = require('node:http')
const path = require('node:path')

const rig = require('../__test__/helpers/rig.js')

const PKG = path.resolve(__dirname, '..')
const CALLS = Number(process.env.BENCH_CALLS ?? 2000)
const WARMUP = 200
const REQUEST = { model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'benchmark' }] }

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function summary(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) }
}

const us = (ms) => `${(ms * 1000).toFixed(1).padStart(8)} µs`

/** Median wall time of `require('holysheep-vault')` in fresh processes. */
function requireTime(runs = 15) {
  const script = `
    const t = process.hrtime.bigint()
    require(${JSON.stringify(PKG)})
    process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6))`
  const samples = []
  for (let i = 0; i < runs; i++) {
    samples.push(Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })))
  }
  return summary(samples)
}

/** One raw round trip: POST the body with node:http on a keep-alive agent, parse the JSON. */
function rawCall(agent, url, key, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const parts = []
        res.on('data', (d) => parts.push(d))
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`))
          resolve(JSON.parse(Buffer.concat(parts).toString('utf8')))
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

async function timeSequential(fn) {
  for (let i = 0; i < WARMUP; i++) await fn()
  const samples = new Array(CALLS)
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now()
    await fn()
    samples[i] = performance.now() - t
  }
  return summary(samples)
}

async function throughput(fn, inFlight, total) {
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) await fn()
    }),
  )
  return total / ((performance.now() - started) / 1000)
}

async function main() {
  const loaded = require(PKG)
  const nativePath =
    process.env.NAPI_RS_NATIVE_LIBRARY_PATH ?? '(the debug build next to the package)'
  console.log(`holysheep-vault Node binding benchmark — native module: ${nativePath}`)
  console.log(`node ${process.version}, ${CALLS} sequential calls after ${WARMUP} warm-up calls\n`)

  const req = requireTime()
  console.log(
    `require('holysheep-vault')   p50 ${req.p50.toFixed(1)} ms   p90 ${req.p90.toFixed(1)} ms  (target < 30 ms)\n`,
  )

  const { options, key, baseUrl } = await rig.freshScope('bench')
  const client = new loaded.Client(options)
  await client.connect()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const url = `${baseUrl}/chat/completions`
  const body = JSON.stringify(REQUEST)

  const raw = await timeSequential(() => rawCall(agent, url, key, body))
  const viaFetch = await timeSequential(async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    })
    return res.json()
  })
  const lib = await timeSequential(() => client.chatCompletions(REQUEST))

  // The binding's own cost: the time JS waited minus the time the core itself measured for the
  // call (`_meta.latency_ms`), i.e. argument and result conversion plus the thread hand-offs.
  const bindingOnly = []
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now()
    const reply = await client.chatCompletions(REQUEST)
    bindingOnly.push(performance.now() - t - reply._meta.latency_ms)
  }
  const binding = summary(bindingOnly)

  console.log('sequential round trip                 p50          p90          p99')
  for (const [name, s] of [
    ['raw node:http keep-alive', raw],
    ['raw fetch (undici)', viaFetch],
    ['client.chatCompletions', lib],
  ]) {
    console.log(`${name.padEnd(28)} ${us(s.p50)}  ${us(s.p90)}  ${us(s.p99)}`)
  }
  console.log(
    `\nper-call overhead over raw node:http (p50): ${us(lib.p50 - raw.p50)}` +
      `   over fetch: ${us(lib.p50 - viaFetch.p50)}`,
  )
  console.log(
    `binding's own share (JS time minus the core's latency_ms): ` +
      `p50 ${us(binding.p50)}  p90 ${us(binding.p90)}  p99 ${us(binding.p99)}`,
  )

  const total = Math.max(1000, CALLS)
  const rawAgent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  const rawRate = await throughput(() => rawCall(rawAgent, url, key, body), 32, total)
  const libRate = await throughput(() => client.chatCompletions(REQUEST), 32, total)
  console.log(
    `\nthroughput, 32 in flight: raw ${rawRate.toFixed(0)} calls/s, client ${libRate.toFixed(0)} calls/s`,
  )
  const stats = client.stats()
  console.log(`vault reads during the run: ${stats.vault.vault_reads}, requests: ${stats.requests}`)
  client.close()
  agent.destroy()
  rawAgent.destroy()
  await rig.deleteScope(options.baseUrl.split('/s/')[1].split('/')[0])
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
