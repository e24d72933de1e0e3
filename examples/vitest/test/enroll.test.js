import { afterAll, beforeAll, expect, test } from 'vitest'
import { fileURLToPath } from 'node:url'
import { startLocalServer } from 'perse-node'

const photo = (name) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

// A second file, so that the pool really runs two workers side by side, each with a server.
let server
let perse
beforeAll(async () => {
  server = await startLocalServer()
  perse = server.client()
})
afterAll(async () => {
  perse.close()
  await server.close()
})

test('an enrolled user is recognised in another photo', async () => {
  const { userToken } = await perse.enroll(photo('astronaut.jpg'), { enduserConsent: true })
  const v = await perse.isSimilar({ userToken }, photo('astronaut-crop.jpg'), { enduserConsent: true })
  expect(v.code).toBe('similar')
  await perse.enrollment.delete(userToken)
})
