// A Cloudflare Worker using holysheep-vault-wasm. Configure it with Worker variables and
// secrets named like the Vault CLI's environment (wrangler.toml [vars] + `wrangler secret put`):
//   VAULT_ADDR, VAULT_ROLE_ID, VAULT_SECRET_ID (or VAULT_TOKEN), HOLYSHEEP_SECRET_PATH, ...
// Wrangler resolves `holysheep-vault-wasm` to the package's workerd entry, which imports the
// .wasm as a compiled module (no extra build step).
//
//   POST /chat   {"prompt": "..."}   -> the reply text
//   POST /stream {"prompt": "..."}   -> the reply streamed as text
//   GET  /stats                      -> the client's counters (never a secret)
import { Client, HolySheepError } from 'holysheep-vault-wasm'

// One client per isolate: the key is cached here and re-read lazily once it expires.
let client
async function getClient(env) {
  client ??= await Client.create({ env, max_retries: 2 })
  return client
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url)
    try {
      const hs = await getClient(env)
      if (pathname === '/stats') return Response.json(hs.stats())
      const { prompt = 'Hello' } = request.method === 'POST' ? await request.json() : {}
      const body = {
        model: env.MODEL ?? 'deepseek-v3.2',
        messages: [{ role: 'user', content: prompt }],
      }
      if (pathname === '/stream') {
        const encoder = new TextEncoder()
        const chunks = hs.chatCompletionsStream(body).toReadableStream()
        const text = chunks.pipeThrough(
          new TransformStream({
            transform(chunk, controller) {
              const delta = chunk.choices?.[0]?.delta?.content
              if (delta) controller.enqueue(encoder.encode(delta))
            },
          }),
        )
        return new Response(text, { headers: { 'content-type': 'text/plain; charset=utf-8' } })
      }
      const reply = await hs.chatCompletions(body)
      return new Response(reply.choices[0].message.content ?? '')
    } catch (err) {
      if (err instanceof HolySheepError) {
        // `code` is stable across every binding; the message never holds a secret.
        return Response.json(
          { code: err.code, message: err.message, requestId: err.requestId },
          {
            status: err.status ?? 502,
          },
        )
      }
      throw err
    }
  },
}
