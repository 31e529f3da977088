// Runs in a Deno Worker (a fresh module graph): the package's default entry, browser.js, which
// fetches the .wasm next to it and instantiates it with top-level await, as in a browser.
self.onmessage = async ({ data }) => {
  const out = { warnings: [] }
  try {
    const warn = console.warn
    console.warn = (...args) => out.warnings.push(args.join(' '))
    const hs = await import('../../pkg/browser.js')
    console.warn = warn
    out.codes = hs.errorCodes().length
    const client = await hs.Client.create(data.options)
    const reply = await client.chatCompletions({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'from browser.js' }],
    })
    out.content = reply.choices[0].message.content
    client.close()
  } catch (err) {
    out.error = `${err?.code}: ${err?.message}`
  }
  self.postMessage(out)
}
