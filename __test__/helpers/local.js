'use strict'

// A local server and a client of it for a whole spec file: started before its tests, closed after.

const { startLocalServer } = require('../..')
const { ms } = require('./time')

/** Registers the hooks on `test`; `ready(server, client)` receives both once started. */
function useLocalServer(test, ready) {
  let server
  let client
  test.before(async () => {
    server = await startLocalServer()
    client = server.client({ timeoutMs: ms(30_000) }) // the face engine is slow under emulation
    ready(server, client)
  })
  test.after.always(async () => {
    client?.close()
    await server?.close()
  })
}

module.exports = { useLocalServer }
