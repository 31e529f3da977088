// For hosts that load the .wasm themselves: call `initSync` or `init` before using the API.
export * from './index.js'

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module

/** Instantiates the module synchronously from a WebAssembly.Module or its bytes. */
export function initSync(module: { module: BufferSource | WebAssembly.Module }): unknown
/** Fetches (or takes) and instantiates the module. */
export default function init(input?: {
  module_or_path: InitInput | Promise<InitInput>
}): Promise<unknown>
