// Entry for Node (the "node" export condition). Reads the .wasm next to this file and
// instantiates it synchronously when the module is imported.
import { readFileSync } from 'node:fs'
import { initSync } from './holysheep_vault_wasm.js'

initSync({ module: readFileSync(new URL('./holysheep_vault_wasm_bg.wasm', import.meta.url)) })

export * from './api.js'
