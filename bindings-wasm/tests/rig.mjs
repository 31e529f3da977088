// The rig side of the shared scenario suite (tests/scenarios/README.md): writes scenario secrets
// to Vault with the root token and drives the test server's control API. Runtime-neutral (only
// `fetch`): the workerd harness runs it in Node, behind a service binding the worker calls; the
// Deno test runs it in the Deno process. The client calls never happen here.

/** Parses the rig's env file: KEY=value lines, `#` comments, no quotes. */
export function parseEnvFile(text) {
  const env = {}
  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (!trimmed || trimmed.startsWith('#')) continue
    const eq = trimmed.indexOf('=')
    if (eq > 0) env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1)
  }
  return env
}

export function randomToken(bytes = 12) {
  const buf = new Uint8Array(bytes)
  crypto.getRandomValues(buf)
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('')
}

export class Rig {
  constructor(env) {
    for (const name of ['VAULT_ADDR', 'RIG_ROOT_TOKEN', 'RIG_API_BASE', 'RIG_KV_MOUNT']) {
      if (!env[name]) throw new Error(`the rig env lacks ${name}`)
    }
    this.env = env
  }

  get(name) {
    const value = this.env[name]
    if (value === undefined) throw new Error(`the rig env lacks ${name}`)
    return value
  }

  async #http(method, url, body, headers = {}) {
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`)
    return text ? JSON.parse(text) : null
  }

  control(method, path, body) {
    return this.#http(method, `${this.get('RIG_API_BASE')}${path}`, body)
  }

  writeSecret(path, data) {
    const url = `${this.get('VAULT_ADDR')}/v1/${this.get('RIG_KV_MOUNT')}/data/${path}`
    return this.#http('POST', url, { data }, { 'x-vault-token': this.get('RIG_ROOT_TOKEN') })
  }

  /**
   * Carries out a scenario's setup. Returns the context the other methods take: the scope, the
   * secret path, the key the scope accepts, and the client options (JSON) for the runtime under
   * test to build its client from.
   */
  async setup(scenario) {
    const setup = scenario.setup ?? {}
    const scope = `${scenario.name}-${randomToken(4)}`
    const kind = setup.secret ?? 'scenario'
    let secretPath
    let key
    if (kind === 'scenario') {
      secretPath = `${this.get('RIG_SCENARIOS_PREFIX')}/${scope}/api_key`
      key = `sk-scn-${randomToken()}`
      await this.writeSecret(secretPath, { api_key: key })
    } else if (kind === 'production' || kind === 'agent_file') {
      secretPath = this.get('RIG_PROD_PATH')
      key = this.get('RIG_PROD_KEY')
    } else if (kind === 'namespace') {
      secretPath = this.get('RIG_PROD_PATH')
      key = this.get('RIG_NS_KEY')
    } else if (kind === 'missing') {
      secretPath = `${this.get('RIG_SCENARIOS_PREFIX')}/${scope}/absent`
      key = `sk-scn-${randomToken()}`
    } else {
      throw new Error(`unknown setup.secret ${kind}`)
    }
    await this.control('PUT', `/_control/scopes/${scope}`, {
      faults: setup.faults ?? [],
      keys: [key],
    })

    const options = {
      base_url: `${this.get('RIG_API_BASE')}/s/${scope}/v1`,
      vault_addr: this.get('VAULT_ADDR'),
      mount: this.get('RIG_KV_MOUNT'),
      secret_path: secretPath,
    }
    const auth = setup.auth ?? 'token'
    const byAuth = {
      token: () => ({ vault_token: this.get('RIG_TOKEN_PROD') }),
      denied: () => ({ vault_token: this.get('RIG_TOKEN_DENIED') }),
      approle: () => ({ role_id: this.get('RIG_ROLE_ID'), secret_id: this.get('RIG_SECRET_ID') }),
      jwt: () => ({
        auth_method: 'jwt',
        auth_mount: this.get('RIG_JWT_MOUNT'),
        role: this.get('RIG_JWT_ROLE'),
        jwt_path: this.get('RIG_JWT_FILE'),
      }),
      kubernetes: () => ({
        auth_method: 'kubernetes',
        auth_mount: this.get('RIG_K8S_MOUNT'),
        role: this.get('RIG_K8S_ROLE'),
        jwt_path: this.get('RIG_K8S_JWT_FILE'),
      }),
      token_file: () => ({ token_file: this.get('RIG_AGENT_TOKEN_FILE') }),
      none: () => ({ auth_method: 'none', vault_addr: this.get('RIG_AGENT_PROXY_ADDR') }),
      namespace_approle: () => ({
        vault_namespace: this.get('RIG_NAMESPACE'),
        role_id: this.get('RIG_NS_ROLE_ID'),
        secret_id: this.get('RIG_NS_SECRET_ID'),
      }),
      namespace_token: () => ({
        vault_namespace: this.get('RIG_NAMESPACE'),
        vault_token: this.get('RIG_NS_TOKEN'),
      }),
    }
    if (!byAuth[auth]) throw new Error(`unknown setup.auth ${auth}`)
    Object.assign(options, byAuth[auth]())
    if (kind === 'agent_file') {
      Object.assign(options, { key_source: 'file', key_file: this.get('RIG_AGENT_KEY_FILE') })
    }
    Object.assign(options, setup.client ?? {})
    return { scope, secretPath, key, options }
  }

  /** Carries out an `action` step. */
  async action(ctx, step) {
    const url = `/_control/scopes/${ctx.scope}`
    switch (step.action) {
      case 'rotate_key': {
        const key = `sk-scn-${randomToken()}`
        await this.writeSecret(ctx.secretPath, { api_key: key })
        await this.control('PATCH', url, { keys: [key] })
        return { key }
      }
      case 'revoke_server_key':
        await this.control('PATCH', url, { keys: [`sk-none-${randomToken()}`] })
        return {}
      case 'add_faults':
        await this.control('PATCH', url, { faults: step.faults ?? [] })
        return {}
      default:
        throw new Error(`unknown action ${step.action}`)
    }
  }

  /** The test server's record of the scope (`attempts`, ...). */
  report(ctx) {
    return this.control('GET', `/_control/scopes/${ctx.scope}`)
  }

  cleanup(ctx) {
    return this.control('DELETE', `/_control/scopes/${ctx.scope}`).catch(() => {})
  }

  /** Dispatches a JSON request `{op, ...}`: what the workerd harness's service binding serves. */
  async dispatch({ op, scenario, ctx, step }) {
    switch (op) {
      case 'setup':
        return this.setup(scenario)
      case 'action':
        return this.action(ctx, step)
      case 'report':
        return this.report(ctx)
      case 'cleanup':
        return this.cleanup(ctx)
      default:
        throw new Error(`unknown rig op ${op}`)
    }
  }
}
