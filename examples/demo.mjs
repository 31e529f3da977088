// The Node leg of the demo: settings from the environment (VAULT_ADDR, VAULT_ROLE_ID,
// VAULT_SECRET_ID, HOLYSHEEP_BASE_URL, ...), one chat completion, one streamed completion.
import { Client } from '../bindings-node/lib/index.mjs'

const model = process.env.HOLYSHEEP_DEMO_MODEL ?? 'deepseek-v3.2'
const client = Client.fromEnv()
try {
  const reply = await client.chatCompletions({
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Why keep AI API keys in Vault? (Node)' },
    ],
    max_tokens: 200,
  })
  console.log(`reply:   ${reply.choices[0].message.content}`)
  console.log(`tokens:  ${reply.usage.total_tokens}`)
  console.log(`cost:    $${(reply._meta?.cost_usd ?? 0).toFixed(8)}`)

  let chunks = 0
  process.stdout.write('stream:  ')
  const stream = client.chatCompletionsStream({
    model,
    messages: [{ role: 'user', content: 'Stream a short answer, please. (Node)' }],
    stream_options: { include_usage: true },
  })
  for await (const chunk of stream) {
    chunks += 1
    process.stdout.write(chunk.choices[0]?.delta?.content ?? '')
  }
  console.log(`\n         (${chunks} chunks)`)
  console.log(`stats:   ${JSON.stringify(client.stats(), null, 2)}`)
} finally {
  client.close()
}
