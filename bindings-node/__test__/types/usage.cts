// Compiled (never run) by package.test.js: the public typings as a CommonJS user sees them.
import hs = require('holysheep-vault')

async function main(): Promise<void> {
  const client = new hs.Client({
    vaultAddr: 'http://127.0.0.1:8200',
    vaultToken: 't',
    timeoutMs: 500,
  })
  const reply: hs.ChatCompletion = await client.chatCompletions(
    { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] },
    { signal: AbortSignal.timeout(1000), maxRetries: 0 },
  )
  const text: string | null = reply.choices[0].message.content
  const id: string | null = reply._request_id
  for await (const chunk of client.chatCompletionsStream({ model: 'gpt-4.1', messages: [] })) {
    const delta: string | null | undefined = chunk.choices[0]?.delta.content
    void delta
  }
  const reads: number = client.stats().vault.vault_reads
  const key: () => Promise<string> = hs.openaiApiKey(client)
  const dropIn = await new hs.HolySheepVaultClient().initialize()
  await dropIn.chat('deepseek-v3.2', [{ role: 'user', content: 'hi' }], {
    temperature: 0.1,
    maxTokens: 10,
  })
  await dropIn.close()
  try {
    await client.models()
  } catch (err) {
    if (err instanceof hs.RateLimitError) {
      const wait: number | undefined = err.retryAfter
      void wait
    }
    if (err instanceof hs.HolySheepError) {
      const code: hs.ErrorCode = err.code
      void code
      // Wrapping with the package's own classes, as an app's retry layer may.
      throw new hs.APIConnectionError('upstream gone', { code: 'connection' }, { cause: err })
    }
  }
  client.close()
  void [text, id, reads, key]
}
void main
