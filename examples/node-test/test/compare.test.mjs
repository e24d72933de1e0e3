import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startLocalServer } from 'perse-node'

const photo = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

// node --test runs each file in its own process: each starts its own local server.
let server
let perse
before(async () => {
  server = await startLocalServer()
  perse = server.client()
})
after(async () => {
  perse.close()
  await server.close()
})

test('two photos of one person are similar', async () => {
  const v = await perse.isSimilar(photo('astronaut.jpg'), photo('astronaut-crop.jpg'), { enduserConsent: true })
  assert.equal(v.code, 'similar')
})

test('a missing photo is a PerseError with a code, before anything is sent', async () => {
  await assert.rejects(perse.detect(photo('no-such.jpg'), { enduserConsent: true }), { code: 'file_not_found', attempts: 0 })
})

test('an expired session is renewed by the client', async () => {
  server.expireTokens()
  assert.equal((await perse.detect(photo('astronaut.jpg'), { enduserConsent: true })).totalFaces, 1)
})
