'use strict'

// A TCP pass-through in front of the test server, so a test can see when the client closes its
// connection (the test server's records show requests, not connection ends).

const net = require('node:net')

/** Starts a proxy to `targetUrl`'s host and port; resolves to { port, connections, close }. */
function startProxy(targetUrl) {
  const target = new URL(targetUrl)
  const connections = []
  const sockets = new Set()
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    const record = { openedAt: performance.now(), closedAt: null }
    connections.push(record)
    const upstream = net.connect(Number(target.port), target.hostname)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => {
      record.closedAt = performance.now()
      upstream.destroy()
    })
    upstream.on('close', () => client.destroy())
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        connections,
        /** Resolves once every connection the client opened has been closed, or rejects. */
        async allClosed(timeoutMs) {
          const deadline = performance.now() + timeoutMs
          while (connections.some((c) => c.closedAt === null)) {
            if (performance.now() > deadline) {
              throw new Error(`a client connection was still open after ${timeoutMs}ms`)
            }
            await new Promise((r) => setTimeout(r, 10))
          }
        },
        close() {
          for (const socket of sockets) socket.destroy()
          return new Promise((r) => server.close(() => r()))
        },
      })
    })
  })
}

module.exports = { startProxy }
