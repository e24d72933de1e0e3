'use strict'

// Faults are injected into a server this file owns (the global one lives in jest's parent
// process, out of reach of the workers).
const path = require('node:path')
const { startLocalServer, isPerseError } = require('perse-node')

let server
beforeAll(async () => {
  server = await startLocalServer()
})
afterAll(() => server.close())

beforeEach(() => {
  jest.resetModules()
  process.env.PERSE_BASE_URL = server.url
  process.env.PERSE_PRIVATE_KEY = server.privateKey
})
afterEach(() => require('perse-node').close())

test('an expired session at Perse becomes a 502 from our handler', async () => {
  const { checkSelfie } = require('../app')
  await checkSelfie(path.join(__dirname, '..', 'fixtures', 'astronaut.jpg')) // logs in
  server.injectFault({ path: '/face/detect', status: 401, times: 2 }) // the retry after re-login fails too
  await expect(checkSelfie(path.join(__dirname, '..', 'fixtures', 'astronaut.jpg'))).resolves.toEqual({ status: 502, body: { ok: false, error: 'unauthorized' } })
})

test('PerseError is recognised across jest module registries', async () => {
  const perse = require('perse-node')
  const c = new perse.PerseClient({ baseUrl: server.url })
  const e = await c.detect(Buffer.from('x')).catch((err) => err)
  expect(isPerseError(e)).toBe(true) // isPerseError from the top-level require, e from a fresh registry
  expect(e.code).toBe('consent_required')
  c.close()
})
