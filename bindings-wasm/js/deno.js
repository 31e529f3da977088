// Entry for Deno (the "deno" export condition). Needs read permission for this package's
// directory (`--allow-read`), to load the .wasm next to this file.
import { initSync } from './holysheep_vault_wasm.js'

initSync({ module: Deno.readFileSync(new URL('./holysheep_vault_wasm_bg.wasm', import.meta.url)) })

export * from './api.js'
