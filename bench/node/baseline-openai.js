'use strict'

// Baseline (d): the official openai SDK, with the key read from Vault with node-vault.
//
// As teams write it: AppRole login and one KV v2 read at start-up, the key handed to
// `new OpenAI(...)` (its defaults: retries, timeouts, fetch keep-alive), and on an
// AuthenticationError the key read again and the client rebuilt once.

const OpenAI = require('openai')
const nodeVault = require('node-vault')

async function readApiKey({
  vaultAddr,
  roleId,
  secretId,
  mount = 'holysheep',
  secretPath = 'production/api_key',
}) {
  const vault = nodeVault({ endpoint: vaultAddr })
  await vault.approleLogin({ role_id: roleId, secret_id: secretId })
  const secret = await vault.read(`${mount}/data/${secretPath}`)
  return secret.data.data.api_key
}

class VaultOpenAI {
  constructor(options) {
    this.options = options
    this.client = null
  }

  async initialize() {
    this.client = new OpenAI({
      apiKey: await readApiKey(this.options),
      baseURL: this.options.baseURL,
    })
  }

  async chatCompletions(params) {
    const client = this.client
    try {
      return await client.chat.completions.create(params)
    } catch (err) {
      if (!(err instanceof OpenAI.AuthenticationError)) throw err
      if (this.client === client) await this.initialize()
      return this.client.chat.completions.create(params)
    }
  }
}

module.exports = { VaultOpenAI }
