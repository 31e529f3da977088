// Default entry (browsers, bundlers, other hosts with `fetch`): fetches and instantiates the
// .wasm next to this file (top-level await). The API's CORS policy decides whether a browser
// may call it directly; a key in a browser is visible to its user, so prefer a server or Worker.
import init from './holysheep_vault_wasm.js'

await init({ module_or_path: new URL('./holysheep_vault_wasm_bg.wasm', import.meta.url) })

export * from './api.js'
