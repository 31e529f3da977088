// Runs in a Deno Worker (see scenarios_test.mjs): a deliberate panic inside an async call. The
// panic hook rejects the pending promise with an InternalError and logs the panic; the trap that
// follows escapes as an uncaught RuntimeError, which the parent observes on the Worker object.
import * as hs from '../../pkg/deno.js'

const lines = []
// The trap after an async panic is an uncaught error in this worker: record it and keep the
// worker alive, as an application that wants to survive a poisoned instance would.
const uncaught = []
self.addEventListener('error', (event) => {
  event.preventDefault()
  uncaught.push(String(event.message ?? event.error))
})
const original = console.error
console.error = (...args) => lines.push(args.join(' '))

self.onmessage = async ({ data }) => {
  const out = {}
  try {
    await hs.__panicForTests(data.mode)
    out.panic = { ok: true }
  } catch (err) {
    out.panic = {
      name: err?.name,
      code: err?.code,
      message: err?.message,
      isHolySheep: err instanceof hs.HolySheepError,
    }
  }
  try {
    await hs.Client.create({ vault_addr: 'http://127.0.0.1:1', vault_token: 't' })
    out.after = { ok: true }
  } catch (err) {
    out.after = { name: err?.name, code: err?.code, message: err?.message }
  }
  await new Promise((r) => setTimeout(r, 20))
  out.uncaught = uncaught
  out.logged = lines.some((l) => l.includes('deliberate panic for tests'))
  console.error = original
  self.postMessage(out)
}
