// The wasm leg of the demo: examples/worker.js inside workerd (Miniflare), configured the way a
// deployed Worker is, through env bindings taken from this process's environment (VAULT_ADDR,
// VAULT_ROLE_ID, VAULT_SECRET_ID or VAULT_TOKEN, HOLYSHEEP_BASE_URL, HOLYSHEEP_*).
//
//   node bindings-wasm/examples/demo.mjs        (after bindings-wasm/scripts/build.sh)
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { Miniflare } from 'miniflare'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bindings = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => /^(VAULT_|HOLYSHEEP_)/.test(name)),
)
const mf = new Miniflare({
  modules: [
    { type: 'ESModule', path: path.join(ROOT, 'examples/worker.js') },
    // The bare specifier, resolved as wrangler would: to the package's "workerd" export.
    // (workerd looks a bare specifier up next to the importing module.)
    {
      type: 'ESModule',
      path: path.join(ROOT, 'examples/holysheep-vault-wasm'),
      contents: "export * from '../pkg/workerd.js';",
    },
    ...['workerd.js', 'api.js', 'holysheep_vault_wasm.js'].map((f) => ({
      type: 'ESModule',
      path: path.join(ROOT, 'pkg', f),
    })),
    { type: 'CompiledWasm', path: path.join(ROOT, 'pkg/holysheep_vault_wasm_bg.wasm') },
  ],
  modulesRoot: ROOT,
  compatibilityDate: '2026-04-01',
  bindings,
  // A local Vault / test API on loopback; deployed Workers reach public addresses only.
  outboundService: { network: { allow: ['public', 'private', 'local'], deny: [] } },
})
try {
  const ask = (route, prompt) =>
    mf.dispatchFetch(`http://demo/${route}`, { method: 'POST', body: JSON.stringify({ prompt }) })
  console.log(`chat:   ${await (await ask('chat', 'Hello from a Worker')).text()}`)
  console.log(`stream: ${await (await ask('stream', 'Stream to a Worker, word by word')).text()}`)
  const stats = await (await mf.dispatchFetch('http://demo/stats')).json()
  console.log(
    `stats:  ${stats.requests} requests, ${stats.vault.vault_reads} Vault read(s) via ${stats.vault.auth_method}, $${stats.cost_usd.toFixed(6)}`,
  )
} finally {
  await mf.dispose()
}
