'use strict'

// Starts one local Perse server for the whole run. Workers are spawned after this, so the
// environment variables reach them; the app's default client reads them.
const { startLocalServer } = require('perse-node')

module.exports = async () => {
  const server = await startLocalServer()
  process.env.PERSE_BASE_URL = server.url
  process.env.PERSE_PRIVATE_KEY = server.privateKey
  globalThis.__PERSE_LOCAL__ = server
}
