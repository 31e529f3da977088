// Type-checked by scripts/test-deno.sh (`deno check`): the package's declarations compile and
// describe the API as the tests use it. Never run.
import type {
  ChatChunk,
  ChatCompletion,
  Client as ClientType,
  ErrorCode,
  HolySheepError as HolySheepErrorType,
  ModelList,
  Stats,
} from '../../pkg/index.d.ts'

declare const Client: typeof ClientType
declare const env: Record<string, unknown>

export async function usage(): Promise<void> {
  const client: ClientType = await Client.create({ env, maxRetries: 2, timeoutMs: 5000 })
  const same: ClientType = Client.fromEnv(env, { secret_path: 'production/api_key' })
  const reply: ChatCompletion = await client.chatCompletions(
    { model: 'deepseek-v3.2', messages: [{ role: 'user', content: 'hi' }], temperature: 0.2 },
    { signal: AbortSignal.timeout(1000), maxRetries: 0 },
  )
  const text: string | null = reply.choices[0].message.content
  const attempts: number = reply._meta.attempts
  for await (const chunk of client.chatCompletionsStream({ model: 'm', messages: [] })) {
    const delta: string | null | undefined = (chunk as ChatChunk).choices[0]?.delta.content
    void delta
  }
  const readable: ReadableStream<ChatChunk> = client
    .chatCompletionsStream({ model: 'm', messages: [] })
    .toReadableStream()
  const models: ModelList = await client.models()
  const stats: Stats = client.stats()
  const reads: number = stats.vault.vault_reads
  const key: string = await client.apiKey()
  await client.connect()
  client.close()
  void [
    same,
    text,
    attempts,
    readable,
    models.data[0].id,
    reads,
    key,
    client.baseUrl,
    client.closed,
  ]
}

export function handle(err: unknown): ErrorCode | undefined {
  const e = err as HolySheepErrorType
  const wait: number | undefined = e.retryAfter
  void [wait, e.status, e.requestId, e.keyVersion]
  return e.code
}
