// The canary-secret check, run inside the runtime under test: a fresh key (the canary) and the
// Vault credentials go through successful calls and through every kind of failure the rig can
// cause, with core logging at `debug`; then no error message, stack or property, no `stats()`,
// no stream metadata and no console output may contain any of them.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Replaces console methods with recording ones; returns {lines, restore}. */
export function captureConsole({ echo = false } = {}) {
  const lines = []
  const saved = {}
  for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
    saved[level] = console[level]
    console[level] = (...args) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : safeString(a))).join(' '))
      if (echo) saved[level].apply(console, args)
    }
  }
  return {
    lines,
    restore() {
      Object.assign(console, saved)
    },
  }
}

function safeString(value) {
  try {
    if (value instanceof Error) return `${value.stack}\n${JSON.stringify({ ...value })}`
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

function describeError(err) {
  const own = {}
  for (const name of Object.getOwnPropertyNames(err)) own[name] = err[name]
  return `${String(err)}\n${err.stack}\n${safeString(own)}`
}

const chat = (content) => ({ model: 'gpt-4.1', messages: [{ role: 'user', content }] })

/**
 * Runs the canary check. Returns `{leaks: [...], observed: number}`: where a secret showed up
 * (empty when none did) and how many texts were inspected.
 */
export async function runCanary({ hs, rig }) {
  const texts = []
  const seen = (what, text) => texts.push([what, String(text)])
  const expectError = async (what, promise) => {
    try {
      await promise
      seen(what, 'unexpectedly succeeded')
      throw new Error(`${what}: expected an error`)
    } catch (err) {
      if (!(err instanceof hs.HolySheepError)) throw err
      seen(`${what} error`, describeError(err))
      return err
    }
  }

  const capture = captureConsole()
  hs.setLogLevel('debug')
  const contexts = []
  const clients = []
  try {
    // Token auth: success, stream, models, then a rotated-away key, API faults, a stream error.
    const ctx = await rig.setup({
      name: 'canary',
      setup: { auth: 'token', client: { backoff_initial: '10ms' } },
    })
    contexts.push(ctx)
    const client = await hs.Client.create(ctx.options)
    clients.push(client)
    const reply = await client.chatCompletions(chat('canary hello'))
    seen('reply', JSON.stringify(reply))
    seen('reply meta', JSON.stringify(reply._meta))
    const stream = client.chatCompletionsStream(chat('canary stream words'))
    for await (const chunk of stream) seen('chunk', JSON.stringify(chunk))
    seen('models', JSON.stringify(await client.models()))
    await rig.action(ctx, {
      action: 'add_faults',
      faults: [{ status: 500 }, { status: 500 }, { status: 500 }],
    })
    await expectError('server', client.chatCompletions(chat('canary 500')))
    await rig.action(ctx, {
      action: 'add_faults',
      faults: [{ status: 429, headers: { 'retry-after': '120' } }],
    })
    await expectError('rate limit', client.chatCompletions(chat('canary 429')))
    await rig.action(ctx, { action: 'add_faults', faults: [{ stream_error: true }] })
    await expectError(
      'stream error',
      (async () => {
        for await (const chunk of client.chatCompletionsStream(chat('canary several words here'))) {
          seen('chunk', JSON.stringify(chunk))
        }
      })(),
    )
    await expectError(
      'invalid input',
      client.chatCompletions({ model: 'gpt-4.1', messages: [{ role: 'robot', content: 'x' }] }),
    )
    await rig.action(ctx, { action: 'add_faults', faults: [{ status: 400 }] })
    await expectError('bad request', client.chatCompletions(chat('canary 400')))
    await rig.action(ctx, { action: 'revoke_server_key' })
    await expectError('authentication', client.chatCompletions(chat('canary 401')))
    seen('stats', JSON.stringify(client.stats()))
    seen('client', String(client))
    client.close()
    await expectError('closed', client.chatCompletions(chat('after close')))

    // AppRole: the secret_id and the login token must not show either; a denied Vault path.
    const approle = await rig.setup({ name: 'canary-approle', setup: { auth: 'approle' } })
    contexts.push(approle)
    const viaAppRole = await hs.Client.create(approle.options)
    clients.push(viaAppRole)
    seen('approle reply', JSON.stringify(await viaAppRole.chatCompletions(chat('canary approle'))))
    seen('approle stats', JSON.stringify(viaAppRole.stats()))
    const denied = await rig.setup({ name: 'canary-denied', setup: { auth: 'denied' } })
    contexts.push(denied)
    const deniedClient = await hs.Client.create(denied.options)
    clients.push(deniedClient)
    await expectError('vault denied', deniedClient.chatCompletions(chat('canary denied')))
    seen('denied stats', JSON.stringify(deniedClient.stats()))

    // Bad options next to a real token: the configuration error must not echo the token.
    await expectError('configuration', hs.Client.create({ ...ctx.options, max_retries: 'many' }))
    await expectError(
      'configuration',
      hs.Client.create({ ...ctx.options, vault_tokn: ctx.options.vault_token }),
    )
    // The key itself pasted in the wrong place: as an argument of the wrong type, as an option
    // name, as a choice, as a message role. Each is refused without quoting it.
    const key = ctx.key
    const refused = (what, fn) => {
      try {
        fn()
        seen(what, 'unexpectedly accepted')
      } catch (err) {
        seen(`${what} error`, describeError(err))
      }
    }
    refused('key as options', () => new hs.Client(key))
    refused('key as openaiApiKey client', () => hs.openaiApiKey(key))
    const open = await hs.Client.create(ctx.options)
    clients.push(open)
    refused('key as call options', () => open.chatCompletionsStream(chat('x'), key))
    refused('key as signal', () => open.chatCompletionsStream(chat('x'), { signal: key }))
    refused('key as call option name', () => open.chatCompletionsStream(chat('x'), { [key]: 1 }))
    await expectError('key as option name', hs.Client.create({ ...ctx.options, [key]: 1 }))
    await expectError('key as key_source', hs.Client.create({ ...ctx.options, key_source: key }))
    await expectError(
      'key as role',
      open.chatCompletions({ model: 'gpt-4.1', messages: [{ role: key, content: 'x' }] }),
    )
    await sleep(10) // let any late log line land
  } finally {
    for (const c of clients) c.close()
    hs.setLogLevel('warn')
    capture.restore()
    for (const ctx of contexts) await rig.cleanup(ctx)
  }
  for (const line of capture.lines) seen('console', line)

  const secrets = []
  for (const ctx of contexts) {
    secrets.push(['API key', ctx.key])
    for (const name of ['vault_token', 'secret_id']) {
      if (ctx.options[name]) secrets.push([name, ctx.options[name]])
    }
  }
  const leaks = []
  for (const [what, text] of texts) {
    for (const [kind, secret] of secrets) {
      if (secret && text.includes(secret)) {
        leaks.push(
          `${kind} appeared in ${what}: ${text.replaceAll(secret, `<${kind}>`).slice(0, 300)}`,
        )
      }
    }
  }
  return { leaks, observed: texts.length, consoleLines: capture.lines.length }
}
