import { afterAll, beforeAll, expect, test } from 'vitest'
import { fileURLToPath } from 'node:url'
import { isPerseError, startLocalServer } from 'perse-node'
import { createSelfieCheck } from '../app.js'

const photo = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

// Each test file runs in its own worker (a thread or a child process, by pool), with its own
// local server.
let server
let check
beforeAll(async () => {
  server = await startLocalServer()
  check = createSelfieCheck({ baseUrl: server.url, privateKey: server.privateKey })
})
afterAll(async () => {
  check.close()
  await server.close()
})

test('a sharp frontal selfie is accepted', async () => {
  expect(await check.accept(photo('astronaut.jpg'))).toEqual({ ok: true, code: 'success' })
})

test('a blurred one is refused with its code', async () => {
  expect(await check.accept(photo('astronaut-blurred.jpg'))).toEqual({ ok: false, code: 'bad_image_quality' })
})

test('an outage reaches the app as a PerseError', async () => {
  server.injectFault({ path: '/face/detect', status: 503, reachCaller: true })
  const e = await check.accept(photo('astronaut.jpg')).catch((x) => x)
  expect(isPerseError(e)).toBe(true)
  expect(e.code).toBe('server_error')
})
