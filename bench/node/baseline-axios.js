'use strict'

// Baseline (c): the integration teams hand-write today with axios + node-vault.
//
// Written the way a typical service writes it: AppRole login and one KV v2 read at start-up,
// the key kept in memory, one axios instance (Node's global agent keeps connections alive),
// the key read again once after a 401. Nothing is slowed down on purpose, nothing is tuned.

const axios = require('axios')
const nodeVault = require('node-vault')

class HolySheepVaultClient {
  constructor({
    vaultAddr,
    roleId,
    secretId,
    mount = 'holysheep',
    secretPath = 'production/api_key',
    baseURL,
  }) {
    this.vault = nodeVault({ endpoint: vaultAddr })
    this.roleId = roleId
    this.secretId = secretId
    this.mount = mount
    this.secretPath = secretPath
    this.http = axios.create({ baseURL, timeout: 30_000 })
    this.apiKey = null
  }

  async initialize() {
    await this.vault.approleLogin({ role_id: this.roleId, secret_id: this.secretId })
    await this.loadKey()
  }

  async loadKey() {
    const secret = await this.vault.read(`${this.mount}/data/${this.secretPath}`)
    this.apiKey = secret.data.data.api_key
  }

  async post(body, config = {}) {
    const send = () =>
      this.http.post('/chat/completions', body, {
        ...config,
        headers: { Authorization: `Bearer ${this.apiKey}` },
      })
    try {
      return await send()
    } catch (err) {
      if (err.response?.status !== 401) throw err
      // The key was rotated: read it again once and retry.
      await this.loadKey()
      return send()
    }
  }

  async chat(model, messages, options = {}) {
    const res = await this.post({ model, messages, ...options })
    return res.data
  }

  /** The chunks of a streamed reply (server-sent events). */
  async *chatStream(model, messages, options = {}) {
    const res = await this.post(
      { model, messages, stream: true, ...options },
      { responseType: 'stream' },
    )
    let buffer = ''
    for await (const data of res.data) {
      buffer += data.toString('utf8')
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!event.startsWith('data: ')) continue
        const payload = event.slice(6)
        if (payload === '[DONE]') return
        yield JSON.parse(payload)
      }
    }
  }
}

module.exports = { HolySheepVaultClient }
