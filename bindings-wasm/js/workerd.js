// Entry for Cloudflare Workers / workerd (the "workerd" export condition). Wrangler and workerd
// import a `.wasm` file as a compiled WebAssembly.Module, which is instantiated synchronously
// here: Workers may not fetch or compile code at run time.
import wasmModule from './holysheep_vault_wasm_bg.wasm'
import { initSync } from './holysheep_vault_wasm.js'

initSync({ module: wasmModule })

export * from './api.js'
