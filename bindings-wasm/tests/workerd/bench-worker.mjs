// Worker for scripts/bench.mjs: imports the package (which instantiates the wasm module) and
// builds a client on the first request. No network.
import { Client } from '../../pkg/workerd.js'

export default {
  async fetch() {
    const client = await Client.create({
      vault_addr: 'http://127.0.0.1:8200',
      vault_token: 'bench',
    })
    const closed = client.closed
    client.close()
    return new Response(`ok ${closed}`)
  },
}
