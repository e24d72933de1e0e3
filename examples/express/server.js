'use strict'

// Starts the example. Without PERSE_PRIVATE_KEY it runs against the bundled local server.

const { startLocalServer } = require('perse-node')
const { createApp } = require('./app')

async function main() {
  let local = null
  if (!process.env.PERSE_PRIVATE_KEY) {
    local = await startLocalServer()
    process.env.PERSE_BASE_URL = local.url
    process.env.PERSE_PRIVATE_KEY = local.privateKey
    console.log(`no PERSE_PRIVATE_KEY: using the local Perse server at ${local.url}`)
  }
  const app = createApp()
  const port = Number(process.env.PORT ?? 3000)
  const server = app.listen(port, () => console.log(`listening on http://127.0.0.1:${server.address().port}`))
  const stop = async () => {
    server.close()
    app.close()
    if (local) await local.close()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main()
