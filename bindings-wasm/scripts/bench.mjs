// Size and cold-start figures of the wasm package (informational, not asserted in tests):
//   node scripts/bench.mjs [runs]        (after scripts/build.sh)
// - the .wasm size, raw and gzip -9 (what a Worker upload is limited by: the gzip size);
// - workerd cold start through Miniflare: time from starting a fresh workerd to the first
//   response of a Worker that imports the package and builds a Client, against the same for a
//   Worker without it (the difference is what the package adds: compiling and instantiating the
//   module, evaluating the glue). Time inside a Worker only advances on I/O, so it is measured
//   from outside;
// - in this Node process: WebAssembly.compile and instantiate (initSync) of the same module.
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { Miniflare } from 'miniflare'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const WASM = path.join(ROOT, 'pkg/holysheep_vault_wasm_bg.wasm')
const runs = Number(process.argv[2] ?? 5)

const bytes = readFileSync(WASM)
const gz = gzipSync(bytes, { level: 9 }).length
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
console.log(
  `wasm size: ${bytes.length} bytes raw (${kib(bytes.length)}), ${gz} bytes gzip -9 (${kib(gz)}; target < 600 KiB)`,
)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function coldStart(options) {
  const started = performance.now()
  const mf = new Miniflare({ compatibilityDate: '2026-04-01', ...options })
  try {
    const res = await mf.dispatchFetch('http://bench/')
    const text = await res.text()
    if (!text.startsWith('ok')) throw new Error(`unexpected reply: ${text}`)
    return performance.now() - started
  } finally {
    await mf.dispose()
  }
}

const withPackage = {
  modules: true,
  scriptPath: path.join(ROOT, 'tests/workerd/bench-worker.mjs'),
  modulesRoot: ROOT,
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
  ],
}
const baseline = {
  modules: true,
  script: 'export default { fetch() { return new Response("ok"); } }',
}

await coldStart(baseline) // warm the file cache and workerd's binary
const base = []
const pkg = []
for (let i = 0; i < runs; i++) {
  base.push(await coldStart(baseline))
  pkg.push(await coldStart(withPackage))
}
const b = median(base)
const p = median(pkg)
console.log(
  `workerd cold start (median of ${runs}): ${p.toFixed(0)} ms with the package, ${b.toFixed(0)} ms without; the package adds ${(p - b).toFixed(0)} ms`,
)

// In-process, same V8: compile and instantiate alone.
const compile = []
const instantiate = []
for (let i = 0; i < runs; i++) {
  let t = performance.now()
  const module = await WebAssembly.compile(bytes)
  compile.push(performance.now() - t)
  const glue = await import(`../pkg/holysheep_vault_wasm.js?run=${i}`)
  t = performance.now()
  glue.initSync({ module })
  instantiate.push(performance.now() - t)
}
console.log(
  `node ${process.version}: WebAssembly.compile ${median(compile).toFixed(1)} ms, instantiate (initSync) ${median(instantiate).toFixed(1)} ms (median of ${runs})`,
)
