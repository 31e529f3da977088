// Entry for hosts that load the .wasm themselves: call `initSync({ module })` (a
// WebAssembly.Module or the bytes) or `await init({ module_or_path })` before using the API.
export { default as init, initSync } from './holysheep_vault_wasm.js'
export * from './api.js'
