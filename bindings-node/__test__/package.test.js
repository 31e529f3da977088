'use strict'

// The package as users load it: CommonJS and ESM entries from a consumer's node_modules, the
// same objects through both, one error class per core error code, and the typings compiling.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const PKG = path.resolve(__dirname, '..')

/** A throwaway project with holysheep-vault installed (as a link) in its node_modules. */
function consumerDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holysheep-consumer-'))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(PKG, path.join(dir, 'node_modules', 'holysheep-vault'), 'dir')
  return dir
}

function run(dir, args) {
  return execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8' }).trim()
}

test('require() and import give the same API', () => {
  const dir = consumerDir()
  try {
    const cjs = run(dir, [
      '-e',
      `const m = require('holysheep-vault'); console.log(JSON.stringify(Object.keys(m).sort()))`,
    ])
    const esm = run(dir, [
      '--input-type=module',
      '-e',
      `import * as m from 'holysheep-vault'; import d from 'holysheep-vault';
       import { createRequire } from 'node:module';
       const c = createRequire(import.meta.url)('holysheep-vault');
       if (m.Client !== c.Client || d.RateLimitError !== c.RateLimitError) throw new Error('two copies');
       console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))`,
    ])
    assert.deepEqual(JSON.parse(esm), JSON.parse(cjs))
    for (const name of [
      'Client',
      'HolySheepVaultClient',
      'openaiApiKey',
      'HolySheepError',
      'APIUserAbortError',
    ]) {
      assert.ok(JSON.parse(cjs).includes(name), name)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('every core error code has its class, and instanceof works along the hierarchy', () => {
  const m = require('holysheep-vault')
  const codes = m.errorCodes()
  assert.ok(codes.length >= 21)
  const byCode = new Map()
  for (const value of Object.values(m)) {
    if (typeof value === 'function' && value.prototype instanceof m.HolySheepError && value.code) {
      byCode.set(value.code, value)
    }
  }
  for (const code of codes) {
    const cls = byCode.get(code)
    assert.ok(cls, `no error class for the core code ${code}`)
    const err = new cls('message', { code })
    assert.ok(err instanceof m.HolySheepError && err instanceof Error)
    assert.equal(err.code, code)
    assert.equal(err.name, cls.name)
  }
  assert.equal(new m.APITimeoutError('t') instanceof m.APIConnectionError, true)
  assert.equal(new m.RateLimitError('r') instanceof m.APIError, true)
  assert.equal(new m.VaultSealedError('s') instanceof m.VaultError, true)
  assert.equal(new m.APITimeoutError('t').code, 'timeout')
})

test('the typings compile for CommonJS and ESM users', () => {
  const tsc = path.join(PKG, 'node_modules', 'typescript', 'bin', 'tsc')
  execFileSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
    encoding: 'utf8',
  })
})
