'use strict'

// The live test rig (tests/rig): addresses, tokens and keys from the env file named by
// HOLYSHEEP_RIG_ENV, plus the test server's control API and Vault writes with the root token.

const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

const REPO = path.resolve(__dirname, '..', '..', '..')

function loadEnvFile() {
  const file = process.env.HOLYSHEEP_RIG_ENV
  if (!file) {
    // Fail, never skip: a suite that silently runs nothing would look green.
    throw new Error(
      'HOLYSHEEP_RIG_ENV is not set: run the Node tests through tests/rig/with-rig.sh ' +
        '(e.g. `tests/rig/with-rig.sh npm --prefix bindings-node test`); see tests/README.md',
    )
  }
  const values = {}
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const trimmed = line.trim()
    if (!trimmed || trimmed.startsWith('#')) continue
    const eq = trimmed.indexOf('=')
    if (eq > 0) values[trimmed.slice(0, eq)] = trimmed.slice(eq + 1)
  }
  return values
}

const env = loadEnvFile()

function get(name) {
  const value = env[name]
  if (value === undefined || value === '') {
    throw new Error(`${name} is missing from the rig env file ${process.env.HOLYSHEEP_RIG_ENV}`)
  }
  return value
}

function randomToken(bytes = 9) {
  return crypto.randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x')
}

/** A scope name unique to this run: the test's name plus a random suffix. */
function unique(name) {
  const base = name.replace(/[^A-Za-z0-9._~-]/g, '-').slice(0, 80)
  return `node-${base}-${randomToken(6)}`
}

async function control(method, urlPath, body) {
  const res = await fetch(get('RIG_API_BASE') + urlPath, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${urlPath}: HTTP ${res.status} ${text}`)
  return JSON.parse(text)
}

/** Creates (or resets) a scope; returns its OpenAI base URL. */
async function putScope(scope, { faults = [], keys = null } = {}) {
  const reply = await control('PUT', `/_control/scopes/${scope}`, { faults, keys })
  return reply.base_url
}

const scopeReport = (scope) => control('GET', `/_control/scopes/${scope}`)
const deleteScope = (scope) => control('DELETE', `/_control/scopes/${scope}`).catch(() => {})

/** Writes a KV v2 secret (a new version) with the root token. */
async function writeSecret(secretPath, data) {
  const url = `${get('VAULT_ADDR')}/v1/${get('RIG_KV_MOUNT')}/data/${secretPath}`
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'x-vault-token': get('RIG_ROOT_TOKEN'), 'content-type': 'application/json' },
    body: JSON.stringify({ data }),
  })
  if (!res.ok) throw new Error(`writing ${secretPath}: HTTP ${res.status} ${await res.text()}`)
}

/**
 * A scope with a fresh key in Vault, and client options that read it with the production token:
 * the common setup of the non-scenario tests.
 */
async function freshScope(name, { faults = [], client = {} } = {}) {
  const scope = unique(name)
  const key = `sk-node-${randomToken(18)}`
  const secretPath = `scenarios/${scope}/api_key`
  await writeSecret(secretPath, { api_key: key })
  const baseUrl = await putScope(scope, { faults, keys: [key] })
  const options = {
    baseUrl,
    vaultAddr: get('VAULT_ADDR'),
    vaultToken: get('RIG_TOKEN_PROD'),
    mount: get('RIG_KV_MOUNT'),
    secretPath,
    ...client,
  }
  return { scope, key, secretPath, baseUrl, options }
}

module.exports = {
  REPO,
  env,
  get,
  randomToken,
  unique,
  control,
  putScope,
  scopeReport,
  deleteScope,
  writeSecret,
  freshScope,
}
