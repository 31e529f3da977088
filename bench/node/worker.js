'use strict'

// One measurement of one Node client, in a process of its own (so RSS and Vault reads are that
// client's alone). Driven by bench/bench.py, with the same config and result shapes as
// bench/py/worker.py:
//
//   node bench/node/worker.js CONFIG.json RESULT.json
//
// Clients: `ours` (holysheep-vault Client), `axios-node-vault` (baseline c), `openai-node-vault`
// (baseline d). Phases: `seq` (concurrency 1, then streamed calls), `conc` (`concurrency`
// callers), `refresh` (like conc, with every call's start and end on the monotonic clock).
// Concurrency is in-flight promises on the one event loop, as a Node service has it.

const fs = require('node:fs')

const MESSAGES = [{ role: 'user', content: 'benchmark' }]
const STREAM_MESSAGES = [{ role: 'user', content: 'one two three four' }]
const RSS_AT_CALLS = 2000 // peak RSS is also sampled when this many calls have completed

// process.hrtime is CLOCK_MONOTONIC on Linux (libuv's uv_hrtime), the clock Python's
// time.monotonic() reads: the Vault proxy's stamps and these are comparable.
const now = () => Number(process.hrtime.bigint()) / 1e9

const CLK_TCK = 100 // USER_HZ on Linux

function procCpu(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return null
  }
}

function machineCpu() {
  const values = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = values.reduce((a, b) => a + b, 0)
  const idle = values[3] + values[4]
  return [total - idle, total]
}

class CpuWindow {
  constructor(tsPid) {
    this.tsPid = tsPid
  }
  start() {
    this.t0 = now()
    this.self0 = process.cpuUsage()
    this.ts0 = this.tsPid ? procCpu(this.tsPid) : null
    this.m0 = machineCpu()
  }
  stop() {
    const self = process.cpuUsage(this.self0)
    const ts1 = this.tsPid ? procCpu(this.tsPid) : null
    const m1 = machineCpu()
    const busy = m1[0] - this.m0[0]
    const total = m1[1] - this.m0[1]
    return {
      wall_s: now() - this.t0,
      client_cpu_s: (self.user + self.system) / 1e6,
      server_cpu_s: ts1 !== null && this.ts0 !== null ? ts1 - this.ts0 : null,
      machine_busy: total ? busy / total : null,
    }
  }
}

// -------------------------------------------------------------------------------------------
// Clients: `start()`, `call()` for one non-streamed chat completion, `stream()` an async
// iterable of the chunks of a streamed one.

function ours(cfg, baseUrl) {
  const { Client } = require(cfg.ours_package)
  const options = {
    vaultAddr: cfg.vault_addr,
    authMethod: 'approle',
    roleId: cfg.role_id,
    secretId: cfg.secret_id,
    mount: cfg.mount,
    secretPath: cfg.secret_path,
    baseUrl,
  }
  if (cfg.key_ttl) options.keyTtl = cfg.key_ttl
  const client = new Client(options)
  return {
    start: () => client.connect(),
    call: () => client.chatCompletions({ model: cfg.model, messages: MESSAGES, temperature: 0.7 }),
    stream: () =>
      client.chatCompletionsStream({
        model: cfg.model,
        messages: STREAM_MESSAGES,
        temperature: 0.7,
      }),
    stats: () => client.stats(),
  }
}

function axiosNodeVault(cfg, baseURL) {
  const { HolySheepVaultClient } = require('./baseline-axios.js')
  const client = new HolySheepVaultClient({
    vaultAddr: cfg.vault_addr,
    roleId: cfg.role_id,
    secretId: cfg.secret_id,
    mount: cfg.mount,
    secretPath: cfg.secret_path,
    baseURL,
  })
  return {
    start: () => client.initialize(),
    call: () => client.chat(cfg.model, MESSAGES, { temperature: 0.7 }),
    stream: () => client.chatStream(cfg.model, STREAM_MESSAGES, { temperature: 0.7 }),
  }
}

function openaiNodeVault(cfg, baseURL) {
  const { VaultOpenAI } = require('./baseline-openai.js')
  const client = new VaultOpenAI({
    vaultAddr: cfg.vault_addr,
    roleId: cfg.role_id,
    secretId: cfg.secret_id,
    mount: cfg.mount,
    secretPath: cfg.secret_path,
    baseURL,
  })
  return {
    start: () => client.initialize(),
    call: () => client.chatCompletions({ model: cfg.model, messages: MESSAGES, temperature: 0.7 }),
    stream: async function* () {
      const stream = await client.chatCompletions({
        model: cfg.model,
        messages: STREAM_MESSAGES,
        temperature: 0.7,
        stream: true,
      })
      for await (const chunk of stream) yield chunk
    },
  }
}

const CLIENTS = { ours, 'axios-node-vault': axiosNodeVault, 'openai-node-vault': openaiNodeVault }

function checkReply(reply) {
  if (!reply || !Array.isArray(reply.choices) || reply.choices.length === 0) {
    throw new Error('empty reply')
  }
}

// -------------------------------------------------------------------------------------------
// Drivers

async function load(call, concurrency, warmup, maxCalls, maxSeconds) {
  const total = warmup + maxCalls
  let next = 0
  let deadline = null
  let done = 0
  let rssAt = null
  const spans = []
  const errors = []
  async function worker() {
    for (;;) {
      const i = next++
      if (i >= total) return
      if (deadline !== null && now() > deadline) return
      const t0 = now()
      try {
        checkReply(await call())
      } catch (err) {
        errors.push(String(err).slice(0, 200))
        continue
      }
      const t1 = now()
      if (++done === RSS_AT_CALLS) rssAt = process.resourceUsage().maxRSS
      if (i >= warmup) {
        if (deadline === null) deadline = t0 + maxSeconds
        spans.push([t0, t1])
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { spans, errors, rssAt }
}

async function streams(streamFn, n, warmup, maxSeconds) {
  const ttfc = []
  const reply = []
  const total = []
  const errors = []
  let chunks = 0
  let deadline = null
  for (let i = 0; i < warmup + n; i++) {
    if (deadline !== null && now() > deadline) break
    const t0 = now()
    let first = null
    let finished = null
    let count = 0
    try {
      for await (const chunk of streamFn()) {
        if (first === null) first = now()
        if (finished === null && chunk.choices?.[0]?.finish_reason) finished = now()
        count++
      }
    } catch (err) {
      errors.push(String(err).slice(0, 200))
      continue
    }
    const t1 = now()
    if (i >= warmup) {
      if (deadline === null) deadline = t0 + maxSeconds
      ttfc.push(first - t0)
      reply.push(finished - t0)
      total.push(t1 - t0)
      chunks = count
    }
  }
  return { ttfc, reply, total, errors, chunks }
}

async function main() {
  const [cfgPath, outPath] = process.argv.slice(2)
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'))
  const make = CLIENTS[cfg.client]
  const cpu = new CpuWindow(cfg.ts_pid)
  const result = { client: cfg.client, phase: cfg.phase, pid: process.pid }
  const t0 = now()
  const client = make(cfg, cfg.base_url)
  await client.start()
  result.setup_s = now() - t0
  if (cfg.client === 'ours') {
    result.module_file = process.env.NAPI_RS_NATIVE_LIBRARY_PATH ?? null
  }

  if (cfg.phase === 'seq') {
    cpu.start()
    const { spans, errors } = await load(
      client.call,
      1,
      cfg.warmup_calls,
      cfg.max_calls,
      cfg.max_seconds,
    )
    result.cpu = cpu.stop()
    const streamClient = make(cfg, cfg.stream_base_url)
    await streamClient.start()
    const s = await streams(
      streamClient.stream,
      cfg.stream_calls,
      cfg.stream_warmup,
      cfg.stream_max_seconds,
    )
    Object.assign(result, {
      spans,
      errors,
      ttfc_s: s.ttfc,
      stream_reply_s: s.reply,
      stream_total_s: s.total,
      stream_errors: s.errors,
      stream_chunks: s.chunks,
    })
  } else {
    cpu.start()
    const { spans, errors, rssAt } = await load(
      client.call,
      cfg.concurrency,
      cfg.warmup_calls,
      cfg.max_calls,
      cfg.max_seconds,
    )
    result.cpu = cpu.stop()
    Object.assign(result, { spans, errors, maxrss_at_kb: rssAt, rss_at_calls: RSS_AT_CALLS })
  }
  result.maxrss_kb = process.resourceUsage().maxRSS
  if (client.stats) result.stats = client.stats()
  fs.writeFileSync(outPath, JSON.stringify(result))
  // Native handles (the client's background tasks) must not keep the process alive.
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
