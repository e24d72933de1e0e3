'use strict'

const test = require('ava')
const path = require('node:path')
const { startLocalServer } = require('perse-node')
const { createVerifier } = require('../app')

const photo = (name) => path.join(__dirname, '..', 'fixtures', name)

// ava runs each file in its own worker: each file starts its own local server.
test.before(async (t) => {
  t.context.server = await startLocalServer()
  t.context.verifier = createVerifier({ baseUrl: t.context.server.url, privateKey: t.context.server.privateKey })
})
test.after.always(async (t) => {
  t.context.verifier.close()
  await t.context.server.close()
})

test.serial('the same person is verified, someone else is not', async (t) => {
  const { verifier } = t.context
  const user = await verifier.enroll(photo('astronaut.jpg'))
  t.true((await verifier.verify(user, photo('astronaut-crop.jpg'))).verified)
  t.false((await verifier.verify(user, photo('hopper.jpg'))).verified)
})

test.serial('an expired Perse session surfaces as an error code, not a crash', async (t) => {
  const { verifier, server } = t.context
  const user = await verifier.enroll(photo('astronaut.jpg'))
  server.injectFault({ path: '/face/compare', status: 401, times: 2 })
  t.deepEqual(await verifier.verify(user, photo('astronaut-crop.jpg')), { verified: false, error: 'unauthorized' })
})

test.serial('a deleted user is reported by code', async (t) => {
  const { verifier } = t.context
  t.deepEqual(await verifier.verify('usr_unknown', photo('astronaut.jpg')), { verified: false, error: 'user_token_not_found' })
})
