// Compiled (never run) by package.test.js: the public typings as an ESM user sees them.
import { Client, APITimeoutError, APIConnectionError, openaiOptions } from 'holysheep-vault'
import holysheep from 'holysheep-vault'

const client = Client.fromEnv({ logger: console, logLevel: 'debug' })
const options: { apiKey: () => Promise<string>; baseURL: string } = openaiOptions(client)
const timeout: APIConnectionError = new APITimeoutError('t')
const other: typeof Client = holysheep.Client
const models = await client.models({ timeoutMs: 100 })
const ids: string[] = models.data.map((m) => m.id)
void [options, timeout, other, ids]
